"""telemetry/_bulk.py against the OpenTelemetry SDK it reaches into.

Each setup builds the same meter twice: one histogram gets a ``record`` per value (the first in
the span's context, the others in an empty one, as spanstream recorded them before), the other
``record_many`` with the same values. What every reader exports must be the same. These tests
fail when the SDK's internals change under the fast path: either it no longer takes the fast
path (``test_the_sdk_histogram_takes_the_fast_path``) or its result differs from ``record``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram as APIHistogram
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    ExemplarFilter,
    Histogram,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics._internal.measurement_consumer import (
    SynchronousMeasurementConsumer,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
)
from opentelemetry.sdk.metrics.view import (
    DropAggregation,
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    LastValueAggregation,
    View,
)
from opentelemetry.sdk.trace import TracerProvider

from spanstream.telemetry._bulk import fast_path, record_many
from spanstream.telemetry.metrics import DURATION_BUCKETS

NAME = "gen_ai.client.operation.time_per_output_chunk"
ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "server.port": 443,
}
# Read gaps, then the zeros of events that came in the same read; values on bucket bounds and
# past the last one.
VALUES = [0.003, 0.01, 0.02, 0.5, 0.011, 81.92, 100.0, 0.04, *([0.0] * 40), 0.0001]


@dataclass
class Setup:
    """How to build one meter provider (called once per side)."""

    readers: Callable[[], list[MetricReader]] = lambda: [InMemoryMetricReader()]
    views: Callable[[], list[View]] = list
    exemplar_filter: Callable[[], ExemplarFilter] = TraceBasedExemplarFilter
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> tuple[MeterProvider, list[MetricReader], APIHistogram]:
        readers = self.readers()
        provider = MeterProvider(
            metric_readers=readers,
            views=self.views(),
            exemplar_filter=self.exemplar_filter(),
            **self.kwargs,
        )
        histogram = provider.get_meter("spanstream").create_histogram(
            NAME, unit="s", explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS)
        )
        return provider, readers, histogram


def _delta() -> InMemoryMetricReader:
    return InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})


SETUPS = {
    "cumulative": Setup(),
    "delta": Setup(readers=lambda: [_delta()]),
    "cumulative-and-delta-readers": Setup(readers=lambda: [InMemoryMetricReader(), _delta()]),
    "view-renames": Setup(views=lambda: [View(instrument_name=NAME, name="renamed")]),
    "view-keeps-some-attributes": Setup(
        views=lambda: [View(instrument_name=NAME, attribute_keys={"gen_ai.operation.name"})]
    ),
    "view-drops": Setup(views=lambda: [View(instrument_name=NAME, aggregation=DropAggregation())]),
    "view-other-buckets": Setup(
        views=lambda: [
            View(
                instrument_name=NAME,
                aggregation=ExplicitBucketHistogramAggregation((0.0, 0.01, 1.0), False),
            )
        ]
    ),
    "two-views": Setup(
        views=lambda: [
            View(instrument_name=NAME, name="a"),
            View(instrument_name=NAME, name="b", attribute_keys=set()),
        ]
    ),
    "exponential-histogram": Setup(
        views=lambda: [
            View(instrument_name=NAME, aggregation=ExponentialBucketHistogramAggregation())
        ]
    ),
    "last-value": Setup(
        views=lambda: [View(instrument_name=NAME, aggregation=LastValueAggregation())]
    ),
    "exemplars-always-on": Setup(exemplar_filter=AlwaysOnExemplarFilter),
    "exemplars-always-off": Setup(exemplar_filter=AlwaysOffExemplarFilter),
}


@pytest.fixture
def span_context() -> Iterator[Context]:
    provider = TracerProvider()
    span = provider.get_tracer("test").start_span("chat gpt-4o")
    yield trace.set_span_in_context(span)
    span.end()


def _one_by_one(histogram: APIHistogram, values: Sequence[float], context: Context) -> None:
    """spanstream's recording before record_many: the first value in the span's context."""
    for index, value in enumerate(values):
        histogram.record(value, ATTRIBUTES, context=context if index == 0 else Context())


def _exported(reader: MetricReader) -> dict[tuple[str, frozenset[Any]], dict[str, Any]]:
    """Every exported point of one reader, by metric name and attributes."""
    assert isinstance(reader, InMemoryMetricReader)
    data = reader.get_metrics_data()
    points: dict[tuple[str, frozenset[Any]], dict[str, Any]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    fields = {
                        name: getattr(point, name)
                        for name in ("count", "sum", "min", "max", "value")
                        if hasattr(point, name)
                    }
                    if isinstance(point, HistogramDataPoint):
                        fields.update(bounds=point.explicit_bounds, buckets=point.bucket_counts)
                    if isinstance(point, ExponentialHistogramDataPoint):
                        fields.update(
                            scale=point.scale,
                            zero_count=point.zero_count,
                            positive=(point.positive.offset, tuple(point.positive.bucket_counts)),
                        )
                    fields["exemplars"] = sorted(
                        (e.value, e.trace_id, e.span_id) for e in point.exemplars
                    )
                    key = (metric.name, frozenset((point.attributes or {}).items()))
                    assert key not in points, f"two points for {key}"
                    points[key] = fields
    return points


def _assert_same(
    expected: dict[tuple[str, frozenset[Any]], dict[str, Any]],
    got: dict[tuple[str, frozenset[Any]], dict[str, Any]],
) -> None:
    assert got.keys() == expected.keys()
    for key, fields in expected.items():
        if "sum" in fields:
            # The sum of the same floats, added in another order: equal to rounding.
            assert got[key].pop("sum") == pytest.approx(fields.pop("sum"), rel=1e-12)
        assert got[key] == fields, key


def test_the_sdk_histogram_takes_the_fast_path() -> None:
    """If this fails, the SDK's metrics internals changed: spanstream records
    time_per_output_chunk one record() per value again until _bulk.py is updated."""
    for name in ("cumulative", "cumulative-and-delta-readers", "view-drops", "two-views"):
        _, _, histogram = SETUPS[name].build()
        assert fast_path(histogram), name


@pytest.mark.parametrize("name", list(SETUPS))
def test_record_many_exports_what_one_record_per_value_does(
    name: str, span_context: Context
) -> None:
    _, readers, one_by_one = SETUPS[name].build()
    _, bulk_readers, bulk = SETUPS[name].build()
    # Twice, with a collection in between: a delta reader starts a new point after it.
    for values in (VALUES, VALUES[::-1][:17]):
        _one_by_one(one_by_one, values, span_context)
        record_many(bulk, values, ATTRIBUTES, span_context)
        for reader, bulk_reader in zip(readers, bulk_readers, strict=True):
            expected = _exported(reader)
            assert expected or name == "view-drops"
            _assert_same(expected, _exported(bulk_reader))


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_zeros_given_as_a_count_export_what_one_record_per_zero_does(
    name: str, span_context: Context
) -> None:
    """A stream's per-chunk values are its per-read gaps, then a zero for each event that came
    in the same read as the one before: passed as a count, never as a list per event."""
    gaps = [v for v in VALUES if v][:5]
    _, readers, one_by_one = SETUPS[name].build()
    _, bulk_readers, bulk = SETUPS[name].build()
    for values, zeros in ((gaps, 30), ([], 3), (gaps[:1], 0)):
        _one_by_one(one_by_one, [*values, *([0.0] * zeros)], span_context)
        record_many(bulk, values, ATTRIBUTES, span_context, zeros=zeros)
        for reader, bulk_reader in zip(readers, bulk_readers, strict=True):
            expected = _exported(reader)
            assert expected or name == "view-drops"
            _assert_same(expected, _exported(bulk_reader))


def test_the_first_value_keeps_the_span_as_its_exemplar(span_context: Context) -> None:
    _, (reader,), histogram = SETUPS["cumulative"].build()
    record_many(histogram, VALUES, ATTRIBUTES, span_context)
    (point,) = _exported(reader).values()
    span = trace.get_current_span(span_context).get_span_context()
    assert point["exemplars"] == [(VALUES[0], span.trace_id, span.span_id)]
    assert point["count"] == len(VALUES)


def test_values_after_the_first_reach_the_sdk_in_one_call(
    span_context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path: the SDK's per-measurement entry point sees the first value only."""
    seen: list[float] = []
    consume = SynchronousMeasurementConsumer.consume_measurement

    def counting(self: SynchronousMeasurementConsumer, measurement: Any) -> None:
        seen.append(measurement.value)
        consume(self, measurement)

    monkeypatch.setattr(SynchronousMeasurementConsumer, "consume_measurement", counting)
    _, (reader,), histogram = SETUPS["cumulative"].build()
    record_many(histogram, VALUES, ATTRIBUTES, span_context)
    assert seen == [VALUES[0]]
    (point,) = _exported(reader).values()
    assert point["count"] == len(VALUES)


