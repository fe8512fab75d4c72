"""``spanstream.configure()``: exporters, environment, existing providers, failing collectors.

``configure`` installs global OpenTelemetry providers, which can be set once per process, so
each case runs in its own interpreter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from spanstream import Client, TelemetryHandle
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES
from ..otlp_loopback import BlackHole, OtlpReceiver, closed_port_endpoint

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"

PRELUDE = f"""
import spanstream
from spanstream.testing import ReplayServer, Reply

def run_stream():
    with ReplayServer(default=Reply.from_file({str(PLAIN)!r})) as server:
        client = spanstream.Client(api_key="sk-test", base_url=server.base_url)
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            return stream.final_response().text

def kinds(handle):
    # The exporters' kinds, spans then metrics: grpc/http for OTLP, else the class name.
    exporters = [handle.span_exporter, getattr(handle.metric_reader, "_exporter", None)]
    return [type(e).__module__.split(".")[4] if "otlp" in type(e).__module__ else type(e).__name__
            for e in exporters if e is not None]
"""


def _run(script: str, env: dict[str, str] | None = None, timeout: float = 60) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_memory_exporter_collects_spans_and_metrics() -> None:
    out = _run(
        """
        handle = spanstream.configure(service_name="svc", exporter="memory")
        print(run_stream())
        (span,) = handle.span_exporter.get_finished_spans()
        print(span.name, span.resource.attributes["service.name"])
        data = handle.metric_reader.get_metrics_data()
        names = sorted(m.name for rm in data.resource_metrics for sm in rm.scope_metrics
                       for m in sm.metrics)
        print(",".join(names))
        handle.shutdown()
        """
    )
    lines = out.splitlines()
    assert lines[0] == "Four plus five equals **nine**."
    assert lines[1] == "chat gpt-4.1 svc"
    assert "gen_ai.client.token.usage" in lines[2].split(",")


def test_jsonl_exporter_writes_one_json_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    _run(
        f"""
        handle = spanstream.configure(exporter="jsonl", jsonl_path={str(path)!r})
        run_stream()
        handle.shutdown()
        """
    )
    documents = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    spans = [d for d in documents if d.get("name") == "chat gpt-4.1"]
    assert len(spans) == 1
    assert spans[0]["attributes"]["gen_ai.provider.name"] == "openai"
    assert any("resource_metrics" in d for d in documents)


def test_environment_chooses_the_exporter_and_service_name() -> None:
    out = _run(
        """
        handle = spanstream.configure()
        run_stream()
        handle.shutdown()
        """,
        env={
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_SERVICE_NAME": "from-env",
        },
    )
    assert '"name": "chat gpt-4.1"' in out
    assert '"service.name": "from-env"' in out


def test_sampler_from_the_environment_is_honoured() -> None:
    out = _run(
        """
        handle = spanstream.configure(exporter="memory")
        run_stream()
        print(len(handle.span_exporter.get_finished_spans()))
        """,
        env={"OTEL_TRACES_SAMPLER": "always_off"},
    )
    assert out.strip() == "0"


def test_existing_application_providers_are_kept() -> None:
    out = _run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        mine = TracerProvider()
        exporter = InMemorySpanExporter()
        mine.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(mine)
        handle = spanstream.configure()
        print(handle.owned, handle.tracer_provider is mine, handle.span_exporter)
        run_stream()
        print(len(exporter.get_finished_spans()))
        """,
        env={"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
    )
    assert out.split() == ["False", "True", "None", "1"]


