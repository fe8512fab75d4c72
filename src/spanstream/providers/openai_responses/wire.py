"""Pydantic models of the OpenAI Responses API streaming events, as they arrive on the wire.

Every event type of the API's ``ResponseStreamEvent`` union has a model here (see
``tests/fixtures/openai-responses/EVENT_TYPES.md``): a class of its own for those the parser
reads or that declare fields of their own, one made on first use from its shape for the others
(:data:`_SHAPED_EVENTS`). The models are deliberately lenient: real
servers (older API versions, OpenAI-compatible servers) omit fields that newer schemas call
required, so nearly every field has a default and unknown fields are ignored. Only the fields
spanstream reads are declared; the raw JSON is kept by the caller where it matters. The done
events that restate a text streamed as deltas (``response.output_text.done``,
``response.content_part.done``, ...) declare none of it: their text can be megabytes, and the
message's ``response.output_item.done`` is what the parser reads.

These models never leave the provider package: the parser turns them into
:mod:`spanstream.events`.

Each model's validator is built when it first validates (``defer_build``), and each event
type's decoder on first use (:data:`EVENT_DECODERS`); the parser imports this module when its
first parser is made, so importing spanstream defines none of them.

The deltas the parser reads (text, refusal, function arguments, reasoning) are typed dicts
(``TypedDict``), still validated by pydantic, that declare only the fields read: nearly every
event of a stream is one, and validating one into a dict costs about half as much as building a
model instance (see ``benchmarks/``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_type_hints

from pydantic import ConfigDict, Field, TypeAdapter, create_model, with_config
from typing_extensions import NotRequired, TypedDict

from .._lenient import Droppable, LenientStr, TokenCount, Wire, built, decoders, event_union

__all__ = [
    "EVENT_DECODERS",
    "ITEM_MODELS",
    "Wire",
    "NO_RESPONSE",
    "WireEvent",
    "any_event_adapter",
    "built",
    "type_of",
]


_DELTA = ConfigDict(extra="ignore")


class _ItemDelta(TypedDict):
    """The fields of an item's delta events that the parser reads (each event adds its type)."""

    item_id: NotRequired[str | None]
    output_index: NotRequired[int | None]
    delta: NotRequired[str]


# ---------------------------------------------------------------------------------------------
# Nested objects


class ErrorObject(Wire):
    message: str = ""
    code: LenientStr = None
    type: LenientStr = None
    param: LenientStr = None


class InputTokensDetails(Wire):
    cached_tokens: TokenCount = None
    cache_write_tokens: TokenCount = None


class OutputTokensDetails(Wire):
    reasoning_tokens: TokenCount = None


class UsageObject(Wire):
    input_tokens: TokenCount = None
    output_tokens: TokenCount = None
    total_tokens: TokenCount = None
    input_tokens_details: Annotated[InputTokensDetails | None, Droppable] = None
    output_tokens_details: Annotated[OutputTokensDetails | None, Droppable] = None


class IncompleteDetails(Wire):
    reason: str | None = None


class ContentPart(Wire):
    """A part of a message (``output_text`` / ``refusal``) or of a reasoning item
    (``summary_text`` / ``reasoning_text``)."""

    type: str = ""
    text: str | None = None
    refusal: str | None = None


OutputItem = dict[str, object]
"""One output item, kept as decoded JSON: the API has ~28 item types and adds more; the parser
validates the few it reads (:class:`MessageItem`, :class:`FunctionCallItem`,
:class:`ReasoningItem`) and passes every other type through by name."""


class MessageItem(Wire):
    id: str | None = None
    content: list[ContentPart] = Field(default_factory=list)


class FunctionCallItem(Wire):
    id: str | None = None
    call_id: str | None = None
    name: str = ""
    arguments: str = ""


class ReasoningItem(Wire):
    id: str | None = None
    summary: list[ContentPart] = Field(default_factory=list)
    content: list[ContentPart] | None = None
    encrypted_content: str | None = None


