"""Deadlines that span many reads: the idle timeout between events and the drain after the end.

httpx's read timeout restarts with every network read, so it cannot bound what a stream needs
bounded: a server that sends only keep-alive comments resets it forever, and a server that keeps
the body open after the terminal event holds the reader for the whole read timeout. Both need a
deadline across reads, on the sync and the async path alike.

One daemon thread serves every stream of the process. A stream registers a :class:`Watch` with
its socket once the response headers have arrived and withdraws it when it closes; between the
two the stream does nothing for it: the thread reads the time of the last event from the
stream's timings, which the stream keeps anyway. When a watch's deadline passes,
the thread records why on the watch and shuts the socket down: a blocked read (a sync ``recv``
or the event loop's) then returns end-of-file at once, and the stream reports the reason it
finds on the watch instead of the broken connection. ``shutdown`` acts on the connection, not on
the file descriptor, so it is safe from another thread; the descriptor stays owned (and closed)
by the transport.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Literal, Protocol

__all__ = ["Watch", "shut", "socket_of", "watchdog"]

Reason = Literal["idle", "drain"]


def socket_of(extensions: object) -> object | None:
    """The socket under an httpcore HTTP/1.1 response (its ``network_stream`` extension), or
    ``None``: other transports (in-memory, WSGI/ASGI, a user's own) and HTTP/2, whose socket
    carries other streams too and must never be shut down for one of them."""
    if not isinstance(extensions, dict):
        return None
    if extensions.get("http_version", b"HTTP/1.1") not in (b"HTTP/1.1", b"HTTP/1.0"):
        return None
    stream = extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    if get_extra_info is None:
        return None
    try:
        sock: object | None = get_extra_info("socket")
    except Exception:  # a transport that knows no such key
        return None
    return sock if callable(getattr(sock, "shutdown", None)) else None


def shut(sock: object) -> None:
    """Shut the connection of ``sock`` down (safe from any thread: see the module's rules)."""
    try:
        if isinstance(sock, socket.socket):
            # The base method even for an SSLSocket: SSLSocket.shutdown also drops its SSL
            # object, which the reading thread may be using.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:
            sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
    except (OSError, ValueError):
        pass  # already closed or shut down


class _Timings(Protocol):
    @property
    def last_chunk(self) -> float | None: ...


class Watch:
    """The deadlines of one stream's connection (``time.perf_counter`` seconds).

    Idle: no event for ``idle_timeout`` since the later of ``armed`` and the last event
    (``timings.last_chunk``, kept by the stream). Drain: ``drain_until``, set when the terminal
    event has arrived. ``fired`` says which passed, once the socket was shut down for it.
    """

    __slots__ = ("armed", "drain_until", "fired", "idle_timeout", "sock", "timings")

    def __init__(
        self, sock: object, idle_timeout: float | None, timings: _Timings, now: float
    ) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.timings = timings
        self.armed = now
        self.drain_until: float | None = None
        self.fired: Reason | None = None

    def due(self) -> tuple[float, Reason] | None:
        """The earliest deadline and its reason, or ``None``."""
        drain = self.drain_until
        idle = self.idle_timeout
        idle_due = None
        if idle is not None:
            last = self.timings.last_chunk
            idle_due = (self.armed if last is None or last < self.armed else last) + idle
        if drain is not None and (idle_due is None or drain <= idle_due):
            return drain, "drain"
        if idle_due is not None:
            return idle_due, "idle"
        return None


class _Watchdog:
    """The thread that enforces every registered :class:`Watch`."""

    def __init__(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        self._watches: set[Watch] = set()
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the thread looks next (None: when woken)

    def add(self, watch: Watch) -> None:
        with self._lock:
            self._watches.add(watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="spanstream-watchdog", daemon=True
                )
                self._thread.start()
            self._wake_if_earlier(watch)

    def changed(self, watch: Watch) -> None:
        """``watch``'s deadline moved earlier (its drain began)."""
        with self._lock:
            self._wake_if_earlier(watch)

    def _wake_if_earlier(self, watch: Watch) -> None:
        # Waking the thread costs a context switch: only when it would otherwise sleep past
        # the new deadline (the common add, a 600 s idle timeout, wakes nothing).
        due = watch.due()
        if due is not None and (self._wake_at is None or due[0] < self._wake_at):
            self._wake_at = due[0]
            self._lock.notify()

    def discard(self, watch: Watch) -> None:
        """Withdraw ``watch``: once this returns, its socket is never shut down by the thread."""
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        lock = self._lock
        with lock:
            while True:
                now = time.perf_counter()
                wake_at: float | None = None
                for watch in list(self._watches):
                    due = watch.due()
                    if due is None:
                        continue
                    deadline, reason = due
                    if deadline <= now:
                        watch.fired = reason
                        self._watches.discard(watch)
                        shut(watch.sock)
                    elif wake_at is None or deadline < wake_at:
                        wake_at = deadline
                # Idle deadlines only move later between wake-ups (events push them), so
                # sleeping until the earliest one seen is never late; add() and changed() wake
                # the thread for new or earlier deadlines.
                self._wake_at = wake_at
                lock.wait(None if wake_at is None else max(0.0, wake_at - now))


watchdog = _Watchdog()
