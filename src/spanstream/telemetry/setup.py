"""``spanstream.configure()``: tracer, meter and logger providers with exporters, in one call.

It builds on the OpenTelemetry SDK's own configuration, so every ``OTEL_*`` variable the SDK
defines keeps working (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_EXPORTER_OTLP_*`` and their per-signal forms,
``OTEL_BSP_*``, ``OTEL_BLRP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``,
``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT``, ``OTEL_SDK_DISABLED``...). Each signal's exporter is
chosen as the SDK chooses it (``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``,
``OTEL_LOGS_EXPORTER``, default ``otlp``; the OTLP protocol from
``OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL``, then ``OTEL_EXPORTER_OTLP_PROTOCOL``, default grpc)
and built without arguments unless ``configure()`` was given some, so the exporters read their
own endpoint, headers and timeout variables. A malformed variable is a
:class:`~spanstream.errors.ConfigurationError` naming it.

Exports run in background threads: a collector that is down costs the application nothing but
dropped telemetry, and :meth:`TelemetryHandle.shutdown` (also run at exit) gives up after
``shutdown_timeout`` seconds instead of waiting out the exporters' retries.

Providers the application already installed are kept (the OpenTelemetry API does not allow
replacing a global one): exporters ``configure()`` is given are added to an SDK tracer or logger
provider; an SDK meter provider cannot take readers after it is built, so asking for metric
exporters then is a :class:`~spanstream.errors.ConfigurationError`; a provider the application
did not install is created. ``replace=True`` gives spanstream's clients new providers of their own.

This is the one module of the client's telemetry that imports the SDK: ``spanstream`` and
``spanstream.telemetry`` load it only when ``configure`` or ``TelemetryHandle`` is first looked
up, so an application that never calls ``configure()`` needs only ``opentelemetry-api``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
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
from ._defaults import defaults
from ._environment import SIGNALS, check_endpoint, check_environment, check_port
from .content import CaptureMode, ContentCapture

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "Exporters",
    "ExporterName",
    "TelemetryHandle",
    "build_exporters",
    "configure",
    "defaults",
]

logger = logging.getLogger("spanstream")

ExporterName = Literal["otlp", "otlp-grpc", "otlp-http", "console", "jsonl", "memory", "none"]
_EXPORTERS = ("otlp", "otlp-grpc", "otlp-http", "console", "jsonl", "memory", "none")
Signal = Literal["traces", "metrics", "logs"]

DEFAULT_SHUTDOWN_TIMEOUT = 3.0
"""Seconds :meth:`TelemetryHandle.shutdown` (and the exit hook) waits for the last exports."""

# The SDK's entry-point names (opentelemetry_{signal}_exporter) for configure()'s exporter names.
_ENTRY_POINTS = {
    "otlp-grpc": "otlp_proto_grpc",
    "otlp-http": "otlp_proto_http",
    "console": "console",
}
_OTLP_GRPC, _OTLP_HTTP = "otlp_proto_grpc", "otlp_proto_http"


@dataclass
class Exporters:
    """Span processors, metric readers and log processors for one exporter choice."""

    span_processors: list[SpanProcessor] = field(default_factory=list)
    metric_readers: list[MetricReader] = field(default_factory=list)
    log_processors: list[LogRecordProcessor] = field(default_factory=list)
    span_exporter: SpanExporter | None = None
    log_exporter: LogRecordExporter | None = None
    files: list[IO[str]] = field(default_factory=list)


@dataclass
class TelemetryHandle:
    """The providers :func:`configure` set up (or found), to flush or shut down at exit."""

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: _logs.LoggerProvider
    owned: bool
    """Whether spanstream created the tracer provider (see :attr:`created` per signal)."""
    span_exporter: SpanExporter | None = None
    metric_reader: MetricReader | None = None
    log_exporter: LogRecordExporter | None = None
    created: frozenset[str] = frozenset()
    """The signals (``traces``, ``metrics``, ``logs``) whose provider spanstream created."""
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    """Seconds :meth:`shutdown` waits by default."""
    _added: list[SpanProcessor | LogRecordProcessor] = field(default_factory=list)
    _files: list[IO[str]] = field(default_factory=list)
    _stopped: bool = False

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export everything buffered now; False if some provider did not finish in time.

        Bounded by ``timeout_millis`` even where the SDK's own flush ignores its timeout
        (open-telemetry/opentelemetry-python#4568): the flush goes on in the background.
        """
        flushes = [
            getattr(provider, "force_flush", None)
            for provider in (self.tracer_provider, self.meter_provider, self.logger_provider)
        ]
        return _within(timeout_millis / 1000, [flush for flush in flushes if flush is not None])

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop the providers spanstream created and the exporters it added to the
        application's providers (never the application's own providers).

        Waits at most ``timeout`` seconds (default :attr:`shutdown_timeout`): with a collector
        that is down or never answers, the exporters' retries would otherwise hold the caller
        (and the process exit) for their whole export timeout per signal. Returns False, after
        logging a warning, if the exporters had not finished: their unsent telemetry is dropped.
        """
        if self._stopped:
            return True
        self._stopped = True
        atexit.unregister(self._at_exit)
        limit = self.shutdown_timeout if timeout is None else timeout
        providers = {
            "traces": self.tracer_provider,
            "metrics": self.meter_provider,
            "logs": self.logger_provider,
        }
        stops: list[Callable[[], object]] = [
            providers[signal].shutdown  # type: ignore[attr-defined]
            for signal in SIGNALS
            if signal in self.created
        ]
        stops += [processor.shutdown for processor in self._added]
        done = _within(limit, stops)
        if done:
            for file in self._files:
                file.close()
            self._files.clear()
        else:
            logger.warning(
                "spanstream: telemetry shutdown did not finish within %.3g s (is the collector "
                "reachable?); unsent spans, metrics and logs were dropped",
                limit,
            )
        if defaults.tracer_provider is self.tracer_provider:
            defaults.tracer_provider = None
            defaults.meter_provider = None
            defaults.logger_provider = None
        return done

    def _at_exit(self) -> None:
        self.shutdown()


def _within(timeout: float, calls: Sequence[Callable[[], object]]) -> bool:
    """Run ``calls`` side by side in daemon threads; True if all returned (not False) in time.

    A call still running at the deadline is left to finish in the background; being a daemon
    thread, it does not hold up the process exit.
    """
    results: list[bool] = []

    def run(call: Callable[[], object]) -> None:
        try:
            results.append(call() is not False)
        except Exception:
            logger.exception("spanstream: a telemetry provider failed to flush or shut down")
            results.append(False)

    threads = [
        threading.Thread(target=run, args=(call,), name="spanstream-telemetry-stop", daemon=True)
        for call in calls
    ]
    deadline = time.monotonic() + max(0.0, timeout)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(results) == len(calls) and all(results)


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
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    replace: bool = False,
) -> TelemetryHandle:
    """Set up tracing, metrics and content events for spanstream (and the rest of the app).

    >>> handle = spanstream.configure(service_name="chat-api", exporter="otlp-http",
    ...                               endpoint="http://localhost:4318")
    >>> ...
    >>> handle.shutdown()

    ``exporter`` (all three signals): ``otlp`` (protocol per signal from
    ``OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``, default grpc),
    ``otlp-grpc``, ``otlp-http`` (http/protobuf), ``console``, ``jsonl`` (one JSON document
    a line, to ``jsonl_path``), ``memory`` (read back through the handle) or ``none``; default:
    per signal, ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` / ``OTEL_LOGS_EXPORTER``
    (``otlp`` when unset, ``none`` for none). ``endpoint`` / ``headers``: the OTLP collector for
    all signals (an HTTP ``endpoint`` is a base URL: ``/v1/traces`` etc. are appended); default:
    what the exporters read from ``OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT`` (used as is) or
    ``OTEL_EXPORTER_OTLP_ENDPOINT``. ``prometheus_port``: also serve metrics for Prometheus to
    scrape (needs the ``spanstream[prometheus]`` extra). ``sampler`` or ``sample_ratio``
    (parent-based ratio): default ``OTEL_TRACES_SAMPLER``. ``capture_content``: the default
    content capture of clients created afterwards. ``shutdown_timeout``: seconds
    :meth:`TelemetryHandle.shutdown` and the exit hook wait for the last exports.

    With providers already installed: spanstream's exporters (when ``exporter``, ``endpoint``,
    ``headers`` or ``jsonl_path`` is given) are added to an SDK tracer or logger provider; a
    missing provider is created (and logged); asking for metric exporters or ``prometheus_port``
    when an SDK meter provider exists, or a ``service_name``/``sampler`` the existing tracer
    provider does not have, raises :class:`ConfigurationError` (pass ``replace=True`` for
    providers of spanstream's own).
    """
    if capture_content is not None:
        defaults.capture_content = ContentCapture.of(capture_content)
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TelemetryHandle(
            trace.NoOpTracerProvider(),
            metrics.NoOpMeterProvider(),
            _logs.NoOpLoggerProvider(),
            owned=False,
        )
    check_environment()
    if endpoint is not None:
        check_endpoint("endpoint", endpoint)
    if prometheus_port is not None:
        prometheus_port = check_port("prometheus_port", prometheus_port)
    if exporter is not None and exporter not in _EXPORTERS:
        raise ConfigurationError(
            f"unknown exporter {exporter!r}: choose one of {', '.join(_EXPORTERS)}"
        )
    if shutdown_timeout < 0:
        raise ConfigurationError(f"shutdown_timeout={shutdown_timeout!r} must not be negative")

    current = _Current()
    explicit = any(arg is not None for arg in (exporter, endpoint, headers, jsonl_path))
    if not replace:
        metric_exporters = explicit and _chosen(exporter, "metrics") != ["none"]
        current.check_conflicts(
            service_name, sampler, sample_ratio, explicit, metric_exporters, prometheus_port
        )

    attributes = {SERVICE_NAME: service_name} if service_name else {}
    resource = Resource.create(attributes)  # merges OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if sampler is None and sample_ratio is not None:
        sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    # With the application's providers kept, only what was asked for is added to them.
    wanted = {signal: replace or explicit or current.unset(signal) for signal in SIGNALS}
    built = build_exporters(
        exporter, endpoint, headers, jsonl_path, signals=[s for s in SIGNALS if wanted[s]]
    )
    prometheus = _prometheus_reader(prometheus_host, prometheus_port, built)
    if prometheus is not None:
        built.metric_readers.append(prometheus)
    handle = _assemble(current, built, resource, sampler, replace)
    handle.shutdown_timeout = shutdown_timeout
    if handle.created or handle._added:
        # Instead of the SDK's own exit hooks, which wait out every retry (shutdown_on_exit).
        atexit.register(handle._at_exit)
    return handle


class _Current:
    """The global providers when configure() was called."""

    def __init__(self) -> None:
        self.providers: dict[str, object] = {
            "traces": trace.get_tracer_provider(),
            "metrics": metrics.get_meter_provider(),
            "logs": _logs.get_logger_provider(),
        }

    def unset(self, signal: str) -> bool:
        """Whether the application installed no provider for ``signal`` (the API's proxy)."""
        return type(self.providers[signal]).__name__ in (
            "ProxyTracerProvider",
            "_ProxyMeterProvider",
            "ProxyLoggerProvider",
        )

    def check_conflicts(
        self,
        service_name: str | None,
        sampler: Sampler | None,
        sample_ratio: float | None,
        explicit: bool,
        metric_exporters: bool,
        prometheus_port: int | None,
    ) -> None:
        """Raise for arguments that cannot apply to the providers the application installed."""
        tracer_provider = self.providers["traces"]
        if not self.unset("traces"):
            kept = f"the application's {type(tracer_provider).__name__}"
            if service_name is not None:
                resource = getattr(tracer_provider, "resource", None)
                found = resource.attributes.get(SERVICE_NAME) if resource is not None else None
                if found != service_name:
                    raise _conflict(
                        f"service_name={service_name!r}", f"{kept} has service.name={found!r}"
                    )
            if sampler is not None or sample_ratio is not None:
                raise _conflict("sampler/sample_ratio", f"{kept} has its own sampler")
            if explicit and not isinstance(tracer_provider, TracerProvider):
                raise _conflict("exporters", f"{kept} is not an SDK TracerProvider")
        logs = self.providers["logs"]
        if not self.unset("logs") and explicit and not isinstance(logs, LoggerProvider):
            raise _conflict(
                "exporters", f"the application's {type(logs).__name__} is not an SDK LoggerProvider"
            )
        if not self.unset("metrics"):
            kept = f"the application's {type(self.providers['metrics']).__name__}"
            if prometheus_port is not None:
                raise _conflict(
                    f"prometheus_port={prometheus_port}", f"{kept} cannot take another reader"
                )
            if metric_exporters:
                raise _conflict(
                    "metric exporters",
                    f"{kept} cannot take readers after it was built: "
                    "add spanstream's exporter to it, or pass exporter='none' for spans and "
                    "logs only",
                )


def _conflict(argument: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"configure(): {argument} cannot apply: {reason} (pass replace=True to give "
        "spanstream's clients providers of their own)"
    )


def _assemble(
    current: _Current,
    built: Exporters,
    resource: Resource,
    sampler: Sampler | None,
    replace: bool,
) -> TelemetryHandle:
    """Create the providers that are missing (all, with ``replace``), add exporters to the
    application's SDK providers, and install what was created."""
    created: set[str] = set()
    added: list[SpanProcessor | LogRecordProcessor] = []

    tracer_provider: trace.TracerProvider
    if replace or current.unset("traces"):
        tracer_provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
        created.add("traces")
    else:
        tracer_provider = current.providers["traces"]  # type: ignore[assignment]
    for processor in built.span_processors:
        tracer_provider.add_span_processor(processor)  # type: ignore[attr-defined]
    if "traces" not in created:
        added += built.span_processors

    meter_provider: metrics.MeterProvider
    if replace or current.unset("metrics"):
        meter_provider = MeterProvider(
            resource=resource, metric_readers=built.metric_readers, shutdown_on_exit=False
        )
        created.add("metrics")
    else:
        meter_provider = current.providers["metrics"]  # type: ignore[assignment]

    logger_provider: _logs.LoggerProvider
    if replace or current.unset("logs"):
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        created.add("logs")
    else:
        logger_provider = current.providers["logs"]  # type: ignore[assignment]
    for log_processor in built.log_processors:
        logger_provider.add_log_record_processor(log_processor)  # type: ignore[attr-defined]
    if "logs" not in created:
        added += built.log_processors

    handle = TelemetryHandle(
        tracer_provider,
        meter_provider,
        logger_provider,
        owned="traces" in created,
        span_exporter=built.span_exporter,
        metric_reader=built.metric_readers[0] if built.metric_readers else None,
        log_exporter=built.log_exporter,
        created=frozenset(created),
        _added=added,
        _files=built.files,
    )
    kept = [s for s in SIGNALS if s not in created]
    if kept:
        logger.info(
            "spanstream.configure: keeping the application's %s provider(s); created: %s",
            ", ".join(kept),
            ", ".join(sorted(created)) or "none",
        )
    if replace:
        # The API refuses a second global provider: spanstream's clients use these instead.
        defaults.tracer_provider = tracer_provider
        defaults.meter_provider = meter_provider
        defaults.logger_provider = logger_provider
    if current.unset("traces"):
        trace.set_tracer_provider(tracer_provider)
    if current.unset("metrics"):
        metrics.set_meter_provider(meter_provider)
    if current.unset("logs"):
        _logs.set_logger_provider(logger_provider)
    return handle


def build_exporters(
    exporter: ExporterName | str | None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    jsonl_path: str | Path | None = None,
    *,
    signals: Sequence[str] = SIGNALS,
) -> Exporters:
    """The processors and readers for ``exporter`` (None: each signal's ``OTEL_*_EXPORTER``),
    for the given ``signals`` only. OTLP exporters get ``endpoint``/``headers`` when given, and
    otherwise read their own ``OTEL_EXPORTER_OTLP_*`` variables."""
    built = Exporters()
    if exporter == "jsonl":
        _jsonl(built, jsonl_path, signals)
        return built
    if exporter == "memory":
        _memory(built, signals)
        return built
    classes = _exporter_classes(exporter, signals)
    for signal, (name, cls) in classes:
        kwargs = _otlp_arguments(name, signal, endpoint, headers)
        try:
            made = cls(**kwargs)
        except ValueError as exc:  # the SDK's own parsing of its variables
            raise ConfigurationError(f"the {name} {signal} exporter: {exc}") from exc
        _add(built, signal, made)
    return built


def _add(built: Exporters, signal: str, made: Any) -> None:
    if signal == "traces":
        built.span_processors.append(
            SimpleSpanProcessor(made)
            if isinstance(made, InMemorySpanExporter)
            else BatchSpanProcessor(made)
        )
        built.span_exporter = built.span_exporter or made
    elif signal == "metrics":
        # A pull exporter (Prometheus) is a reader itself; push exporters get a periodic one.
        reader = made if isinstance(made, MetricReader) else PeriodicExportingMetricReader(made)
        built.metric_readers.append(reader)
    else:
        built.log_processors.append(BatchLogRecordProcessor(made))
        built.log_exporter = built.log_exporter or made


def _exporter_classes(
    exporter: str | None, signals: Sequence[str]
) -> list[tuple[str, tuple[str, type]]]:
    """(signal, (entry-point name, class)) for every exporter to build, chosen and loaded by the
    SDK's own configuration code (the entry points ``opentelemetry-instrument`` uses)."""
    from opentelemetry.sdk._configuration import _get_exporter_entry_point, _import_exporters

    names: dict[str, list[str]] = {}
    for signal in signals:
        chosen = _chosen(exporter, signal)
        if chosen == ["none"]:
            names[signal] = []
            continue
        try:
            names[signal] = [
                str(_get_exporter_entry_point(_ENTRY_POINTS.get(c, c), signal))  # type: ignore[arg-type]
                for c in chosen
            ]
        except RuntimeError as exc:  # an unsupported protocol (checked first, so rare)
            raise ConfigurationError(str(exc)) from exc
    try:
        loaded = _import_exporters(
            names.get("traces", []), names.get("metrics", []), names.get("logs", [])
        )
    except RuntimeError as exc:
        raise ConfigurationError(_unknown_exporter(exporter, names, exc)) from exc
    except ImportError as exc:  # pragma: no cover - a broken exporter package
        raise ConfigurationError(f"cannot load an exporter: {exc}") from exc
    return [
        (signal, (name, loaded[index][name]))
        for index, signal in enumerate(SIGNALS)
        for name in names.get(signal, [])
    ]


def _chosen(exporter: str | None, signal: str) -> list[str]:
    """The exporter names for ``signal``: ``exporter``, else ``OTEL_{SIGNAL}_EXPORTER`` (a comma
    list; ``otlp`` when unset, as the specification's default)."""
    variable = f"OTEL_{signal.upper()}_EXPORTER"
    raw = exporter if exporter is not None else os.environ.get(variable, "").strip() or "otlp"
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    return ["none"] if [name.lower() for name in chosen] == ["none"] else chosen


def _unknown_exporter(exporter: str | None, names: Mapping[str, list[str]], exc: Exception) -> str:
    for signal, chosen in names.items():
        for name in chosen:
            if f"'{name}'" in str(exc):
                variable = f"OTEL_{signal.upper()}_EXPORTER"
                source = (
                    f"exporter={exporter!r}"
                    if exporter is not None
                    else f"{variable}={os.environ.get(variable)!r}"
                )
                hint = (
                    "pip install 'spanstream[otlp]'"
                    if name in (_OTLP_GRPC, _OTLP_HTTP)
                    else "install the package that provides it"
                )
                return f"{source}: no {signal} exporter named {name!r} is installed ({hint})"
    return str(exc)


def _otlp_arguments(
    name: str, signal: str, endpoint: str | None, headers: Mapping[str, str] | None
) -> dict[str, Any]:
    """configure()'s endpoint and headers for an OTLP exporter (none for other exporters)."""
    if name not in (_OTLP_GRPC, _OTLP_HTTP):
        return {}
    kwargs: dict[str, Any] = {}
    if headers:
        kwargs["headers"] = dict(headers)
    if endpoint:
        # An OTLP/HTTP endpoint given for all signals is a base URL (as the generic variable).
        kwargs["endpoint"] = (
            f"{endpoint.rstrip('/')}/v1/{signal}" if name == _OTLP_HTTP else endpoint
        )
    return kwargs


def _jsonl(built: Exporters, jsonl_path: str | Path | None, signals: Sequence[str]) -> None:
    if jsonl_path is None:
        raise ConfigurationError("exporter='jsonl' needs jsonl_path=")
    out: IO[str] = open(jsonl_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by shutdown()
    built.files.append(out)
    made: dict[str, SpanExporter | MetricExporter | LogRecordExporter] = {
        "traces": ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n"),
        "metrics": ConsoleMetricExporter(
            out=out, formatter=lambda m: m.to_json(indent=None) + "\n"
        ),
        "logs": ConsoleLogRecordExporter(
            out=out, formatter=lambda r: r.to_json(indent=None) + "\n"
        ),
    }
    for signal in signals:
        _add(built, signal, made[signal])


def _memory(built: Exporters, signals: Sequence[str]) -> None:
    made: dict[str, object] = {
        "traces": InMemorySpanExporter(),
        "metrics": InMemoryMetricReader(),
        "logs": InMemoryLogRecordExporter(),  # type: ignore[no-untyped-call]
    }
    for signal in signals:
        _add(built, signal, made[signal])


def _prometheus_reader(host: str | None, port: int | None, built: Exporters) -> MetricReader | None:
    """A Prometheus scrape endpoint for ``prometheus_port`` or ``OTEL_EXPORTER_PROMETHEUS_PORT``
    (unless ``OTEL_METRICS_EXPORTER=prometheus`` already started one)."""
    env_port = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip()
    if port is None and not env_port:
        return None
    if port is None and any(
        type(r).__name__ == "_AutoPrometheusMetricReader" for r in built.metric_readers
    ):
        return None
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server
    except ImportError as exc:
        raise ConfigurationError(
            "a Prometheus endpoint needs: pip install 'spanstream[prometheus]'"
        ) from exc
    address = host or os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    listen = port if port is not None else int(env_port)
    try:
        start_http_server(port=listen, addr=address)
    except OSError as exc:
        source = "prometheus_port" if port is not None else "OTEL_EXPORTER_PROMETHEUS_PORT"
        raise ConfigurationError(
            f"{source}={listen}: cannot serve metrics on {address}:{listen}: {exc}"
        ) from exc
    return PrometheusMetricReader()
