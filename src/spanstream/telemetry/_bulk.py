"""Record many values of one histogram, with the same attributes, in one call.

Why this module exists: ``time_per_output_chunk`` is one histogram value per server-sent event
(the conventions' definition), and the OpenTelemetry API has no call that records several values
at once (open-telemetry/opentelemetry-specification#3369 asks for one). The SDK's
``Histogram.record`` cleans, copies and hashes the attributes, asks the exemplar filter and walks
every reader and view for each value, which for a stream costs several times what decoding its
events does. So when the histogram is the OpenTelemetry SDK's own, the values after the first go
straight into the aggregation of each reader and view: the same bucket counts, count, sum, min
and max that one ``record`` per value would leave, with one lock and one sort instead.

What it keeps as ``record`` does:

* the first value is recorded with ``record`` and the caller's context, so it is the one the
  exemplar filter sees (with the trace-based filter: an exemplar carrying the span's context), as
  before; the others are recorded without a span, which no built-in filter other than
  ``AlwaysOnExemplarFilter`` samples; with that one (or a filter of the user's) every value goes
  through ``record``;
* every reader (its temporality: a delta reader swaps its aggregations out when it collects, so
  the values go in under the same lock that collect takes) and every view that matches the
  instrument (renamed, attribute keys filtered, dropped, or another aggregation: those get
  ``aggregate`` once per value);
* the values are checked as ``record`` checks them (finite, not negative), else ``record`` does
  it value by value with its warnings.

It reaches into ``opentelemetry-sdk`` internals, so it looks up everything it needs before it
changes anything and falls back to ``record`` for each value when something is not there (another
SDK version, another metrics implementation, the API's proxy before a provider is set).
``tests/unit/test_bulk_record.py`` compares it with plain ``record`` in each of these setups and
fails when the SDK's internals change under it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from itertools import chain, pairwise, repeat
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics
from opentelemetry.util.types import AttributeValue

__all__ = ["fast_path", "record_many"]

_NO_EXEMPLAR = otel_context.Context()
"""An empty context: a measurement recorded in it is no exemplar candidate (no span)."""


def record_many(
    histogram: metrics.Histogram,
    values: Sequence[float],
    attributes: Mapping[str, AttributeValue],
    context: otel_context.Context | None = None,
    *,
    zeros: int = 0,
) -> None:
    """What ``histogram.record(v, attributes, context=...)`` for each value gives, for
    ``values`` and then ``zeros`` values of 0 (a count, not a list: a long stream's events are
    mostly zeros): the first in ``context`` (the exemplar candidate), the others in an empty
    context."""
    if not (values or zeros) or isinstance(histogram, metrics.NoOpHistogram):
        return  # what a no-op histogram's record() does for each value
    if values:
        histogram.record(values[0], attributes, context=context)
        rest = values[1:]  # a slice of the caller's buffer: sorted once, in aggregate()
    else:
        histogram.record(0.0, attributes, context=context)
        rest, zeros = (), zeros - 1
    if not (rest or zeros):
        return
    sdk = _sdk()
    target = _real(histogram)
    if sdk is None or target is None or not sdk.aggregate(target, rest, attributes, zeros):
        record = histogram.record
        for value in rest:
            record(value, attributes, context=_NO_EXEMPLAR)
        for _ in range(zeros):
            record(0.0, attributes, context=_NO_EXEMPLAR)


def fast_path(histogram: metrics.Histogram) -> bool:
    """Whether :func:`record_many` can aggregate this histogram's values in one call (the test
    of the SDK's internals asks this)."""
    sdk = _sdk()
    target = _real(histogram)
    return sdk is not None and target is not None and sdk.plan(target) is not None


def _real(histogram: object) -> object | None:
    """The SDK histogram behind ``histogram`` (the API's proxy forwards to one once a provider
    is set), or None."""
    sdk = _sdk()
    if sdk is None:
        return None
    if type(histogram) is sdk.proxy:
        histogram = getattr(histogram, "_real_instrument", None)
    return histogram if type(histogram) in sdk.histograms else None


