"""`GenAITelemetry`: isolated, in-memory tracer and meter providers for one test.

Nothing here touches the global OpenTelemetry providers: hand `tracer_provider` and
`meter_provider` to the code under test (or build spanstream clients with `client` /
`async_client`), then read what it recorded::

    telemetry = GenAITelemetry()
    client = telemetry.client(base_url=server.base_url)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.final_response()
    span = telemetry.inference_span()
    points = telemetry.metric_points("gen_ai.client.operation.duration")
    telemetry.close()

The pytest plugin (`spanstream.testing.plugin`) provides one per test as ``genai_telemetry``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue

from ..client import AsyncClient, Client
from .replay import ReplayServer
from .snapshot import Snapshot, root_snapshots

__all__ = ["INFERENCE_OPERATIONS", "GenAITelemetry", "MetricPoint"]

#: ``gen_ai.operation.name`` values of inference spans (client-inference.md @024a4f9).
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})

# Delta temporality: every collection hands over what was recorded since the previous one, and
# GenAITelemetry adds the deltas up itself. That is what lets clear() start a fresh count even
# though an SDK MeterProvider cannot be reset.
_DELTA: dict[type, AggregationTemporality] = {
    kind: AggregationTemporality.DELTA
    for kind in (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter)
}

_AttributeKey = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class MetricPoint:
    """One metric stream (a metric name and one set of attributes), totalled since the last
    `GenAITelemetry.clear`.

    ``kind`` is the OpenTelemetry data type: ``"sum"`` (counters; ``value`` and ``sum`` hold the
    total), ``"histogram"`` (``count``, ``sum``, ``min``, ``max``, and for explicit-bucket
    histograms ``explicit_bounds`` / ``bucket_counts``) or ``"gauge"`` (``value`` is the last
    one recorded).
    """

    name: str
    kind: Literal["sum", "histogram", "gauge"]
    attributes: Mapping[str, AttributeValue]
    unit: str = ""
    scope: str = ""
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    explicit_bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()

    @property
    def buckets(self) -> dict[float, int]:
        """Count per bucket keyed by the bucket's upper bound (the last one is ``inf``); empty
        for points without explicit buckets."""
        if not self.bucket_counts:
            return {}
        bounds = (*self.explicit_bounds, float("inf"))
        return dict(zip(bounds, self.bucket_counts, strict=True))


def _merge(earlier: MetricPoint, later: MetricPoint) -> MetricPoint:
    """``earlier`` followed by the delta ``later`` of the same stream."""
    if earlier.kind == "gauge" or later.kind != earlier.kind:
        return later
    if earlier.kind == "sum":
        total = (earlier.value or 0) + (later.value or 0)
        return replace(earlier, value=total, sum=total)
    buckets = later.bucket_counts
    if earlier.explicit_bounds == later.explicit_bounds and earlier.bucket_counts:
        pairs = zip(earlier.bucket_counts, later.bucket_counts, strict=True)
        buckets = tuple(a + b for a, b in pairs)
    return replace(
        later,
        count=(earlier.count or 0) + (later.count or 0),
        sum=(earlier.sum or 0) + (later.sum or 0),
        min=_extreme(min, earlier.min, later.min),
        max=_extreme(max, earlier.max, later.max),
        bucket_counts=buckets,
    )


def _extreme(
    pick: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return pick(a, b)


def _attribute_key(attributes: Mapping[str, AttributeValue]) -> _AttributeKey:
    return tuple(
        sorted(
            (
                name,
                tuple(value)
                if isinstance(value, Sequence) and not isinstance(value, str)
                else value,
            )
            for name, value in attributes.items()
        )
    )


def _span_key(span: ReadableSpan) -> tuple[int, int]:
    context = span.context
    return (0, id(span)) if context is None else (context.trace_id, context.span_id)


class _SpanLifecycle(SpanProcessor):
    """Tracks which spans are started and not yet ended, for every span of the provider."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], Span] = {}
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with self._lock:
            self.started += 1
            self._open[_span_key(span)] = span

    def on_end(self, span: ReadableSpan) -> None:
        # ``span`` is a fresh ReadableSpan copy, not the object on_start saw: match by ids.
        with self._lock:
            self.ended += 1
            self._open.pop(_span_key(span), None)

    def open_spans(self) -> list[Span]:
        with self._lock:
            return list(self._open.values())


