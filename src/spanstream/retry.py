"""When and how long to wait before retrying a request that has not started streaming."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ._record import Record

__all__ = ["RETRYABLE_STATUS", "RetryPolicy"]

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Statuses retried besides every 5xx."""

_MAX_RETRY_AFTER = 60.0
_DISCONNECTED_WITHOUT_RESPONSE = "Server disconnected without sending a response"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RetryPolicy(Record):
    """Retries with exponential backoff and jitter, before the first byte of a response only.

    Retried: connection failures (connect errors and connect timeouts), a connection the server
    closed without answering (see :meth:`should_retry_error`), HTTP 408, 409, 429 and 5xx. A
    ``Retry-After`` (or ``retry-after-ms``) header of up to 60 seconds is honoured instead of
    the computed delay. Once a response has started streaming nothing is retried:
    the caller has already seen events.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    """Fraction of the delay that is randomised (0 = none)."""

    def should_retry_status(self, status_code: int) -> bool:
        """Whether an HTTP status is worth another attempt."""
        return status_code in RETRYABLE_STATUS or status_code >= 500

    def should_retry_error(self, error: httpx.TransportError) -> bool:
        """Whether a transport error raised while sending (before any response) is worth
        another attempt: a connection that could not be made, or one the server closed without
        sending a response. The second is what a keep-alive connection the server closed as
        idle gives when the request was already on its way; the official OpenAI and Anthropic
        SDKs retry it too. Any other error (a read timeout, a malformed response) is not
        retried: the server may be generating an answer to the request."""
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
            return True
        # httpcore's message (http11.py, ``_receive_event``) for EOF while the server's state
        # is still SEND_RESPONSE: no response head has been received. The message is the only
        # thing that tells it from other protocol errors.
        return isinstance(error, httpx.RemoteProtocolError) and str(error).startswith(
            _DISCONNECTED_WITHOUT_RESPONSE
        )

    def delay(
        self,
        attempt: int,
        headers: httpx.Headers | None = None,
        *,
        rand: Callable[[], float] = random.random,
        now: Callable[[], float] = time.time,
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        retry_after = _retry_after(headers, now) if headers is not None else None
        if retry_after is not None:
            return retry_after
        # Cap the exponent first: 2.0 ** 1024 overflows.
        base: float = min(self.initial_delay * 2.0 ** min(attempt, 64), self.max_delay)
        return base * (1.0 - self.jitter * rand())


def _retry_after(headers: httpx.Headers, now: Callable[[], float]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    seconds: float | None = None
    if milliseconds is not None:
        try:
            seconds = float(milliseconds) / 1000.0
        except ValueError:
            seconds = None
    if seconds is None:
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                return None
            seconds = email.utils.mktime_tz(parsed) - now()
    if 0 <= seconds <= _MAX_RETRY_AFTER:
        return seconds
    return None
