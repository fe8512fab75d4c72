"""Provider-neutral stream events and the final :class:`Response`.

Every provider parser turns its wire format into these frozen, slotted value objects, so the
telemetry layer and the user's code see one vocabulary whatever API produced the stream::

    with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                print(event.text, end="")
        response = stream.final_response()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeGuard, Union

from . import _text
from ._record import Record

__all__ = [
    "Citation",
    "CitationAdded",
    "ErrorReported",
    "FinishReason",
    "ItemDone",
    "MessageDone",
    "ProviderError",
    "Reasoning",
    "ReasoningDelta",
    "ReasoningDone",
    "RefusalDelta",
    "Response",
    "ResponseDone",
    "ResponseStarted",
    "ResponseStatus",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallArgumentsDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "ToolResult",
    "TOKEN_COUNT_MAX",
    "TurnStarted",
    "UnknownEvent",
    "Usage",
    "UsageReported",
]

ResponseStatus = Literal["completed", "incomplete", "failed", "in_progress"]
"""Status of a response as the provider reported it (``in_progress`` until a terminal event)."""

FinishReason = str
"""A finish reason in the conventions' vocabulary: ``stop``, ``length``, ``content_filter``,
``tool_call``, ``error``, or the provider's own value when it has no mapping."""

TOKEN_COUNT_MAX = 2**63 - 1
"""The largest token count spanstream records: OTLP carries counts as signed 64-bit integers, and
one larger value in a cumulative metric makes every later export of it fail to encode."""


def is_token_count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a token count telemetry can record: an ``int`` (not a ``bool``) in
    ``0..TOKEN_COUNT_MAX``."""
    return type(value) is int and 0 <= value <= TOKEN_COUNT_MAX


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Usage(Record):
    """Token usage in the GenAI conventions' meaning.

    ``input_tokens`` includes cached input tokens; ``output_tokens`` includes reasoning tokens;
    ``total_tokens`` is their sum (as OpenAI sends it; computed for Anthropic, which sends none).
    A field is ``None`` when the provider did not report it, or reported something that is not a
    count in ``0..TOKEN_COUNT_MAX`` (the parser drops such a field and counts it as malformed).

    ``estimated`` is true when the server gave no output count for the output received (a Chat
    Completions server that ignores ``stream_options.include_usage``, a stream cut before its
    usage arrived, or after only Anthropic's ``message_start`` count, sent before any output):
    ``output_tokens`` (and ``total_tokens``, when the input count is known) is then spanstream's
    estimate from the output received (:mod:`spanstream.accumulate`), and the other fields are
    what the server reported, if anything.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    estimated: bool = False


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ProviderError(Record):
    """An error the provider reported inside the stream (not an HTTP error status)."""

    message: str
    code: str | None = None
    type: str | None = None
    param: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ToolCall(Record):
    """A function call the model asked for.

    ``arguments`` is the raw JSON text exactly as streamed; ``parsed_arguments`` is its decoded
    object, or ``None`` when the text is not a JSON object (e.g. truncated by
    ``max_output_tokens``).
    """

    call_id: str
    name: str
    arguments: str
    item_id: str | None = None
    parsed_arguments: dict[str, object] | None = field(default=None, compare=False)

    @classmethod
    def build(cls, call_id: str, name: str, arguments: str, item_id: str | None) -> ToolCall:
        """Create a tool call, decoding ``arguments`` once."""
        parsed: dict[str, object] | None = None
        try:
            value = _text.loads(arguments) if arguments else {}
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            parsed = value
        return cls(call_id, name, arguments, item_id, parsed)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Reasoning(Record):
    """A reasoning item: summary parts, raw reasoning text parts, and the opaque
    ``encrypted_content`` to send back on the next turn (when requested)."""

    id: str | None
    summary: tuple[str, ...] = ()
    content: tuple[str, ...] = ()
    encrypted_content: str | None = None
    signature: str | None = None
    """Anthropic: the signature of a thinking block, to send back with it on the next turn."""
    redacted: bool = False
    """Anthropic ``redacted_thinking``: the reasoning is only in ``encrypted_content``."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Citation(Record):
    """A source the answer cites: an OpenAI Responses annotation (``url_citation``,
    ``file_citation``, ...) or an Anthropic citation (``web_search_result_location``,
    ``char_location``, ...), as the stream reported it.

    ``kind`` is the provider's type; ``item_id`` the message whose text cites it. ``url`` and
    ``title`` name the source (a file's name for file citations, a document's title for
    Anthropic document citations); ``cited_text`` is the quoted source text (Anthropic);
    ``start_index`` / ``end_index`` delimit the citing span of the message text (Responses).
    ``raw`` is the provider's object, with whatever else it carries (file ids, encrypted
    indexes); it takes no part in equality.
    """

    kind: str
    item_id: str | None = None
    url: str | None = None
    title: str | None = None
    cited_text: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, raw: dict[str, object], item_id: str | None) -> Citation:
        """Read the fields both providers share from the provider's citation object."""

        def text(*keys: str) -> str | None:
            for key in keys:
                value = raw.get(key)
                if isinstance(value, str):
                    return value
            return None

        def index(key: str) -> int | None:
            value = raw.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            kind=text("type") or "",
            item_id=item_id,
            url=text("url"),
            title=text("title", "filename", "document_title"),
            cited_text=text("cited_text"),
            start_index=index("start_index"),
            end_index=index("end_index"),
            raw=raw,
        )


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Response(Record):
    """The accumulated result of one stream."""

    id: str | None
    model: str | None
    status: ResponseStatus
    finish_reason: FinishReason | None
    text: str
    refusal: str | None
    tool_calls: tuple[ToolCall, ...]
    reasoning: tuple[Reasoning, ...]
    usage: Usage | None
    error: ProviderError | None = None
    incomplete_reason: str | None = None
    service_tier: str | None = None
    finish_reasons: tuple[FinishReason, ...] = ()
    """One finish reason per choice, in choice order (Chat Completions with ``n`` > 1 has
    several; the other fields describe choice 0). Empty until the response is finished, and in
    a finished response when the server gave no finish reason at all (``finish_reason`` is then
    ``None``: none is invented). ``error`` marks a failed response, or, when other choices gave
    one, a choice that ended without one."""
    citations: tuple[Citation, ...] = ()
    """The sources the text cites, in the order the stream reported them."""
    system_fingerprint: str | None = None
    """OpenAI Chat Completions: the backend configuration that served the request."""
    dimension_count: int | None = None
    """Embeddings: the length of the vectors returned (``gen_ai.embeddings.dimension.count``)."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ResponseStarted(Record):
    """The provider acknowledged the request (Responses ``response.created``)."""

    id: str | None
    model: str | None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class TextDelta(Record):
    """A piece of the assistant's visible text."""

    text: str
    item_id: str | None = None

    # The deltas are nearly every event of a stream, and the __init__ a frozen dataclass
    # generates sets each field through object.__setattr__; the slots' own setters (bound
    # below the class, as _SET_*) cost a fraction of that. The same in the other hot deltas;
    # tests/unit/test_event_records.py holds them to the generated __init__.
    def __init__(self, text: str, item_id: str | None = None) -> None:
        _SET_TEXT(self, text)
        _SET_TEXT_ITEM(self, item_id)


