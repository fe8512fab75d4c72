"""Folds normalized stream events into the final :class:`~spanstream.Response`.

This is the one place that builds a ``Response``; every provider parser feeds it the events it
emits. The cost of each event is constant: deltas are appended to lists and joined once, when a
snapshot is taken, so a long answer does not make later events slower.

When the server gives no final output token count, the snapshot's usage carries an estimate
(``Usage.estimated``), computed from what the accumulator holds anyway, when the snapshot is
taken: nothing is counted per event (see :func:`estimate_output_tokens`).
"""

from __future__ import annotations

from dataclasses import replace

from .events import (
    Citation,
    CitationAdded,
    FinishReason,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    Response,
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

__all__ = ["CHARS_PER_TOKEN", "TOKENS_PER_TOOL_CALL", "Accumulator", "estimate_output_tokens"]

CHARS_PER_TOKEN = 4
"""Characters per output token in the estimate: OpenAI's rule of thumb for English text."""

TOKENS_PER_TOOL_CALL = 10
"""Tokens added to the estimate per tool call, for its name and framing, which the streamed
arguments do not show (about 10 to 15 per call on the OpenAI recordings, more for parallel calls).
"""


def estimate_output_tokens(deltas: int, characters: int, tool_calls: int) -> int:
    """The output token estimate: one token per output delta (text, refusal, reasoning and
    tool-call argument deltas: OpenAI and the servers compatible with it send about one token per
    chunk), or one per :data:`CHARS_PER_TOKEN` characters when that is more (Anthropic sends
    several tokens per delta), plus :data:`TOKENS_PER_TOOL_CALL` per tool call. How far it is
    from the servers' counts is measured on the recorded streams
    (``tests/integration/test_usage_estimate.py``, docs/telemetry.md)."""
    return max(deltas, -(-characters // CHARS_PER_TOKEN)) + TOKENS_PER_TOOL_CALL * tool_calls


class _Message:
    __slots__ = ("done_refusal", "done_text", "refusal", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.done_text: str | None = None
        self.done_refusal: str | None = None


class _PendingCall:
    __slots__ = ("arguments", "item_id", "name")

    def __init__(self, name: str, item_id: str | None) -> None:
        self.name = name
        self.item_id = item_id
        self.arguments: list[str] = []


class _PendingReasoning:
    __slots__ = ("content", "summary")

    def __init__(self) -> None:
        # part index -> deltas, for summary parts and raw reasoning text apart
        self.summary: dict[int, list[str]] = {}
        self.content: dict[int, list[str]] = {}

    def deltas(self) -> int:
        return sum(map(len, self.summary.values())) + sum(map(len, self.content.values()))

    def build(self, item_id: str | None, signature: str | None = None) -> Reasoning:
        return Reasoning(
            id=item_id,
            summary=tuple("".join(self.summary[i]) for i in sorted(self.summary)),
            content=tuple("".join(self.content[i]) for i in sorted(self.content)),
            signature=signature,
        )


class Accumulator:
    """Collects what a stream has said so far.

    >>> acc = Accumulator()
    >>> acc.add(TextDelta("Hel")); acc.add(TextDelta("lo"))
    >>> acc.snapshot().text
    'Hello'
    """

    __slots__ = (
        "_calls",
        "_citations",
        "_closed_deltas",
        "_done_items",
        "_messages",
        "_others",
        "_pending_calls",
        "_reasoning",
        "_reasoning_parts",
        "_usage_before_output",
        "error",
        "finish_reason",
        "finish_reasons",
        "id",
        "incomplete_reason",
        "model",
        "service_tier",
        "status",
        "system_fingerprint",
        "usage",
    )

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.status: ResponseStatus = "in_progress"
        self.finish_reason: FinishReason | None = None
        self.finish_reasons: tuple[FinishReason, ...] = ()
        self.usage: Usage | None = None
        self.error: ProviderError | None = None
        self.incomplete_reason: str | None = None
        self.service_tier: str | None = None
        self.system_fingerprint: str | None = None
        # Insertion order of dicts is the order items appeared in the stream.
        self._messages: dict[str | None, _Message] = {}
        self._pending_calls: dict[str, _PendingCall] = {}
        self._calls: dict[str, ToolCall] = {}
        self._reasoning_parts: dict[str | None, _PendingReasoning] = {}
        self._reasoning: dict[str | None, Reasoning] = {}
        self._done_items: set[str] = set()
        self._citations: list[Citation] = []
        # Deltas of the items whose deltas were dropped when they closed, for the estimate.
        self._closed_deltas = 0
        # Whether the last usage report came before any output, so cannot count it (Anthropic's
        # message_start, when the stream is cut before message_delta brings the final count).
        self._usage_before_output = False
        self._others: list[Accumulator] = []  # the other choices of the same completion

    def another_choice(self) -> Accumulator:
        """An accumulator for another choice of the same completion (Chat Completions with
        ``n`` > 1): its output counts in this one's usage estimate, as the server's count would
        cover every choice."""
        other = Accumulator()
        self._others.append(other)
        return other

    def add_text(self, event: TextDelta) -> None:
        """Fold a text delta in: what :meth:`add` does for one, for the parsers' hot paths
        (nearly every event of a stream is one), without its dispatch on the event's type."""
        message = self._messages.get(event.item_id)
        if message is None:
            message = self._message(event.item_id)
        message.text.append(event.text)

    def add(self, event: StreamEvent) -> None:
        """Fold one event in. Ordered by frequency: deltas first."""
        if isinstance(event, TextDelta):
            self.add_text(event)
        elif isinstance(event, RefusalDelta):
            self._message(event.item_id).refusal.append(event.text)
        elif isinstance(event, ToolCallArgumentsDelta):
            pending = self._pending_calls.get(event.call_id)
            if pending is not None:
                pending.arguments.append(event.delta)
        elif isinstance(event, ReasoningDelta):
            reasoning = self._reasoning_parts.get(event.item_id)
            if reasoning is None:
                reasoning = self._reasoning_parts[event.item_id] = _PendingReasoning()
            parts = reasoning.summary if event.kind == "summary" else reasoning.content
            parts.setdefault(event.part, []).append(event.text)
        elif isinstance(event, ResponseStarted):
            self.id = event.id or self.id
            self.model = event.model or self.model
        elif isinstance(event, ToolCallStarted):
            self._pending_calls[event.call_id] = _PendingCall(event.name, event.item_id)
        elif isinstance(event, ToolCallDone):
            call = event.tool_call
            if call.item_id:
                self._done_items.add(call.item_id)
            pending = self._pending_calls.pop(call.call_id, None)
            if pending is not None:
                self._closed_deltas += len(pending.arguments)
            self._calls[call.call_id] = call
        elif isinstance(event, MessageDone):
            if event.id:
                self._done_items.add(event.id)
            message = self._message(event.id)
            message.done_text = event.text
            message.done_refusal = event.refusal
            # The done event restates the whole text: drop the deltas rather than hold the
            # text twice for as long as the stream object lives (their number is kept).
            self._closed_deltas += len(message.text) + len(message.refusal)
            message.text.clear()
            message.refusal.clear()
        elif isinstance(event, ReasoningDone):
            if event.reasoning.id:
                self._done_items.add(event.reasoning.id)
            closed = self._reasoning_parts.pop(event.reasoning.id, None)
            if closed is not None:
                self._closed_deltas += closed.deltas()
            self._reasoning[event.reasoning.id] = event.reasoning
        elif isinstance(event, UsageReported):
            self.usage = event.usage
            output = self._messages, self._calls, self._pending_calls, self._reasoning_parts
            self._usage_before_output = not (any(output) or self._reasoning)
        elif isinstance(event, ItemDone) and event.id:
            self._done_items.add(event.id)
        elif isinstance(event, CitationAdded):
            self._citations.append(event.citation)

    def _message(self, item_id: str | None) -> _Message:
        message = self._messages.get(item_id)
        if message is None:
            message = self._messages[item_id] = _Message()
        return message

    @property
    def item_ids(self) -> frozenset[str]:
        """Ids of the output items whose done event was seen."""
        return frozenset(self._done_items)

    @property
    def has_tool_calls(self) -> bool:
        """Whether any function call was started or completed."""
        return bool(self._calls or self._pending_calls)

    def finish(
        self,
        status: ResponseStatus,
        finish_reason: FinishReason | None,
        *,
        error: ProviderError | None = None,
        incomplete_reason: str | None = None,
        finish_reasons: tuple[FinishReason, ...] | None = None,
    ) -> Response:
        """Record the terminal state and return the final response. ``finish_reasons`` (one per
        choice) defaults to ``(finish_reason,)``."""
        self.status = status
        self.finish_reason = finish_reason
        self.error = error or self.error
        self.incomplete_reason = incomplete_reason
        if finish_reasons is None:
            finish_reasons = (finish_reason,) if finish_reason is not None else ()
        self.finish_reasons = finish_reasons
        return self.snapshot()

    # -- done events built from the deltas, for APIs that close items without restating them --

    def message_done(self, item_id: str | None) -> MessageDone | None:
        """Close message ``item_id``: fold in and return its :class:`MessageDone` (text and
        refusal as streamed), or ``None`` if it streamed nothing."""
        message = self._messages.get(item_id)
        if message is None or message.done_text is not None:
            return None
        event = MessageDone(item_id, "".join(message.text), "".join(message.refusal) or None)
        self.add(event)
        return event

    def tool_call_done(self, call_id: str) -> ToolCallDone | None:
        """Close a started tool call: fold in and return its :class:`ToolCallDone` with the
        arguments as streamed, or ``None`` if no such call is open."""
        pending = self._pending_calls.get(call_id)
        if pending is None:
            return None
        call = ToolCall.build(call_id, pending.name, "".join(pending.arguments), pending.item_id)
        event = ToolCallDone(call)
        self.add(event)
        return event

    def reasoning_done(
        self, item_id: str | None, *, signature: str | None = None
    ) -> ReasoningDone | None:
        """Close reasoning item ``item_id``: fold in and return its :class:`ReasoningDone`
        (parts as streamed, plus a ``signature`` where the API has one), or ``None`` if it
        streamed nothing and has no signature."""
        parts = self._reasoning_parts.get(item_id)
        if parts is None and signature is None:
            return None
        reasoning = (parts or _PendingReasoning()).build(item_id, signature)
        event = ReasoningDone(reasoning)
        self.add(event)
        return event

    def snapshot(self) -> Response:
        """The response as accumulated so far (partial until the terminal event)."""
        response = self._built()
        usage = self._usage(response)
        return response if usage is self.usage else replace(response, usage=usage)

    def _built(self) -> Response:
        """The response with the usage as reported."""
        texts: list[str] = []
        refusals: list[str] = []
        for message in self._messages.values():
            texts.append(
                message.done_text if message.done_text is not None else "".join(message.text)
            )
            refusal = (
                message.done_refusal
                if message.done_refusal is not None
                else "".join(message.refusal)
            )
            if refusal:
                refusals.append(refusal)
        calls = list(self._calls.values())
        # Calls cut off before their item finished keep the arguments received so far.
        calls.extend(
            ToolCall.build(call_id, p.name, "".join(p.arguments), p.item_id)
            for call_id, p in self._pending_calls.items()
        )
        reasoning = list(self._reasoning.values())
        reasoning.extend(
            parts.build(item_id)
            for item_id, parts in self._reasoning_parts.items()
            if item_id not in self._reasoning
        )
        return Response(
            id=self.id,
            model=self.model,
            status=self.status,
            finish_reason=self.finish_reason,
            text="".join(texts),
            refusal="".join(refusals) or None,
            tool_calls=tuple(calls),
            reasoning=tuple(reasoning),
            usage=self.usage,
            error=self.error,
            incomplete_reason=self.incomplete_reason,
            service_tier=self.service_tier,
            finish_reasons=self.finish_reasons,
            citations=tuple(self._citations),
            system_fingerprint=self.system_fingerprint,
        )

    # -- the usage estimate ----------------------------------------------------------------------

    def _usage(self, response: Response) -> Usage | None:
        """The usage reported, or, when the server gave no output count for the output received,
        the same with the output counted by :func:`estimate_output_tokens` and marked
        ``estimated``. A count reported before any output stands if it is not below the estimate;
        nothing received, nothing estimated."""
        usage = self.usage
        if usage is not None and usage.output_tokens is not None and not self._usage_before_output:
            return usage  # the server's count: the common case costs this test only
        deltas, characters, calls = self._output(response)
        if not (deltas or characters or calls):
            return usage
        estimate = estimate_output_tokens(deltas, characters, calls)
        if usage is None:
            return Usage(output_tokens=estimate, estimated=True)
        if usage.output_tokens is not None and usage.output_tokens >= estimate:
            return usage
        inputs = usage.input_tokens
        total = inputs + estimate if inputs is not None else None
        return replace(usage, output_tokens=estimate, total_tokens=total, estimated=True)

    def _output(self, response: Response) -> tuple[int, int, int]:
        """Output deltas, characters and tool calls received over every choice; ``response`` is
        this choice's, whose strings are joined already."""
        deltas = self._closed_deltas
        deltas += sum(len(m.text) + len(m.refusal) for m in self._messages.values())
        deltas += sum(len(pending.arguments) for pending in self._pending_calls.values())
        deltas += sum(
            parts.deltas()
            for item_id, parts in self._reasoning_parts.items()
            if item_id not in self._reasoning
        )
        characters = len(response.text) + len(response.refusal or "")
        characters += sum(len(call.arguments) for call in response.tool_calls)
        characters += sum(
            len(part) for item in response.reasoning for part in (*item.summary, *item.content)
        )
        calls = len(response.tool_calls)
        for other in self._others:
            more = other._output(other._built())
            deltas, characters, calls = deltas + more[0], characters + more[1], calls + more[2]
        return deltas, characters, calls
