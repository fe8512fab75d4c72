"""Opt-in message content: nothing by default; each mode puts it where it says."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import AnthropicClient, Client, SpanstreamError
from spanstream.telemetry import CaptureMode, ContentCapture
from spanstream.telemetry.content import CapturedContent
from spanstream.testing import ReplayServer, Reply

from ..conftest import FIXTURES, RESPONSES
from ..semconv_schemas import assert_content_conforms

CHAT = FIXTURES / "openai-chat"
ANTHROPIC = FIXTURES / "anthropic-messages"
PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"  # "Four plus five equals **nine**."
TOOL = RESPONSES / "gpt-4.1-single-function-call.sse"
FAILED = RESPONSES / "gpt-5-error-event-then-response-failed.sse"  # no output before failing
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
    latest: bool
    """Whether the clients of this test use the latest naming set (the opt-in)."""

    def span(self) -> ReadableSpan:
        (span,) = self.spans.get_finished_spans()
        return span

    def records(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())


@pytest.fixture(params=[False, True], ids=["released", "latest"])
def sinks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sinks]:
    """In-memory spans and logs, under each naming set; whatever content the test captured is
    validated against that set's JSON schemas when it ends."""
    latest: bool = request.param
    if latest:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    else:
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    sinks = Sinks(spans, logs, tracer_provider, logger_provider, latest)
    yield sinks
    for span in spans.get_finished_spans():
        assert_content_conforms(span.attributes or {}, latest=latest)
    for record in sinks.records():
        assert_content_conforms(record.log_record.attributes or {}, latest=latest)
    tracer_provider.shutdown()
    logger_provider.shutdown()


def _answer(sinks: Sinks, parts: list[dict[str, object]], finish_reason: str) -> list[object]:
    """The output messages expected of one answer: ``finish_reason`` under the released set
    only (required by v1.41.1's schema, deprecated on semantic-conventions-genai main)."""
    message: dict[str, object] = {"role": "assistant", "parts": parts}
    if not sinks.latest:
        message["finish_reason"] = finish_reason
    return [message]


def _run(
    server: ReplayServer,
    sinks: Sinks,
    capture: ContentCapture | CaptureMode | str | bool | None,
    path: object = PLAIN,
) -> None:
    """One Responses stream with content capture ``capture``, replaying ``path`` (``None``: the
    reply the test enqueued itself)."""
    if path is not None:
        server.enqueue(Reply.from_file(path))  # type: ignore[arg-type]
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=sinks.tracer_provider,
        logger_provider=sinks.logger_provider,
        capture_content=capture,
    )
    try:
        with client.responses.stream(
            model="gpt-4.1",
            input="What is 4+5?",
            instructions="Answer briefly.",
            tools=[WEATHER_TOOL],
        ) as stream:
            stream.final_response()
    except SpanstreamError:
        pass  # a failed stream: its span is what the test reads


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
    assert json.loads(str(attributes["gen_ai.output.messages"])) == _answer(
        sinks, [{"type": "text", "content": "Four plus five equals **nine**."}], "stop"
    )
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
    assert message.get("finish_reason") == (None if sinks.latest else "tool_call")


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda: Reply.from_file(FAILED), id="failed"),
        pytest.param(lambda: Reply.from_file(PLAIN, cut_after_events=2), id="cut"),
        pytest.param(lambda: Reply.error(400), id="http-error"),
    ],
)
def test_a_stream_that_ended_without_output_records_no_output_message(
    reply: object, server: ReplayServer, sinks: Sinks
) -> None:
    server.enqueue(reply())  # type: ignore[operator]
    _run(server, sinks, CaptureMode.SPAN_AND_EVENT, path=None)
    attributes = sinks.span().attributes or {}
    assert attributes["spanstream.outcome"] in ("failed", "error")
    assert "gen_ai.output.messages" not in attributes
    assert "gen_ai.input.messages" in attributes  # what was asked is still recorded
    (record,) = sinks.records()
    assert "gen_ai.output.messages" not in (record.log_record.attributes or {})


