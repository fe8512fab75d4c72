"""``spanstream.configure()``: tracer, meter and logger providers with exporters, in one call.

It builds on the OpenTelemetry SDK's own configuration, so every ``OTEL_*`` variable the SDK
defines keeps working (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_EXPORTER_OTLP_*``, ``OTEL_BSP_*``, ``OTEL_BLRP_*``,
``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT``,
``OTEL_SDK_DISABLED``...), and the exporter is chosen by ``OTEL_TRACES_EXPORTER`` and
``OTEL_EXPORTER_OTLP_PROTOCOL`` when not given. Exports run in background threads: a collector
that is down costs the application nothing but dropped telemetry.

An application that already installed its own providers keeps them: ``configure()`` then only
records the content-capture default and returns a handle on the existing providers, unless
``replace=True``, in which case spanstream's clients use the new providers (the OpenTelemetry
API does not allow replacing the global ones).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    InMemoryLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    InMemoryMetricReader,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

from ..errors import ConfigurationError
from .content import CaptureMode, ContentCapture

__all__ = ["ExporterName", "TelemetryHandle", "configure", "defaults"]

logger = logging.getLogger("spanstream")

ExporterName = Literal["otlp", "otlp-grpc", "otlp-http", "console", "jsonl", "memory", "none"]
_EXPORTERS = ("otlp", "otlp-grpc", "otlp-http", "console", "jsonl", "memory", "none")


@dataclass
class _Defaults:
    """What clients use when they are given no provider or capture setting."""

    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    logger_provider: _logs.LoggerProvider | None = None
    capture_content: ContentCapture | None = None


defaults = _Defaults()
"""Set by :func:`configure`; read by :class:`~spanstream.telemetry.Instrumentation`."""


@dataclass
class TelemetryHandle:
    """The providers :func:`configure` set up (or found), to flush or shut down at exit."""

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: _logs.LoggerProvider
    owned: bool
    """Whether spanstream created these providers (and so shuts them down)."""
    span_exporter: SpanExporter | None = None
    metric_reader: MetricReader | None = None
    log_exporter: LogRecordExporter | None = None
    _files: list[IO[str]] = field(default_factory=list)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything buffered now; False if some provider did not finish in time."""
        done = True
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                done = bool(flush(timeout_millis)) and done
        return done

    def shutdown(self) -> None:
        """Flush and stop the providers spanstream created (never the application's own)."""
        if self.owned:
            for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
                stop = getattr(provider, "shutdown", None)
                if stop is not None:
                    stop()
        for file in self._files:
            file.close()
        self._files.clear()
        if defaults.tracer_provider is self.tracer_provider:
            defaults.tracer_provider = None
            defaults.meter_provider = None
            defaults.logger_provider = None


def configure(
    *,
    service_name: str | None = None,
    exporter: ExporterName | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    jsonl_path: str | Path | None = None,
    prometheus_port: int | None = None,
    prometheus_host: str | None = None,
    sampler: Sampler | None = None,
    sample_ratio: float | None = None,
    capture_content: ContentCapture | CaptureMode | str | bool | None = None,
    replace: bool = False,
) -> TelemetryHandle:
    """Set up tracing, metrics and content events for spanstream (and the rest of the app).

    >>> handle = spanstream.configure(service_name="chat-api", exporter="otlp-http",
    ...                               endpoint="http://localhost:4318")
    >>> ...
    >>> handle.shutdown()

    ``exporter``: ``otlp`` (protocol from ``OTEL_EXPORTER_OTLP_PROTOCOL``, default grpc),
    ``otlp-grpc``, ``otlp-http`` (http/protobuf), ``console``, ``jsonl`` (one JSON document
    a line, to ``jsonl_path``), ``memory`` (read back through the handle) or ``none``; default:
    ``OTEL_TRACES_EXPORTER``, else ``otlp``. ``endpoint`` / ``headers``: the OTLP collector
    (default: the ``OTEL_EXPORTER_OTLP_*`` variables). ``prometheus_port``: also serve metrics
    for Prometheus to scrape (needs the ``spanstream[prometheus]`` extra). ``sampler`` or
    ``sample_ratio`` (parent-based ratio): default ``OTEL_TRACES_SAMPLER``.
    ``capture_content``: the default content capture of clients created afterwards.
    """
    if capture_content is not None:
        defaults.capture_content = ContentCapture.of(capture_content)
    existing = trace.get_tracer_provider()
    if _is_sdk(existing) and not replace:
        logger.info("spanstream.configure: keeping the application's tracer provider")
        return TelemetryHandle(
            existing, metrics.get_meter_provider(), _logs.get_logger_provider(), owned=False
        )
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TelemetryHandle(
            trace.NoOpTracerProvider(),
            metrics.NoOpMeterProvider(),
            _logs.NoOpLoggerProvider(),
            owned=False,
        )

    name = exporter or _env_exporter()
    if name not in _EXPORTERS:
        raise ConfigurationError(
            f"unknown exporter {name!r}: choose one of {', '.join(_EXPORTERS)}"
        )
    attributes = {SERVICE_NAME: service_name} if service_name else {}
    resource = Resource.create(attributes)  # merges OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if sampler is None and sample_ratio is not None:
        sampler = ParentBased(TraceIdRatioBased(sample_ratio))

    handle = _build(name, resource, sampler, endpoint, headers, jsonl_path)
    if prometheus_port is not None or os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT"):
        reader = _prometheus_reader(prometheus_host, prometheus_port)
        # Readers are fixed when a MeterProvider is built: rebuild it with both.
        readers = [r for r in (handle.metric_reader, reader) if r is not None]
        handle.meter_provider = MeterProvider(resource=resource, metric_readers=readers)

    if replace or not _is_sdk(existing):
        _install_globals(handle, replace)
    return handle


