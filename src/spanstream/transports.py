"""The connection pool of the HTTP client spanstream creates: httpx's own, split into shards.

httpcore 1.0.9's pool re-examines every connection it holds each time a request starts or a
response ends, and for each idle one counts them all again (encode/httpcore#1035): the work per
stream grows with the number of streams open at once, so many streams on one pool cost more CPU
per event than the same streams in sequence (``benchmarks/RESULTS.md``, loopback section).
The transports here spread requests over up to :data:`SHARDS` ordinary httpx transports, each
with its share of the limits; a request goes to the first shard with the fewest open responses,
so that one request after another keeps reusing one keep-alive connection and concurrent ones
fill the shards evenly.

httpcore closes an expired keep-alive connection only when its own pool is used again, and one
request after another only ever uses the first shard: after a burst, the connections of the
other shards would stay open for good. So when a request starts, a shard that has had no open
response for longer than the keep-alive expiry (``limits.keepalive_expiry``, httpx's 5 s by
default) is closed, as a whole, and made again if it is picked later: all its connections are
idle and have expired (each became idle no later than the shard did), so this closes exactly
what httpcore would close if it looked. The check is one clock read and a comparison per
request; the shards are only walked once one of them is due.

The HTTP client spanstream creates uses them unless a proxy is configured in the environment
(``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY``): a client given a transport stops reading those,
so with a proxy the client is a plain httpx client, exactly as httpx builds it. A service that
brings its own client (a proxy, its own certificates, event hooks) gets the same pool by giving
that client one of these transports, ``spanstream.ShardedTransport`` / ``AsyncShardedTransport``,
with the options of httpx's own transport.

The response's byte stream is wrapped only to notice when it is closed: iterating it returns the
transport's own iterator, so nothing is added per chunk.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

import httpx

__all__ = [
    "DEFAULT_LIMITS",
    "SHARDS",
    "AsyncShardedTransport",
    "ShardedTransport",
    "environment_proxies",
]

_T = TypeVar("_T")

SHARDS = 64
"""At most this many pools (created on first use): 200 concurrent streams put about 3 on each."""

DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
"""Connection limits of the HTTP client spanstream creates (shared by its pool's shards), and
the default of the sharded transports. A stream holds its connection for as long as the model
writes, so httpx's own default (100 connections) would make stream 101 of a busy service wait,
silently, for one of the others to end. Idle connections are kept as long as httpx's keep-alive
expiry (5 s) allows, however many: httpcore 1.0.9 closes idle connections as soon as a pool
holds more than ``max_keepalive_connections`` in total (busy ones included), and such a pass can
close a connection already handed to a waiting request, which then hangs until its read timeout
(encode/httpcore#1035, #1110)."""


def environment_proxies() -> bool:
    """Whether the environment names a proxy httpx would route requests through."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())


def _share(limits: httpx.Limits, shards: int) -> httpx.Limits:
    """One shard's part of ``limits`` (rounded up; ``None`` stays unlimited)."""

    def part(value: int | None) -> int | None:
        return None if value is None else max(1, math.ceil(value / shards))

    return httpx.Limits(
        max_connections=part(limits.max_connections),
        max_keepalive_connections=part(limits.max_keepalive_connections),
        keepalive_expiry=limits.keepalive_expiry,
    )


class _Shards(Generic[_T]):
    """The shards' transports (made on first use) and their open responses; the choice of shard
    for the next request, and the idle shards whose connections have all expired."""

    __slots__ = ("_expiry", "_idle_since", "_make", "_next_expiry", "open", "transports")

    def __init__(self, shards: int, make: Callable[[], _T], expiry: float | None = None) -> None:
        """``expiry``: seconds after which the connections of a shard with no open response
        have expired (``None``: never)."""
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        self.open = [0] * shards
        self.transports: list[_T | None] = [None] * shards
        self._make = make
        self._expiry = expiry
        # When each shard last had no open response, and the earliest moment an idle shard's
        # connections expire (infinity: none is idle with connections).
        self._idle_since = [0.0] * shards
        self._next_expiry = math.inf

    def pick(self) -> tuple[int, _T]:
        """The first shard with the fewest open responses, counted as taken, and its transport."""
        counts = self.open
        index = counts.index(min(counts))
        counts[index] += 1
        transport = self.transports[index]
        if transport is None:
            transport = self.transports[index] = self._make()
        return index, transport

    def release(self, index: int) -> None:
        self.open[index] -= 1
        expiry = self._expiry
        if expiry is not None and not self.open[index]:
            now = time.monotonic()
            self._idle_since[index] = now
            self._next_expiry = min(self._next_expiry, now + expiry)

    def take_expired(self) -> list[_T]:
        """The transports of the shards idle for longer than the expiry, forgotten (a later
        pick makes a new one): the caller closes them. Empty, after one clock read, until the
        first idle shard is due."""
        now = time.monotonic()
        if now < self._next_expiry:
            return []
        assert self._expiry is not None  # otherwise _next_expiry stays infinite
        # A stream finalized during this walk (the collector may run here, under the caller's
        # reentrant lock) releases its shard and lowers _next_expiry: kept by the min() below.
        self._next_expiry = math.inf
        expired: list[_T] = []
        due = math.inf
        for index, transport in enumerate(self.transports):
            if transport is None or self.open[index]:
                continue
            expires = self._idle_since[index] + self._expiry
            if expires <= now:
                expired.append(transport)
                self.transports[index] = None
            else:
                due = min(due, expires)
        self._next_expiry = min(self._next_expiry, due)
        return expired

    def made(self) -> list[_T]:
        return [transport for transport in self.transports if transport is not None]


class _ClosingStream(httpx.SyncByteStream):
    """The transport's response stream, reporting its close exactly once."""

    def __init__(self, stream: httpx.SyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        try:
            self._stream.close()
        finally:
            if on_close is not None:
                on_close()


class _AsyncClosingStream(httpx.AsyncByteStream):
    """The ``asyncio`` twin of :class:`_ClosingStream`."""

    def __init__(self, stream: httpx.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close: Callable[[], None] | None = on_close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        on_close, self._on_close = self._on_close, None
        try:
            await self._stream.aclose()
        finally:
            if on_close is not None:
                on_close()


class _Sharded(Generic[_T]):
    """The constructor both transports share: what each shard is made with."""

    _transport: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        limits: httpx.Limits = DEFAULT_LIMITS,
        *,
        shards: int = SHARDS,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        proxy: httpx.Proxy | httpx.URL | str | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[tuple[Any, ...]] | None = None,
    ) -> None:
        """``limits`` are shared by the ``shards`` pools; the other arguments are those of
        ``httpx.HTTPTransport`` and apply to every shard (one SSL context serves them all)."""
        if not isinstance(verify, ssl.SSLContext):
            # What each httpx transport would build for itself, built once.
            verify = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
        options: dict[str, Any] = {
            "verify": verify,
            "trust_env": trust_env,
            "http1": http1,
            "http2": http2,
            "limits": _share(limits, shards),
            "proxy": proxy,
            "uds": uds,
            "local_address": local_address,
            "retries": retries,
            "socket_options": socket_options,
        }
        make = type(self)._transport
        self._shards: _Shards[_T] = _Shards(
            shards, lambda: make(**options), limits.keepalive_expiry
        )
        # For the sync transport, whose threads share the shards. Reentrant: a stream dropped
        # without closing is closed by its finalizer, which the garbage collector may run on
        # this thread while it holds the lock (any allocation in pick() can trigger a
        # collection), and closing releases its shard under the lock.
        self._lock = threading.RLock()


class ShardedTransport(_Sharded[httpx.HTTPTransport], httpx.BaseTransport):
    """An ``httpx.HTTPTransport`` split into ``shards`` pools that share ``limits`` (see the
    module docstring), for an ``httpx.Client`` that serves many streams at once::

        http = httpx.Client(transport=spanstream.ShardedTransport(proxy="http://proxy:3128"))
        client = spanstream.Client(http_client=http)

    Safe to use from several threads, as httpx's own transport is."""

    _transport = httpx.HTTPTransport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            expired = self._shards.take_expired()
            index, transport = self._shards.pick()

        def release() -> None:
            with self._lock:
                self._shards.release(index)

        # An expired shard that fails to close (a connection already broken) is no reason to
        # fail the request that happened to find it expired.
        for idle in expired:
            with contextlib.suppress(Exception):
                idle.close()
        try:
            response = transport.handle_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _ClosingStream(response.stream, release)
        return response

    def close(self) -> None:
        with self._lock:
            transports = self._shards.made()
        for transport in transports:
            transport.close()


class AsyncShardedTransport(_Sharded[httpx.AsyncHTTPTransport], httpx.AsyncBaseTransport):
    """The ``asyncio`` twin of :class:`ShardedTransport`, for an ``httpx.AsyncClient`` (one
    event loop, so no lock)."""

    _transport = httpx.AsyncHTTPTransport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shards = self._shards
        expired = shards.take_expired()
        index, transport = shards.pick()
        for idle in expired:  # as in ShardedTransport.handle_request
            with contextlib.suppress(Exception):
                await idle.aclose()
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            shards.release(index)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncClosingStream(response.stream, lambda: shards.release(index))
        return response

    async def aclose(self) -> None:
        for transport in self._shards.made():
            await transport.aclose()
