"""Sans-IO parser: OpenAI Responses API server-sent events -> normalized stream events.

Feed it :class:`~spanstream.sse.ServerSentEvent` objects (or, as the streams do, each event's
type and undecoded data through ``feed_raw``); it returns the :mod:`spanstream.events` they mean
and keeps the accumulated response. It does no I/O, keeps no clock and knows nothing about
telemetry, so the same parser serves sync and async streams.

Bad input never crashes it: an event type it does not know becomes
:class:`~spanstream.events.UnknownEvent` (counted); a payload that is not valid JSON, or not the
shape of its type, is skipped, logged with its sequence number and counted — or raises
:class:`~spanstream.errors.MalformedEventError` when the parser is ``strict``. A bad field that the
event can do without (the terminal event's usage, ids, details) is dropped alone and counted the
same way, and the event is kept (see :mod:`spanstream.providers._parser`).

An output item is its ``output_index``: every event of one item carries the id the item was first
given, whatever id the event itself has (issue #21).
A response that was not streamed is read by :meth:`ResponsesParser.feed_body`, item by item
through the same handlers, into the same accumulated response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableSequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import ValidationError

from ...events import (
    Citation,
    CitationAdded,
    ErrorReported,
    FinishReason,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    ResponseDone,
    ResponseStarted,
    ResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    UsageReported,
)
from .._openai import usage as openai_usage
from .._parser import DONE, NOTHING, Data, ParserBase, describe, loads, wire_module

if TYPE_CHECKING:
    from . import wire
else:
    wire = wire_module(__name__)

__all__ = ["ResponsesParser"]

_TEXT_DELTA = "response.output_text.delta"
_SUMMARY_DELTA = "response.reasoning_summary_text.delta"
_DELTAS = (
    _TEXT_DELTA,
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    _SUMMARY_DELTA,
    "response.reasoning_text.delta",
)
# An event's sequence number without decoding it (a large done event, or a payload that failed
# to decode); bounded so int() cannot blow up.
_SEQUENCE_NUMBER = re.compile(rb'"sequence_number"\s*:\s*(\d{1,18})\b')

_INCOMPLETE_FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_TERMINAL_STATUS: dict[str, ResponseStatus] = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
# A reply's status -> how it ends: as the terminal events, or (a background response, just
# created) not finished; see ResponsesParser.feed_body.
_BODY_STATUS: dict[str, ResponseStatus] = {
    **{status: status for status in _TERMINAL_STATUS.values()},
    "queued": "in_progress",
    "in_progress": "in_progress",
}


class ResponsesParser(ParserBase):
    """Turns Responses API SSE events into :mod:`spanstream.events`.

    >>> parser = ResponsesParser()
    >>> events = parser.feed(ServerSentEvent("response.output_text.delta",
    ...     '{"type":"response.output_text.delta","item_id":"msg_1","delta":"Hi"}'))
    >>> events
    [TextDelta(text='Hi', item_id='msg_1')]
    """

    api = "Responses"
    logger = logging.getLogger("spanstream.providers.openai_responses")

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self._started = False
        self._call_ids: dict[str, str] = {}  # item id -> call id, for argument deltas
        # output_index -> the id its item is known by: the first id given at that index. Some
        # servers (GitHub Copilot's, issue #21) give each event of one item its own id; the
        # output_index is what identifies an item, as the openai SDK's accumulator reads it.
        self._item_ids: dict[int, str | None] = {}
        self._done_indexes: set[int] = set()  # output_index of each item whose done event came
        self._decoders = wire.EVENT_DECODERS
        self._handlers = {
            "response.output_text.delta": self._on_hot,
            "response.refusal.delta": self._on_refusal_delta,
            "response.function_call_arguments.delta": self._on_arguments_delta,
            _SUMMARY_DELTA: self._on_reasoning_delta,
            "response.reasoning_text.delta": self._on_reasoning_delta,
            "response.created": self._on_started,
            "response.in_progress": self._on_started,
            "response.queued": self._on_started,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.output_text.annotation.added": self._on_annotation,
            "error": self._on_error,
            "response.completed": self._on_terminal,
            "response.incomplete": self._on_terminal,
            "response.failed": self._on_terminal,
        }
        # The deltas, nearly every event of a stream: each type's decoder (built by the first
        # parser) and handler, held together.
        self._deltas = {
            name: (wire.built(self._decoders, name), self._handlers[name]) for name in _DELTAS
        }
        self._decode_hot = self._deltas[_TEXT_DELTA][0]

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event (its type and data) into zero or more normalized events."""
        delta = self._deltas.get(event)
        if delta is not None:
            # A delta has no field to drop (its typed dict declares only what the parser reads):
            # straight to its decoder and handler. One that fails takes the common path, which
            # mends or reports it.
            decode_delta, handler = delta
            try:
                return handler(decode_delta(data), data)
            except ValidationError:
                return self._handle(event, data, decode_delta)
        decode = self._decoders.get(event)
        if decode is not None:
            return self._handle(event, data, decode)
        if data in DONE:
            # OpenAI-compatible servers (OpenRouter) end with the Chat Completions sentinel.
            return NOTHING
        return self._handle(event, data, wire.any_event_adapter.validate_json, typed=False)

    def _validate(self, decoded: dict[str, object]) -> wire.WireEvent:
        return wire.any_event_adapter.validate_python(decoded, context=self._dropped)

    def _kind(self, payload: wire.WireEvent) -> str:
        return wire.type_of(payload)

    def _known(self, type_name: str) -> bool:
        return type_name in self._decoders

    def _sequence_number(self, payload: wire.WireEvent) -> int | None:
        return None if isinstance(payload, dict) else payload.sequence_number

    def cursor(self, data: bytes) -> int | None:
        """The event's ``sequence_number``: ``starting_after`` for ``GET /responses/{id}``.
        The first match is the event's own: nested objects have no such key, and inside a JSON
        string the quotes around it would be escaped; so a done event restating a long answer
        is scanned, not decoded."""
        match = _SEQUENCE_NUMBER.search(data)
        return int(match.group(1)) if match else None

    def close(self) -> list[StreamEvent]:
        """End of stream. A provider error without a terminal event still ends as failed."""
        if self.done or self._error is None:
            return NOTHING
        return [self._finish("failed", self._error)]

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Read a response that was not streamed: the object a terminal event restates, its
        output items whole. Each item is read as its ``response.output_item.done`` would be
        (a message's citations as its ``annotation.added`` events), then the response ends as
        the terminal event of its ``status`` ends a stream (none: ``completed``, or ``failed``
        with an ``error``).

        A background response (``background=True``) comes back ``queued`` or ``in_progress``:
        it ends ``in_progress``, with its id and model, no output and no finish reason (stream
        it with ``client.responses.resume(response.id)``). A reply with neither ``output`` nor
        ``error``, or with a status no response has, is malformed."""
        body: wire.ResponseBody = self._decode_body(data, wire.ResponseBody, "response")
        if body.output is None and body.error is None:
            raise self._malformed_reply("output: the reply has no output")
        given = body.status or ("failed" if body.error is not None else "completed")
        status = _BODY_STATUS.get(given)
        if status is None:
            raise self._malformed_reply("status: not a status a response has")
        self._started = True
        out = self._emit(ResponseStarted(body.id, body.model))
        for index, item in enumerate(body.output or ()):
            out.extend(self._item_citations(item, index))
            out.append(self._item_event(item, None, index))
        self._conclude(status, body, out)
        return out

    # -- handlers -------------------------------------------------------------------------------

    def _item_id(self, index: int | None, item_id: str | None) -> str | None:
        """The id the item at ``index`` (its output_index) is known by: the first id given
        there, whatever id this event gives (``item_id`` itself when the event has no index)."""
        return item_id if index is None else self._item_ids.setdefault(index, item_id)

    _hot = _TEXT_DELTA

    def _read_hot(
        self, payload: wire.OutputTextDelta, data: Data, out: MutableSequence[StreamEvent]
    ) -> None:
        # A text delta, most events of a stream (``_item_id`` inlined).
        index = payload.get("output_index")
        item_id = payload.get("item_id")
        if index is not None:
            item_id = self._item_ids.setdefault(index, item_id)
        event = TextDelta(payload.get("delta", ""), item_id)
        self._acc.add_text(event)
        out.append(event)

    def _on_refusal_delta(self, payload: wire.RefusalDelta, data: Data) -> list[StreamEvent]:
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        return self._emit(RefusalDelta(payload.get("delta", ""), item_id))

    def _on_arguments_delta(
        self, payload: wire.FunctionCallArgumentsDelta, data: Data
    ) -> list[StreamEvent]:
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        call_id = self._call_ids.get(item_id or "", item_id or "")
        return self._emit(ToolCallArgumentsDelta(call_id, payload.get("delta", ""), item_id))

    def _on_reasoning_delta(self, payload: Mapping[str, Any], data: Data) -> list[StreamEvent]:
        # A summary part or raw reasoning text: wire.ReasoningSummaryTextDelta (its part is
        # summary_index) or wire.ReasoningTextDelta (content_index).
        summary = payload["type"] == _SUMMARY_DELTA
        kind: Literal["summary", "text"] = "summary" if summary else "text"
        part = payload.get("summary_index" if summary else "content_index") or 0
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        return self._emit(ReasoningDelta(payload.get("delta", ""), item_id, kind, part))

    def _on_started(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire._ResponseEvent)
        # The service tier of a response in progress is the requested one ("auto"); the tier
        # that served it is read from the terminal event only.
        response = payload.response or wire.NO_RESPONSE
        if self._started:
            return NOTHING
        self._started = True
        return self._emit(ResponseStarted(response.id, response.model))

    def _on_item_added(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputItemAdded)
        item_id = self._item_id(payload.output_index, _id_of(payload.item))
        if payload.item.get("type") != "function_call":
            return NOTHING
        item = self._validate_item(payload.item, payload)
        if not isinstance(item, wire.FunctionCallItem):
            return NOTHING
        call_id = item.call_id or item_id or ""
        if item_id:
            self._call_ids[item_id] = call_id
        return self._emit(ToolCallStarted(call_id, item.name, item_id))

    def _on_annotation(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputTextAnnotationAdded)
        if payload.annotation is None:
            return NOTHING
        item_id = self._item_id(payload.output_index, payload.item_id)
        return self._emit(CitationAdded(Citation.from_raw(payload.annotation, item_id)))

    def _on_item_done(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputItemDone)
        return [self._item_event(payload.item, payload.sequence_number, payload.output_index)]

    def _validate_item(
        self, raw: wire.OutputItem, payload: wire.OutputItemAdded
    ) -> wire.Wire | None:
        model = wire.ITEM_MODELS.get(str(raw.get("type")))
        if model is None:
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            name = f"{payload.type} ({raw.get('type')} item)"
            self._skip_malformed(name, describe(exc), payload.sequence_number)
            return None

    def _item_event(
        self, raw: wire.OutputItem, sequence_number: int | None, index: int | None
    ) -> StreamEvent:
        """The done event of output item ``raw`` at ``index``, named by the id it is known by."""
        item_id = self._item_id(index, _id_of(raw))
        if index is not None:
            self._done_indexes.add(index)
        item_type = str(raw.get("type", ""))
        model = wire.ITEM_MODELS.get(item_type)
        item: wire.Wire | None = None
        if model is not None:
            try:
                item = model.model_validate(raw)
            except ValidationError as exc:
                # Keep the item (as ItemDone below) but count and log that it was unreadable.
                self._skip_malformed(f"{item_type} item", describe(exc), sequence_number)
        event: StreamEvent
        if isinstance(item, wire.MessageItem):
            parts = item.content
            text = "".join(p.text or "" for p in parts if p.type == "output_text")
            refusal = "".join(p.refusal or "" for p in parts if p.type == "refusal")
            event = MessageDone(item_id, text, refusal or None)
        elif isinstance(item, wire.FunctionCallItem):
            call_id = item.call_id or self._call_ids.get(item_id or "", item_id or "")
            event = ToolCallDone(ToolCall.build(call_id, item.name, item.arguments, item_id))
        elif isinstance(item, wire.ReasoningItem):
            event = ReasoningDone(
                Reasoning(
                    id=item_id,
                    summary=tuple(p.text or "" for p in item.summary),
                    content=tuple(p.text or "" for p in item.content or ()),
                    encrypted_content=item.encrypted_content,
                )
            )
        else:
            event = ItemDone(item_type, item_id, raw)
        self._acc.add(event)
        return event

    def _on_error(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.ErrorEvent)
        nested = payload.error
        error = ProviderError(
            message=payload.message or (nested.message if nested else "") or "error event",
            code=payload.code or (nested.code if nested else None),
            type=nested.type if nested else None,
            param=payload.param or (nested.param if nested else None),
        )
        self._error = error
        return [ErrorReported(error, payload.sequence_number)]

    def _on_terminal(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire._ResponseEvent)
        response = payload.response or wire.NO_RESPONSE
        out: list[StreamEvent] = []
        if not self._started:
            # A resumed stream (``starting_after``) has no response.created.
            out.extend(self._on_started(payload, data))
        else:
            self._acc.id = response.id or self._acc.id
            self._acc.model = response.model or self._acc.model
        self._backfill_items(response, data, out)
        self._conclude(_TERMINAL_STATUS[payload.type], response, out)
        return out

    def _conclude(
        self, status: ResponseStatus, response: wire.ResponseFields, out: list[StreamEvent]
    ) -> None:
        """End the response with ``status``, as its terminal event restating ``response``
        says: the service tier that served it, the usage, the error, the finish reason."""
        if response.service_tier:
            self._acc.service_tier = response.service_tier
        if response.usage is not None:
            usage = _usage(response.usage)
            self._acc.add(UsageReported(usage))
            out.append(UsageReported(usage))
        error = self._error
        if status == "failed" and response.error is not None:
            error = ProviderError(
                message=response.error.message,
                code=response.error.code,
                type=response.error.type,
                param=response.error.param,
            )
        elif status == "failed" and error is None:
            # A failure must say why (ResponseFailedError carries it): a server that sends none.
            error = ProviderError(message="the response failed without an error")
        reason = response.incomplete_details.reason if response.incomplete_details else None
        out.append(self._finish(status, error, reason))

    def _backfill_items(
        self, response: wire.ResponseObject, data: Data, out: list[StreamEvent]
    ) -> None:
        """Items the stream never finished (e.g. a resumed stream) come from the final payload.

        An item is finished when the done event of its output_index came (whatever id either
        gives: issue #21), or, for servers whose done events have no output_index, its id."""
        seen = self._acc.item_ids
        done = self._done_indexes
        missing = [
            index
            for index, item in enumerate(response.output or ())
            if index not in done
            and not (isinstance(item.id, str) and item.id in seen)
            and isinstance(item.type, str)
            and item.type in _BACKFILLED
        ]
        if not missing:
            return
        # Rare (resumed streams): read the full items once, from the payload as received.
        decoded = loads(data)
        body = decoded.get("response") if isinstance(decoded, dict) else None
        output = body.get("output") if isinstance(body, dict) else None
        if not isinstance(output, list):
            return
        for index in missing:
            item = output[index] if index < len(output) else None
            if isinstance(item, dict):
                out.extend(self._item_citations(item, index))
                out.append(self._item_event(item, None, index))

    def _item_citations(self, item: dict[str, object], index: int) -> list[StreamEvent]:
        """The citations of a back-filled message, as its ``annotation.added`` events would have
        reported them (before the message is done)."""
        content = item.get("content")
        if item.get("type") != "message" or not isinstance(content, list):
            return []
        item_id = self._item_id(index, _id_of(item))
        out: list[StreamEvent] = []
        for part in content:
            annotations = part.get("annotations") if isinstance(part, dict) else None
            for annotation in annotations if isinstance(annotations, list) else ():
                if isinstance(annotation, dict):
                    citation = Citation.from_raw(annotation, item_id)
                    out.extend(self._emit(CitationAdded(citation)))
        return out

    def _finish(
        self,
        status: ResponseStatus,
        error: ProviderError | None,
        reason: str | None = None,
    ) -> ResponseDone:
        self.done = True
        finish_reason: FinishReason | None
        if status == "completed":
            finish_reason = "tool_call" if self._acc.has_tool_calls else "stop"
        elif status == "incomplete":
            finish_reason = _INCOMPLETE_FINISH_REASONS.get(reason or "", reason or "length")
        elif status == "in_progress":
            finish_reason = None  # a background response, not finished (feed_body)
        else:
            finish_reason = "error"
        response = self._acc.finish(status, finish_reason, error=error, incomplete_reason=reason)
        return ResponseDone(response)


_BACKFILLED = frozenset({"message", "function_call", "reasoning"})


def _id_of(item: wire.OutputItem) -> str | None:
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) else None


def _usage(usage: wire.UsageObject) -> Usage:
    details = usage.input_tokens_details, usage.output_tokens_details
    return openai_usage(usage.input_tokens, usage.output_tokens, usage.total_tokens, *details)