def test_replace_routes_spanstream_clients_to_the_new_providers() -> None:
    out = _run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        trace.set_tracer_provider(TracerProvider())
        handle = spanstream.configure(exporter="memory", replace=True)
        run_stream()
        print(handle.owned, len(handle.span_exporter.get_finished_spans()))
        """
    )
    assert out.split() == ["True", "1"]


def test_sdk_disabled_gives_no_op_providers() -> None:
    out = _run(
        """
        handle = spanstream.configure(exporter="memory")
        print(run_stream())
        print(type(handle.tracer_provider).__name__)
        """,
        env={"OTEL_SDK_DISABLED": "true"},
    )
    assert out.splitlines() == ["Four plus five equals **nine**.", "NoOpTracerProvider"]


def test_unknown_exporter_is_a_clear_error() -> None:
    out = _run(
        """
        try:
            spanstream.configure(exporter="carrier-pigeon")
        except spanstream.ConfigurationError as exc:
            print(exc)
        """
    )
    assert "unknown exporter 'carrier-pigeon'" in out


@pytest.mark.parametrize("exporter", ["otlp-http", "otlp-grpc"])
def test_streams_complete_while_the_collector_is_unreachable(exporter: str) -> None:
    closed = _free_port()  # nothing listens here
    out = _run(
        f"""
        handle = spanstream.configure(exporter={exporter!r}, endpoint="http://127.0.0.1:{closed}")
        texts = [run_stream() for _ in range(3)]
        print(len(texts), texts[-1])
        handle.shutdown()
        print("shutdown")
        """,
        env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1", "OTEL_BSP_SCHEDULE_DELAY": "50"},
    )
    assert out.splitlines() == ["3 Four plus five equals **nine**.", "shutdown"]


def test_prometheus_endpoint_serves_the_genai_metrics() -> None:
    port = _free_port()
    out = _run(
        f"""
        import httpx
        handle = spanstream.configure(exporter="none", prometheus_port={port})
        run_stream()
        print(httpx.get("http://127.0.0.1:{port}/metrics").text)
        """
    )
    assert "gen_ai_client_token_usage" in out
    assert 'gen_ai_token_type="input"' in out
    assert "gen_ai_client_operation_duration_seconds_bucket" in out


class BlockedExporter(SpanExporter):
    """An exporter stuck on a dead collector: export blocks until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.release.set()


def test_a_stuck_exporter_does_not_hold_up_the_stream(server: ReplayServer) -> None:
    exporter = BlockedExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=provider)
    # The first stream's span starts an export that blocks; later streams still finish.
    for _ in range(3):
        server.enqueue(Reply.from_file(PLAIN))
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            assert stream.final_response().text == "Four plus five equals **nine**."
        assert exporter.entered.wait(10)
    assert not exporter.release.is_set(), "the export was still stuck while streams completed"
    exporter.release.set()
    provider.shutdown()


# Per-signal exporters, protocols and endpoints (the SDK's variables and precedence).


def test_traces_to_http_with_metrics_none_send_nothing_else() -> None:
    # Issue 15 #1: metrics went to localhost:4318 anyway, and exit waited for them.
    with OtlpReceiver() as collector:
        out = _run(
            """
            handle = spanstream.configure(capture_content="event_only")
            run_stream()
            print(handle.metric_reader, handle.log_exporter is not None)
            handle.shutdown()
            """,
            env={
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{collector.endpoint}/custom/traces",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            },
        )
    assert out.split() == ["None", "False"]
    # The per-signal endpoint is used as is (no /v1/traces appended).
    assert collector.paths() == {"/custom/traces"}


def test_a_per_signal_protocol_applies_to_that_signal_only() -> None:
    # Issue 15 #1: with only the traces protocol set to HTTP, the gRPC exporter lost every trace.
    with OtlpReceiver() as collector:
        out = _run(
            """
            handle = spanstream.configure()
            run_stream()
            print(*kinds(handle))
            handle.shutdown(timeout=0.5)
            """,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
                "OTEL_LOGS_EXPORTER": "none",
            },
        )
    # Traces over HTTP to the generic endpoint + /v1/traces; metrics keep the default, gRPC.
    assert out.split() == ["http", "grpc"]
    assert "/v1/traces" in collector.paths()


