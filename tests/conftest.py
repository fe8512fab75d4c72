"""Shared fixtures: an isolated tracer provider with an in-memory exporter, a replay server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import AsyncStream, Stream, StreamEvent
from spanstream.testing import ReplayServer

FIXTURES = Path(__file__).parent / "fixtures"
RESPONSES = FIXTURES / "openai-responses"


def drain(stream: Stream, seen: list[StreamEvent]) -> None:
    """Iterate the stream, keeping every event seen (until it raises)."""
    for event in stream:
        seen.append(event)


async def adrain(stream: AsyncStream, seen: list[StreamEvent]) -> None:
    """The ``asyncio`` twin of :func:`drain`."""
    async for event in stream:
        seen.append(event)


class LifecycleCounter(SpanProcessor):
    """Counts span starts and ends, so a test can prove no span was left open."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class Telemetry:
    """An isolated TracerProvider whose finished spans stay in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.lifecycle = LifecycleCounter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.lifecycle)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    @property
    def inference_spans(self) -> list[ReadableSpan]:
        return [
            s for s in self.spans if (s.attributes or {}).get("gen_ai.operation.name") == "chat"
        ]

    def only_inference_span(self) -> ReadableSpan:
        spans = self.inference_spans
        assert len(spans) == 1, f"expected one inference span, got {[s.name for s in spans]}"
        return spans[0]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.provider.shutdown()


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


@pytest.fixture
def chat_server(sse_replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> ReplayServer:
    """A loopback server that answers with a recorded plain-text Responses stream (4+5), and
    an OpenAI key in the environment: what ``spanstream chat`` needs to run offline."""
    sse_replay_server.reply_with_file(RESPONSES / "gpt-4.1-plain-text.sse")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return sse_replay_server
