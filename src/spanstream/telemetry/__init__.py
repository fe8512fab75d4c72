"""OpenTelemetry for streams: the inference span, metrics, content capture and setup.

``configure`` and ``TelemetryHandle`` (:mod:`spanstream.telemetry.setup`) are loaded on first
use: they import the OpenTelemetry SDK, which streaming itself never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .content import CapturedContent, CaptureMode, ContentCapture
from .observer import Instrumentation, SpanObserver

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

_FROM_SETUP = frozenset({"TelemetryHandle", "configure"})


def __getattr__(name: str) -> Any:
    # PEP 562: the SDK is imported by the first lookup of a name that needs it.
    if name in _FROM_SETUP:
        from . import setup

        value = getattr(setup, name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _FROM_SETUP)