def test_the_generic_protocol_sends_every_signal_over_http() -> None:
    with OtlpReceiver() as collector:
        _run(
            """
            handle = spanstream.configure(capture_content="event_only")
            run_stream()
            handle.shutdown()
            """,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint + "/",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
        )
    assert collector.paths() == {"/v1/traces", "/v1/metrics", "/v1/logs"}


def test_a_per_signal_endpoint_and_headers_beat_the_generic_ones() -> None:
    with OtlpReceiver() as collector:
        _run(
            """
            handle = spanstream.configure()
            run_stream()
            handle.shutdown()
            """,
            env={
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": closed_port_endpoint(),
                "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=generic",
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{collector.endpoint}/metrics-here",
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "x-tenant=metrics",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            },
        )
    (post,) = [p for p in collector.posts if p.size]
    assert post.path == "/metrics-here"
    assert post.headers["x-tenant"] == "metrics"


def test_configure_arguments_beat_the_environment() -> None:
    with OtlpReceiver() as collector:
        out = _run(
            f"""
            handle = spanstream.configure(exporter="otlp-http", endpoint={collector.endpoint!r},
                                          headers={{"x-tenant": "argument"}})
            run_stream()
            handle.shutdown()
            """,
            env={
                "OTEL_TRACES_EXPORTER": "console",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": closed_port_endpoint() + "/v1/traces",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=env",
            },
        )
    assert '"name"' not in out  # no console exporter
    assert {"/v1/traces", "/v1/metrics"} <= collector.paths()
    assert {p.headers["x-tenant"] for p in collector.posts} == {"argument"}


def test_otlp_defaults_to_grpc_and_each_signal_can_be_switched_off() -> None:
    out = _run(
        """
        handle = spanstream.configure()
        print(*kinds(handle))
        handle.shutdown(timeout=0.5)
        handle = spanstream.configure(exporter="otlp", replace=True)
        print(*kinds(handle))
        handle.shutdown(timeout=0.5)
        """,
        env={"OTEL_LOGS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"},
    )
    assert out.splitlines() == ["grpc http", "grpc http"]


def test_a_console_metrics_exporter_next_to_no_traces() -> None:
    out = _run(
        """
        handle = spanstream.configure()
        run_stream()
        print(handle.span_exporter)
        handle.shutdown()
        """,
        env={
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
        },
    )
    assert "gen_ai.client.token.usage" in out
    assert '"name": "chat gpt-4.1"' not in out
    assert out.splitlines()[0] == "None"


# Bounded flush and shutdown (issue 14 #20).


def test_shutdown_gives_up_on_a_stuck_exporter_after_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = BlockedExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1))
    provider.get_tracer("test").start_span("pending").end()
    assert exporter.entered.wait(10)
    handle = TelemetryHandle(
        provider,
        NoOpMeterProvider(),
        NoOpLoggerProvider(),
        owned=True,
        created=frozenset({"traces"}),
    )
    try:
        # The export never returns; shutdown returns anyway, and says so.
        assert handle.shutdown(timeout=0.05) is False
        assert not exporter.release.is_set()
        assert "did not finish within 0.05 s" in caplog.text
        assert handle.force_flush(timeout_millis=50) is False
    finally:
        exporter.release.set()


EXIT_CLOCK = """
import atexit, time
ended = []
# Registered before configure(), so it runs after spanstream's exit hook (atexit is LIFO).
atexit.register(lambda: print("exit took", round(time.monotonic() - ended[0], 1)))
"""