def test_a_proxy_histogram_records_into_the_provider_set_later(span_context: Context) -> None:
    """A client made before the application sets its meter provider holds the API's proxy."""
    proxy_provider = _ProxyMeterProvider()
    proxy = proxy_provider.get_meter("spanstream").create_histogram(NAME, unit="s")
    record_many(proxy, VALUES, ATTRIBUTES, span_context)  # no provider yet: dropped
    reader = InMemoryMetricReader()
    proxy_provider.on_set_meter_provider(MeterProvider(metric_readers=[reader]))
    assert fast_path(proxy)
    record_many(proxy, VALUES, ATTRIBUTES, span_context)
    (point,) = _exported(reader).values()
    assert point["count"] == len(VALUES)
    assert point["sum"] == pytest.approx(math.fsum(VALUES))


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_values_record_refuses_are_dropped_as_record_drops_them(
    bad: float, span_context: Context, caplog: pytest.LogCaptureFixture
) -> None:
    _, (reader,), histogram = SETUPS["cumulative"].build()
    with caplog.at_level(logging.WARNING, logger="opentelemetry"):
        record_many(histogram, [0.5, bad, 0.25], ATTRIBUTES, span_context)
    (point,) = _exported(reader).values()
    assert (point["count"], point["sum"]) == (2, 0.75)
    assert any("Histogram" in record.getMessage() for record in caplog.records)


