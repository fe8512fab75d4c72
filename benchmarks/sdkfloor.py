"""The OpenTelemetry SDK's own cost for exactly the telemetry spanstream records per stream.

One spanstream stream runs with telemetry on; its finished span and metric points are read back
(name, attributes, values, bucket boundaries). Then the SDK alone replays that payload, with no
spanstream code at all: a span started with all those attributes and ended (the same
``SimpleSpanProcessor`` -> ``InMemorySpanExporter`` as the benchmark's telemetry-on rows), and
every measurement recorded with its attributes on fresh instruments of the same kind, in the
span's context as spanstream does (so the default trace-based exemplar filter samples them).

It is a floor for the "telemetry on vs off" goal: what the conventions' span and metrics cost
through the SDK's API however they are produced. The ``both_bulk`` variant records the values of
the per-chunk histogram in one call (``spanstream.telemetry._bulk.record_many``, the first value
in the span's context, as spanstream records them), the one piece of spanstream code it runs:
the same span and measurements at what they cost spanstream.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream.telemetry._bulk import record_many

from . import paths
from .ssegen import SSEStream


@dataclass(frozen=True)
class Measurement:
    metric: str
    histogram: bool
    bounds: tuple[float, ...]
    value: float
    attributes: dict[str, Any]
    count: int = 1
    """How many times the value was recorded (a histogram point of a per-chunk metric holds
    many recordings; the floor replays each, at the point's mean)."""


def capture(stream: SSEStream, chunks: list[bytes]) -> tuple[ReadableSpan, list[Measurement]]:
    """The span and the measurements one spanstream stream records (the sync Client with the
    telemetry-on providers of the benchmark's rows)."""
    telemetry = paths.Telemetry(on=True)
    with (
        paths.sync_client(chunks, telemetry) as client,
        client.responses.stream(model=paths.MODEL, input=paths.PROMPT) as events,
    ):
        paths.check_response(stream, events.final_response())
    (span,) = telemetry.exporter.get_finished_spans()
    data = telemetry.reader.get_metrics_data()
    measurements = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    count = 1
                    if isinstance(point, HistogramDataPoint):
                        count = max(1, point.count)
                        bounds, value = tuple(point.explicit_bounds), point.sum / count
                    else:
                        bounds, value = (), point.value
                    measurements.append(
                        Measurement(
                            metric=metric.name,
                            histogram=isinstance(point, HistogramDataPoint),
                            bounds=bounds,
                            value=value,
                            attributes=dict(point.attributes or {}),
                            count=count,
                        )
                    )
    return span, measurements


def _replay(
    span: ReadableSpan,
    measurements: list[Measurement],
    *,
    traces: bool,
    metrics: bool,
    bulk: bool = False,
) -> Callable[[], None]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracer_provider.get_tracer("sdk-floor")
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("sdk-floor")
    instruments: dict[str, Histogram | Counter] = {}
    for m in measurements:
        if m.metric not in instruments:
            instruments[m.metric] = (
                meter.create_histogram(m.metric, explicit_bucket_boundaries_advisory=m.bounds)
                if m.histogram
                else meter.create_counter(m.metric)
            )
    recordings = [
        (instruments[m.metric], m.histogram, m.value, m.attributes)
        for m in measurements
        for _ in range(1 if bulk and m.count > 1 else m.count)
    ]
    batches = {
        id(instruments[m.metric]): [m.value] * m.count for m in measurements if bulk and m.count > 1
    }
    name, kind, attributes = span.name, span.kind, dict(span.attributes or {})
    sampled = tracer.start_span("parent")  # for the metrics-only variant's exemplars

    def once() -> None:
        if traces:
            current = tracer.start_span(name, kind=kind, attributes=attributes)
            current.end()
        else:
            current = sampled
        if metrics:
            context = trace.set_span_in_context(current)
            for instrument, histogram, value, attrs in recordings:
                batch = batches.get(id(instrument))
                if batch is not None:
                    record_many(instrument, batch, attrs, context)  # type: ignore[arg-type]
                elif histogram:
                    instrument.record(value, attrs, context=context)  # type: ignore[union-attr]
                else:
                    instrument.add(value, attrs, context=context)  # type: ignore[union-attr]
        exporter.clear()

    return once


def measure(
    stream: SSEStream, chunks: list[bytes], *, repeats: int, calls: int
) -> dict[str, object]:
    """Median µs per stream of the SDK alone: span + metrics, span only, metrics only, and span +
    metrics with the per-chunk values in one call."""
    span, measurements = capture(stream, chunks)
    variants = {
        "both": _replay(span, measurements, traces=True, metrics=True),
        "span": _replay(span, measurements, traces=True, metrics=False),
        "metrics": _replay(span, measurements, traces=False, metrics=True),
        "both_bulk": _replay(span, measurements, traces=True, metrics=True, bulk=True),
    }
    samples: dict[str, list[float]] = {key: [] for key in variants}
    for once in variants.values():
        for _ in range(max(1, calls // 10)):
            once()
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeats):
            for key, once in variants.items():
                start = time.perf_counter()
                for _ in range(calls):
                    once()
                samples[key].append((time.perf_counter() - start) * 1e6 / calls)
    finally:
        gc.unfreeze()
    return {
        "span_attributes": len(span.attributes or {}),
        "measurements": sum(m.count for m in measurements),
        "us": {key: statistics.median(values) for key, values in samples.items()},
        "samples_us": samples,
    }
