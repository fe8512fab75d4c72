"""Sans-IO parser: OpenAI Chat Completions server-sent events -> normalized stream events.

Chat Completions streams are data-only frames, each a ``chat.completion.chunk`` whose choices
carry deltas, ended by ``data: [DONE]``. The parser turns them into :mod:`spanstream.events`:

* each choice's items get the id ``choice-<index>``; :class:`~spanstream.events.Response`
  describes choice 0 (its text, tool calls, reasoning, finish reason) and
  ``Response.finish_reasons`` lists every choice's;
* reasoning text of compatible servers (``delta.reasoning_content``, ``delta.reasoning``) is
  :class:`~spanstream.events.ReasoningDelta` with ``kind="text"``;
* tool calls arrive as deltas keyed by their index. A model writes one call after the other, so
  a call is done when the next one starts or its choice finishes; a delta for a call already
  done breaks that order and is skipped as malformed;
* a choice's reasoning and message are done when the choice has a ``finish_reason``.

When is a stream complete? At ``data: [DONE]``; or, for servers that omit it, at the end of the
body if every choice had its ``finish_reason`` (the usage chunk, when asked for, comes before
``[DONE]``, so it is never awaited past the end of the body). Anything else ends as an error.

A stream that ends with ``[DONE]`` but never gave a finish reason (Snowflake's server sends none;
issue #22) is ``completed``: the server said the response is whole. Its finish reason is unknown,
and none is invented: ``Response.finish_reason`` is ``None`` and ``finish_reasons`` is empty, so
the span has no ``gen_ai.response.finish_reasons`` (as the openai SDK leaves ``None``). Only when
some choices gave one and others did not are the others ``"error"``, the conventions' value for a
reason expected but not received, to keep the list one per choice.
A completion that was not streamed is read by :meth:`ChatCompletionsParser.feed_body` as the one
chunk it amounts to, then ended as ``[DONE]`` ends a stream.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic_core import ValidationError

from ...accumulate import Accumulator
from ...events import (
    ErrorReported,
    FinishReason,
    ProviderError,
    ReasoningDelta,
    RefusalDelta,
    ResponseDone,
    ResponseStarted,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
    UnknownEvent,
    Usage,
    UsageReported,
)
from .._openai import usage as openai_usage
from .._parser import DONE, NOTHING, Data, ParserBase, describe, text_of, wire_module

if TYPE_CHECKING:
    from . import wire
else:
    wire = wire_module(__name__)

__all__ = ["FINISH_REASONS", "ChatCompletionsParser"]

_CHUNK = "chat.completion.chunk"
_COMPLETION = "chat.completion"  # a reply that was not streamed

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
}
"""Chat ``finish_reason`` -> the conventions' value (others pass through unchanged)."""

# Finish reasons that mean a limit cut the answer short: the response is ``incomplete``.
_INCOMPLETE = frozenset({"length", "content_filter"})


class _Choice:
    """What the parser tracks for one choice of the completion."""

    __slots__ = ("acc", "calls", "finish_reason", "item_id", "open_calls")

    def __init__(self, index: int, acc: Accumulator) -> None:
        self.acc = acc
        self.item_id = f"choice-{index}"
        self.calls: dict[int, str] = {}  # tool-call index -> call id
        self.open_calls: dict[int, str] = {}  # the calls not yet done
        self.finish_reason: str | None = None