ITEM_MODELS: dict[str, type[Wire]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "reasoning": ReasoningItem,
}


class ItemRef(Wire):
    """An output item's identity, without its content."""

    type: object = None
    id: object = None


class ResponseFields(Wire):
    """What a response says besides its output. Every field is :data:`Droppable`: the
    terminal event is what says the answer is complete, so a bad field must not cost it."""

    id: Annotated[str | None, Droppable] = None
    model: Annotated[str | None, Droppable] = None
    status: Annotated[str | None, Droppable] = None
    error: Annotated[ErrorObject | None, Droppable] = None
    incomplete_details: Annotated[IncompleteDetails | None, Droppable] = None
    usage: Annotated[UsageObject | None, Droppable] = None
    service_tier: Annotated[str | None, Droppable] = None


class ResponseBody(ResponseFields):
    """A response that was not streamed (``POST /responses`` without ``stream``): the object a
    terminal event restates, its output items whole, kept as decoded JSON as
    ``response.output_item.done`` carries them."""

    output: Annotated[list[OutputItem] | None, Droppable] = None


class ResponseObject(ResponseFields):
    """The response of a lifecycle or terminal event (see :class:`ResponseFields`)."""

    output: Annotated[list[ItemRef] | None, Droppable] = None
    """Only each item's id and type: the full items restate the whole response (its text
    included), which the stream already delivered; the parser re-reads one in full only when
    the stream never finished it (a resumed stream)."""


# ---------------------------------------------------------------------------------------------
# Event bases


class _Event(Wire):
    type: str
    sequence_number: int | None = None


class _ResponseEvent(_Event):
    sequence_number: Annotated[int | None, Droppable] = None
    response: Annotated[ResponseObject | None, Droppable] = None


class _ItemEvent(_Event):
    item_id: str | None = None
    output_index: int | None = None


class _ItemDeltaEvent(_ItemEvent):
    delta: str = ""


class _ContentEvent(_ItemEvent):
    content_index: int | None = None


class _OutputItemEvent(_Event):
    output_index: int | None = None
    item: OutputItem = Field(default_factory=dict)


class _SummaryEvent(_ItemEvent):
    summary_index: int | None = None


class _ShellCommandEvent(_Event):
    output_index: int | None = None
    command_index: int | None = None


class _ShellCommandText(_ShellCommandEvent):
    command: str = ""


class _ShellCommandDelta(_ShellCommandEvent):
    delta: str = ""


class _ShellOutputContent(_ShellCommandEvent):
    item_id: str | None = None


class _DeltaEvent(_Event):
    delta: str = ""


# ---------------------------------------------------------------------------------------------
# Lifecycle


class ResponseCreated(_ResponseEvent):
    type: Literal["response.created"]


class ResponseInProgress(_ResponseEvent):
    type: Literal["response.in_progress"]


class ResponseQueued(_ResponseEvent):
    type: Literal["response.queued"]


class ResponseCompleted(_ResponseEvent):
    type: Literal["response.completed"]


class ResponseIncomplete(_ResponseEvent):
    type: Literal["response.incomplete"]


class ResponseFailedEvent(_ResponseEvent):
    type: Literal["response.failed"]


class ErrorEvent(_Event):
    """``error``: fields at the top level (documented) or nested in ``error`` (as recorded)."""

    type: Literal["error"]
    message: str | None = None
    code: LenientStr = None
    param: LenientStr = None
    error: ErrorObject | None = None


# ---------------------------------------------------------------------------------------------
# Output items and content parts


class OutputItemAdded(_OutputItemEvent):
    type: Literal["response.output_item.added"]


class OutputItemDone(_OutputItemEvent):
    type: Literal["response.output_item.done"]


@with_config(_DELTA)
class OutputTextDelta(_ItemDelta):
    type: Literal["response.output_text.delta"]


