"""Usage when the server sends none (issue 16 item 3): the estimated output token count.

Part one measures the estimate on every recording that carries usage: each one is decoded again
with its usage removed (what a server that ignores ``stream_options.include_usage`` sends), and
the estimate is compared with the count the server gave. The table in docs/telemetry.md
("Estimated usage") and the figures in the README are this measurement; the tests below check
that they are, so the documentation cannot drift from the code. To print the table after a
change: ``python -m tests.integration.test_usage_estimate``.

Part two runs the estimate through the real client on loopback (``ReplayServer``, the real
OpenTelemetry SDK in memory): by default it is spanstream's own marked attributes only, never
``gen_ai.usage.output_tokens`` or a token metric; with ``estimate_usage=True`` it is those too,
still marked. Sync and async; streams cut before their usage on each API.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from spanstream import (
    AnthropicClient,
    APIConnectionError,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    Usage,
)
from spanstream.accumulate import estimate_output_tokens
from spanstream.events import (
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
)
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.base import ParserFactory
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.testing import GenAITelemetry, ReplayServer, assert_semconv

from ..recorded import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    decode,
    recording,
    recordings,
    sdk_payloads,
    without_usage,
)

ROOT = Path(__file__).resolve().parents[2]
TELEMETRY_DOC = ROOT / "docs" / "telemetry.md"
README = ROOT / "README.md"

ESTIMATED = "spanstream.usage.estimated"
ESTIMATED_OUTPUT = "spanstream.usage.estimated_output_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_USAGE = "gen_ai.client.token.usage"
LATEST_OUTPUT = "gen_ai.client.inference.usage.output_tokens"
LATEST = "gen_ai_latest_experimental"
MESSAGES = [{"role": "user", "content": "hi"}]

# ---------------------------------------------------------------------------------------------
# Part one: how wrong the estimate is, on every recording that carries usage
# ---------------------------------------------------------------------------------------------

CHAT, ANTHROPIC, RESPONSES = "Chat Completions", "Anthropic Messages", "Responses"
FOLDERS: tuple[tuple[str, Path, ParserFactory], ...] = (
    (CHAT, OPENAI_CHAT, ChatCompletionsParser),
    (ANTHROPIC, ANTHROPIC_MESSAGES, MessagesParser),
    (RESPONSES, OPENAI_RESPONSES, ResponsesParser),
)
# The server kind, from the model a recording names (PROVENANCE.md gives no host for most):
# OpenAI's own models (served by OpenAI or Azure) or another server's.
OPENAI_MODEL = re.compile(r"^(gpt-|o\d|chatgpt|codex)")
DELTAS = (TextDelta, RefusalDelta, ReasoningDelta, ToolCallArgumentsDelta)


@dataclass(frozen=True)
class Measured:
    """One recording: the server's output count and what was received without it."""

    api: str
    openai_model: bool
    reasoning: bool  # the server counted reasoning tokens
    name: str
    exact: int
    estimate: int  # what the response says with the usage removed (0: no estimate)
    deltas: int
    characters: int
    tool_calls: int

    def error(self, estimate: int | None = None) -> float:
        return ((self.estimate if estimate is None else estimate) - self.exact) / self.exact


def _received(events: Iterable[StreamEvent]) -> tuple[int, int, int]:
    """Output deltas, their characters and the tool calls among ``events``, counted from the
    events themselves (the accumulator counts at the end, from what it holds)."""
    deltas = characters = 0
    calls: set[str] = set()
    for event in events:
        if isinstance(event, DELTAS):
            deltas += 1
            characters += len(
                event.delta if isinstance(event, ToolCallArgumentsDelta) else event.text
            )
        elif isinstance(event, ToolCallStarted):
            calls.add(event.call_id)
    return deltas, characters, len(calls)


