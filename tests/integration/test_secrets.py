"""No API key and no Authorization header reaches a span, metric, log record or error."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import Client, RetryPolicy, SpanstreamError
from spanstream.telemetry import CaptureMode
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES

KEY = "sk-proj-SPANSTREAM-canary-7f3a9c2e1b"
# Header names may appear (a server's message naming the header it wanted stays readable);
# the key's value, or any piece of it, never does.
FORBIDDEN = (KEY, "SPANSTREAM-canary", "canary-7f3a", "Bearer sk-")


def test_the_key_never_leaves_the_client(
    server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    client = Client(
        api_key=KEY,
        base_url=server.base_url,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        capture_content=CaptureMode.SPAN_AND_EVENT,
        retry=RetryPolicy(max_retries=1, initial_delay=0, jitter=0),
    )
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": KEY}}
    server.enqueue(
        Reply.from_file(RESPONSES / "gpt-4o-cached-tokens.sse"),
        Reply.error(401, echo),
        Reply.error(500, f"upstream saw Authorization: Bearer {KEY}"),
        Reply.error(500, f"upstream saw Authorization: Bearer {KEY}"),
        Reply.from_file(RESPONSES / "gpt-4.1-plain-text.sse", malformed_after_events=2),
        Reply.from_file(RESPONSES / "gpt-4.1-plain-text.sse", cut_after_events=3),
    )
    errors: list[str] = []
    for _ in range(5):
        try:
            with client.responses.stream(model="gpt-4o", input="hi") as stream:
                stream.final_response()
        except SpanstreamError as exc:
            errors.extend([str(exc), repr(exc), repr(exc.args), repr(vars(exc))])
    assert len(errors) == 3 * 4, "the 401, the exhausted 500s and the cut each raised"
    tracer_provider.force_flush()
    logger_provider.force_flush()

    dumped = [span.to_json() for span in spans.get_finished_spans()]
    assert len(dumped) == 5
    data = reader.get_metrics_data()
    assert data is not None
    dumped.append(data.to_json())
    dumped.extend(record.to_json() for record in logs.get_finished_logs())
    dumped.extend(errors)
    dumped.append(caplog.text)
    # The recorded requests did carry the key: the canary is live.
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    for text in dumped:
        for secret in FORBIDDEN:
            assert secret not in text, f"{secret!r} leaked into: {text[:300]}"
    assert json.loads(dumped[0])["attributes"]["gen_ai.usage.input_tokens"] == 1515