class OutputTextAnnotationAdded(_ContentEvent):
    type: Literal["response.output_text.annotation.added"]
    annotation: dict[str, object] | None = None
    """Kept as decoded JSON: the API has several annotation types (``url_citation``,
    ``file_citation``, ``container_file_citation``, ``file_path``) and adds more."""


@with_config(_DELTA)
class RefusalDelta(_ItemDelta):
    type: Literal["response.refusal.delta"]


# ---------------------------------------------------------------------------------------------
# Function, custom tool and MCP calls


@with_config(_DELTA)
class FunctionCallArgumentsDelta(_ItemDelta):
    type: Literal["response.function_call_arguments.delta"]


class CustomToolCallInputDone(_ItemEvent):
    type: Literal["response.custom_tool_call_input.done"]
    input: str = ""


class McpCallArgumentsDone(_ItemEvent):
    type: Literal["response.mcp_call_arguments.done"]
    arguments: str = ""


# ---------------------------------------------------------------------------------------------
# Reasoning


@with_config(_DELTA)
class ReasoningSummaryTextDelta(_ItemDelta):
    type: Literal["response.reasoning_summary_text.delta"]
    summary_index: NotRequired[int | None]


@with_config(_DELTA)
class ReasoningTextDelta(_ItemDelta):
    type: Literal["response.reasoning_text.delta"]
    content_index: NotRequired[int | None]


# ---------------------------------------------------------------------------------------------
# Hosted tools


class CodeInterpreterCallCodeDone(_ItemEvent):
    type: Literal["response.code_interpreter_call_code.done"]
    code: str = ""


class ImageGenerationCallPartialImage(_ItemEvent):
    type: Literal["response.image_generation_call.partial_image"]
    partial_image_index: int | None = None
    partial_image_b64: str = ""


# ---------------------------------------------------------------------------------------------
# Events no handler reads: validated for the fields of their shape and their type alone. Their
# models are made from this table when an event first needs one: a stream meets few of them, and
# making them all was much of what importing this module cost.

_SHAPED_EVENTS: dict[str, type[_Event]] = {
    # Output items and content parts
    "response.content_part.added": _ContentEvent,
    "response.content_part.done": _ContentEvent,
    "response.output_text.done": _ContentEvent,
    "response.refusal.done": _ContentEvent,
    # Function, custom tool and MCP calls
    "response.function_call_arguments.done": _ItemEvent,
    "response.custom_tool_call_input.delta": _ItemDeltaEvent,
    "response.mcp_call_arguments.delta": _ItemDeltaEvent,
    "response.mcp_call.in_progress": _ItemEvent,
    "response.mcp_call.completed": _ItemEvent,
    "response.mcp_call.failed": _ItemEvent,
    "response.mcp_list_tools.in_progress": _ItemEvent,
    "response.mcp_list_tools.completed": _ItemEvent,
    "response.mcp_list_tools.failed": _ItemEvent,
    # Reasoning
    "response.reasoning_summary_part.added": _SummaryEvent,
    "response.reasoning_summary_part.done": _SummaryEvent,
    "response.reasoning_summary_text.done": _SummaryEvent,
    "response.reasoning_text.done": _ContentEvent,
    # Hosted tools
    "response.web_search_call.in_progress": _ItemEvent,
    "response.web_search_call.searching": _ItemEvent,
    "response.web_search_call.completed": _ItemEvent,
    "response.file_search_call.in_progress": _ItemEvent,
    "response.file_search_call.searching": _ItemEvent,
    "response.file_search_call.completed": _ItemEvent,
    "response.code_interpreter_call.in_progress": _ItemEvent,
    "response.code_interpreter_call.interpreting": _ItemEvent,
    "response.code_interpreter_call.completed": _ItemEvent,
    "response.code_interpreter_call_code.delta": _ItemDeltaEvent,
    "response.image_generation_call.in_progress": _ItemEvent,
    "response.image_generation_call.generating": _ItemEvent,
    "response.image_generation_call.completed": _ItemEvent,
    "response.compaction.compacting": _ItemEvent,
    "response.shell_call_command.added": _ShellCommandText,
    "response.shell_call_command.delta": _ShellCommandDelta,
    "response.shell_call_command.done": _ShellCommandText,
    "response.shell_call_output_content.delta": _ShellOutputContent,
    "response.shell_call_output_content.done": _ShellOutputContent,
    # Recorded from the API but not (yet) in the SDK's event union.
    "response.apply_patch_call_operation_diff.delta": _ItemDeltaEvent,
    "response.apply_patch_call_operation_diff.done": _ItemEvent,
    # Audio
    "response.audio.delta": _DeltaEvent,
    "response.audio.transcript.delta": _DeltaEvent,
    "response.audio.done": _Event,
    "response.audio.transcript.done": _Event,
}


