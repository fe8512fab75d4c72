"""``configure()`` turns a malformed ``OTEL_*`` variable or argument into a
:class:`ConfigurationError` naming it and its value (issue 14 #18), before installing anything."""

from __future__ import annotations

import os

import pytest

import spanstream
from spanstream.telemetry._environment import check_environment


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "abc"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", "70000"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:abc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4317"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://:4318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:99999/v1/traces"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "localhost:port"),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "htp://collector:4318/v1/logs"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-5"),
        ("OTEL_BSP_SCHEDULE_DELAY", "0"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "soon"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1.5"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "-1"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "never"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "ten"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "nan"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpcs"),
    ],
)
def test_a_malformed_variable_is_a_configuration_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(spanstream.ConfigurationError) as caught:
        spanstream.configure(exporter="memory")
    assert f"{variable}={value!r}" in str(caught.value)


def test_a_batch_larger_than_the_queue_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")  # batch default: 512
    with pytest.raises(spanstream.ConfigurationError, match="OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512"):
        spanstream.configure(exporter="memory")


def test_a_sampler_ratio_outside_0_to_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "2")
    with pytest.raises(spanstream.ConfigurationError, match="OTEL_TRACES_SAMPLER_ARG='2'"):
        spanstream.configure(exporter="memory")


def test_an_unknown_exporter_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "carrier-pigeon")
    with pytest.raises(spanstream.ConfigurationError) as caught:
        spanstream.configure()
    assert "OTEL_METRICS_EXPORTER='carrier-pigeon'" in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"endpoint": "http://localhost:abc"}, "endpoint='http://localhost:abc'"),
        ({"prometheus_port": 0}, "prometheus_port=0"),
        ({"prometheus_port": "9464x"}, "prometheus_port='9464x'"),
        ({"shutdown_timeout": -1.0}, "shutdown_timeout=-1.0"),
    ],
)
def test_a_malformed_argument_is_a_configuration_error_naming_it(
    arguments: dict[str, object], named: str
) -> None:
    with pytest.raises(spanstream.ConfigurationError) as caught:
        spanstream.configure(exporter="memory", **arguments)  # type: ignore[arg-type]
    assert named in str(caught.value)


def test_a_password_in_an_endpoint_never_reaches_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://user:s3cret@collector:bad")
    with pytest.raises(spanstream.ConfigurationError) as caught:
        spanstream.configure(exporter="memory")
    assert "s3cret" not in str(caught.value)
    assert "user:***@collector:bad" in str(caught.value)


def test_the_values_the_sdk_accepts_pass() -> None:
    check_environment(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318/",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "localhost:4317",  # gRPC host:port
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://[::1]:4318/v1/metrics",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc",
            "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096",
            "OTEL_METRIC_EXPORT_INTERVAL": "1500.5",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "9464",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "0",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
        }
    )
