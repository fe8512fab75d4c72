"""Opt-in message content: nothing by default; each mode puts it where it says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import CaptureMode, Client, ContentCapture
from spanstream.telemetry.content import CapturedContent
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"  # "Four plus five equals **nine**."
TOOL = RESPONSES / "gpt-4.1-single-function-call.sse"
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@dataclass
class Sinks:
    spans: InMemorySpanExporter
    logs: InMemoryLogRecordExporter
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider

    def span(self) -> ReadableSpan:
        (span,) = self.spans.get_finished_spans()
        return span

    def records(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    yield Sinks(spans, logs, tracer_provider, logger_provider)
    tracer_provider.shutdown()
    logger_provider.shutdown()


def _run(
    server: ReplayServer,
    sinks: Sinks,
    capture: ContentCapture | CaptureMode | str | bool | None,
    path: object = PLAIN,
) -> None:
    server.enqueue(Reply.from_file(path))  # type: ignore[arg-type]
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=sinks.tracer_provider,
        logger_provider=sinks.logger_provider,
        capture_content=capture,
    )
    with client.responses.stream(
        model="gpt-4.1",
        input="What is 4+5?",
        instructions="Answer briefly.",
        tools=[WEATHER_TOOL],
    ) as stream:
        stream.final_response()


def test_default_captures_nothing(
    server: ReplayServer, sinks: Sinks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    _run(server, sinks, None)
    assert CONTENT_KEYS.isdisjoint(sinks.span().attributes or {})
    assert sinks.records() == []
    assert "nine" not in json.dumps(dict(sinks.span().attributes or {}), default=str)


def test_span_only_records_the_conventions_json_shapes(server: ReplayServer, sinks: Sinks) -> None:
    _run(server, sinks, CaptureMode.SPAN_ONLY)
    attributes = sinks.span().attributes or {}
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 4+5?"}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Four plus five equals **nine**."}],
        }
    ]
    assert json.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert json.loads(str(attributes["gen_ai.tool.definitions"])) == [WEATHER_TOOL]
    assert sinks.records() == []


def test_output_tool_calls_are_tool_call_parts(server: ReplayServer, sinks: Sinks) -> None:
    _run(server, sinks, CaptureMode.SPAN_ONLY, TOOL)
    output = json.loads(str((sinks.span().attributes or {})["gen_ai.output.messages"]))
    (message,) = output
    (part,) = message["parts"]
    assert part["type"] == "tool_call"
    assert isinstance(part["arguments"], dict)
    assert part["id"].startswith("call_")


def test_event_only_emits_the_details_event_with_structured_content(
    server: ReplayServer, sinks: Sinks
) -> None:
    _run(server, sinks, "event_only")
    span = sinks.span()
    assert CONTENT_KEYS.isdisjoint(span.attributes or {})
    (record,) = sinks.records()
    log = record.log_record
    assert log.event_name == "gen_ai.client.inference.operation.details"
    assert log.span_id == span.context.span_id
    assert log.trace_id == span.context.trace_id
    body = log.body
    assert isinstance(body, dict)
    assert body["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 4+5?"}]}
    ]
    assert body["gen_ai.system_instructions"] == [{"type": "text", "content": "Answer briefly."}]
    attributes = dict(log.attributes or {})
    assert attributes["gen_ai.response.id"] == (span.attributes or {})["gen_ai.response.id"]
    assert attributes["gen_ai.provider.name"] == "openai"


def test_span_and_event_records_both(server: ReplayServer, sinks: Sinks) -> None:
    _run(server, sinks, "SPAN_AND_EVENT")
    assert set(sinks.span().attributes or {}) >= CONTENT_KEYS
    assert len(sinks.records()) == 1


@pytest.mark.parametrize(
    ("value", "on_span"),
    [("true", True), ("True", True), ("false", False), ("SPAN_ONLY", True), ("no_content", False)],
)
def test_environment_variable_modes(
    value: str, on_span: bool, server: ReplayServer, sinks: Sinks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    _run(server, sinks, None)
    assert ("gen_ai.input.messages" in (sinks.span().attributes or {})) is on_span


def test_unknown_mode_captures_nothing_and_warns(
    server: ReplayServer, sinks: Sinks, caplog: pytest.LogCaptureFixture
) -> None:
    _run(server, sinks, "EVERYTHING_PLEASE")
    assert CONTENT_KEYS.isdisjoint(sinks.span().attributes or {})
    assert "unknown content capture mode" in caplog.text


def test_long_text_is_truncated_visibly_and_stays_valid_json(
    server: ReplayServer, sinks: Sinks
) -> None:
    _run(server, sinks, ContentCapture(CaptureMode.SPAN_ONLY, max_length=10))
    output = json.loads(str((sinks.span().attributes or {})["gen_ai.output.messages"]))
    content = output[0]["parts"][0]["content"]
    assert content == "Four plus …[truncated 21 chars]"


def test_hook_redacts_before_recording(server: ReplayServer, sinks: Sinks) -> None:
    def redact(content: CapturedContent) -> CapturedContent:
        return replace(
            content,
            input_messages=[{"role": "user", "parts": [{"type": "text", "content": "[redacted]"}]}],
        )

    _run(server, sinks, ContentCapture(CaptureMode.SPAN_AND_EVENT, hook=redact))
    attributes = sinks.span().attributes or {}
    assert "4+5" not in str(attributes["gen_ai.input.messages"])
    assert "[redacted]" in str(attributes["gen_ai.input.messages"])
    (record,) = sinks.records()
    assert "4+5" not in json.dumps(record.log_record.body)


def test_hook_returning_none_drops_the_content(server: ReplayServer, sinks: Sinks) -> None:
    _run(server, sinks, ContentCapture(CaptureMode.SPAN_AND_EVENT, hook=lambda content: None))
    assert CONTENT_KEYS.isdisjoint(sinks.span().attributes or {})
    assert sinks.records() == []


def test_failing_hook_never_breaks_the_stream(server: ReplayServer, sinks: Sinks) -> None:
    def broken(content: CapturedContent) -> CapturedContent:
        raise RuntimeError("hook bug")

    _run(server, sinks, ContentCapture(CaptureMode.SPAN_ONLY, hook=broken))
    attributes = sinks.span().attributes or {}
    assert attributes["spanstream.outcome"] == "completed"
    assert CONTENT_KEYS.isdisjoint(attributes)