@pytest.mark.parametrize("exporter", ["otlp-http", "otlp-grpc"])
@pytest.mark.parametrize("collector", ["black hole", "closed port"])
def test_shutdown_and_exit_are_bounded_with_a_dead_collector(exporter: str, collector: str) -> None:
    # Unbounded, each signal's last export waits out its 10 s timeout (or retries for it).
    with BlackHole() as hole:
        endpoint = hole.endpoint if collector == "black hole" else closed_port_endpoint()
        out = _run(
            EXIT_CLOCK
            + textwrap.dedent(
                f"""
                handle = spanstream.configure(exporter={exporter!r}, endpoint={endpoint!r},
                                              capture_content="event_only", shutdown_timeout=1)
                run_stream()
                print("timeout", handle.shutdown_timeout)
                start = time.monotonic()
                print("finished", handle.shutdown())
                print("shutdown took", round(time.monotonic() - start, 1))

                second = spanstream.configure(exporter={exporter!r}, endpoint={endpoint!r},
                                              replace=True, shutdown_timeout=0.5)
                run_stream()
                ended.append(time.monotonic())  # exit without calling shutdown()
                """
            )
        )
    lines = dict(line.rsplit(" ", 1) for line in out.splitlines())
    assert lines["timeout"] == "1"
    assert lines["finished"] == "False"
    assert float(lines["shutdown took"]) < 8  # generous: bounded at 1 s, unbounded >= 10 s
    assert float(lines["exit took"]) < 8


# An application that installed providers first (issue 20 #2): nothing is dropped silently.

APP_TRACING = """
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
app_exporter = InMemorySpanExporter()
app = TracerProvider(resource=Resource.create({"service.name": "app"}))
app.add_span_processor(SimpleSpanProcessor(app_exporter))
trace.set_tracer_provider(app)
"""


def test_exporters_are_added_to_the_application_tracer_provider() -> None:
    out = _run(
        APP_TRACING
        + textwrap.dedent(
            """
            handle = spanstream.configure(exporter="memory")
            print(handle.tracer_provider is app, handle.owned, *sorted(handle.created))
            run_stream()
            spans = handle.span_exporter.get_finished_spans
            print(len(app_exporter.get_finished_spans()), len(spans()))
            # No MeterProvider was installed: spanstream created one, with the memory reader.
            data = handle.metric_reader.get_metrics_data()
            print(any(sm.metrics for rm in data.resource_metrics for sm in rm.scope_metrics))
            # shutdown() stops spanstream's exporter, never the application's provider.
            handle.shutdown()
            run_stream()
            print(len(app_exporter.get_finished_spans()), len(spans()))
            """
        )
    )
    assert out.splitlines() == ["True False logs metrics", "1 1", "True", "2 1"]


def test_an_otlp_endpoint_is_added_to_the_application_tracer_provider() -> None:
    with OtlpReceiver() as collector:
        _run(
            APP_TRACING
            + textwrap.dedent(
                f"""
                handle = spanstream.configure(exporter="otlp-http", endpoint={collector.endpoint!r})
                run_stream()
                handle.shutdown()
                assert len(app_exporter.get_finished_spans()) == 1
                """
            )
        )
    assert {"/v1/traces", "/v1/metrics"} <= collector.paths()


APP_METRICS = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
metrics.set_meter_provider(MeterProvider())
"""


@pytest.mark.parametrize(
    ("arguments", "conflict"),
    [
        ('exporter="memory"', "metric exporters cannot apply: the application's MeterProvider"),
        ("prometheus_port=9464", "prometheus_port=9464 cannot apply"),
        ('service_name="other"', "service_name='other' cannot apply"),
        ("sample_ratio=0.5", "sampler/sample_ratio cannot apply"),
    ],
)
def test_arguments_the_application_providers_cannot_take_are_errors(
    arguments: str, conflict: str
) -> None:
    out = _run(
        APP_TRACING
        + APP_METRICS
        + textwrap.dedent(
            f"""
            try:
                spanstream.configure({arguments})
            except spanstream.ConfigurationError as exc:
                print(exc)
            """
        )
    )
    assert conflict in out
    assert "replace=True" in out


def test_arguments_that_agree_with_the_application_providers_are_accepted() -> None:
    out = _run(
        APP_TRACING
        + APP_METRICS
        + textwrap.dedent(
            """
            handle = spanstream.configure(service_name="app", exporter="none")
            print(handle.tracer_provider is app, *sorted(handle.created))
            """
        ),
        env={"OTEL_LOGS_EXPORTER": "none"},
    )
    assert out.split() == ["True", "logs"]
