"""One exception hierarchy, rooted in :class:`SpanstreamError`.

Errors carry what a user needs to act on (HTTP status, the provider's error type and code, the
request id) and never a secret: API keys and ``Authorization`` headers are not stored on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import ProviderError, Response, ToolCall

__all__ = [
    "AgentRunError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ConfigurationError",
    "IncompleteToolCallsError",
    "InvalidRequestError",
    "MalformedEventError",
    "MaxTurnsExceededError",
    "ResponseFailedError",
    "SSEDecodeError",
    "SpanstreamError",
    "StreamError",
    "ToolArgumentsError",
    "UnexpectedContentTypeError",
    "UnknownToolError",
    "UsageError",
]


class SpanstreamError(Exception):
    """Base class of every error spanstream raises."""


class ConfigurationError(SpanstreamError):
    """The client is missing something it needs (for example an API key)."""


class UsageError(SpanstreamError, RuntimeError):
    """spanstream was used in a way it does not support: a closed client asked to stream, or
    one stream read by two threads or tasks at once. The message says which."""


class InvalidRequestError(SpanstreamError, ValueError):
    """A request's parameters cannot be sent as JSON: a number that is NaN or infinite, or a
    string holding a lone UTF-16 surrogate (as ``os.fsdecode`` makes of undecodable bytes). The
    message names the parameter; nothing was sent."""


class APIError(SpanstreamError):
    """Base class of errors that come from talking to a provider."""


class APIConnectionError(APIError):
    """The connection failed or broke before a complete response was received."""


class APITimeoutError(APIConnectionError):
    """The request or a read timed out."""


class APIStatusError(APIError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.request_id = request_id
        details = ", ".join(
            f"{name}={value}"
            for name, value in (("type", error_type), ("code", code), ("request_id", request_id))
            if value
        )
        super().__init__(f"HTTP {status_code}: {message}" + (f" ({details})" if details else ""))


class UnexpectedContentTypeError(APIStatusError):
    """The server answered a streaming request with a success status but no event stream: an
    HTML page (a proxy, a login portal) or a JSON body (an error, or a server that ignored
    ``stream``), or a request that was not streamed with no JSON (``expected`` says which was
    asked for). ``content_type`` names what came; for a JSON error body, ``message``,
    ``error_type`` and ``code`` are the provider's."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        content_type: str,
        expected: str = "an event stream",
        **details: str | None,
    ) -> None:
        self.content_type = content_type
        got = content_type or "no content type"
        super().__init__(status_code, f"expected {expected}, got {got}: {message}", **details)


class StreamError(APIError):
    """The event stream itself could not be read (a protocol violation)."""


class SSEDecodeError(StreamError):
    """The byte stream is not valid ``text/event-stream`` (invalid UTF-8, or an event larger
    than the maximum event size).

    ``events``: the events the decoder completed before the bad bytes (delivered before the
    error is raised by a stream; :class:`~spanstream.sse.SSEDecoder` users get them here).
    """

    def __init__(self, message: str, *, events: Sequence[object] = ()) -> None:
        self.events: list[object] = list(events)
        super().__init__(message)


class MalformedEventError(StreamError):
    """An event's payload could not be decoded (raised only in strict mode; otherwise the event
    is skipped, logged and counted)."""

    def __init__(self, message: str, *, event_type: str | None, sequence_number: int | None):
        self.event_type = event_type
        self.sequence_number = sequence_number
        super().__init__(message)


class AgentRunError(SpanstreamError):
    """An agent run stopped before the model gave its answer.

    ``history`` is the conversation so far in the provider's own message form (ready to send
    again), ``responses`` the response of every turn.
    """

    def __init__(
        self, message: str, history: list[dict[str, object]], responses: list[Response]
    ) -> None:
        self.history = history
        self.responses = responses
        super().__init__(message)


class MaxTurnsExceededError(AgentRunError):
    """An agent run used all its turns and the model still asked for tools (``history`` and
    ``responses`` as on :class:`AgentRunError`)."""

    def __init__(
        self, max_turns: int, history: list[dict[str, object]], responses: list[Response]
    ) -> None:
        self.max_turns = max_turns
        super().__init__(
            f"the model still asked for tools after {max_turns} turns", history, responses
        )


class IncompleteToolCallsError(AgentRunError):
    """An agent turn asked for tools but ended incomplete: cut by a token limit
    (``max_output_tokens``, ``max_tokens``) or a content filter. Its calls' arguments may be
    truncated (``'{"city":'``), so none of them was run.

    ``reason`` is the provider's (``Response.incomplete_reason``, e.g. ``max_output_tokens``,
    ``length``, ``max_tokens``), ``tool_calls`` the calls not run. ``responses`` ends with the
    cut turn; ``history`` is the conversation before it, ready to send again (with a higher
    limit, say): a cut turn's calls have no results to send back.
    """

    def __init__(
        self, response: Response, history: list[dict[str, object]], responses: list[Response]
    ) -> None:
        self.reason = response.incomplete_reason
        self.tool_calls: tuple[ToolCall, ...] = response.tool_calls
        names = ", ".join(call.name for call in self.tool_calls)
        super().__init__(
            f"the turn was cut ({self.reason or 'incomplete'}) while it asked for tools "
            f"({names}): their arguments may be truncated, none was run",
            history,
            responses,
        )


class ResponseFailedError(APIError):
    """The provider reported that generating the response failed (``response.failed`` or an
    ``error`` event). ``response`` holds what was received before the failure."""

    def __init__(self, error: ProviderError, response: Response | None) -> None:
        self.error = error
        self.response = response
        self.code = error.code
        self.message = error.message
        super().__init__(f"{error.code or 'error'}: {error.message}")


class UnknownToolError(SpanstreamError):
    """The model called a tool the agent does not have."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"no tool named {name!r} (tools: {', '.join(known) or 'none'})")


class ToolArgumentsError(SpanstreamError):
    """The model's arguments for a tool are not valid JSON or do not match its parameters."""

    def __init__(self, tool_name: str, detail: str) -> None:
        self.tool_name = tool_name
        self.detail = detail
        super().__init__(f"invalid arguments for tool {tool_name!r}: {detail}")