def test_a_failed_stream_with_output_keeps_it_with_an_error_finish_reason(
    server: ReplayServer, sinks: Sinks
) -> None:
    server.enqueue(Reply.from_file(PLAIN, inject_error_after_events=6, end_after_events=6))
    _run(server, sinks, CaptureMode.SPAN_ONLY, path=None)
    attributes = sinks.span().attributes or {}
    assert attributes["spanstream.outcome"] == "failed"
    (message,) = json.loads(str(attributes["gen_ai.output.messages"]))
    assert message["parts"][0]["type"] == "text"
    assert message.get("finish_reason") == (None if sinks.latest else "error")


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
    # The content is structured, in the event's attributes (client-inference.md: on events
    # it MUST be structured); the body is not used.
    assert log.body is None
    attributes = dict(log.attributes or {})
    assert _plain(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 4+5?"}]}
    ]
    assert _plain(attributes["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert _plain(attributes["gen_ai.output.messages"]) == _answer(
        sinks, [{"type": "text", "content": "Four plus five equals **nine**."}], "stop"
    )
    assert _plain(attributes["gen_ai.tool.definitions"]) == [WEATHER_TOOL]
    assert attributes["gen_ai.response.id"] == (span.attributes or {})["gen_ai.response.id"]
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4.1"


def test_span_and_event_records_both(server: ReplayServer, sinks: Sinks) -> None:
    _run(server, sinks, "SPAN_AND_EVENT")
    span_attributes = sinks.span().attributes or {}
    assert set(span_attributes) >= CONTENT_KEYS
    (record,) = sinks.records()
    attributes = record.log_record.attributes or {}
    assert set(attributes) >= CONTENT_KEYS
    for key in CONTENT_KEYS:
        # Structured on the event, a JSON string on the span: the same content.
        assert not isinstance(attributes[key], str)
        assert _plain(attributes[key]) == json.loads(str(span_attributes[key]))
    assert record.log_record.body is None


def _plain(value: object) -> object:
    """A structured attribute value as plain lists and dicts (the SDK may hand back tuples)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


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
    assert "4+5" not in json.dumps(_plain(dict(record.log_record.attributes or {})))


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


def _conversation(api: str, sinks: Sinks, server: ReplayServer) -> None:
    """A conversation with every kind of turn (system, user, an assistant tool call, its
    result) through each API, answered by a recording with reasoning, text or tool calls."""
    providers: dict[str, object] = {
        "api_key": "sk-test",
        "base_url": server.base_url,
        "tracer_provider": sinks.tracer_provider,
        "logger_provider": sinks.logger_provider,
        "capture_content": CaptureMode.SPAN_AND_EVENT,
    }
    tool = {"type": "function", "function": {k: v for k, v in WEATHER_TOOL.items() if k != "type"}}
    if api == "chat":
        server.enqueue(Reply.from_file(CHAT / "gpt-3.5-turbo-single-tool-call-usage.sse"))
        Client(**providers).chat.completions.stream(  # type: ignore[arg-type]
            model="gpt-3.5-turbo",
            messages=[
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "rainy"},
            ],
            tools=[tool],
        ).final_response()
    elif api == "anthropic":
        server.enqueue(Reply.from_file(ANTHROPIC / "claude-haiku-4-5-thinking-then-tool-use.sse"))
        AnthropicClient(**providers).messages.stream(  # type: ignore[arg-type]
            model="claude-haiku-4-5",
            max_tokens=64,
            system="Answer briefly.",
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy"}
                    ],
                },
            ],
            tools=[{"name": "get_weather", "input_schema": WEATHER_TOOL["parameters"]}],
        ).final_response()
    else:
        server.enqueue(Reply.from_file(RESPONSES / "gpt-5-reasoning-summary.sse"))
        Client(**providers).responses.stream(  # type: ignore[arg-type]
            model="gpt-5",
            instructions="Answer briefly.",
            input=[
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "rainy"},
            ],
            tools=[WEATHER_TOOL],
        ).final_response()


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
def test_every_api_captures_content_that_conforms_to_the_schemas(
    api: str, server: ReplayServer, sinks: Sinks
) -> None:
    _conversation(api, sinks, server)
    span = sinks.span()
    # Input, output and system instructions, on the span and on the event (Chat's system
    # prompt is one of its messages, so it stays among the input messages).
    expected = 2 if api == "chat" else 3
    assert assert_content_conforms(span.attributes or {}, latest=sinks.latest) == expected
    (record,) = sinks.records()
    attributes = record.log_record.attributes or {}
    assert assert_content_conforms(attributes, latest=sinks.latest) == expected
    parts = [
        part["type"]
        for message in json.loads(str((span.attributes or {})["gen_ai.input.messages"]))
        for part in message["parts"]
    ]
    assert {"tool_call", "tool_call_response"} <= set(parts)
