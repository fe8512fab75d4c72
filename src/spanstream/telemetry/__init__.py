"""OpenTelemetry for streams: the inference span, metrics and setup."""

from .observer import Instrumentation, SpanObserver

__all__ = ["Instrumentation", "SpanObserver"]
