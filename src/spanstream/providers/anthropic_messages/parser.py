"""Sans-IO parser: Anthropic Messages server-sent events -> normalized stream events.

A Messages stream is ``message_start``, then for each content block ``content_block_start``,
its deltas and ``content_block_stop``, then ``message_delta`` (stop reason, final usage) and
``message_stop``; ``ping`` may come anywhere and ``error`` reports a failure. Mapping:

* ``text`` blocks -> :class:`~spanstream.events.TextDelta`, then ``MessageDone`` at their stop;
* ``thinking`` blocks -> ``ReasoningDelta`` (``kind="text"``), then ``ReasoningDone`` whose
  :class:`~spanstream.events.Reasoning` carries the block's ``signature``;
  ``redacted_thinking`` -> ``ReasoningDone`` with ``redacted=True`` and the opaque ``data`` as
  ``encrypted_content``;
* ``tool_use`` blocks -> ``ToolCallStarted``, ``ToolCallArgumentsDelta`` (``input_json_delta``),
  ``ToolCallDone`` at their stop;
* every other block (server tools, their results, MCP, compaction) -> ``ItemDone`` at its stop,
  with the block as sent and its streamed ``input`` / ``content`` filled in.

Block events carry ``item_id="block-<index>"``. Usage is split across ``message_start`` and
``message_delta``: the values are cumulative, so each field keeps its latest reported value
(never summed), then it is normalized once to the conventions' meaning — input tokens include
cache reads and cache writes, which are also reported apart.

The stream is complete at ``message_stop``, or at the end of the body after a ``message_delta``
with a stop reason (relays that drop the last frame). A ``message_stop`` that no stop reason came
before still completes the response, with no finish reason: none is invented (``finish_reason``
``None``, ``finish_reasons`` empty, no ``gen_ai.response.finish_reasons`` on the span), as for a
Chat Completions stream ended by ``[DONE]`` without one (issue #22).
A message that was not streamed is read by :meth:`MessagesParser.feed_body` as the events its
stream would have had, through the same handlers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableSequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ...events import (
    Citation,
    CitationAdded,
    ErrorReported,
    FinishReason,
    ItemDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    ResponseDone,
    ResponseStarted,
    ResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
    UnknownEvent,
    Usage,
    UsageReported,
    is_token_count,
)
from .._parser import NOTHING, Data, ParserBase, loads, text_of, wire_module

if TYPE_CHECKING:
    from . import wire
else:
    wire = wire_module(__name__)

__all__ = ["STOP_REASONS", "MessagesParser"]

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_call",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    # No convention value: the server paused a long turn (server tools) to be continued.
    "pause_turn": "pause_turn",
}
"""Anthropic ``stop_reason`` -> the conventions' finish reason (others pass through)."""

# Stop reasons that cut the answer short, by a limit or a filter: the response is incomplete.
_INCOMPLETE = frozenset({"max_tokens", "model_context_window_exceeded", "refusal", "pause_turn"})

_NO_DELTA: wire.Delta = {}  # a delta event without its delta: one of no type (unknown)

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


class _Block:
    """A content block between its start and its stop."""

    __slots__ = ("call_id", "content", "data", "input", "item_id", "kind", "signature")

    def __init__(self, index: int, data: wire.ContentBlock) -> None:
        self.data = data
        self.kind = str(data.get("type", ""))
        self.item_id = f"block-{index}"
        self.call_id: str | None = None
        self.signature: str | None = None
        self.input: list[str] = []  # input_json_delta parts of server tool blocks
        self.content: list[str] = []  # compaction_delta parts


