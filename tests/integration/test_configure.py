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
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from spanstream import Client
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"

PRELUDE = f"""
import spanstream
from spanstream.testing import ReplayServer, Reply

def run_stream():
    with ReplayServer(default=Reply.from_file({str(PLAIN)!r})) as server:
        client = spanstream.Client(api_key="sk-test", base_url=server.base_url)
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            return stream.final_response().text
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
        env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "from-env"},
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
        handle = spanstream.configure(exporter="console")
        print(handle.owned, handle.tracer_provider is mine)
        run_stream()
        print(len(exporter.get_finished_spans()))
        """
    )
    assert out.split() == ["False", "True", "1"]


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
