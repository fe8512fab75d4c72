"""``spanstream demo`` / ``chat`` send telemetry like any OpenTelemetry program (issue 15 #2):
``--otlp-endpoint`` or the ``OTEL_*`` variables, ``OTEL_SERVICE_NAME``, and one line (not a log
per export) for a signal the collector refuses unless ``--verbose``."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest

from spanstream.cli import chat, demo, main
from spanstream.testing import ReplayServer

from ..otlp_loopback import OtlpReceiver


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "spanstream.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_otel_environment")
def test_demo_sends_spans_and_metrics_to_the_otlp_endpoint_option() -> None:
    with OtlpReceiver() as collector:
        assert main(["demo", "--drip", "0", "--otlp-endpoint", collector.endpoint]) == 0
    assert {"/v1/traces", "/v1/metrics"} <= collector.paths()
    assert collector.service_names() == {"spanstream-demo"}


@pytest.mark.usefixtures("no_otel_environment")
def test_demo_honours_the_otel_variables_and_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with OtlpReceiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "my-demo")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        assert main(["demo", "--agent", "--drip", "0"]) == 0
    assert collector.paths() == {"/v1/traces"}
    assert collector.service_names() == {"my-demo"}


@pytest.mark.usefixtures("no_otel_environment")
def test_chat_honours_the_otel_variables(
    chat_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OtlpReceiver() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.endpoint}/t")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        args = ["chat", "-m", "gpt-4.1", "--base-url", chat_server.base_url, "4+5?"]
        assert main(args) == 0
    assert collector.paths() == {"/t"}
    assert collector.service_names("/t") == {"spanstream-chat"}


@pytest.mark.usefixtures("no_otel_environment")
def test_a_malformed_variable_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:abc")
    assert main(["demo", "--drip", "0"]) == 2
    assert "OTEL_EXPORTER_OTLP_ENDPOINT='http://localhost:abc'" in capsys.readouterr().err


def test_a_refused_signal_is_one_line_unless_verbose() -> None:
    # A backend that takes traces but not metrics (404 on /v1/metrics).
    with OtlpReceiver(refuse={"/v1/metrics"}) as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        quiet = _cli("demo", "--drip", "0", "--otlp-endpoint", collector.endpoint, env={})
        loud = _cli(
            "demo",
            "--drip",
            "0",
            "--verbose",
            env=env | {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        )
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr.splitlines() == [
        "spanstream demo: 1 metrics export error(s) (the collector is unreachable or refuses "
        "this signal; --verbose shows them)"
    ]
    assert "Failed to export metrics" in loud.stderr
    assert "404" in loud.stderr
    assert "export error(s)" not in loud.stderr


def test_help_names_the_variables_and_the_verbose_flag() -> None:
    for command in ("demo", "chat"):
        result = _cli(command, "--help", env={})
        assert "OTEL_EXPORTER_OTLP_" in result.stdout
        assert "OTEL_SERVICE_NAME" in result.stdout
        assert "--verbose" in result.stdout


def test_only_the_signals_the_environment_names_are_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Traces to the console, nothing said of metrics: metrics must not go to a default
    # localhost collector.
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    from spanstream.cli import _asked_signals

    both = ("traces", "metrics")
    assert _asked_signals(both) == ()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert _asked_signals(both) == ("traces",)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:9/v1/metrics")
    assert _asked_signals(both) == both
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    assert _asked_signals(both) == both


class _InterruptedOut(io.StringIO):
    """The terminal of a user who presses Ctrl-C once the first tokens are printed."""

    def flush(self) -> None:
        raise KeyboardInterrupt


class _BrokenOut(io.StringIO):
    """A terminal that fails once the first tokens are printed (a bug, not Ctrl-C)."""

    def flush(self) -> None:
        raise RuntimeError("broken terminal")


@pytest.mark.usefixtures("no_otel_environment")
@pytest.mark.parametrize("command", ["chat", "demo"])
def test_ctrl_c_prints_and_exports_the_spans_and_exits_130(
    command: str, chat_server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sdk_logger = logging.getLogger("opentelemetry")
    handlers = list(sdk_logger.handlers)
    out = _InterruptedOut()
    with OtlpReceiver() as collector:
        if command == "chat":
            code = chat(
                "4+5?",
                model="gpt-4.1",
                base_url=chat_server.base_url,
                out=out,
                otlp_endpoint=collector.endpoint,
            )
        else:
            code = demo(drip=0.0, out=out, otlp_endpoint=collector.endpoint)
    assert code == 130
    assert f"spanstream {command}: interrupted" in capsys.readouterr().err
    # The interrupted inference span ends, is printed and reaches the collector.
    inference = "chat gpt-4.1" if command == "chat" else "chat o4-mini"
    assert inference in collector.span_names()
    assert "\n\nSpans:\n" in out.getvalue()
    assert f"- {inference}  [CLIENT" in out.getvalue()
    # The SDK's loggers are as they were (the CLI holds their errors back while it runs).
    assert sdk_logger.handlers == handlers
    assert sdk_logger.propagate


@pytest.mark.usefixtures("no_otel_environment")
def test_an_unexpected_error_propagates_after_the_spans_are_exported() -> None:
    sdk_logger = logging.getLogger("opentelemetry")
    handlers = list(sdk_logger.handlers)
    with OtlpReceiver() as collector, pytest.raises(RuntimeError, match="broken terminal"):
        demo(drip=0.0, out=_BrokenOut(), otlp_endpoint=collector.endpoint)
    assert "chat o4-mini" in collector.span_names()
    assert sdk_logger.handlers == handlers
    assert sdk_logger.propagate
