"""OpenTelemetry for streams: the inference span, metrics, content capture and setup."""

from .content import CapturedContent, CaptureMode, ContentCapture
from .observer import Instrumentation, SpanObserver
from .setup import TelemetryHandle, configure

__all__ = [
    "CaptureMode",
    "CapturedContent",
    "ContentCapture",
    "Instrumentation",
    "SpanObserver",
    "TelemetryHandle",
    "configure",
]
