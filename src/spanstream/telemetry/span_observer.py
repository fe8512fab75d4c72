"""The inference span: one CLIENT span per stream, ended exactly once with its outcome; the
metrics and the opt-in content of that stream, recorded when it ends."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry import context as otel_context
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

from .. import __version__
from .._request import FETCH_RESPONSE, RequestInfo
from .._text import usv
from ..results import StreamResult
from ._defaults import defaults
from .attributes import (
    SPANSTREAM_EVENTS_IGNORED,
    SPANSTREAM_EVENTS_MALFORMED,
    SPANSTREAM_EVENTS_UNKNOWN,
    SPANSTREAM_RETRIES,
    end_attributes,
    start_attributes,
    use_latest_conventions,
)
from .content import CapturedContent, CaptureMode, ContentCapture, output_messages, to_json
from .metrics import StreamMetrics

__all__ = ["DETAILS_EVENT", "Instrumentation", "SpanObserver", "error_status"]

logger = logging.getLogger("spanstream")

_SCOPE = "spanstream"
_FAILURES = frozenset({"failed", "error"})
DETAILS_EVENT = "gen_ai.client.inference.operation.details"


class Instrumentation:
    """A client's telemetry: where spans, metrics and content events go, and what content is
    captured. Created once per client, so the tracer and instruments are not looked up again
    for every stream.

    ``capture_content``: a :class:`ContentCapture`, a :class:`CaptureMode`, a mode name or a
    bool; ``None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (default: no
    content). ``time_per_output_chunk=False`` leaves out the one metric recorded per event (see
    :class:`~spanstream.telemetry.metrics.StreamMetrics`). ``estimate_usage=True`` writes an
    estimated output token count (``Usage.estimated``: the server sent none) into
    ``gen_ai.usage.output_tokens`` and the token metrics, still marked
    ``spanstream.usage.estimated``; by default only ``spanstream.usage.*`` carries it.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: _logs.LoggerProvider | None = None,
        capture_content: ContentCapture | CaptureMode | str | bool | None = None,
        *,
        time_per_output_chunk: bool = True,
        estimate_usage: bool = False,
    ) -> None:
        self.latest = use_latest_conventions()
        """Whether this client uses the latest GenAI names (read once, for spans and metrics)."""
        self.estimate_usage = estimate_usage
        """Whether estimated output counts go into the conventions' attributes and metrics."""
        # Explicit arguments first, then what spanstream.configure() set, then the globals.
        # A provider that fails here (a broken or half-configured SDK) costs its telemetry, never
        # the client: that signal falls back to no-op, and the failure is logged once.
        tracer_provider = tracer_provider or defaults.tracer_provider
        try:
            tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        except Exception:
            _failed_once("tracer provider", tracer_provider)
            tracer = trace.NoOpTracer()
        self.tracer: trace.Tracer = _GuardedTracer(tracer)
        meter_provider = meter_provider or defaults.meter_provider
        try:
            self.metrics = StreamMetrics(
                meter_provider,
                latest=self.latest,
                per_chunk=time_per_output_chunk,
                estimates=estimate_usage,
            )
        except Exception:
            _failed_once("meter provider", meter_provider)
            self.metrics = StreamMetrics(NoOpMeterProvider(), latest=self.latest)
        if capture_content is None and defaults.capture_content is not None:
            capture_content = defaults.capture_content
        self.content = ContentCapture.of(capture_content)
        self._logger_provider = logger_provider or defaults.logger_provider
        self._event_logger: _logs.Logger | None = None

    @property
    def event_logger(self) -> _logs.Logger:
        """The logger that emits the details event (looked up on first use)."""
        if self._event_logger is None:
            try:
                self._event_logger = _logs.get_logger(
                    _SCOPE, __version__, logger_provider=self._logger_provider
                )
            except Exception:
                _failed_once("logger provider", self._logger_provider)
                self._event_logger = _logs.NoOpLogger(_SCOPE)
        return self._event_logger

    def observer(self, parent: otel_context.Context | None = None) -> SpanObserver:
        """An observer for one stream whose span's parent is ``parent`` (default: the current
        context, i.e. where the user called ``stream(...)``)."""
        return SpanObserver(self, parent)


