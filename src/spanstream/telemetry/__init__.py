"""OpenTelemetry for streams: the inference span, metrics, content capture and setup.

``configure`` and ``TelemetryHandle`` (:mod:`spanstream.telemetry.setup`) are loaded on first
use: they import the OpenTelemetry SDK, which streaming itself never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .content import CapturedContent, CaptureMode, ContentCapture
from .span_observer import Instrumentation, SpanObserver

if TYPE_CHECKING:
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

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_attributes(
        __name__, {"spanstream.telemetry.setup": ["TelemetryHandle", "configure"]}
    )