def test_another_metrics_implementation_gets_a_record_per_value(span_context: Context) -> None:
    calls: list[tuple[float, Context | None]] = []

    class Counting(APIHistogram):
        def __init__(self) -> None:
            super().__init__(NAME)

        def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
            calls.append((amount, context))

    assert not fast_path(Counting())
    record_many(Counting(), VALUES, ATTRIBUTES, span_context)
    assert [value for value, _ in calls] == VALUES
    assert calls[0][1] is span_context
    assert all(trace.get_current_span(context) is trace.INVALID_SPAN for _, context in calls[1:])


def test_over_the_cardinality_limit_the_values_go_to_the_overflow_point(
    span_context: Context,
) -> None:
    setup = Setup(readers=lambda: [InMemoryMetricReader(cardinality_limits={Histogram: 1})])
    _, (reader,), one_by_one = setup.build()
    _, (bulk_reader,), bulk = setup.build()
    for histogram in (one_by_one, bulk):
        histogram.record(1.0, {"other": "attributes"})
    _one_by_one(one_by_one, VALUES, span_context)
    record_many(bulk, VALUES, ATTRIBUTES, span_context)
    expected = _exported(reader)
    assert any(("otel.metric.overflow", True) in attributes for _, attributes in expected)
    _assert_same(expected, _exported(bulk_reader))