def _setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The setters of the slots ``names`` of ``cls`` (see TextDelta.__init__)."""
    return tuple(vars(cls)[name].__set__ for name in names)


_SET_TEXT, _SET_TEXT_ITEM = _setters(TextDelta, "text", "item_id")


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RefusalDelta(Record):
    """A piece of a refusal; never merged into the text."""

    text: str
    item_id: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ReasoningDelta(Record):
    """A piece of reasoning: a summary (``kind="summary"``) or raw reasoning text.
    ``part`` numbers the summary parts (or text parts) of one reasoning item."""

    text: str
    item_id: str | None = None
    kind: Literal["summary", "text"] = "summary"
    part: int = 0

    def __init__(
        self,
        text: str,
        item_id: str | None = None,
        kind: Literal["summary", "text"] = "summary",
        part: int = 0,
    ) -> None:
        _SET_REASONING(self, text)  # see TextDelta.__init__
        _SET_REASONING_ITEM(self, item_id)
        _SET_REASONING_KIND(self, kind)
        _SET_REASONING_PART(self, part)


_SET_REASONING, _SET_REASONING_ITEM, _SET_REASONING_KIND, _SET_REASONING_PART = _setters(
    ReasoningDelta, "text", "item_id", "kind", "part"
)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ReasoningDone(Record):
    """A reasoning item is complete."""

    reasoning: Reasoning


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ToolCallStarted(Record):
    """The model started a function call."""

    call_id: str
    name: str
    item_id: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ToolCallArgumentsDelta(Record):
    """A piece of a function call's JSON arguments."""

    call_id: str
    delta: str
    item_id: str | None = None

    def __init__(self, call_id: str, delta: str, item_id: str | None = None) -> None:
        _SET_CALL(self, call_id)  # see TextDelta.__init__
        _SET_CALL_DELTA(self, delta)
        _SET_CALL_ITEM(self, item_id)


_SET_CALL, _SET_CALL_DELTA, _SET_CALL_ITEM = _setters(
    ToolCallArgumentsDelta, "call_id", "delta", "item_id"
)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ToolCallDone(Record):
    """A function call is complete: emitted as soon as its item is done, not at the end."""

    tool_call: ToolCall


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CitationAdded(Record):
    """The model cited a source for the text of message ``citation.item_id``."""

    citation: Citation


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class MessageDone(Record):
    """An assistant message item is complete, with its full text and refusal."""

    id: str | None
    text: str
    refusal: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UsageReported(Record):
    """The provider reported token usage."""

    usage: Usage


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ErrorReported(Record):
    """The provider reported an error inside the stream (an ``error`` event)."""

    error: ProviderError
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ResponseDone(Record):
    """The stream reached its terminal event: completed, incomplete or failed."""

    response: Response


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ItemDone(Record):
    """An output item with no dedicated event is complete (a hosted tool call such as a web
    search, an MCP call, a shell call). ``data`` is the item as the provider sent it."""

    type: str
    id: str | None
    data: dict[str, object]


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class TurnStarted(Record):
    """An agent run starts turn ``turn`` (1-based): a new model call."""

    turn: int


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ToolResult(Record):
    """An agent ran a tool call; ``output`` is what goes back to the model. ``error`` is the
    error's type name when the tool raised or its arguments were invalid (the model then sees
    the error text as the output)."""

    tool_call: ToolCall
    output: str
    error: str | None = None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UnknownEvent(Record):
    """An event type this version of spanstream does not know, passed through untouched."""

    type: str
    raw: str


StreamEvent = Union[
    ResponseStarted,
    TextDelta,
    RefusalDelta,
    ReasoningDelta,
    ReasoningDone,
    ToolCallStarted,
    ToolCallArgumentsDelta,
    ToolCallDone,
    CitationAdded,
    MessageDone,
    ItemDone,
    UsageReported,
    ErrorReported,
    ResponseDone,
    UnknownEvent,
]
"""Every event a stream can yield."""