@cache
def measured() -> tuple[Measured, ...]:
    rows: list[Measured] = []
    for api, folder, parser in FOLDERS:
        for path in recordings(folder):
            raw = path.read_bytes()
            exact = decode(raw, parser).parser.response
            usage = exact.usage
            if usage is None or usage.estimated or not usage.output_tokens:
                continue  # no count to compare with
            stripped = decode(without_usage(raw), parser)
            estimate = stripped.parser.response.usage
            rows.append(
                Measured(
                    api,
                    bool(OPENAI_MODEL.match(exact.model or "")),
                    bool(usage.reasoning_output_tokens),
                    path.name,
                    usage.output_tokens,
                    (estimate.output_tokens or 0) if estimate is not None else 0,
                    *_received(stripped.events),
                )
            )
    return tuple(rows)


GROUPS: tuple[tuple[str, Callable[[Measured], bool]], ...] = (
    (f"{CHAT}, OpenAI models", lambda m: m.api == CHAT and m.openai_model),
    (f"{CHAT}, other servers", lambda m: m.api == CHAT and not m.openai_model),
    (f"{CHAT}, all", lambda m: m.api == CHAT),
    (ANTHROPIC, lambda m: m.api == ANTHROPIC),
    (f"{RESPONSES}, no reasoning tokens", lambda m: m.api == RESPONSES and not m.reasoning),
    (f"{RESPONSES}, reasoning tokens", lambda m: m.api == RESPONSES and m.reasoning),
)