class GenAITelemetry:
    """An isolated `TracerProvider` and `MeterProvider` whose output stays in memory.

    Spans are exported synchronously as they end (`spans`, `inference_spans`,
    `inference_span`); a `SpanProcessor` counts starts and ends (`open_spans`, `started`,
    `ended`), so a test can prove every span was ended. Metrics are collected when read
    (`metric_points`, `metric_names`), whatever instruments recorded them.
    """

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        """The in-memory exporter holding finished spans."""
        self._lifecycle = _SpanLifecycle()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        """Hand this to the code under test (``tracer_provider=``)."""
        self.tracer_provider.add_span_processor(self._lifecycle)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader(preferred_temporality=_DELTA)
        """The reader collecting from `meter_provider` (delta temporality; prefer
        `metric_points`, which adds the deltas up)."""
        self.meter_provider = MeterProvider(
            metric_readers=[self.metric_reader], shutdown_on_exit=False
        )
        """Hand this to the code under test (``meter_provider=``)."""
        self._metrics_lock = threading.Lock()
        self._points: dict[tuple[str, str, _AttributeKey], MetricPoint] = {}
        self._clients: list[Client] = []
        self._closed = False

    # -- spans --

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        """Every finished span, in the order they ended."""
        return self.span_exporter.get_finished_spans()

    @property
    def inference_spans(self) -> list[ReadableSpan]:
        """Finished spans whose ``gen_ai.operation.name`` is an inference operation (``chat``,
        ``text_completion``, ``generate_content``), in the order they ended."""
        return [
            span
            for span in self.spans
            if (span.attributes or {}).get("gen_ai.operation.name") in INFERENCE_OPERATIONS
        ]

    def inference_span(self) -> ReadableSpan:
        """The one finished inference span; AssertionError if there are none or several."""
        __tracebackhide__ = True
        return self._only("inference", self.inference_spans)

    def embeddings_span(self) -> ReadableSpan:
        """The one finished ``embeddings`` span; AssertionError if there are none or
        several."""
        __tracebackhide__ = True
        spans = [
            span
            for span in self.spans
            if (span.attributes or {}).get("gen_ai.operation.name") == "embeddings"
        ]
        return self._only("embeddings", spans)

    def _only(self, what: str, spans: Sequence[ReadableSpan]) -> ReadableSpan:
        __tracebackhide__ = True
        if len(spans) != 1:
            names = [span.name for span in self.spans]
            open_names = [span.name for span in self.open_spans]
            raise AssertionError(
                f"expected exactly one finished {what} span, got {len(spans)}; "
                f"finished spans: {names}; still open: {open_names}"
            )
        return spans[0]

    @property
    def open_spans(self) -> list[Span]:
        """Spans started on `tracer_provider` and not ended yet."""
        return self._lifecycle.open_spans()

    @property
    def started(self) -> int:
        """How many spans were started on `tracer_provider` (not reset by `clear`)."""
        return self._lifecycle.started

    @property
    def ended(self) -> int:
        """How many spans were ended (a second ``end()`` of the same span is not counted: the
        SDK ignores it and logs a warning)."""
        return self._lifecycle.ended

    def assert_all_spans_ended(self) -> None:
        """AssertionError naming the spans that were started and never ended, if any."""
        __tracebackhide__ = True
        still_open = self.open_spans
        if still_open:
            raise AssertionError(
                f"{len(still_open)} span(s) never ended: {[span.name for span in still_open]}"
            )

    def snapshot(self) -> list[Snapshot]:
        """Stable snapshots of the finished spans, children nested under their parents (see
        `spanstream.testing.span_snapshot`), for golden-file tests."""
        return root_snapshots(self.spans)

    # -- metrics --

    def metric_points(self, name: str) -> list[MetricPoint]:
        """The points of the metric ``name`` recorded since the last `clear`, one per set of
        attributes, sorted by attributes; empty if nothing was recorded under that name."""
        self._collect()
        with self._metrics_lock:
            found = [point for (_, n, _), point in self._points.items() if n == name]
        return sorted(found, key=lambda point: repr(_attribute_key(point.attributes)))

    def metric_names(self) -> list[str]:
        """The names of every metric recorded since the last `clear`, sorted."""
        self._collect()
        with self._metrics_lock:
            return sorted({name for _, name, _ in self._points})

    def _collect(self) -> None:
        data = self.metric_reader.get_metrics_data()
        if data is None:
            return
        with self._metrics_lock:
            for resource_metrics in data.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    scope = scope_metrics.scope.name
                    for metric in scope_metrics.metrics:
                        is_sum = isinstance(metric.data, Sum)
                        for data_point in metric.data.data_points:
                            point = _point(
                                metric.name, metric.unit or "", scope, data_point, is_sum
                            )
                            key = (scope, metric.name, _attribute_key(point.attributes))
                            earlier = self._points.get(key)
                            self._points[key] = point if earlier is None else _merge(earlier, point)

    # -- lifecycle --

    def clear(self) -> None:
        """Forget finished spans and recorded metrics (open spans stay tracked)."""
        self.span_exporter.clear()
        self._collect()
        with self._metrics_lock:
            self._points.clear()

    def client(
        self,
        base_url: str | httpx.URL | ReplayServer | None = None,
        *,
        api_key: str = "sk-test",
        **options: Any,
    ) -> Client:
        """A `spanstream.Client` wired to these providers; closed by `close`.

        ``base_url`` may be a `ReplayServer`. Further keywords (``max_retries``, ``retry``,
        ``strict``, ``http_client``, ...) go to `Client` as they are.
        """
        url = base_url.base_url if isinstance(base_url, ReplayServer) else base_url
        client = Client(
            api_key=api_key,
            base_url=url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )
        self._clients.append(client)
        return client

    def async_client(
        self,
        base_url: str | httpx.URL | ReplayServer | None = None,
        *,
        api_key: str = "sk-test",
        **options: Any,
    ) -> AsyncClient:
        """A `spanstream.AsyncClient` wired to these providers (see `client`).

        Close it yourself (``async with`` or ``await client.aclose()``): `close` runs outside
        the event loop.
        """
        url = base_url.base_url if isinstance(base_url, ReplayServer) else base_url
        return AsyncClient(
            api_key=api_key,
            base_url=url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )

    def close(self) -> None:
        """Close the clients built by `client` and shut both providers down. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for client in self._clients:
            client.close()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _point(
    name: str,
    unit: str,
    scope: str,
    data_point: NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint,
    is_sum: bool,
) -> MetricPoint:
    attributes = dict(data_point.attributes or {})
    if isinstance(data_point, NumberDataPoint):
        kind: Literal["sum", "gauge"] = "sum" if is_sum else "gauge"
        return MetricPoint(
            name,
            kind,
            attributes,
            unit,
            scope,
            value=data_point.value,
            sum=data_point.value if is_sum else None,
        )
    bounds: tuple[float, ...] = ()
    buckets: tuple[int, ...] = ()
    if isinstance(data_point, HistogramDataPoint):
        bounds, buckets = tuple(data_point.explicit_bounds), tuple(data_point.bucket_counts)
    return MetricPoint(
        name,
        "histogram",
        attributes,
        unit,
        scope,
        count=data_point.count,
        sum=data_point.sum,
        min=data_point.min,
        max=data_point.max,
        explicit_bounds=bounds,
        bucket_counts=buckets,
    )
