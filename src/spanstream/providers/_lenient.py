"""What the provider parsers share about bad input: decode leniently, skip or raise, never echo.

A payload that cannot be decoded is skipped, logged and counted, or raises
:class:`~spanstream.errors.MalformedEvent` in strict mode. The log line and the exception name the
offending field but never include the payload (it may hold user content).
"""

from __future__ import annotations

import json
import logging
from typing import TypeAlias

from pydantic import ValidationError

from ..errors import MalformedEvent
from ..events import StreamEvent
from ..sse import ServerSentEvent

__all__ = ["DONE", "Data", "Lenient", "describe", "loads", "text_of"]

Data: TypeAlias = str | bytes
"""An event's data: ``bytes`` from the streams (UTF-8, already checked), ``str`` when a caller
feeds :class:`~spanstream.sse.ServerSentEvent` objects."""


DONE = (b"[DONE]", "[DONE]")
"""The Chat Completions end-of-stream sentinel (also sent by some servers on other APIs), as
``bytes`` (from the streams) or ``str``."""


def text_of(data: Data) -> str:
    """The data as ``str`` (for the rare paths that need text: unknown events, error logs)."""
    return data.decode() if isinstance(data, bytes) else data


def loads(data: Data) -> object:
    """Decode JSON, or ``None`` if it is not (deep nesting included)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def describe(exc: Exception) -> str:
    """A one-line reason that names the offending field but never echoes the payload."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "payload"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{location}: {first['msg']}{more}"
    return type(exc).__name__


class Lenient:
    """Base of the parsers: counts the events it skips, or raises on the first when strict.

    Subclasses set :attr:`api` (named in messages) and :attr:`logger`.
    """

    api = "provider"
    logger = logging.getLogger("spanstream.providers")

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.malformed_count = 0
        """Events skipped because their payload could not be decoded."""

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Parse one server-sent event into zero or more normalized events."""
        return self.feed_raw(sse.event, sse.data)

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event given as its type and its data (``bytes`` as
        :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns it, or ``str``)."""
        raise NotImplementedError

    def _skip_malformed(
        self, type_name: str | None, reason: str, sequence_number: int | None = None
    ) -> None:
        where = f" (sequence_number={sequence_number})" if sequence_number is not None else ""
        message = f"malformed {self.api} event {type_name or '<untyped>'}{where}: {reason}"
        if self.strict:
            # Not chained: the pydantic error being handled quotes the payload, which a
            # recorded exception's stack trace must not carry (content capture may be off).
            raise MalformedEvent(
                message, event_type=type_name, sequence_number=sequence_number
            ) from None
        self.malformed_count += 1
        self.logger.warning("skipped %s", message)
