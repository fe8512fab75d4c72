"""The connection pool of the HTTP client spanstream creates: httpx's own, split into shards.

httpcore 1.0.9's pool re-examines every connection it holds each time a request starts or a
response ends, and for each idle one counts them all again (encode/httpcore#1035): the work per
stream grows with the number of streams open at once, and at 200 one pool cost 15-45% more CPU
per event than the same streams in sequence (``benchmarks/RESULTS.md``, loopback section).
The transports here spread requests over up to :data:`SHARDS` ordinary httpx transports, each
with its share of the limits; a request goes to the first shard with the fewest open responses,
so that one request after another keeps reusing one keep-alive connection and concurrent ones
fill the shards evenly.

Only used when spanstream creates the HTTP client and no proxy is configured in the environment
(``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY``): a client given a transport stops reading those,
so with a proxy the client is a plain httpx client, exactly as httpx builds it.

The response's byte stream is wrapped only to notice when it is closed: iterating it returns the
transport's own iterator, so nothing is added per chunk.
"""

from __future__ import annotations

import math
import threading
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

import httpx

__all__ = ["SHARDS", "AsyncShardedTransport", "ShardedTransport", "environment_proxies"]

_T = TypeVar("_T")

SHARDS = 64
"""At most this many pools (created on first use): 200 concurrent streams put about 3 on each."""


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
    for the next request."""

    __slots__ = ("_make", "open", "transports")

    def __init__(self, shards: int, make: Callable[[], _T]) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        self.open = [0] * shards
        self.transports: list[_T | None] = [None] * shards
        self._make = make

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


class ShardedTransport(httpx.BaseTransport):
    """An ``httpx.HTTPTransport`` split into ``shards`` pools that share ``limits`` (see the
    module docstring). Safe to use from several threads, as httpx's own transport is."""

    def __init__(self, limits: httpx.Limits, *, shards: int = SHARDS) -> None:
        share = _share(limits, shards)
        context = httpx.create_ssl_context()  # what httpx.Client would make, made once
        self._shards = _Shards(shards, lambda: httpx.HTTPTransport(verify=context, limits=share))
        # Reentrant: a stream dropped without closing is closed by its finalizer, which the
        # garbage collector may run on this thread while it holds the lock (any allocation in
        # pick() can trigger a collection), and closing releases its shard under the lock.
        self._lock = threading.RLock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            index, transport = self._shards.pick()

        def release() -> None:
            with self._lock:
                self._shards.release(index)

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


class AsyncShardedTransport(httpx.AsyncBaseTransport):
    """The ``asyncio`` twin of :class:`ShardedTransport` (one event loop, so no lock)."""

    def __init__(self, limits: httpx.Limits, *, shards: int = SHARDS) -> None:
        share = _share(limits, shards)
        context = httpx.create_ssl_context()
        self._shards = _Shards(
            shards, lambda: httpx.AsyncHTTPTransport(verify=context, limits=share)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shards = self._shards
        index, transport = shards.pick()
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
