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
same way, and the event is kept (see :mod:`spanstream.providers._lenient`).

An output item is its ``output_index``: every event of one item carries the id the item was first
given, whatever id the event itself has (issue #21).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ...accumulate import Accumulator
from ...events import (
    Citation,
    CitationAdded,
    ErrorReported,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    Response,
    ResponseDone,
    ResponseStarted,
    ResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UnknownEvent,
    Usage,
    UsageReported,
)
from .._lenient import DONE, Data, ParserBase, describe, loads, text_of
from . import wire

__all__ = ["ResponsesParser"]

logger = logging.getLogger("spanstream.providers.openai_responses")

_NOTHING: list[StreamEvent] = []
_TEXT_DELTA = "response.output_text.delta"
# An event's sequence number without decoding it (a large done event, or a payload that failed
# to decode); bounded so int() cannot blow up.
_SEQUENCE_NUMBER = re.compile(rb'"sequence_number"\s*:\s*(\d{1,18})\b')

_INCOMPLETE_FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_TERMINAL_STATUS: dict[str, ResponseStatus] = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
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
    logger = logger

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.unknown_count = 0
        """Events of a type this parser does not know (passed on as ``UnknownEvent``)."""
        self.done = False
        """Whether a terminal event (completed, incomplete, failed) was seen."""
        self._acc = Accumulator()
        self._started = False
        self._call_ids: dict[str, str] = {}  # item id -> call id, for argument deltas
        # output_index -> the id its item is known by: the first id given at that index. Some
        # servers (GitHub Copilot's, issue #21) give each event of one item its own id; the
        # output_index is what identifies an item, as the openai SDK's accumulator reads it.
        self._item_ids: dict[int, str | None] = {}
        self._done_indexes: set[int] = set()  # output_index of each item whose done event came
        self._error: ProviderError | None = None
        # Nearly every event of a stream: its decoder, held here (built by the first parser).
        self._decode_text_delta: Callable[[Data], wire.OutputTextDelta]
        self._decode_text_delta = wire.decoder(_TEXT_DELTA)  # type: ignore[assignment]
        # Event type -> handler; each handler takes what its event type decodes to.
        self._handlers: dict[str, Callable[[Any], list[StreamEvent]]] = {
            "response.output_text.delta": self._on_text_delta,
            "response.refusal.delta": self._on_refusal_delta,
            "response.function_call_arguments.delta": self._on_arguments_delta,
            "response.reasoning_summary_text.delta": self._on_reasoning_summary_delta,
            "response.reasoning_text.delta": self._on_reasoning_text_delta,
            "response.created": self._on_started,
            "response.in_progress": self._on_started,
            "response.queued": self._on_started,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.output_text.annotation.added": self._on_annotation,
            "error": self._on_error,
        }

    # -- public ---------------------------------------------------------------------------------

    @property
    def response(self) -> Response:
        """The response accumulated so far (final once :attr:`done`)."""
        return self._acc.snapshot()

    @property
    def error(self) -> ProviderError | None:
        """The provider error reported in the stream, if any."""
        return self._error

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event (its type and data) into zero or more normalized events."""
        if event == _TEXT_DELTA:
            # Nearly every event of a stream: straight to its decoder and handler.
            try:
                return self._on_text_delta(self._decode_text_delta(data))
            except ValidationError as exc:
                return self._on_invalid(event, data, exc)
        name = event
        decode = wire.EVENT_DECODERS.get(name)
        try:
            if decode is not None:
                # its type is ``name`` (a literal of its model)
                payload = decode(data, context=self._dropped)
            elif data in DONE:
                # OpenAI-compatible servers (OpenRouter) end with the Chat Completions sentinel.
                return _NOTHING
            else:
                payload = wire.any_event_adapter.validate_json(data, context=self._dropped)
                name = wire.type_of(payload)
        except ValidationError as exc:
            revalidated = self._revalidate(data, exc, self._validate_decoded)
            if revalidated is None or (decode is not None and wire.type_of(revalidated) != name):
                return self._on_invalid(event, data, exc)
            payload = revalidated
            name = wire.type_of(payload)
        if self._dropped:
            sequence_number = None if isinstance(payload, dict) else payload.sequence_number
            self._report_dropped(name, sequence_number)
        handler = self._handlers.get(name)
        if handler is not None:
            return handler(payload)
        if name in _TERMINAL_STATUS:
            return self._on_terminal(payload, data)
        return _NOTHING

    def _validate_decoded(self, decoded: dict[str, object]) -> wire.WireEvent:
        return wire.any_event_adapter.validate_python(decoded, context=self._dropped)

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
            return _NOTHING
        return [self._finish("failed", self._error)]

    # -- bad input ------------------------------------------------------------------------------

    def _on_invalid(self, name: str, data: Data, exc: ValidationError) -> list[StreamEvent]:
        # Off the hot path: only events that failed validation get here.
        decoded = loads(data)
        payload_type = decoded.get("type") if isinstance(decoded, dict) else None
        type_name = name if name != "message" else payload_type
        if (
            not isinstance(decoded, dict)
            or not isinstance(type_name, str)
            or type_name in wire.EVENT_DECODERS
        ):
            return self._skip_payload(type_name if isinstance(type_name, str) else None, data, exc)
        self.unknown_count += 1
        logger.debug("unknown Responses event type %r passed through", type_name)
        return [UnknownEvent(type_name, text_of(data))]

    def _skip_payload(
        self,
        type_name: str | None,
        data: Data,
        exc: Exception,
        sequence_number: int | None = None,
    ) -> list[StreamEvent]:
        if sequence_number is None:
            sequence_number = self.cursor(data if isinstance(data, bytes) else data.encode())
        self._skip_malformed(type_name, describe(exc), sequence_number)
        return _NOTHING

    # -- handlers -------------------------------------------------------------------------------

    def _emit(self, event: StreamEvent) -> list[StreamEvent]:
        self._acc.add(event)
        return [event]

    def _item_id(self, index: int | None, item_id: str | None) -> str | None:
        """The id the item at ``index`` (its output_index) is known by: the first id given
        there, whatever id this event gives (``item_id`` itself when the event has no index)."""
        return item_id if index is None else self._item_ids.setdefault(index, item_id)

    def _on_text_delta(self, payload: wire.OutputTextDelta) -> list[StreamEvent]:
        # The hot path: most events of a stream come here (``_item_id`` inlined).
        index = payload.get("output_index")
        item_id = payload.get("item_id")
        if index is not None:
            item_id = self._item_ids.setdefault(index, item_id)
        event = TextDelta(payload.get("delta", ""), item_id)
        self._acc.add(event)
        return [event]

    def _on_refusal_delta(self, payload: wire.RefusalDelta) -> list[StreamEvent]:
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        return self._emit(RefusalDelta(payload.get("delta", ""), item_id))

    def _on_arguments_delta(self, payload: wire.FunctionCallArgumentsDelta) -> list[StreamEvent]:
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        call_id = self._call_ids.get(item_id or "", item_id or "")
        return self._emit(ToolCallArgumentsDelta(call_id, payload.get("delta", ""), item_id))

    def _on_reasoning_summary_delta(
        self, payload: wire.ReasoningSummaryTextDelta
    ) -> list[StreamEvent]:
        part = payload.get("summary_index") or 0
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        return self._emit(ReasoningDelta(payload.get("delta", ""), item_id, "summary", part))

    def _on_reasoning_text_delta(self, payload: wire.ReasoningTextDelta) -> list[StreamEvent]:
        part = payload.get("content_index") or 0
        item_id = self._item_id(payload.get("output_index"), payload.get("item_id"))
        return self._emit(ReasoningDelta(payload.get("delta", ""), item_id, "text", part))

    def _on_started(self, payload: wire.WireEvent) -> list[StreamEvent]:
        assert isinstance(payload, wire._ResponseEvent)
        # The service tier of a response in progress is the requested one ("auto"); the tier
        # that served it is read from the terminal event only.
        response = payload.response or _NO_RESPONSE
        if self._started:
            return _NOTHING
        self._started = True
        return self._emit(ResponseStarted(response.id, response.model))

    def _on_item_added(self, payload: wire.WireEvent) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputItemAdded)
        item_id = self._item_id(payload.output_index, _id_of(payload.item))
        if payload.item.get("type") != "function_call":
            return _NOTHING
        item = self._validate_item(payload.item, payload)
        if not isinstance(item, wire.FunctionCallItem):
            return _NOTHING
        call_id = item.call_id or item_id or ""
        if item_id:
            self._call_ids[item_id] = call_id
        return self._emit(ToolCallStarted(call_id, item.name, item_id))

    def _on_annotation(self, payload: wire.WireEvent) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputTextAnnotationAdded)
        if payload.annotation is None:
            return _NOTHING
        item_id = self._item_id(payload.output_index, payload.item_id)
        return self._emit(CitationAdded(Citation.from_raw(payload.annotation, item_id)))

    def _on_item_done(self, payload: wire.WireEvent) -> list[StreamEvent]:
        assert isinstance(payload, wire.OutputItemDone)
        return [self._item_event(payload.item, payload.sequence_number, payload.output_index)]

    def _validate_item(
        self, raw: wire.OutputItem, payload: wire.OutputItemAdded
    ) -> wire._Wire | None:
        model = wire.ITEM_MODELS.get(str(raw.get("type")))
        if model is None:
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self._skip_payload(
                f"{payload.type} ({raw.get('type')} item)", "", exc, payload.sequence_number
            )
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
        item: wire._Wire | None = None
        if model is not None:
            try:
                item = model.model_validate(raw)
            except ValidationError as exc:
                # Keep the item (as ItemDone below) but count and log that it was unreadable.
                self._skip_payload(f"{item_type} item", "", exc, sequence_number)
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

    def _on_error(self, payload: wire.WireEvent) -> list[StreamEvent]:
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
        response = payload.response or _NO_RESPONSE
        events: list[StreamEvent] = []
        if not self._started:
            # A resumed stream (``starting_after``) has no response.created.
            events.extend(self._on_started(payload))
        else:
            self._acc.id = response.id or self._acc.id
            self._acc.model = response.model or self._acc.model
        if response.service_tier:
            self._acc.service_tier = response.service_tier
        self._backfill_items(response, data, events)
        if response.usage is not None:
            usage = _usage(response.usage)
            self._acc.add(UsageReported(usage))
            events.append(UsageReported(usage))
        status = _TERMINAL_STATUS[payload.type]
        error = self._error
        if status == "failed" and response.error is not None:
            error = ProviderError(
                message=response.error.message,
                code=response.error.code,
                type=response.error.type,
                param=response.error.param,
            )
        reason = response.incomplete_details.reason if response.incomplete_details else None
        events.append(self._finish(status, error, reason))
        return events

    def _backfill_items(
        self, response: wire.ResponseObject, data: Data, events: list[StreamEvent]
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
                events.extend(self._item_citations(item, index))
                events.append(self._item_event(item, None, index))

    def _item_citations(self, item: dict[str, object], index: int) -> list[StreamEvent]:
        """The citations of a back-filled message, as its ``annotation.added`` events would have
        reported them (before the message is done)."""
        content = item.get("content")
        if item.get("type") != "message" or not isinstance(content, list):
            return []
        item_id = self._item_id(index, _id_of(item))
        events: list[StreamEvent] = []
        for part in content:
            annotations = part.get("annotations") if isinstance(part, dict) else None
            for annotation in annotations if isinstance(annotations, list) else ():
                if isinstance(annotation, dict):
                    citation = Citation.from_raw(annotation, item_id)
                    events.extend(self._emit(CitationAdded(citation)))
        return events

    def _finish(
        self, status: ResponseStatus, error: ProviderError | None, reason: str | None = None
    ) -> ResponseDone:
        self.done = True
        if status == "completed":
            finish_reason = "tool_call" if self._acc.has_tool_calls else "stop"
        elif status == "incomplete":
            finish_reason = _INCOMPLETE_FINISH_REASONS.get(reason or "", reason or "length")
        else:
            finish_reason = "error"
        response = self._acc.finish(status, finish_reason, error=error, incomplete_reason=reason)
        return ResponseDone(response)


_BACKFILLED = frozenset({"message", "function_call", "reasoning"})
# The defaults, without building the validator at import (the models are deferred).
_NO_RESPONSE = wire.ResponseObject.model_construct()


def _id_of(item: wire.OutputItem) -> str | None:
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) else None


def _usage(usage: wire.UsageObject) -> Usage:
    inputs = usage.input_tokens_details
    outputs = usage.output_tokens_details
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        cache_read_input_tokens=inputs.cached_tokens if inputs else None,
        cache_write_input_tokens=inputs.cache_write_tokens if inputs else None,
        reasoning_output_tokens=outputs.reasoning_tokens if outputs else None,
    )
