"""What every provider module offers the client: a request builder and a parser factory.

:class:`RequestInfo` is the provider-neutral description of a request that the telemetry layer
reads; it is the only thing telemetry learns about a request, so telemetry never needs to know a
provider's wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..events import ProviderError, Response, StreamEvent
from ..sse import ServerSentEvent

__all__ = [
    "FETCH_RESPONSE",
    "Parser",
    "ParserFactory",
    "PreparedRequest",
    "Provider",
    "RequestContent",
    "RequestInfo",
    "conversation_id_of",
    "extra_body_of",
    "request_body",
]


FETCH_RESPONSE = "fetch_response"
"""The operation of a request that streams a stored response (``GET /responses/{id}``) rather
than generating one: no request model, no token usage (semantic-conventions-genai openai.md
@024a4f9)."""


@dataclass(frozen=True, slots=True)
class RequestContent:
    """A request's content in the GenAI conventions' JSON shapes (gen-ai-*.json schemas): built
    by the provider (which knows its wire format) and only when content capture is on."""

    input_messages: list[dict[str, object]]
    system_instructions: list[dict[str, object]] | None = None
    tool_definitions: list[dict[str, object]] | None = None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A request in the GenAI conventions' terms (``None`` = not given by the caller)."""

    provider: str
    operation: str
    model: str | None
    """The requested model (``None`` for a fetch, which names a response instead)."""
    api_type: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: tuple[str, ...] | None = None
    choice_count: int | None = None
    reasoning_level: str | None = None
    previous_response_id: str | None = None
    output_type: str | None = None
    service_tier: str | None = None
    response_id: str | None = None
    """The response a fetch streams (:data:`FETCH_RESPONSE`)."""
    stream_cursor: int | None = None
    """Where a fetch resumes: the sequence number of the last event already received."""
    conversation_id: str | None = None
    """The conversation the request belongs to (``gen_ai.conversation.id``): as the request
    names it (the Responses ``conversation`` parameter) or as the caller tracks it."""
    content: Callable[[], RequestContent] | None = field(default=None, compare=False, repr=False)
    """Builds the request content on demand (for opt-in content capture)."""

    def in_conversation(self, conversation_id: object) -> RequestInfo:
        """This request as part of the conversation ``conversation_id``, which the caller
        tracks (``None``: as the request itself says). The conventions ask for the id only
        when one is at hand, never an invented one (client-inference.md @024a4f9), so it is
        never made up."""
        if conversation_id is None:
            return self
        if not isinstance(conversation_id, str) or not conversation_id:
            raise ValueError(f"conversation_id must be a non-empty string, got {conversation_id!r}")
        return replace(self, conversation_id=conversation_id)


def request_body(
    params: Mapping[str, object], required: Collection[str], local: Collection[str] = ()
) -> dict[str, object]:
    """The JSON body of a streaming request from the keyword arguments of its ``stream()``: the
    API's parameters as its provider names them (each API's ``TypedDict``) and any further body
    field, as given. ``None`` means "not sent"; mappings and sequences (not strings) are sent as
    JSON objects and arrays; ``local`` names the arguments that are not body fields."""
    missing = [name for name in required if name not in params]
    if missing:
        raise TypeError(f"stream() missing required keyword argument(s): {', '.join(missing)}")
    body: dict[str, object] = {"stream": True}
    for name, value in params.items():
        if value is None or name in local:
            continue
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            value = list(value)
        body[name] = value
    return body


def extra_body_of(params: Mapping[str, object]) -> dict[str, object]:
    """The ``extra_body`` argument: body fields merged last, as given."""
    extra = params.get("extra_body")
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra_body must be a mapping, got {type(extra).__name__}")
    return dict(extra)


def conversation_id_of(value: object) -> str | None:
    """The id of a conversation as a request names it: the id itself, or an object with an
    ``id`` (the Responses API's ``conversation`` parameter takes either)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """An HTTP request ready to send, minus authentication (the client adds that), with the
    parser that reads its streamed reply."""

    path: str
    body: dict[str, object] | None
    """The JSON body (``None`` for a ``GET``)."""
    info: RequestInfo
    parser: ParserFactory
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Provider:
    """Where a provider's API lives and how it authenticates: what a client must not hard-code.

    One description serves every API of the provider (OpenAI's Responses and Chat Completions
    share it); the path and parser of each API come with its :class:`PreparedRequest`.
    """

    name: str
    api_key_env: str
    """Environment variable read when no ``api_key`` is given."""
    base_url_env: str
    """Environment variable read when no ``base_url`` is given."""
    default_base_url: str
    api_key_header: str = "Authorization"
    api_key_prefix: str = "Bearer "
    headers: tuple[tuple[str, str], ...] = ()
    """Headers sent with every request (such as an API version)."""
    request_id_headers: tuple[str, ...] = ("x-request-id", "request-id")
    """Response headers that carry the provider's request id, first match wins."""

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that authenticate a request with ``api_key``."""
        return {**dict(self.headers), self.api_key_header: self.api_key_prefix + api_key}


class Parser(Protocol):
    """A sans-IO stream parser: server-sent events in, normalized events out."""

    unknown_count: int
    malformed_count: int
    done: bool

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Parse one server-sent event."""
        ...

    def feed_raw(self, event: str, data: str | bytes) -> list[StreamEvent]:
        """Parse one event given as its type and data (UTF-8 ``bytes`` as
        :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns it, or ``str``)."""
        ...

    def close(self) -> list[StreamEvent]:
        """Signal the end of the stream; returns any events that the end implies."""
        ...

    def cursor(self, data: bytes) -> int | None:
        """Where a stream could be resumed after the event whose data this is (its sequence
        number, in the APIs that have one), or ``None``."""
        ...

    @property
    def response(self) -> Response:
        """The response accumulated so far."""
        ...

    @property
    def error(self) -> ProviderError | None:
        """The provider error reported inside the stream, if any."""
        ...


class ParserFactory(Protocol):
    """Makes a fresh :class:`Parser` for one stream (a parser class is one)."""

    def __call__(self, *, strict: bool) -> Parser: ...