class _Sdk:
    """The parts of ``opentelemetry-sdk`` this module uses, found by name."""

    def __init__(self) -> None:
        from opentelemetry.metrics._internal.instrument import _ProxyHistogram
        from opentelemetry.sdk.metrics import (
            AlwaysOffExemplarFilter,
            Histogram,
            TraceBasedExemplarFilter,
        )
        from opentelemetry.sdk.metrics._internal import (
            _view_instrument_match,
            aggregation,
            measurement,
            measurement_consumer,
            metric_reader_storage,
        )

        self.proxy: type = _ProxyHistogram
        # The SDK's meter makes a private subclass that adds nothing; a subclass of the user's
        # may override record(), so only these two take the fast path.
        classes: list[Any] = [Histogram, *Histogram.__subclasses__()]
        self.histograms = frozenset(cls for cls in classes if cls.record is Histogram.record)
        self.quiet_filters = (AlwaysOffExemplarFilter, TraceBasedExemplarFilter)
        self.consumer: Any = measurement_consumer.SynchronousMeasurementConsumer
        self.storage: Any = metric_reader_storage.MetricReaderStorage
        self.explicit: type = aggregation._ExplicitBucketHistogramAggregation
        self.drop: type = aggregation._DropAggregation
        self.measurement: type = measurement.Measurement
        self.hash_attributes: Callable[[Any], Any] = _view_instrument_match._hash_attributes
        for cls, names in (
            (self.storage, ("_get_or_init_view_instrument_match",)),
            (_view_instrument_match._ViewInstrumentMatch, ("_get_or_create_aggregation",)),
            (self.explicit, ("_get_empty_bucket_counts", "aggregate")),
        ):
            for name in names:
                if not callable(getattr(cls, name, None)):
                    raise AttributeError(f"{cls.__qualname__}.{name}")

    def plan(self, instrument: Any) -> list[Any] | None:
        """The view matches the values go to (one per reader and view), or None when this
        instrument cannot take the fast path. Changes nothing."""
        consumer = getattr(instrument, "_measurement_consumer", None)
        if type(consumer) is not self.consumer:
            return None
        config = getattr(consumer, "_sdk_config", None)
        if type(getattr(config, "exemplar_filter", None)) not in self.quiet_filters:
            return None
        storages = getattr(consumer, "_reader_storages", None)
        if not isinstance(storages, Mapping):
            return None
        matches = []
        for storage in storages.values():
            if type(storage) is not self.storage:
                return None
            for match in storage._get_or_init_view_instrument_match(instrument):
                view = getattr(match, "_view", None)
                if not hasattr(view, "_attribute_keys") or not hasattr(match, "_lock"):
                    return None
                matches.append(match)
        return matches

    def aggregate(
        self,
        instrument: Any,
        values: Sequence[float],
        attributes: Mapping[str, AttributeValue],
        zeros: int = 0,
    ) -> bool:
        """Aggregate ``values`` and ``zeros`` values of 0 (recorded without a span) into every
        reader and view of ``instrument``; False, having changed nothing, when this instrument
        cannot."""
        enabled: Any = getattr(instrument, "_is_enabled", None)
        matches = self.plan(instrument) if callable(enabled) else None
        if matches is None:
            return False
        if not enabled():
            return True  # a disabled meter's record() records nothing
        ordered = sorted(values)
        if ordered and not (ordered[0] >= 0 and math.isfinite(ordered[-1])):
            return False  # record() warns about each such value and drops it
        batch = _Batch(ordered, sum(ordered), zeros)
        # One Measurement for the whole batch: constructing it cleans the attributes as
        # record() does, so the key below is the one the first value was aggregated under.
        measurement = self.measurement(batch.low, time_ns(), instrument, _NO_EXEMPLAR, attributes)
        cleaned: Mapping[str, Any] = measurement.attributes or {}
        for match in matches:
            keys = match._view._attribute_keys
            kept = {k: v for k, v in cleaned.items() if keys is None or k in keys}
            key = self.hash_attributes(kept)
            # The view match's lock is the one its collect() holds while a delta reader swaps
            # the aggregations out: a batch lands wholly before or after a collection.
            with match._lock:
                found = match._get_or_create_aggregation(key, kept)
                if type(found) is self.explicit and _explicit_fits(found):
                    batch.add_to(found)
                elif type(found) is not self.drop:
                    # In the order recorded: a last-value or exponential aggregation reads it.
                    for value in chain(values, repeat(0.0, zeros)):
                        found.aggregate(dataclasses.replace(measurement, value=value), False)
        return True


@dataclasses.dataclass(slots=True)
class _Batch:
    ordered: list[float]
    """The values besides the zeros, in order (none negative)."""
    total: float
    zeros: int = 0
    """How many values of 0 come with them."""
    counts: dict[tuple[float, ...], list[int]] = dataclasses.field(default_factory=dict)

    @property
    def low(self) -> float:
        return 0.0 if self.zeros or not self.ordered else self.ordered[0]

    @property
    def high(self) -> float:
        return self.ordered[-1] if self.ordered else 0.0

    def bucket_counts(self, bounds: tuple[float, ...]) -> list[int]:
        """How many values fall in each bucket: bucket ``i`` holds ``bounds[i-1] < v <=
        bounds[i]``, as the SDK's ``bisect_left`` per value puts them (a zero below every
        bound that is not negative)."""
        counts = self.counts.get(bounds)
        if counts is None:
            zeros = self.zeros
            at_most = [
                0,
                *(bisect_right(self.ordered, b) + (zeros if b >= 0 else 0) for b in bounds),
            ]
            at_most.append(len(self.ordered) + zeros)
            counts = [high - low for low, high in pairwise(at_most)]
            self.counts[bounds] = counts
        return counts

    def add_to(self, aggregation: Any) -> None:
        counts = self.bucket_counts(aggregation._boundaries)
        with aggregation._lock:
            if aggregation._value is None:
                aggregation._value = aggregation._get_empty_bucket_counts()
            buckets = aggregation._value
            for index, count in enumerate(counts):
                if count:
                    buckets[index] += count
            aggregation._sum += self.total
            if aggregation._record_min_max:
                aggregation._min = min(aggregation._min, self.low)
                aggregation._max = max(aggregation._max, self.high)


_EXPLICIT_FIELDS = ("_lock", "_value", "_sum", "_min", "_max", "_record_min_max", "_boundaries")


def _explicit_fits(aggregation: Any) -> bool:
    """The explicit-bucket aggregation still has the fields :class:`_Batch` updates."""
    if not all(hasattr(aggregation, name) for name in _EXPLICIT_FIELDS):
        return False
    value = aggregation._value
    return value is None or len(value) == len(aggregation._boundaries) + 1


_SDK: _Sdk | None = None
_SDK_MISSING = False


def _sdk() -> _Sdk | None:
    """The SDK's parts, once its metrics package is imported (spanstream never imports it for
    this: an SDK histogram means it is loaded), or None when they are not all there."""
    global _SDK, _SDK_MISSING
    if _SDK is not None or _SDK_MISSING:
        return _SDK
    if "opentelemetry.sdk.metrics" not in sys.modules:
        return None
    try:
        _SDK = _Sdk()
    except (ImportError, AttributeError):
        _SDK_MISSING = True
    return _SDK
