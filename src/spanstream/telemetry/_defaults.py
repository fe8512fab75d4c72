"""What clients use when they are given no provider or capture setting: set by
:func:`~spanstream.configure`, read by :class:`~spanstream.telemetry.Instrumentation`.

Its own module, needing only the OpenTelemetry API, so that creating a client never imports the
SDK that :mod:`spanstream.telemetry.setup` builds on.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import _logs, metrics, trace

from .content import ContentCapture

__all__ = ["defaults"]


@dataclass
class _Defaults:
    """What clients use when they are given no provider or capture setting."""

    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    logger_provider: _logs.LoggerProvider | None = None
    capture_content: ContentCapture | None = None


defaults = _Defaults()
"""Set by :func:`~spanstream.configure`; read by :class:`~spanstream.telemetry.Instrumentation`."""