_FAILED: set[tuple[str, str]] = set()


def _failed_once(what: str, provider: object) -> None:
    """Log a provider's failure with its traceback, once per kind of provider and process."""
    key = (what, type(provider).__qualname__)
    if key not in _FAILED:
        _FAILED.add(key)
        logger.warning(
            "spanstream: the %s (%s) failed; its telemetry is off (no-op) for the clients that "
            "use it, streaming is not affected",
            what,
            key[1],
            exc_info=True,
        )


class _GuardedTracer(trace.Tracer):
    """The provider's tracer, except that a span it fails to start is a non-recording one."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        try:
            return self._tracer.start_span(
                name,
                context,
                kind,
                attributes,
                links,
                start_time,
                record_exception,
                set_status_on_exception,
            )
        except Exception:
            _failed_once("tracer", self._tracer)
            return trace.INVALID_SPAN

    def start_as_current_span(  # type: ignore[override]  # the API's decorated signature
        self, name: str, *args: Any, **kwargs: Any
    ) -> AbstractContextManager[trace.Span]:
        return self._tracer.start_as_current_span(name, *args, **kwargs)


def error_status(description: str | None) -> Status:
    """An ERROR status the exporters can encode: the OTLP encoder fails the whole batch a span
    is exported in for a lone surrogate in its status (_text.py); an error's message may hold
    one (a tool's, say)."""
    return Status(StatusCode.ERROR, description and usv(description))


class SpanObserver:
    """Records one stream as a ``gen_ai`` inference span, its metrics and (opt-in) content.

    The parent is the context current when the observer was created (where the user called
    ``stream(...)``), not wherever the stream happens to be consumed later.
    """

    __slots__ = ("_info", "_instrumentation", "_parent", "_server", "_span")

    def __init__(
        self,
        instrumentation: Instrumentation | None = None,
        parent: otel_context.Context | None = None,
    ) -> None:
        self._instrumentation = instrumentation or Instrumentation()
        self._parent = parent if parent is not None else otel_context.get_current()
        self._span: trace.Span | None = None
        self._info: RequestInfo | None = None
        self._server: tuple[str | None, int | None] = (None, None)

    def start(self, info: RequestInfo, server_address: str | None, server_port: int | None) -> None:
        """Start the span with the attributes known before the request is sent."""
        self._info = info
        self._server = (server_address, server_port)
        self._span = self._instrumentation.tracer.start_span(
            f"{info.operation} {info.model}" if info.model is not None else info.operation,
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes=start_attributes(info, server_address, server_port),
        )

    def activate(self) -> AbstractContextManager[object]:
        """Make the span current for the duration of a ``with`` block."""
        if self._span is None:
            return nullcontext()
        return trace.use_span(self._span, end_on_exit=False, record_exception=False)

    def end(self, result: StreamResult) -> None:
        """Write the end attributes, end the span, then record metrics and content."""
        span = self._span
        info = self._info
        if span is None or info is None:
            return
        self._span = None
        if _fetched_failure(info, result):
            result = dataclasses.replace(result, error=None, error_type=None)
        if not span.is_recording():
            # Sampled out (or no SDK): skip building attributes; metrics still count the stream.
            span.end()
            self._record_metrics(info, result, trace.set_span_in_context(span))
            return
        try:
            attributes, content = self._annotate(span, info, result)
        finally:
            # Whatever went wrong above (a telemetry bug), the span still ends exactly once.
            span.end()

        span_context = trace.set_span_in_context(span)
        self._record_metrics(info, result, span_context)
        if content is not None and self._instrumentation.content.emits_event:
            self._emit_details(span, attributes, content, span_context)

    def _annotate(
        self, span: trace.Span, info: RequestInfo, result: StreamResult
    ) -> tuple[dict[str, AttributeValue], CapturedContent | None]:
        """Set the end attributes, content and status on the span (not yet ended)."""
        attributes = end_attributes(
            info,
            result.response,
            outcome=result.outcome,
            error_type=result.error_type,
            time_to_first_chunk=result.timings.time_to_first_chunk,
            time_to_first_token=result.timings.time_to_first_token,
            latest=self._instrumentation.latest,
            estimates=self._instrumentation.estimate_usage,
        )
        counters = {
            SPANSTREAM_RETRIES: result.retries,
            SPANSTREAM_EVENTS_UNKNOWN: result.unknown_events,
            SPANSTREAM_EVENTS_MALFORMED: result.malformed_events,
            SPANSTREAM_EVENTS_IGNORED: result.ignored_events,
        }
        attributes.update({name: count for name, count in counters.items() if count})
        span.set_attributes(attributes)
        content = self._content(info, result)
        if content is not None and self._instrumentation.content.mode.on_span:
            span.set_attributes(_content_attributes(content))
        if result.error is not None:
            span.record_exception(result.error)
        if result.outcome in _FAILURES and not _fetched_failure(info, result):
            description = str(result.error) if result.error is not None else result.error_type
            span.set_status(error_status(description))
        return attributes, content

    def _record_metrics(
        self, info: RequestInfo, result: StreamResult, context: otel_context.Context
    ) -> None:
        try:
            self._instrumentation.metrics.record(info, result, *self._server, context)
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream failed to record metrics")

    def _content(self, info: RequestInfo, result: StreamResult) -> CapturedContent | None:
        capture = self._instrumentation.content
        if not capture.enabled or info.family != "inference":
            # Content is the inference span's: the embeddings span defines none
            # (client-embeddings.md @88eccb1), so its input is never captured.
            return None
        try:
            request = info.content() if info.content is not None else None
            content = CapturedContent(
                input_messages=request.input_messages if request else [],
                output_messages=output_messages(
                    result.response,
                    outcome=result.outcome,
                    latest=self._instrumentation.latest,
                ),
                system_instructions=request.system_instructions if request else None,
                tool_definitions=request.tool_definitions if request else None,
            )
            return capture.prepare(content)
        except Exception:
            logger.exception("spanstream failed to capture content")
            return None

    def _emit_details(
        self,
        span: trace.Span,
        attributes: dict[str, AttributeValue],
        content: CapturedContent,
        context: otel_context.Context,
    ) -> None:
        # The event carries the span's attributes with the content in structured form, as
        # attributes, not in the body (client-inference.md @024a4f9: on events content "MUST
        # be structured"); the span's JSON-string copies (SPAN_AND_EVENT) are left out.
        recorded = getattr(span, "attributes", None) or {}
        event_attributes: dict[str, object] = {
            name: value for name, value in recorded.items() if name not in _CONTENT_NAMES
        }
        event_attributes.update(attributes)
        event_attributes.update(_content_fields(content))
        try:
            self._instrumentation.event_logger.emit(
                event_name=DETAILS_EVENT,
                context=context,
                severity_number=_logs.SeverityNumber.INFO,
                attributes=event_attributes,  # type: ignore[arg-type]
            )
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream failed to emit the details event")


def _fetched_failure(info: RequestInfo, result: StreamResult) -> bool:
    """A fetch of a response whose generation had failed: the fetch itself did not fail
    (openai.md @024a4f9), so no error status, ``error.type`` or exception is recorded for it."""
    return result.outcome == "failed" and info.operation == FETCH_RESPONSE


_CONTENT_NAMES = frozenset(
    {
        gen_ai.GEN_AI_INPUT_MESSAGES,
        gen_ai.GEN_AI_OUTPUT_MESSAGES,
        gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
        gen_ai.GEN_AI_TOOL_DEFINITIONS,
    }
)


def _content_fields(content: CapturedContent) -> dict[str, object]:
    """The captured content under the conventions' names (no input messages for a fetch, which
    sends none; no output messages for a stream that produced none)."""
    fields: dict[str, object] = {}
    if content.input_messages:
        fields[gen_ai.GEN_AI_INPUT_MESSAGES] = content.input_messages
    if content.output_messages:
        fields[gen_ai.GEN_AI_OUTPUT_MESSAGES] = content.output_messages
    if content.system_instructions is not None:
        fields[gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS] = content.system_instructions
    if content.tool_definitions is not None:
        fields[gen_ai.GEN_AI_TOOL_DEFINITIONS] = content.tool_definitions
    return fields


def _content_attributes(content: CapturedContent) -> dict[str, AttributeValue]:
    return {name: to_json(value) for name, value in _content_fields(content).items()}