def _class_name(type_name: str) -> str:
    """``response.mcp_call.in_progress`` -> ``McpCallInProgress``."""
    parts = re.split(r"[._]", type_name.removeprefix("response."))
    return "".join(part.capitalize() for part in parts)


_MADE: dict[str, type[_Event]] = {}


def _shaped_model(type_name: str) -> type[_Event]:
    """The model of an event of :data:`_SHAPED_EVENTS`: its shape with its ``type`` literal."""
    model = _MADE.get(type_name)
    if model is None:
        literal: Any = Literal.__getitem__(type_name)
        model = _MADE.setdefault(
            type_name,
            create_model(
                _class_name(type_name),
                __base__=_SHAPED_EVENTS[type_name],
                __module__=__name__,
                type=(literal, ...),
            ),
        )
    return model


WireEvent = Union[
    ResponseCreated,
    ResponseInProgress,
    ResponseQueued,
    ResponseCompleted,
    ResponseIncomplete,
    ResponseFailedEvent,
    ErrorEvent,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    OutputTextAnnotationAdded,
    RefusalDelta,
    FunctionCallArgumentsDelta,
    CustomToolCallInputDone,
    McpCallArgumentsDone,
    ReasoningSummaryTextDelta,
    ReasoningTextDelta,
    CodeInterpreterCallCodeDone,
    ImageGenerationCallPartialImage,
    _Event,  # the events of _SHAPED_EVENTS (their models are made on first use)
]


def _type_name(member: type) -> str:
    # A model's fields were resolved when its class was made; ``get_type_hints`` would evaluate
    # every annotation of every model again (the typed dicts have no other record).
    fields = getattr(member, "__pydantic_fields__", None)
    (name,) = get_args(fields["type"].annotation if fields else get_type_hints(member)["type"])
    return str(name)


_DECLARED = [member for member in get_args(WireEvent) if member is not _Event]
"""The events with a class of their own (each with its ``type`` literal)."""

EVENT_DECODERS = decoders(
    {**{_type_name(member): member for member in _DECLARED}, **dict.fromkeys(_SHAPED_EVENTS)},
    make=_shaped_model,
)
"""Event type name -> JSON decoder into its model: the fast path when the SSE ``event:`` field
names the type. Each is built on first use."""


def _every_event() -> tuple[Any, ...]:
    """Every event type's model, for the discriminated union."""
    return (*_DECLARED, *(_shaped_model(name) for name in _SHAPED_EVENTS))


def type_of(event: WireEvent) -> str:
    """The ``type`` of a decoded event (a model, or a delta's dict)."""
    return event["type"] if isinstance(event, dict) else event.type


NO_RESPONSE = ResponseObject.model_construct()
"""A response with every field at its default, for events without one (built without building
the model's validator)."""

if TYPE_CHECKING:
    any_event_adapter: TypeAdapter[WireEvent]
    """Discriminated union over every event: for data-only frames without an ``event:`` field
    (built on first use)."""
else:
    __getattr__ = event_union(__name__, _every_event)
