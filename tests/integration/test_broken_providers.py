"""A tracer, meter or logger provider that fails never breaks the client (issue 14 #19): that
signal falls back to no-op with one logged warning, the stream and the other signals go on."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import AsyncClient, Client, TextDelta
from spanstream.telemetry import span_observer as observer
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
TEXT = "Four plus five equals **nine**."


class BrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        raise RuntimeError("tracer provider is broken")


class SpansFailTracer(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("cannot start a span")


class SpansFailTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return SpansFailTracer()


class BrokenMeterProvider(metrics.MeterProvider):
    def get_meter(self, *args: Any, **kwargs: Any) -> metrics.Meter:
        raise RuntimeError("meter provider is broken")


class InstrumentsFailMeter(metrics.NoOpMeter):
    def create_histogram(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot create a histogram")


class InstrumentsFailMeterProvider(metrics.MeterProvider):
    def get_meter(self, *args: Any, **kwargs: Any) -> metrics.Meter:
        return InstrumentsFailMeter("broken")


class BrokenLoggerProvider(_logs.LoggerProvider):
    def get_logger(self, *args: Any, **kwargs: Any) -> _logs.Logger:
        raise RuntimeError("logger provider is broken")


class Working:
    """Real SDK providers with in-memory exporters, for the signals that are not broken."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider(shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))

    def providers(self, broken: str) -> dict[str, Any]:
        chosen: dict[str, Any] = {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
        }
        kind = BROKEN[broken]
        chosen[f"{broken.split('-')[0]}_provider"] = kind()
        return chosen

    def recorded(self) -> dict[str, bool]:
        data = self.reader.get_metrics_data()
        return {
            "tracer": bool(self.spans.get_finished_spans()),
            "meter": bool(
                data and any(sm.metrics for rm in data.resource_metrics for sm in rm.scope_metrics)
            ),
            "logger": bool(self.logs.get_finished_logs()),
        }


BROKEN: dict[str, type] = {
    "tracer-get_tracer": BrokenTracerProvider,
    "tracer-start_span": SpansFailTracerProvider,
    "meter-get_meter": BrokenMeterProvider,
    "meter-create_histogram": InstrumentsFailMeterProvider,
    "logger-get_logger": BrokenLoggerProvider,
}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observer, "_FAILED", set())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "spanstream" and "failed" in r.getMessage()
    ]


def _check(working: Working, broken: str, caplog: pytest.LogCaptureFixture) -> None:
    signal = broken.split("-")[0]
    # The failure was logged once, for two clients and two streams.
    (warning,) = _warnings(caplog)
    assert f"the {signal}" in warning
    # The signals that work still recorded the streams (the content event belongs to a
    # recorded span, so it goes with the tracer, as for a sampled-out span).
    recorded = working.recorded()
    assert not recorded.pop(signal)
    if signal == "tracer":
        assert not recorded.pop("logger")
    assert all(recorded.values()), recorded


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_sync_client_streams_with_a_failing_provider(
    server: ReplayServer, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    working = Working()
    for _ in range(2):
        server.enqueue(Reply.from_file(PLAIN))
        with (
            Client(
                api_key="sk-test",
                base_url=server.base_url,
                capture_content="event_only",
                **working.providers(broken),
            ) as client,
            client.responses.stream(model="gpt-4.1", input="hi") as stream,
        ):
            assert "".join(e.text for e in stream if isinstance(e, TextDelta)) == TEXT
            assert stream.final_response().text == TEXT
    _check(working, broken, caplog)


@pytest.mark.parametrize("broken", sorted(BROKEN))
async def test_async_client_streams_with_a_failing_provider(
    server: ReplayServer, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    working = Working()
    for _ in range(2):
        server.enqueue(Reply.from_file(PLAIN))
        async with (
            AsyncClient(
                api_key="sk-test",
                base_url=server.base_url,
                capture_content="event_only",
                **working.providers(broken),
            ) as client,
            client.responses.stream(model="gpt-4.1", input="hi") as stream,
        ):
            assert (await stream.final_response()).text == TEXT
    _check(working, broken, caplog)
