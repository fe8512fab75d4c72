"""Checks of the ``OTEL_*`` variables :func:`spanstream.configure` reads or hands to the SDK.

The SDK parses most of them late and unevenly: a bad ``OTEL_BSP_MAX_QUEUE_SIZE`` or
``OTEL_METRIC_EXPORT_INTERVAL`` surfaces as a bare ``ValueError`` that names neither variable nor
value, a port that is not a number as ``int()``'s message, and some are replaced by a default
with only a log line. Checking them first turns each into a
:class:`~spanstream.errors.ConfigurationError` that names the variable and its value (never the
value of a variable that can hold a secret, such as the headers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["SIGNALS", "check_endpoint", "check_environment", "check_port", "shown_url"]

SIGNALS = ("traces", "metrics", "logs")


def _integer(minimum: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return int(value) >= minimum
        except ValueError:
            return False

    return check


def _number(
    minimum: float, *, inclusive: bool, maximum: float | None = None
) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            number = float(value)
        except ValueError:
            return False
        if number != number or (maximum is not None and number > maximum):  # NaN, too large
            return False
        return number >= minimum if inclusive else number > minimum

    return check


_POSITIVE_INTEGER = (_integer(1), "a positive integer")
_COUNT = (_integer(0), "a non-negative integer")
_POSITIVE = (_number(0, inclusive=False), "a positive number")


def _is_port(value: str) -> bool:
    return _integer(1)(value) and int(value) <= 65535


_PORT = (_is_port, "a port number (1-65535)")

# What the SDK (or the spec, where the SDK is silent) requires of each numeric variable.
# BatchSpanProcessor and BatchLogRecordProcessor reject a zero queue, batch or delay; the
# periodic metric reader rejects an interval <= 0; the OTLP timeouts are seconds in the Python
# exporters; span limits are counts (SpanLimits); the Prometheus port is a TCP port.
_NUMERIC: Mapping[str, tuple[Callable[[str], bool], str]] = {
    **{
        f"OTEL_{prefix}_{name}": _POSITIVE_INTEGER
        for prefix in ("BSP", "BLRP")
        for name in ("SCHEDULE_DELAY", "EXPORT_TIMEOUT", "MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE")
    },
    "OTEL_METRIC_EXPORT_INTERVAL": _POSITIVE,
    "OTEL_METRIC_EXPORT_TIMEOUT": _POSITIVE,
    "OTEL_EXPORTER_OTLP_TIMEOUT": _POSITIVE,
    **{f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT": _POSITIVE for signal in SIGNALS},
    "OTEL_EXPORTER_PROMETHEUS_PORT": _PORT,
    **{
        name: _COUNT
        for name in (
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        )
    },
}
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
_PROTOCOLS = ("grpc", "http/protobuf")
# The SDK's defaults, for the batch-size-versus-queue check (BatchSpanProcessor, BLRP).
_QUEUE_DEFAULTS = {"BSP": (2048, 512), "BLRP": (2048, 512)}


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigurationError` for the first malformed ``OTEL_*`` variable."""
    env = os.environ if environ is None else environ
    for name, (valid, expected) in _NUMERIC.items():
        value = env.get(name, "").strip()
        if value and not valid(value):
            raise ConfigurationError(f"{name}={value!r} is not valid: expected {expected}")
    for prefix, (queue_default, batch_default) in _QUEUE_DEFAULTS.items():
        queue = int(env.get(f"OTEL_{prefix}_MAX_QUEUE_SIZE", "").strip() or queue_default)
        batch = int(env.get(f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE", "").strip() or batch_default)
        if batch > queue:
            raise ConfigurationError(
                f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE={batch} is larger than "
                f"OTEL_{prefix}_MAX_QUEUE_SIZE={queue}"
            )
    if env.get("OTEL_TRACES_SAMPLER", "").strip().lower() in _RATIO_SAMPLERS:
        ratio = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
        if ratio and not _number(0, inclusive=True, maximum=1)(ratio):
            raise ConfigurationError(
                f"OTEL_TRACES_SAMPLER_ARG={ratio!r} is not valid: expected a ratio from 0 to 1"
            )
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", *_per_signal("PROTOCOL")):
        protocol = env.get(name, "").strip()
        if protocol and protocol not in _PROTOCOLS:
            raise ConfigurationError(
                f"{name}={protocol!r} is not supported: use grpc or http/protobuf"
            )
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", *_per_signal("ENDPOINT")):
        endpoint = env.get(name, "").strip()
        if endpoint:
            check_endpoint(name, endpoint)


def _per_signal(setting: str) -> tuple[str, ...]:
    return tuple(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{setting}" for signal in SIGNALS)


def check_endpoint(source: str, value: str) -> None:
    """``value`` must be ``http(s)://host[:port][/path]`` (or ``host:port``, which the gRPC
    exporter also accepts); ``source`` names where it came from in the error."""
    has_scheme = "://" in value
    try:
        parts = urlsplit(value if has_scheme else f"//{value}")
        port = parts.port  # raises for a port that is not a number or out of range
    except ValueError:
        parts, port = None, None
    problem = None
    if parts is None:
        problem = "its port is not a number from 0 to 65535"
    elif has_scheme and parts.scheme not in ("http", "https"):
        problem = "the scheme must be http or https"
    elif not parts.hostname:
        problem = "it has no host"
    elif not has_scheme and port is None:
        problem = "expected http(s)://host:port"
    if problem is not None:
        raise ConfigurationError(
            f"{source}={shown_url(value)!r} is not a valid endpoint: {problem}"
        )


def check_port(source: str, value: object) -> int:
    """``value`` as a TCP port, or a :class:`ConfigurationError` naming ``source``."""
    valid, expected = _PORT
    if isinstance(value, bool) or not valid(str(value)):
        raise ConfigurationError(f"{source}={value!r} is not valid: expected {expected}")
    return int(str(value))


def shown_url(value: str) -> str:
    """``value`` with any password in it replaced by ``***`` (safe for an error or log)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value.split("@")[-1]
    if parts.password is None:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
