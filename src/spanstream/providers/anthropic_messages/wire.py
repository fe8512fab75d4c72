"""Pydantic models of Anthropic Messages streaming events, as they arrive on the wire.

Every event type of the API's stream has a model: ``message_start``, ``content_block_start``,
``content_block_delta``, ``content_block_stop``, ``message_delta``, ``message_stop``, ``ping``
and ``error``. Content blocks are kept as decoded JSON (the API keeps adding server-tool block
types; the parser reads the few it knows and passes the rest through by name), and deltas are
one typed dict with the optional fields of every delta type. The models are deliberately
lenient: every field has a default and unknown fields are ignored.

A content block's delta, nearly every event of a stream, is a typed dict (``TypedDict``), still
validated by pydantic: validating one into dicts costs a fraction of building two model
instances (as the Responses wire module does for its deltas).

These models never leave the provider package: the parser turns them into
:mod:`spanstream.events`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Union, get_args

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from .._lenient import Droppable, LenientStr, TokenCount, Wire, built, decoders, event_union

__all__ = [
    "EVENT_DECODERS",
    "NO_MESSAGE",
    "ContentBlock",
    "MessageBody",
    "WireEvent",
    "any_event_adapter",
    "built",
    "type_of",
]

ContentBlock = dict[str, object]
"""A content block as decoded JSON (``text``, ``thinking``, ``tool_use``, server tool blocks...)."""


class OutputTokensDetails(Wire):
    thinking_tokens: TokenCount = None


class UsageObject(Wire):
    """Token counts. Anthropic's ``input_tokens`` excludes the cached tokens."""

    input_tokens: TokenCount = None
    output_tokens: TokenCount = None
    cache_read_input_tokens: TokenCount = None
    cache_creation_input_tokens: TokenCount = None
    output_tokens_details: Annotated[OutputTokensDetails | None, Droppable] = None
    service_tier: Annotated[str | None, Droppable] = None


class MessageObject(Wire):
    """The message of ``message_start``: every field :data:`Droppable` (none is essential)."""

    id: Annotated[str | None, Droppable] = None
    model: Annotated[str | None, Droppable] = None
    usage: Annotated[UsageObject | None, Droppable] = None


_DELTA = ConfigDict(extra="ignore")


@with_config(_DELTA)
class Delta(TypedDict, total=False):
    """Any content block delta: ``text_delta``, ``input_json_delta``, ``thinking_delta``,
    ``signature_delta``, ``citations_delta``, ``compaction_delta``..."""

    type: str
    text: str | None
    partial_json: str | None
    thinking: str | None
    signature: str | None
    content: str | None
    citation: dict[str, object] | None


class MessageDeltaBody(Wire):
    stop_reason: str | None = None
    stop_sequence: Annotated[str | None, Droppable] = None


class ErrorObject(Wire):
    type: LenientStr = None
    message: str | None = None


class MessageBody(MessageObject):
    """A message that was not streamed (``POST /messages`` without ``stream``): the message of
    ``message_start`` with its content blocks whole (kept as decoded JSON, as
    ``content_block_start`` carries them) and its stop reason; or, from a relay that answers
    a failure with a success status, ``{"type": "error", "error": {...}}``."""

    type: str | None = None
    content: list[ContentBlock] | None = None
    stop_reason: Annotated[str | None, Droppable] = None
    error: Annotated[ErrorObject | None, Droppable] = None


class _Event(Wire):
    type: str


class MessageStart(_Event):
    type: Literal["message_start"]
    message: Annotated[MessageObject | None, Droppable] = None


class ContentBlockStart(_Event):
    type: Literal["content_block_start"]
    index: int = 0
    content_block: ContentBlock = Field(default_factory=dict)


@with_config(_DELTA)
class ContentBlockDelta(TypedDict):
    type: Literal["content_block_delta"]
    index: NotRequired[int]
    delta: NotRequired[Delta]


class ContentBlockStop(_Event):
    type: Literal["content_block_stop"]
    index: int = 0


class MessageDelta(_Event):
    """The end of the message: a bad ``usage`` or ``delta`` is dropped alone, since the event
    may carry the other (its stop reason, the final usage)."""

    type: Literal["message_delta"]
    delta: Annotated[MessageDeltaBody | None, Droppable] = None
    usage: Annotated[UsageObject | None, Droppable] = None


class MessageStop(_Event):
    type: Literal["message_stop"]


class Ping(_Event):
    type: Literal["ping"]


class ErrorEvent(_Event):
    """``error``: ``{"type": "error", "error": {"type", "message"}}``; the top-level ``code`` and
    ``message`` of OpenAI-style error frames are read too (some relays send those)."""

    type: Literal["error"]
    error: ErrorObject | None = None
    code: LenientStr = None
    message: str | None = None


WireEvent = Union[
    MessageStart,
    ContentBlockStart,
    ContentBlockDelta,
    ContentBlockStop,
    MessageDelta,
    MessageStop,
    Ping,
    ErrorEvent,
]

EVENT_DECODERS = decoders(
    {
        "message_start": MessageStart,
        "content_block_start": ContentBlockStart,
        "content_block_delta": ContentBlockDelta,
        "content_block_stop": ContentBlockStop,
        "message_delta": MessageDelta,
        "message_stop": MessageStop,
        "ping": Ping,
        "error": ErrorEvent,
    }
)
"""Event name -> JSON decoder into its model: the fast path, since every Anthropic frame has an
``event:`` line. Each is built on first use."""


def type_of(event: WireEvent) -> str:
    """The ``type`` of a decoded event (a model, or a delta's dict)."""
    return event["type"] if isinstance(event, dict) else event.type


NO_MESSAGE = MessageObject.model_construct()
"""A message with every field at its default (built without building the model's validator)."""

if TYPE_CHECKING:
    any_event_adapter: TypeAdapter[WireEvent]
    """Discriminated union over every event: for data-only frames (relays that drop ``event:``),
    built on first use."""
else:
    __getattr__ = event_union(__name__, lambda: get_args(WireEvent))
