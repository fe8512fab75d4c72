"""A request as telemetry learns of it: :class:`RequestInfo`, provider-neutral.

Each provider's request builder (``providers/<api>/request.py``) fills one in; the stream hands
it to its observer; telemetry reads nothing else about a request. It lives outside ``providers``
so that telemetry imports no provider package, and what is specific to a provider reaches the
span as data (:class:`ProviderAttributes`), never as a branch on the provider's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from ._record import Record

if TYPE_CHECKING:
    from .events import Response

__all__ = [
    "FETCH_RESPONSE",
    "AttributeScalar",
    "OperationFamily",
    "ProviderAttributes",
    "RequestContent",
    "RequestInfo",
]


FETCH_RESPONSE = "fetch_response"
"""The operation of a request that streams a stored response (``GET /responses/{id}``) rather
than generating one: no request model, no token usage (semantic-conventions-genai openai.md
@024a4f9)."""

AttributeScalar = str | bool | int | float
"""The value of a provider's own attribute (the refinements define strings)."""

OperationFamily = Literal["inference", "embeddings"]
"""Which of the GenAI conventions' client documents a request's span and metrics follow:
``inference`` (semantic-conventions-genai ``docs/gen-ai/client-inference.md`` @024a4f9: a model
generates, so finish reasons, output tokens, output content and chunk timings apply) or
``embeddings`` (``docs/gen-ai/client-embeddings.md`` @88eccb1: input tokens, the dimension count
and the embeddings metrics only, no content). Telemetry reads it as data: an API of either kind
needs no change there."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ProviderAttributes(Record):
    """The attributes a provider adds to the GenAI conventions (its refinement of them, such as
    semantic-conventions-genai ``docs/gen-ai/openai.md``), given as data by its request builder
    and copied by telemetry, which knows no provider.

    They belong to :attr:`provider` and are reported only while ``gen_ai.provider.name`` is that
    provider: the provider name is the discriminator of a provider's own attributes (a
    refinement applies when the name is its provider's), so a server that speaks the same API
    under another name (``deepseek``, ``azure.ai.openai`` for OpenAI's) gets none of them.
    """

    provider: str
    request: tuple[tuple[str, AttributeScalar], ...] = ()
    """``(name, value)`` pairs known when the request starts, for the span."""
    response: tuple[tuple[str, str], ...] = ()
    """``(attribute name, Response field)`` pairs: the value of each field of the final
    :class:`~spanstream.events.Response`, when the response states it, for the span and, as the
    refinements recommend, the duration and token metrics."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RequestContent(Record):
    """A request's content in the GenAI conventions' JSON shapes (gen-ai-*.json schemas): built
    by the provider (which knows its wire format) and only when content capture is on."""

    input_messages: list[dict[str, object]]
    system_instructions: list[dict[str, object]] | None = None
    tool_definitions: list[dict[str, object]] | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RequestInfo(Record):
    """A request in the GenAI conventions' terms (``None`` = not given by the caller)."""

    provider: str
    operation: str
    model: str | None
    """The requested model (``None`` for a fetch, which names a response instead)."""
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
    response_id: str | None = None
    """The response a fetch streams (:data:`FETCH_RESPONSE`)."""
    stream_cursor: int | None = None
    """Where a fetch resumes: the sequence number of the last event already received."""
    stream: bool = True
    """Whether the reply is streamed (``gen_ai.request.stream``); ``False`` for a ``create()``."""
    conversation_id: str | None = None
    """The conversation the request belongs to (``gen_ai.conversation.id``): as the request
    names it (the Responses ``conversation`` parameter) or as the caller tracks it."""
    provider_attributes: ProviderAttributes | None = None
    """What the provider that built the request adds to the conventions (see
    :class:`ProviderAttributes`)."""
    family: OperationFamily = "inference"
    """The conventions the span and metrics follow (see :data:`OperationFamily`)."""
    encoding_formats: tuple[str, ...] | None = None
    """The encoding formats an embeddings request asks for (``gen_ai.request.encoding_formats``)."""
    dimension_count: int | None = None
    """The number of dimensions the embeddings should have, as the request asks
    (``gen_ai.embeddings.dimension.count``; the count the reply states replaces it)."""
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

    def _own_attributes(self) -> ProviderAttributes | None:
        extra = self.provider_attributes
        return extra if extra is not None and extra.provider == self.provider else None

    def request_attributes(self) -> dict[str, AttributeScalar]:
        """The provider's own attributes of this request, while it is named as that provider."""
        extra = self._own_attributes()
        return dict(extra.request) if extra is not None else {}

    def response_attributes(self, response: Response) -> dict[str, AttributeScalar]:
        """The provider's own attributes of ``response`` (those it states), while the request is
        named as that provider."""
        extra = self._own_attributes()
        if extra is None:
            return {}
        attributes: dict[str, AttributeScalar] = {}
        for name, source in extra.response:
            value = getattr(response, source, None)
            if value and isinstance(value, (str, bool, int, float)):
                attributes[name] = value
        return attributes