class ChatCompletionsParser(ParserBase):
    """Turns Chat Completions SSE events into :mod:`spanstream.events`.

    >>> parser = ChatCompletionsParser()
    >>> parser.feed(ServerSentEvent("message",
    ...     '{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}'))[1]
    TextDelta(text='Hi', item_id='choice-0')
    """

    api = "Chat Completions"
    logger = logging.getLogger("spanstream.providers.openai_chat")

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        # self.done: [DONE]; or the end of the body after every choice finished, or after an
        # error was reported.
        self._choices: dict[int, _Choice] = {}  # choice 0's accumulator: the final Response
        self._started = False
        self._decode_chunk = wire.built(wire.EVENT_DECODERS, "message")
        self._decode_plain = wire.built(wire.PLAIN_DECODERS, "message")
        self._handlers = {"message": self._on_chunk}
        self.droppable = wire.DROPPABLE

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event (its type and data) into zero or more normalized events."""
        if self.done:
            return NOTHING
        if data[:6] in DONE:
            return self._finish()
        if event == "message":
            try:
                plain = self._on_plain(self._decode_plain(data))
            except ValidationError:
                plain = None  # the models' path mends or reports it
            if plain is not None:
                return plain
            return self._handle(event, data, self._decode_chunk)
        if event == "error":
            return self._on_error_event(data)
        self.unknown_count += 1
        return [UnknownEvent(event, text_of(data))]

    def close(self) -> list[StreamEvent]:
        """End of the body: complete if every choice finished, failed after a reported error;
        otherwise nothing (the stream was cut)."""
        if self.done:
            return NOTHING
        choices = self._choices.values()
        finished = bool(choices) and all(c.finish_reason is not None for c in choices)
        if self._error is not None or finished:
            return self._finish()
        return NOTHING

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Read a completion that was not streamed (``chat.completion``): the one chunk it
        amounts to, each choice's ``message`` read as its delta, then its end as ``[DONE]``
        ends a stream. A reply with neither ``choices`` nor ``error`` is malformed."""
        completion: wire.ChatCompletion = self._decode_body(data, wire.ChatCompletion, _COMPLETION)
        if completion.choices is None and completion.error is None:
            raise self._malformed_reply("choices: the reply has no choices")
        return self._on_chunk(completion, data) + self._finish()

    def _validate(self, decoded: dict[str, object]) -> wire.ChatCompletionChunk:
        return wire.ChatCompletionChunk.model_validate(decoded, context=self._dropped)

    def _kind(self, payload: wire.ChatCompletionChunk) -> str:
        return "message"  # every chunk is a data-only frame

    def _on_invalid(self, event: str, data: Data, exc: ValidationError) -> list[StreamEvent]:
        self._skip_malformed(_CHUNK, describe(exc))
        return NOTHING

    def _report_dropped(self, type_name: str | None, sequence_number: int | None = None) -> None:
        super()._report_dropped(_CHUNK, sequence_number)

    def _on_chunk(self, chunk: wire.ChatCompletionChunk, data: Data) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if not self._started and (chunk.id or chunk.model):
            # Azure's first chunk (prompt filter results) has an empty id and model.
            self._started = True
            started = ResponseStarted(chunk.id or None, chunk.model or None)
            out.append(self._add(self._acc, started))
        if chunk.service_tier:
            self._acc.service_tier = chunk.service_tier
        if chunk.system_fingerprint:
            self._acc.system_fingerprint = chunk.system_fingerprint
        for choice in chunk.choices or ():
            self._on_choice(choice, out)
        usage = chunk.usage or (chunk.x_groq.usage if chunk.x_groq else None)
        if usage is not None:
            out.append(self._add(self._acc, UsageReported(_usage(usage))))
        if chunk.error is not None:
            out.append(self._report(chunk.error))
        return out

    # -- chunks ---------------------------------------------------------------------------------

    def _on_plain(self, chunk: wire.PlainChunk) -> list[StreamEvent] | None:
        """The events of a chunk that is one choice's text (or no text) and nothing else, once
        the response started: what :meth:`_on_chunk` gives for it. None for any other chunk,
        which takes the models' path (wire.py: :class:`~.wire.PlainChunk`)."""
        choices = chunk.get("choices")
        if not choices or len(choices) != 1 or not self._started:
            return None
        payload = choices[0]
        delta = payload.get("delta")
        if not delta or payload.get("finish_reason"):
            return None
        content = delta.get("content")
        if not isinstance(content, str) or (len(delta) > 1 and _more_than_text(delta)):
            return None
        service_tier = chunk.get("service_tier")
        if service_tier:
            self._acc.service_tier = service_tier
        system_fingerprint = chunk.get("system_fingerprint")
        if system_fingerprint:
            self._acc.system_fingerprint = system_fingerprint
        index = payload.get("index") or 0
        choice = self._choices.get(index) or self._choice(index)
        if not content:
            return []
        event = TextDelta(content, choice.item_id)
        choice.acc.add_text(event)
        return [event]

    @staticmethod
    def _add(acc: Accumulator, event: StreamEvent) -> StreamEvent:
        acc.add(event)
        return event

    def _choice(self, index: int) -> _Choice:
        choice = self._choices.get(index)
        if choice is None:
            acc = self._acc if index == 0 else self._acc.another_choice()
            choice = self._choices[index] = _Choice(index, acc)
        return choice

    def _on_choice(self, payload: wire.Choice, out: list[StreamEvent]) -> None:
        choice = self._choice(payload.index or 0)
        acc = choice.acc
        delta = payload.delta or wire.NO_DELTA
        content = delta.content
        if isinstance(content, list):
            content = self._on_content_parts(choice, content, out)
        reasoning = delta.reasoning_content or delta.reasoning
        if reasoning:
            out.append(self._add(acc, ReasoningDelta(reasoning, choice.item_id, "text")))
        if content:
            out.append(self._add(acc, TextDelta(content, choice.item_id)))
        if delta.refusal:
            out.append(self._add(acc, RefusalDelta(delta.refusal, choice.item_id)))
        for call in delta.tool_calls or ():
            self._on_tool_call(choice, call, out)
        if delta.function_call is not None:
            # The deprecated ``functions`` API: the choice's one call, as tool call 0.
            self._on_tool_call(
                choice, wire.ToolCallDelta(index=0, function=delta.function_call), out
            )
        if payload.finish_reason:
            # Together sends a finish reason after each tool call, then the next call: the first
            # reason counts, and each one closes what is open so far.
            choice.finish_reason = choice.finish_reason or payload.finish_reason
            self._close_choice(choice, out)

    def _on_content_parts(
        self, choice: _Choice, parts: list[wire.ContentPart], out: list[StreamEvent]
    ) -> str:
        """Emit the reasoning of ``thinking`` parts; return the text of ``text`` parts."""
        texts: list[str] = []
        for part in parts:
            if part.type == "thinking":
                thinking = "".join(p.text or "" for p in part.thinking or ())
                if thinking:
                    event = ReasoningDelta(thinking, choice.item_id, "text")
                    out.append(self._add(choice.acc, event))
            elif part.text:
                texts.append(part.text)
        return "".join(texts)

    def _on_tool_call(
        self, choice: _Choice, call: wire.ToolCallDelta, out: list[StreamEvent]
    ) -> None:
        index = call.index
        if index is None:
            # Mistral sends each call whole and without an index: known id, or a new call.
            known = [i for i, call_id in choice.calls.items() if call_id == call.id]
            index = known[0] if known else len(choice.calls)
        function = call.function
        call_id = choice.calls.get(index)
        if call_id is None:
            for earlier in [i for i in choice.open_calls if i < index]:
                done = choice.acc.tool_call_done(choice.open_calls.pop(earlier))
                if done is not None:
                    out.append(done)
            call_id = call.id or f"{choice.item_id}-call-{index}"
            choice.calls[index] = choice.open_calls[index] = call_id
            name = (function.name if function else None) or ""
            out.append(self._add(choice.acc, ToolCallStarted(call_id, name, choice.item_id)))
        elif index not in choice.open_calls:
            self._skip_malformed(_CHUNK, f"tool call {index} after it was done")
            return
        arguments = function.arguments if function else None
        if arguments:
            delta = ToolCallArgumentsDelta(call_id, arguments, choice.item_id)
            out.append(self._add(choice.acc, delta))

    @staticmethod
    def _close_choice(choice: _Choice, out: list[StreamEvent]) -> None:
        """The choice finished: its reasoning, message and remaining calls are done."""
        acc = choice.acc
        for done in (acc.reasoning_done(choice.item_id), acc.message_done(choice.item_id)):
            if done is not None:
                out.append(done)
        for index in sorted(choice.open_calls):
            call = acc.tool_call_done(choice.open_calls[index])
            if call is not None:
                out.append(call)
        choice.open_calls.clear()

    # -- errors and the end ---------------------------------------------------------------------

    def _on_error_event(self, data: Data) -> list[StreamEvent]:
        try:
            payload: wire.ErrorPayload = wire.EVENT_DECODERS["error"](data)
        except ValidationError as exc:
            self._skip_malformed("error", describe(exc))
            return NOTHING
        nested = payload.error or wire.ErrorObject()
        error = wire.ErrorObject(
            message=payload.message or nested.message,
            code=payload.code or nested.code,
            type=nested.type or (payload.type if payload.type != "error" else None),
            param=payload.param or nested.param,
        )
        return [self._report(error)]

    def _report(self, error: wire.ErrorObject) -> ErrorReported:
        # Without a code (OpenAI sends none on server errors) the type is the best low-cardinality
        # name for ``error.type``.
        self._error = ProviderError(
            message=error.message or "error event",
            code=error.code or error.type,
            type=error.type,
            param=error.param,
        )
        return ErrorReported(self._error)

    def _finish(self) -> list[StreamEvent]:
        self.done = True
        out: list[StreamEvent] = []
        error = self._error
        if error is not None:  # a failed response's items stay unfinished
            reasons: tuple[FinishReason, ...] = ("error",) * max(1, len(self._choices))
            response = self._acc.finish("failed", "error", error=error, finish_reasons=reasons)
        else:
            for choice in self._choices.values():
                self._close_choice(choice, out)
            first = self._choices.get(0)
            raw = first.finish_reason if first is not None else None
            incomplete = raw in _INCOMPLETE
            given = [self._choices[i].finish_reason for i in sorted(self._choices)]
            response = self._acc.finish(
                "incomplete" if incomplete else "completed",
                FINISH_REASONS.get(raw, raw) if raw else None,
                incomplete_reason=raw if incomplete else None,
                # None given: none invented (module docstring); some: aligned, "error" for the rest.
                finish_reasons=tuple(map(_finish_reason, given)) if any(given) else (),
            )
        out.append(ResponseDone(response))
        return out


def _more_than_text(delta: wire.PlainDelta) -> bool:
    """Whether a delta carries more than text (for :meth:`ChatCompletionsParser._on_plain`)."""
    return bool(
        delta.get("refusal")
        or delta.get("reasoning_content")
        or delta.get("reasoning")
        or delta.get("tool_calls")
        or delta.get("function_call") is not None
    )


def _finish_reason(raw: str | None) -> FinishReason:
    # The conventions ask for "error" where a finish reason was expected but never came.
    return FINISH_REASONS.get(raw, raw) if raw else "error"


def _usage(usage: wire.UsageObject) -> Usage:
    details = usage.prompt_tokens_details, usage.completion_tokens_details
    return openai_usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, *details)
