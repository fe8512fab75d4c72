"""The inference span: one CLIENT span per stream, ended exactly once with its outcome."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import __version__
from ..observe import StreamResult
from ..providers.base import RequestInfo
from .attributes import (
    SPANSTREAM_EVENTS_MALFORMED,
    SPANSTREAM_EVENTS_UNKNOWN,
    SPANSTREAM_RETRIES,
    end_attributes,
    start_attributes,
)

__all__ = ["Instrumentation", "SpanObserver"]

_SCOPE = "spanstream"
_FAILURES = frozenset({"failed", "error"})


class Instrumentation:
    """A client's telemetry: where spans (and metrics) go. Created once per client, so the
    tracer and instruments are not looked up again for every stream."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        self.meter_provider = meter_provider

    def observer(self, parent: otel_context.Context | None = None) -> SpanObserver:
        """An observer for one stream whose span's parent is ``parent`` (default: the current
        context, i.e. where the user called ``stream(...)``)."""
        return SpanObserver(self, parent)


class SpanObserver:
    """Records one stream as a ``gen_ai`` inference span.

    The parent is the context current when the observer was created (where the user called
    ``stream(...)``), not wherever the stream happens to be consumed later.
    """

    __slots__ = ("_info", "_parent", "_span", "_tracer")

    def __init__(
        self,
        instrumentation: Instrumentation | None = None,
        parent: otel_context.Context | None = None,
    ) -> None:
        self._tracer = (instrumentation or Instrumentation()).tracer
        self._parent = parent if parent is not None else otel_context.get_current()
        self._span: trace.Span | None = None
        self._info: RequestInfo | None = None

    def start(self, info: RequestInfo, server_address: str | None, server_port: int | None) -> None:
        """Start the span with the attributes known before the request is sent."""
        self._span = self._tracer.start_span(
            f"{info.operation} {info.model}",
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes=start_attributes(info, server_address, server_port),
        )
        self._info = info

    def activate(self) -> AbstractContextManager[object]:
        """Make the span current for the duration of a ``with`` block."""
        if self._span is None:
            return nullcontext()
        return trace.use_span(self._span, end_on_exit=False, record_exception=False)

    def end(self, result: StreamResult) -> None:
        """Write the end attributes and end the span."""
        span = self._span
        info = self._info
        if span is None or info is None:
            return
        self._span = None
        span.set_attributes(
            end_attributes(
                info,
                result.response,
                outcome=result.outcome,
                error_type=result.error_type,
                time_to_first_chunk=result.timings.time_to_first_chunk,
                time_to_first_token=result.timings.time_to_first_token,
            )
        )
        counters = {
            SPANSTREAM_RETRIES: result.retries,
            SPANSTREAM_EVENTS_UNKNOWN: result.unknown_events,
            SPANSTREAM_EVENTS_MALFORMED: result.malformed_events,
        }
        span.set_attributes({name: count for name, count in counters.items() if count})
        if result.error is not None:
            span.record_exception(result.error)
        if result.outcome in _FAILURES:
            description = str(result.error) if result.error is not None else result.error_type
            span.set_status(Status(StatusCode.ERROR, description))
        span.end()