class MessagesParser(ParserBase):
    """Turns Anthropic Messages SSE events into :mod:`spanstream.events`.

    >>> parser = MessagesParser()
    >>> parser.feed(ServerSentEvent("content_block_start",
    ...     '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'))
    []
    >>> parser.feed(ServerSentEvent("content_block_delta",
    ...     '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'))
    [TextDelta(text='Hi', item_id='block-0')]
    """

    api = "Anthropic Messages"
    logger = logging.getLogger("spanstream.providers.anthropic_messages")

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, int] = {}
        self._stop_reason: str | None = None
        self._decoders = wire.EVENT_DECODERS
        self._handlers = {
            "content_block_delta": self._on_hot,
            "content_block_start": self._on_block_start,
            "content_block_stop": self._on_block_stop,
            "message_start": self._on_message_start,
            "message_delta": self._on_message_delta,
            "message_stop": self._on_message_stop,
            "ping": self._on_ping,
            "error": self._on_error,
        }
        self._decode_hot = wire.built(self._decoders, "content_block_delta")

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event (its type and data) into zero or more normalized events."""
        if self.done:
            return NOTHING
        # A stream's deltas come through feed_events, which reads them at once (_read_hot).
        decode = self._decoders.get(event)
        if decode is not None:
            return self._handle(event, data, decode)
        if event == "message":
            # A relay that drops the event: lines; the payload's type says which event it is.
            return self._handle(event, data, wire.any_event_adapter.validate_json, typed=False)
        self.unknown_count += 1
        return [UnknownEvent(event, text_of(data))]

    def close(self) -> list[StreamEvent]:
        """End of the body: complete after a stop reason, failed after a reported error;
        otherwise nothing (the stream was cut)."""
        if self.done or (self._error is None and self._stop_reason is None):
            return NOTHING
        return self._finish()

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Read a message that was not streamed: the events its stream would have had, through
        their handlers. Its ``message_start`` (id, model), then each content block started whole
        and stopped, with what its deltas
        would have carried: a ``tool_use`` block's ``input`` as its arguments (JSON text, as
        ``input_json_delta`` streams it), a text block's ``citations``; then its usage (the final
        one, normalized as a stream's is) and stop reason end it, as ``message_delta`` and
        ``message_stop`` do. ``{"type": "error", ...}`` with a success status is a
        failed response, as an ``error`` event is; a reply with no ``content`` is malformed."""
        message: wire.MessageBody = self._decode_body(data, wire.MessageBody, "message")
        if message.type == "error" or (message.content is None and message.error is not None):
            failure = wire.ErrorEvent.model_construct(type="error", error=message.error)
            return self._on_error(failure, data) + self._finish()
        if message.content is None:
            raise self._malformed_reply("content: the reply has no content")
        # The usage is the final one: it comes after the blocks, where a stream's message_delta
        # brings it (a count before any output is taken as a stream's provisional one).
        opening = message.model_copy(update={"usage": None})
        start = wire.MessageStart.model_construct(type="message_start", message=opening)
        out = self._on_message_start(start, data)
        if message.usage is not None and message.usage.service_tier:
            self._acc.service_tier = message.usage.service_tier
        for index, block in enumerate(message.content):
            started = wire.ContentBlockStart.model_construct(
                type="content_block_start", index=index, content_block=block
            )
            out += self._on_block_start(started, data)
            for delta in _deltas_of(block):
                streamed = wire.ContentBlockDelta(
                    type="content_block_delta", index=index, delta=delta
                )
                out += self._on_hot(streamed, data)
            stopped = wire.ContentBlockStop.model_construct(type="content_block_stop", index=index)
            out += self._on_block_stop(stopped, data)
        self._stop_reason = message.stop_reason
        if message.usage is not None:
            out += self._update_usage(message.usage)
        return out + self._finish()

    def _validate(self, decoded: dict[str, object]) -> wire.WireEvent:
        return wire.any_event_adapter.validate_python(decoded, context=self._dropped)

    def _kind(self, payload: wire.WireEvent) -> str:
        return wire.type_of(payload)

    def _known(self, type_name: str) -> bool:
        return type_name in self._decoders

    # -- handlers -------------------------------------------------------------------------------

    _hot = "content_block_delta"

    def _read_hot(
        self, payload: wire.ContentBlockDelta, data: Data, out: MutableSequence[StreamEvent]
    ) -> None:
        # A typed dict (wire.py), most events of a stream: a text delta is read here at once,
        # any other delta by _on_other_delta.
        delta = payload.get("delta")
        if delta and delta.get("type") == "text_delta":
            block = self._blocks.get(payload.get("index", 0))
            text = delta.get("text")
            if block is not None and text:
                event = TextDelta(text, block.item_id)
                self._acc.add_text(event)
                out.append(event)
                return
        out.extend(self._on_other_delta(payload, data))

    def _on_other_delta(self, payload: wire.ContentBlockDelta, data: Data) -> list[StreamEvent]:
        """A delta other than non-empty text (see :meth:`_read_hot`), or of a block never
        started."""
        index = payload.get("index", 0)
        block = self._blocks.get(index)
        if block is None:
            self._skip_malformed(payload["type"], f"block {index} was never started")
            return NOTHING
        delta = payload.get("delta") or _NO_DELTA
        kind = delta.get("type", "")
        if kind == "text_delta":
            return NOTHING  # an empty one (_read_hot took the others)
        if kind == "input_json_delta":
            partial_json = delta.get("partial_json")
            if not partial_json:
                return NOTHING
            if block.call_id is None:
                block.input.append(partial_json)
                return NOTHING
            return self._emit(ToolCallArgumentsDelta(block.call_id, partial_json, block.item_id))
        if kind == "thinking_delta":
            thinking = delta.get("thinking")
            if not thinking:
                return NOTHING
            return self._emit(ReasoningDelta(thinking, block.item_id, "text"))
        if kind == "signature_delta":
            block.signature = delta.get("signature")
        elif kind == "compaction_delta":
            block.content.append(delta.get("content") or "")
        elif kind == "citations_delta":
            raw = delta.get("citation")
            if raw is not None:
                citation = Citation.from_raw(raw, block.item_id)
                return self._emit(CitationAdded(citation))
        else:
            self.unknown_count += 1
            return [UnknownEvent(f"{payload['type']}.{kind}", text_of(data))]
        return NOTHING

    def _on_block_start(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.ContentBlockStart)
        block = self._blocks[payload.index] = _Block(payload.index, payload.content_block)
        content = block.data
        if block.kind == "text":
            text = content.get("text")
            return (
                self._emit(TextDelta(text, block.item_id))
                if isinstance(text, str) and text
                else NOTHING
            )
        if block.kind == "thinking":
            signature = content.get("signature")
            block.signature = signature if isinstance(signature, str) and signature else None
            thinking = content.get("thinking")
            if isinstance(thinking, str) and thinking:
                return self._emit(ReasoningDelta(thinking, block.item_id, "text"))
        elif block.kind == "tool_use":
            call_id, name = content.get("id"), content.get("name")
            block.call_id = call_id if isinstance(call_id, str) else block.item_id
            started = ToolCallStarted(
                block.call_id, name if isinstance(name, str) else "", block.item_id
            )
            return self._emit(started)
        return NOTHING

    def _on_block_stop(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.ContentBlockStop)
        block = self._blocks.pop(payload.index, None)
        return self._close_block(block) if block is not None else NOTHING

    def _close_block(self, block: _Block) -> list[StreamEvent]:
        acc = self._acc
        kind = block.kind
        done: StreamEvent | None
        if kind == "text":
            done = acc.message_done(block.item_id)
        elif kind == "thinking":
            done = acc.reasoning_done(block.item_id, signature=block.signature)
        elif kind == "tool_use":
            done = acc.tool_call_done(block.call_id or block.item_id)
        elif kind == "redacted_thinking":
            opaque = block.data.get("data")
            reasoning = Reasoning(
                block.item_id,
                encrypted_content=opaque if isinstance(opaque, str) else None,
                redacted=True,
            )
            done = ReasoningDone(reasoning)
            acc.add(done)
        else:
            done = self._item_done(block)
            acc.add(done)
        return [done] if done is not None else NOTHING

    @staticmethod
    def _item_done(block: _Block) -> ItemDone:
        data = dict(block.data)
        if block.input:
            streamed = "".join(block.input)
            decoded = loads(streamed)
            data["input"] = decoded if decoded is not None else streamed
        if block.content:
            data["content"] = "".join(block.content)
        block_id = data.get("id")
        return ItemDone(block.kind, block_id if isinstance(block_id, str) else block.item_id, data)

    def _on_message_start(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.MessageStart)
        message = payload.message or wire.NO_MESSAGE
        out = self._emit(ResponseStarted(message.id, message.model))
        if message.usage is not None:
            if message.usage.service_tier:
                self._acc.service_tier = message.usage.service_tier
            out += self._update_usage(message.usage)
        return out

    def _on_message_delta(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.MessageDelta)
        if payload.delta is not None and payload.delta.stop_reason:
            self._stop_reason = payload.delta.stop_reason
        return self._update_usage(payload.usage) if payload.usage is not None else NOTHING

    def _update_usage(self, usage: wire.UsageObject) -> list[StreamEvent]:
        # Counts are cumulative: a later report replaces a field, an absent field keeps its value.
        fields = self._usage
        for name in _USAGE_FIELDS:
            value = getattr(usage, name)
            if value is not None:
                fields[name] = value
        details = usage.output_tokens_details
        if details is not None and details.thinking_tokens is not None:
            fields["thinking_tokens"] = details.thinking_tokens
        normalized = _normalized(fields)
        if normalized.input_tokens is not None and not is_token_count(normalized.input_tokens):
            # Each part is a count, their sum is not (issue #6): no input total rather than one
            # that no exporter can encode.
            self._skip_malformed(
                "message usage", "input tokens with cache reads and writes overflow"
            )
            normalized = replace(normalized, input_tokens=None, total_tokens=None)
        elif normalized.total_tokens is not None and not is_token_count(normalized.total_tokens):
            normalized = replace(normalized, total_tokens=None)  # its parts stand
        return self._emit(UsageReported(normalized))

    def _on_message_stop(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        return self._finish()

    def _on_ping(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        return NOTHING

    def _on_error(self, payload: wire.WireEvent, data: Data) -> list[StreamEvent]:
        assert isinstance(payload, wire.ErrorEvent)
        nested = payload.error or wire.ErrorObject()
        # Anthropic errors have no code: their type (``overloaded_error``) is the code.
        code = payload.code or nested.type
        message = payload.message or nested.message or "error event"
        self._error = ProviderError(message=message, code=code, type=nested.type)
        return [ErrorReported(self._error)]

    def _finish(self) -> list[StreamEvent]:
        self.done = True
        out: list[StreamEvent] = []
        if self._error is None:
            for index in sorted(self._blocks):  # blocks a relay never stopped
                out += self._close_block(self._blocks.pop(index))
        raw = self._stop_reason
        status: ResponseStatus = "completed"
        reason: FinishReason | None = STOP_REASONS.get(raw, raw) if raw else None
        if self._error is not None:
            status, reason = "failed", "error"
        elif raw in _INCOMPLETE:
            status = "incomplete"
        response = self._acc.finish(
            status,
            reason,
            error=self._error,
            incomplete_reason=raw if status == "incomplete" else None,
        )
        out.append(ResponseDone(response))
        return out


def _deltas_of(block: wire.ContentBlock) -> list[wire.Delta]:
    """What a whole content block's stream would have carried in deltas besides what its
    ``content_block_start`` holds: a ``tool_use`` block's input (the text that
    ``input_json_delta`` streams; server tool blocks keep theirs in the block) and a text
    block's citations (``citations_delta``, one each)."""
    kind = block.get("type")
    if kind == "tool_use" and "input" in block:
        arguments = json.dumps(block["input"], ensure_ascii=False)
        return [wire.Delta(type="input_json_delta", partial_json=arguments)]
    citations = block.get("citations") if kind == "text" else None
    if not isinstance(citations, list):
        return []
    return [
        wire.Delta(type="citations_delta", citation=citation)
        for citation in citations
        if isinstance(citation, dict)
    ]


def _normalized(fields: dict[str, int]) -> Usage:
    """Anthropic usage in the conventions' meaning: ``input_tokens`` excludes cache reads and
    writes, so they are added in (and also reported apart). Anthropic sends no total: it is
    input (with the cache reads and writes) plus output, as OpenAI's ``total_tokens`` is."""
    parts = [fields.get(name) for name in _USAGE_FIELDS if name != "output_tokens"]
    known = [value for value in parts if value is not None]
    inputs = sum(known) if known else None
    output = fields.get("output_tokens")
    return Usage(
        input_tokens=inputs,
        output_tokens=output,
        total_tokens=inputs + output if inputs is not None and output is not None else None,
        cache_read_input_tokens=fields.get("cache_read_input_tokens"),
        cache_write_input_tokens=fields.get("cache_creation_input_tokens"),
        reasoning_output_tokens=fields.get("thinking_tokens"),
    )
