"""OpenTelemetry for streams: the inference span (and, later, metrics and setup)."""

from .observer import SpanObserver

__all__ = ["SpanObserver"]