def rank(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least ``share`` of them do not pass."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def percent(value: float, signed: bool = False) -> str:
    return f"{round(value * 100):+d}%" if signed else f"{round(value * 100)}%"


@dataclass(frozen=True)
class Errors:
    streams: int
    median: float  # of the absolute errors
    p90: float
    worst: float  # signed: the largest absolute error, with its direction
    bias: float  # the median of the signed errors

    @classmethod
    def of(cls, errors: Sequence[float]) -> Errors:
        absolute = [abs(e) for e in errors]
        worst = max(errors, key=abs)
        return cls(len(errors), rank(absolute, 0.5), rank(absolute, 0.9), worst, rank(errors, 0.5))


def group(label: str) -> Errors:
    test = dict(GROUPS)[label]
    return Errors.of([m.error() for m in measured() if test(m)])


def table() -> str:
    """The table docs/telemetry.md shows."""
    lines = [
        "| recorded streams | streams | median error | 90% within | worst | median bias |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, _ in GROUPS:
        e = group(label)
        lines.append(
            f"| {label} | {e.streams} | {percent(e.median)} | {percent(e.p90)} "
            f"| {percent(e.worst, signed=True)} | {percent(e.bias, signed=True)} |"
        )
    return "\n".join(lines)


# The estimators compared, on the same counts: the one chosen must be the closest over all.
ESTIMATORS: dict[str, Callable[[Measured], int]] = {
    "deltas alone": lambda m: m.deltas,
    "characters/4 alone": lambda m: math.ceil(m.characters / 4),
    "the larger of the two": lambda m: max(m.deltas, math.ceil(m.characters / 4)),
    "the larger plus 10 per tool call (spanstream's)": lambda m: estimate_output_tokens(
        m.deltas, m.characters, m.tool_calls
    ),
}


def comparison() -> str:
    """The sentence of docs/telemetry.md comparing the estimators."""
    rows = measured()
    medians = [
        f"{name} {percent(rank([abs(m.error(f(m))) for m in rows], 0.5))}"
        for name, f in ESTIMATORS.items()
    ]
    return f"Median error over all {len(rows)} recordings: {', '.join(medians)}."


def readme_figures() -> str:
    chat = group(f"{CHAT}, all")
    return (
        f"within {percent(chat.median)} on half of {chat.streams} Chat recordings, "
        f"{percent(chat.p90)} on 90%"
    )


def _words(path: Path) -> str:
    """A document's text with its lines joined (prose is wrapped anywhere)."""
    return " ".join(path.read_text(encoding="utf-8").split())


def test_every_api_is_measured_on_many_recordings() -> None:
    counts = {api: sum(m.api == api for m in measured()) for api, _, _ in FOLDERS}
    assert min(counts.values()) >= 40, counts


def test_the_response_counts_what_the_events_gave() -> None:
    # The accumulator counts at the end from what it holds (its delta lists are dropped as
    # items close); the events counted one by one must give the same estimate, on every
    # recording (n > 1 choices, parallel tool calls, reasoning, refusals included).
    wrong = [
        m.name
        for m in measured()
        if m.estimate != estimate_output_tokens(m.deltas, m.characters, m.tool_calls)
    ]
    assert wrong == []


def test_the_documented_table_is_the_measured_one() -> None:
    expected = table()
    assert expected in TELEMETRY_DOC.read_text(encoding="utf-8"), (
        f"docs/telemetry.md's table differs from the measurement; it is now:\n{expected}"
    )


def test_the_documented_comparison_is_measured_and_the_chosen_estimator_is_closest() -> None:
    assert comparison() in _words(TELEMETRY_DOC), comparison()
    rows = measured()
    medians = {
        name: rank([abs(m.error(f(m))) for m in rows], 0.5) for name, f in ESTIMATORS.items()
    }
    chosen = medians.pop("the larger plus 10 per tool call (spanstream's)")
    assert chosen <= min(medians.values()), (chosen, medians)


def test_the_readme_quotes_the_measured_figures() -> None:
    assert readme_figures() in _words(README), readme_figures()


def test_other_choices_count_too() -> None:
    # n=2: the server's count covers both choices, so does the estimate.
    path = recording(OPENAI_CHAT, "gpt-3.5-turbo-n2-choices-usage.sse")
    payloads = sdk_payloads(without_usage(path.read_bytes()))
    texts = [
        (choice["index"], choice["delta"]["content"])
        for payload in payloads
        for choice in payload["choices"]
        if choice["delta"].get("content")
    ]
    assert {index for index, _ in texts} == {0, 1}
    characters = sum(len(text) for _, text in texts)
    expected = max(len(texts), math.ceil(characters / 4))
    usage = decode(without_usage(path.read_bytes()), ChatCompletionsParser).parser.response.usage
    assert usage == Usage(output_tokens=expected, estimated=True)


def test_a_stream_with_usage_keeps_the_servers_count() -> None:
    rows = [m for m in measured() if m.api == CHAT]
    for m in rows:
        path = recording(OPENAI_CHAT, m.name)
        usage = decode(path.read_bytes(), ChatCompletionsParser).parser.response.usage
        assert usage is not None
        assert (usage.output_tokens, usage.estimated) == (m.exact, False)


# ---------------------------------------------------------------------------------------------
# Part two: through the real client, on loopback
# ---------------------------------------------------------------------------------------------

NO_USAGE = "gpt-3.5-turbo-no-usage.sse"  # recorded without include_usage: no usage chunk


def _chat_estimate(raw: bytes) -> int:
    """The estimate of a Chat stream, counted from the payloads as the openai SDK reads them."""
    texts = [
        choice["delta"]["content"]
        for payload in sdk_payloads(raw)
        for choice in payload.get("choices") or ()
        if (choice.get("delta") or {}).get("content")
    ]
    return max(len(texts), math.ceil(sum(map(len, texts)) / 4))


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _output_points(
    telemetry: GenAITelemetry, *, latest: bool
) -> list[tuple[float, dict[str, Any]]]:
    if latest:
        points = telemetry.metric_points(LATEST_OUTPUT)
        return [(p.value or 0, dict(p.attributes)) for p in points]
    points = telemetry.metric_points(TOKEN_USAGE)
    return [
        (p.sum or 0, dict(p.attributes))
        for p in points
        if p.attributes.get("gen_ai.token.type") == "output"
    ]


def _stream_chat(client: Client) -> Usage | None:
    with client.chat.completions.stream(model="gpt-3.5-turbo", messages=MESSAGES) as stream:
        for _ in stream:
            pass
    return stream.final_response().usage


async def _astream_chat(client: AsyncClient) -> Usage | None:
    async with client.chat.completions.stream(model="gpt-3.5-turbo", messages=MESSAGES) as stream:
        async for _ in stream:
            pass
    return (await stream.final_response()).usage


@pytest.fixture(params=["sync", "async"])
def chat_usage(
    request: pytest.FixtureRequest, genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> Callable[..., Usage | None]:
    """Stream the queued Chat reply with a client made with the given options; its usage."""

    def run(**options: Any) -> Usage | None:
        if request.param == "sync":
            return _stream_chat(genai_telemetry.client(sse_replay_server, **options))

        async def go() -> Usage | None:
            async with genai_telemetry.async_client(sse_replay_server, **options) as client:
                return await _astream_chat(client)

        return asyncio.run(go())

    return run


def _replay_without_usage(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch, *, latest: bool
) -> int:
    """Serve the Chat recording without usage (under the latest conventions' names when
    ``latest``); the output count the estimate gives for it."""
    if latest:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", LATEST)
    path = recording(OPENAI_CHAT, NO_USAGE)
    server.reply_with_file(path)
    return _chat_estimate(path.read_bytes())


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_by_default_the_estimate_is_only_spanstreams_marked_attributes(
    chat_usage: Callable[..., Usage | None],
    genai_telemetry: GenAITelemetry,
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    latest: bool,
) -> None:
    expected = _replay_without_usage(sse_replay_server, monkeypatch, latest=latest)
    assert chat_usage() == Usage(output_tokens=expected, estimated=True)
    span = genai_telemetry.inference_span()
    attributes = _attributes(span)
    assert attributes[ESTIMATED] is True
    assert attributes[ESTIMATED_OUTPUT] == expected
    assert OUTPUT_TOKENS not in attributes  # never written as if the server had counted it
    assert_semconv(span, latest=latest)
    # The conventions' token metrics do not get it: none under the released names, the
    # latest names' 0 for an inference without a count, as before.
    points = _output_points(genai_telemetry, latest=latest)
    assert points == ([(0, points[0][1])] if latest else [])
    assert all(ESTIMATED not in point for _, point in points)


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_opted_in_the_estimate_is_the_conventions_count_still_marked(
    chat_usage: Callable[..., Usage | None],
    genai_telemetry: GenAITelemetry,
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    latest: bool,
) -> None:
    expected = _replay_without_usage(sse_replay_server, monkeypatch, latest=latest)
    assert chat_usage(estimate_usage=True) == Usage(output_tokens=expected, estimated=True)
    span = genai_telemetry.inference_span()
    attributes = _attributes(span)
    assert (attributes[OUTPUT_TOKENS], attributes[ESTIMATED]) == (expected, True)
    assert attributes[ESTIMATED_OUTPUT] == expected
    assert_semconv(span, latest=latest)
    ((value, point),) = _output_points(genai_telemetry, latest=latest)
    assert (value, point[ESTIMATED]) == (expected, True)


def test_a_stream_with_usage_is_not_marked(
    chat_usage: Callable[..., Usage | None],
    genai_telemetry: GenAITelemetry,
    sse_replay_server: ReplayServer,
) -> None:
    sse_replay_server.reply_with_file(recording(OPENAI_CHAT, "gpt-4o-mini-include-usage.sse"))
    usage = chat_usage(estimate_usage=True)
    assert usage is not None
    assert (usage.output_tokens, usage.estimated) == (3, False)
    attributes = _attributes(genai_telemetry.inference_span())
    assert attributes[OUTPUT_TOKENS] == 3
    assert not {ESTIMATED, ESTIMATED_OUTPUT} & set(attributes)
    ((value, point),) = _output_points(genai_telemetry, latest=False)
    assert value == 3
    assert ESTIMATED not in point


@dataclass(frozen=True)
class Cut:
    """A recording of one API with usage, cut before its usage arrives."""

    name: str
    recording: Path
    sync_client: Callable[..., Any]
    async_client: Callable[..., Any]
    open: Callable[[Any], Any]
    input_tokens: int | None  # what the server reported before the cut (Anthropic's start)


CUTS = [
    Cut(
        "chat",
        recording(OPENAI_CHAT, "gpt-4o-cached-tokens-finish-length.sse"),
        Client,
        AsyncClient,
        lambda c: c.chat.completions.stream(model="gpt-4o", messages=MESSAGES),
        None,
    ),
    Cut(
        "anthropic",
        recording(ANTHROPIC_MESSAGES, "claude-3-opus-text-polly-har.sse"),
        AnthropicClient,
        AsyncAnthropicClient,
        lambda c: c.messages.stream(model="claude-3-opus", messages=MESSAGES, max_tokens=256),
        17,  # message_start: input 17, and an output count of 1 from before any output
    ),
    Cut(
        "responses",
        recording(OPENAI_RESPONSES, "gpt-4o-mini-plain-text-polly-har.sse"),
        Client,
        AsyncClient,
        lambda c: c.responses.stream(model="gpt-4o-mini", input="hi"),
        None,
    ),
]


def _client(
    factory: Callable[..., Any], server: ReplayServer, telemetry: GenAITelemetry, **options: Any
) -> Any:
    return factory(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        max_retries=0,
        **options,
    )


def _consume(stream: Any, events: list[StreamEvent]) -> None:
    with stream:
        for event in stream:
            events.append(event)


async def _aconsume(stream: Any, events: list[StreamEvent]) -> None:
    async with stream:
        async for event in stream:
            events.append(event)


def _check_cut(
    cut: Cut,
    telemetry: GenAITelemetry,
    events: list[StreamEvent],
    usage: Usage | None,
    opted_in: bool,
) -> None:
    expected = estimate_output_tokens(*_received(events))
    assert expected > 0
    assert usage is not None
    assert (usage.output_tokens, usage.estimated, usage.input_tokens) == (
        expected,
        True,
        cut.input_tokens,
    )
    span = telemetry.inference_span()
    attributes = _attributes(span)
    assert attributes["spanstream.outcome"] == "error"
    assert (attributes[ESTIMATED], attributes[ESTIMATED_OUTPUT]) == (True, expected)
    assert attributes.get(OUTPUT_TOKENS) == (expected if opted_in else None)
    assert attributes.get("gen_ai.usage.input_tokens") == cut.input_tokens
    assert_semconv(span)


@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "estimate_usage"])
@pytest.mark.parametrize("cut", CUTS, ids=lambda c: c.name)
def test_a_stream_cut_before_its_usage_gets_the_estimate(
    cut: Cut, opted_in: bool, genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_file(cut.recording, cut_after_events=40)
    client = _client(cut.sync_client, sse_replay_server, genai_telemetry, estimate_usage=opted_in)
    events: list[StreamEvent] = []
    stream = cut.open(client)
    with pytest.raises(APIConnectionError):
        _consume(stream, events)
    _check_cut(cut, genai_telemetry, events, stream.response.usage, opted_in)
    client.close()


@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "estimate_usage"])
@pytest.mark.parametrize("cut", CUTS, ids=lambda c: c.name)
async def test_a_stream_cut_before_its_usage_gets_the_estimate_async(
    cut: Cut, opted_in: bool, genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_file(cut.recording, cut_after_events=40)
    async with _client(
        cut.async_client, sse_replay_server, genai_telemetry, estimate_usage=opted_in
    ) as client:
        events: list[StreamEvent] = []
        stream = cut.open(client)
        with pytest.raises(APIConnectionError):
            await _aconsume(stream, events)
    _check_cut(cut, genai_telemetry, events, stream.response.usage, opted_in)


@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "estimate_usage"])
def test_an_agent_run_sums_an_estimate_as_an_estimate(
    opted_in: bool, genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    path = recording(OPENAI_CHAT, NO_USAGE)
    expected = _chat_estimate(path.read_bytes())
    sse_replay_server.reply_with_file(path)
    client = genai_telemetry.client(sse_replay_server, estimate_usage=opted_in)
    with client.agent(model="gpt-3.5-turbo", api="chat").stream("hi") as run:
        run.final_response()
    assert run.usage.estimated
    (agent,) = [s for s in genai_telemetry.spans if s.name.startswith("invoke_agent")]
    attributes = _attributes(agent)
    assert (attributes[ESTIMATED], attributes[ESTIMATED_OUTPUT]) == (True, expected)
    assert attributes.get(OUTPUT_TOKENS) == (expected if opted_in else None)


if __name__ == "__main__":
    print(table())
    print()
    print(comparison())
    print()
    print(readme_figures())