def _is_sdk(provider: object) -> bool:
    return isinstance(provider, TracerProvider)


def _env_exporter() -> ExporterName:
    value = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower()
    if value == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc").strip().lower()
        return "otlp-http" if protocol.startswith("http") else "otlp-grpc"
    return value  # type: ignore[return-value]  # validated by the caller


def _build(
    name: str,
    resource: Resource,
    sampler: Sampler | None,
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    jsonl_path: str | Path | None,
) -> TelemetryHandle:
    files: list[IO[str]] = []
    span_exporter: SpanExporter | None
    metric_exporter: MetricExporter | None
    log_exporter: LogRecordExporter | None
    reader: MetricReader | None = None
    if name == "otlp":
        name = _env_exporter()
    if name == "otlp-grpc":
        span_exporter, metric_exporter, log_exporter = _otlp_grpc(endpoint, headers)
    elif name == "otlp-http":
        span_exporter, metric_exporter, log_exporter = otlp_http_exporters(endpoint, headers)
    elif name == "console":
        span_exporter = ConsoleSpanExporter()
        metric_exporter = ConsoleMetricExporter()
        log_exporter = ConsoleLogRecordExporter()
    elif name == "jsonl":
        if jsonl_path is None:
            raise ConfigurationError("exporter='jsonl' needs jsonl_path=")
        out: IO[str] = open(jsonl_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by shutdown()
        files.append(out)
        span_exporter = ConsoleSpanExporter(
            out=out, formatter=lambda s: s.to_json(indent=None) + "\n"
        )
        metric_exporter = ConsoleMetricExporter(
            out=out, formatter=lambda m: m.to_json(indent=None) + "\n"
        )
        log_exporter = ConsoleLogRecordExporter(
            out=out, formatter=lambda r: r.to_json(indent=None) + "\n"
        )
    elif name == "memory":
        span_exporter = InMemorySpanExporter()
        metric_exporter = None
        reader = InMemoryMetricReader()
        log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    else:
        span_exporter = metric_exporter = log_exporter = None

    tracer_provider = TracerProvider(resource=resource, sampler=sampler)
    if span_exporter is not None:
        processor: SpanProcessor = (
            SimpleSpanProcessor(span_exporter)
            if name == "memory"
            else BatchSpanProcessor(span_exporter)
        )
        tracer_provider.add_span_processor(processor)
    if metric_exporter is not None:
        reader = PeriodicExportingMetricReader(metric_exporter)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader] if reader else [])
    logger_provider = LoggerProvider(resource=resource)
    if log_exporter is not None:
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    return TelemetryHandle(
        tracer_provider,
        meter_provider,
        logger_provider,
        owned=True,
        span_exporter=span_exporter,
        metric_reader=reader,
        log_exporter=log_exporter,
        _files=files,
    )


def _otlp_grpc(
    endpoint: str | None, headers: Mapping[str, str] | None
) -> tuple[SpanExporter, MetricExporter, LogRecordExporter]:
    try:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError("OTLP export needs: pip install 'spanstream[otlp]'") from exc
    hdrs = dict(headers) if headers else None
    return (
        OTLPSpanExporter(endpoint=endpoint, headers=hdrs),
        OTLPMetricExporter(endpoint=endpoint, headers=hdrs),
        OTLPLogExporter(endpoint=endpoint, headers=hdrs),
    )


def otlp_http_exporters(
    endpoint: str | None, headers: Mapping[str, str] | None
) -> tuple[SpanExporter, MetricExporter, LogRecordExporter]:
    """OTLP http/protobuf exporters for spans, metrics and logs under one base ``endpoint``."""
    try:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError("OTLP export needs: pip install 'spanstream[otlp]'") from exc
    base = endpoint.rstrip("/") if endpoint else None
    hdrs = dict(headers) if headers else None
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None, headers=hdrs),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None, headers=hdrs),
        OTLPLogExporter(endpoint=f"{base}/v1/logs" if base else None, headers=hdrs),
    )


def _prometheus_reader(host: str | None, port: int | None) -> MetricReader:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise ConfigurationError(
            "a Prometheus endpoint needs: pip install 'spanstream[prometheus]'"
        ) from exc
    address = host or os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    listen = (
        port if port is not None else int(os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464"))
    )
    start_http_server(port=listen, addr=address)
    return PrometheusMetricReader()


def _install_globals(handle: TelemetryHandle, replace: bool) -> None:
    if replace and _is_sdk(trace.get_tracer_provider()):
        # The API refuses a second global provider: spanstream's clients use these instead.
        defaults.tracer_provider = handle.tracer_provider
        defaults.meter_provider = handle.meter_provider
        defaults.logger_provider = handle.logger_provider
        return
    trace.set_tracer_provider(handle.tracer_provider)
    metrics.set_meter_provider(handle.meter_provider)
    _logs.set_logger_provider(handle.logger_provider)
