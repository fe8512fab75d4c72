"""Keep the API key out of every string spanstream builds, even when a server echoes it.

A server may echo the key anywhere it writes text: a request id header, an error body, an SSE
``error`` event, ``response.failed``'s message. What spanstream builds from those strings
(exception messages, request ids, span status descriptions, exception events, log records) goes
through :class:`Scrubber`, which removes:

* the client's own key, and any piece of it of :data:`MIN_PIECE` characters or more, so that a
  key echoed minus a few characters, or cut by a server's truncation, is still removed. This is
  the key's value, whatever its form: gateway keys without an ``sk-`` prefix too;
* anything shaped like an OpenAI or Anthropic key (``sk-...``), whoever's it is;
* the value of a credential header a server echoes (``Authorization: Bearer ...``,
  ``x-api-key: ...``), but not the header's name: Anthropic's 401 says "invalid x-api-key",
  which names the header and must stay readable.

httpcore logs every response header at DEBUG: :func:`protect_logs` adds a filter to its loggers
and spanstream's that applies the same scrubbing to their records, for the keys of every live
client. :func:`scrub_exception` is the last net for an error a stream ends with, whatever built
its message.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Callable

__all__ = ["LOGGERS", "MIN_PIECE", "Scrubber", "protect_logs", "scrub_exception"]

MIN_PIECE = 8
"""The shortest piece of a key that is removed wherever it appears."""

REDACTED = "***"

_KEY_PATTERN = re.compile(r"\b(?:sk|sk-ant|sk-proj)-[A-Za-z0-9_\-*]{6,}")
# A credential header's value as a server echoes it: the name and its separator stay.
_CREDENTIAL_VALUE = re.compile(
    r"(?i)(\b(?:(?:proxy-)?authorization|x-api-key|api-key)\b\s*[:=]\s*)"
    r"(?:(?:bearer|basic)\s+)?[^\s,;\"']+"
)
# "Bearer <token>" anywhere: a token-like run (not a word such as "token" in prose).
_BEARER_VALUE = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}")


class Scrubber:
    """Removes one API key (and the patterns above) from text. Call it like a function."""

    __slots__ = ("__weakref__", "_key", "_pieces")

    def __init__(self, key: str) -> None:
        self._key = key
        # Every MIN_PIECE-long window of the key: a text holding any longer piece of the key
        # holds one of these. A key shorter than that (a placeholder such as "test") is no
        # secret worth cutting words out of every message for.
        self._pieces = frozenset(key[i : i + MIN_PIECE] for i in range(len(key) - MIN_PIECE + 1))

    def __call__(self, text: str) -> str:
        if self._pieces and any(piece in text for piece in self._pieces):
            text = self._remove_pieces(text)
        text = _CREDENTIAL_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
        text = _BEARER_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
        return _KEY_PATTERN.sub(REDACTED, text)

    def _remove_pieces(self, text: str) -> str:
        """Replace every maximal run of ``text`` that is a piece of the key (at least
        MIN_PIECE long) with one marker. Only reached when a piece was found."""
        key = self._key
        pieces = self._pieces
        out: list[str] = []
        i = kept = 0
        while i <= len(text) - MIN_PIECE:
            if text[i : i + MIN_PIECE] not in pieces:
                i += 1
                continue
            end = i + MIN_PIECE
            while end < len(text) and text[i : end + 1] in key:
                end += 1
            out.append(text[kept:i])
            out.append(REDACTED)
            i = kept = end
        out.append(text[kept:])
        return "".join(out)


class _ScrubbingFilter(logging.Filter):
    """Scrubs the message of every record with every live client's key."""

    def __init__(self) -> None:
        super().__init__("spanstream-secrets")
        self.scrubbers: weakref.WeakSet[Scrubber] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        scrubbers = list(self.scrubbers)
        if not scrubbers:
            return True
        message = original = record.getMessage()
        for scrub in scrubbers:
            message = scrub(message)
        if message != original:
            record.msg = message
            record.args = None
        return True


_filter = _ScrubbingFilter()
_lock = threading.Lock()
# The loggers whose records may quote what a server sent: httpcore's, which write response
# headers, and spanstream's own (an event type, say). A filter on a parent logger does not apply
# to records of its children, so each is named.
LOGGERS = (
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.connection",
    "httpcore.proxy",
    "httpx",
    "spanstream",
    "spanstream.providers",
    "spanstream.telemetry",
    "spanstream.providers.openai_responses",
    "spanstream.providers.openai_chat",
    "spanstream.providers.anthropic_messages",
)


def protect_logs(scrubber: Scrubber) -> None:
    """Scrub ``scrubber``'s key from the records of :data:`LOGGERS` while it lives."""
    with _lock:
        if not _filter.scrubbers:
            for name in LOGGERS:
                logger = logging.getLogger(name)
                if _filter not in logger.filters:
                    logger.addFilter(_filter)
        _filter.scrubbers.add(scrubber)


_ERROR_FIELDS = ("message", "code", "error_type", "param", "request_id", "event_type")


def scrub_exception(error: BaseException, scrub: Callable[[str], str]) -> None:
    """Scrub an exception's message and its text fields in place (its ``str``, what a span's
    status and exception event show, is built from ``args``)."""
    args = error.args
    if args and isinstance(args[0], str):
        clean = scrub(args[0])
        if clean != args[0]:
            error.args = (clean, *args[1:])
    for name in _ERROR_FIELDS:
        value = getattr(error, name, None)
        if isinstance(value, str):
            clean = scrub(value)
            if clean != value:
                setattr(error, name, clean)
