"""The sharded connection pool of the HTTP client spanstream creates (``spanstream.transports``)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx
import pytest

import spanstream.transports
from spanstream.transports import (
    DEFAULT_LIMITS,
    AsyncShardedTransport,
    ShardedTransport,
    _Shards,
    _share,
    environment_proxies,
)


def test_each_shard_gets_its_part_of_the_limits_rounded_up() -> None:
    limits = _share(httpx.Limits(max_connections=1000, max_keepalive_connections=10), 64)
    assert limits.max_connections == 16
    assert limits.max_keepalive_connections == 1
    assert limits.keepalive_expiry == 5.0
    unlimited = _share(httpx.Limits(max_connections=None, max_keepalive_connections=None), 8)
    assert unlimited.max_connections is None
    assert unlimited.max_keepalive_connections is None


def test_the_first_shard_with_the_fewest_open_responses_is_picked() -> None:
    made: list[str] = []

    def make() -> str:
        made.append(f"transport {len(made)}")
        return made[-1]

    shards = _Shards(3, make)
    assert [shards.pick() for _ in range(4)] == [
        (0, "transport 0"),
        (1, "transport 1"),
        (2, "transport 2"),
        (0, "transport 0"),
    ]
    assert len(made) == 3  # a shard's transport is made once, when first picked
    shards.release(1)
    assert shards.pick()[0] == 1  # one request after another reuses the same shard
    shards.release(1)
    shards.release(0)
    assert shards.open == [1, 0, 1]
    with pytest.raises(ValueError, match="at least 1"):
        _Shards(0, object)


class _Recorder(httpx.BaseTransport):
    """Stands in for one shard's httpx transport: answers every request with a streamed body
    and remembers that the request came here."""

    def __init__(self, name: int, seen: list[int], fail: bool = False) -> None:
        self.name, self.seen, self.fail = name, seen, fail
        self.closed_streams = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(self.name)
        if self.fail:
            raise httpx.ConnectError("refused", request=request)
        recorder = self

        class Body(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield b"data: 1\n\n"
                yield b"data: 2\n\n"

            def close(self) -> None:
                recorder.closed_streams += 1

        return httpx.Response(200, stream=Body())


def _sharded(shards: int, seen: list[int], failing: frozenset[int] = frozenset()) -> Any:
    transport = ShardedTransport(httpx.Limits(max_connections=100), shards=shards)
    transport._shards.transports = [_Recorder(i, seen, i in failing) for i in range(shards)]
    return transport


def test_open_responses_spread_over_shards_and_a_closed_one_frees_its_shard() -> None:
    seen: list[int] = []
    with httpx.Client(transport=_sharded(3, seen)) as client:
        request = client.build_request("POST", "http://api.test/v1/responses")
        responses = [client.send(request, stream=True) for _ in range(3)]
        assert seen == [0, 1, 2]
        responses[1].close()
        with client.stream("POST", "http://api.test/v1/responses") as again:
            assert b"".join(again.iter_raw()) == b"data: 1\n\ndata: 2\n\n"
        assert seen == [0, 1, 2, 1]
        for response in responses:
            response.close()
        client.post("http://api.test/v1/responses")  # read whole: closed, shard 0 free again
        assert seen[-1] == 0


def test_a_stream_closed_twice_frees_its_shard_once() -> None:
    seen: list[int] = []
    transport = _sharded(2, seen)
    with httpx.Client(transport=transport) as client:
        response = client.send(client.build_request("GET", "http://api.test/"), stream=True)
        stream = response.stream
        response.close()
        stream.close()  # httpx closes once; a second close must not free a shard again
        assert transport._shards.open == [0, 0]
        assert transport._shards.transports[0].closed_streams >= 1  # the shard's own stream too


def test_a_failed_request_frees_its_shard() -> None:
    seen: list[int] = []
    transport = _sharded(2, seen, failing=frozenset({0}))
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.get("http://api.test/")
    assert transport._shards.open == [0, 0]


def test_iterating_the_body_adds_no_layer_per_chunk() -> None:
    seen: list[int] = []
    transport = _sharded(1, seen)
    response = transport.handle_request(httpx.Request("GET", "http://api.test/"))
    iterator = iter(response.stream)
    assert iterator.__qualname__ == "_Recorder.handle_request.<locals>.Body.__iter__"  # type: ignore[attr-defined]
    assert list(iterator) == [b"data: 1\n\n", b"data: 2\n\n"]
    response.stream.close()  # type: ignore[union-attr]
    assert transport._shards.open == [0]


class _AsyncRecorder(httpx.AsyncBaseTransport):
    def __init__(self, name: int, seen: list[int], fail: bool = False) -> None:
        self.name, self.seen, self.fail = name, seen, fail

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(self.name)
        if self.fail:
            raise httpx.ConnectError("refused", request=request)

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                yield b"data: 1\n\n"

        return httpx.Response(200, stream=Body())


def _async_sharded(shards: int, seen: list[int], failing: frozenset[int] = frozenset()) -> Any:
    transport = AsyncShardedTransport(httpx.Limits(max_connections=100), shards=shards)
    transport._shards.transports = [_AsyncRecorder(i, seen, i in failing) for i in range(shards)]
    return transport


async def test_async_open_responses_spread_and_closing_frees_the_shard() -> None:
    seen: list[int] = []
    transport = _async_sharded(2, seen)
    async with httpx.AsyncClient(transport=transport) as client:
        request = client.build_request("POST", "http://api.test/v1/responses")
        first = await client.send(request, stream=True)
        second = await client.send(request, stream=True)
        assert seen == [0, 1]
        assert [chunk async for chunk in first.aiter_raw()] == [b"data: 1\n\n"]  # read: closed
        assert transport._shards.open == [0, 1]
        await second.aclose()
        await second.aclose()
        assert transport._shards.open == [0, 0]


async def test_async_failed_request_frees_its_shard() -> None:
    seen: list[int] = []
    transport = _async_sharded(2, seen, failing=frozenset({0}))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://api.test/")
    assert transport._shards.open == [0, 0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"NO_PROXY": "localhost"}, False),
        ({"HTTPS_PROXY": "http://proxy.test:3128"}, True),
        ({"http_proxy": "http://proxy.test:3128"}, True),
        ({"ALL_PROXY": "socks5://proxy.test:1080"}, True),
    ],
)
def test_environment_proxies_are_noticed(
    env: dict[str, str], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert environment_proxies() is expected


def test_a_stream_finalized_while_a_shard_is_picked_does_not_deadlock() -> None:
    # A stream dropped without closing is closed by its finalizer, which a garbage collection
    # can run on a thread that is inside pick() with the lock held.
    seen: list[int] = []
    transport = ShardedTransport(httpx.Limits(max_connections=100), shards=2)
    transport._shards.transports = [_Recorder(0, seen), None]
    first = transport.handle_request(httpx.Request("GET", "http://api.test/"))

    def make_during_a_collection() -> _Recorder:
        first.stream.close()  # type: ignore[union-attr]  # what the finalizer does
        return _Recorder(1, seen)

    transport._shards._make = make_during_a_collection
    done = threading.Event()

    def second() -> None:
        transport.handle_request(httpx.Request("GET", "http://api.test/")).close()
        done.set()

    threading.Thread(target=second, daemon=True).start()
    assert done.wait(timeout=30), "deadlocked on the pool's lock"
    assert seen == [0, 1]
    assert transport._shards.open == [0, 0]


def _made_shards(transport: ShardedTransport | AsyncShardedTransport, count: int) -> list[Any]:
    return [transport._shards.pick()[1] for _ in range(count)]


@pytest.mark.parametrize("cls", [ShardedTransport, AsyncShardedTransport])
def test_every_shard_is_made_with_the_options_given(
    cls: type[ShardedTransport] | type[AsyncShardedTransport],
) -> None:
    # What a service that brings its own client sets: a proxy, its certificates, retries.
    context = ssl.create_default_context()
    transport = cls(shards=3, verify=context, proxy="http://proxy.test:3128")
    shards = _made_shards(transport, 3)
    assert all(isinstance(shard, cls._transport) for shard in shards)
    pools = [shard._pool for shard in shards]
    assert all(isinstance(pool, (httpcore.HTTPProxy, httpcore.AsyncHTTPProxy)) for pool in pools)
    assert all(pool._ssl_context is context for pool in pools)
    assert [pool._max_connections for pool in pools] == [334] * 3  # 1000 shared by 3
    direct = _made_shards(cls(shards=2, retries=2, http2=True), 2)
    assert all(shard._pool._retries == 2 and shard._pool._http2 for shard in direct)


def test_one_ssl_context_is_built_for_all_shards() -> None:
    transport = ShardedTransport(shards=4, verify=False)
    contexts = {id(shard._pool._ssl_context) for shard in _made_shards(transport, 4)}
    assert len(contexts) == 1
    (shard, *_) = transport._shards.made()
    assert shard._pool._ssl_context.verify_mode == ssl.CERT_NONE


def test_the_transports_are_public_with_the_default_limits() -> None:
    assert spanstream.transports.__all__[:4] == [
        "DEFAULT_LIMITS",
        "SHARDS",
        "AsyncShardedTransport",
        "ShardedTransport",
    ]
    with pytest.warns(DeprecationWarning, match="import it from spanstream.transports"):
        assert spanstream.ShardedTransport is ShardedTransport  # type: ignore[attr-defined]
    shard = _made_shards(ShardedTransport(shards=10), 1)[0]
    assert shard._pool._max_connections == DEFAULT_LIMITS.max_connections // 10


class _Clock:
    """Stands in for ``time.monotonic`` in ``spanstream.transports``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_shards_idle_longer_than_the_expiry_are_taken_and_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr("spanstream.transports.time", clock)
    made: list[str] = []

    def make() -> str:
        made.append(f"transport {len(made)}")
        return made[-1]

    shards = _Shards(3, make, expiry=5.0)
    for _ in range(3):
        shards.pick()
    shards.release(1)  # idle from 1000
    clock.now = 1002.0
    shards.release(2)  # idle from 1002
    assert shards.take_expired() == []
    clock.now = 1005.0
    assert shards.take_expired() == ["transport 1"]  # shard 0 is busy, shard 2 not yet due
    clock.now = 1007.0
    assert shards.take_expired() == ["transport 2"]
    assert shards.take_expired() == []
    assert shards.transports == ["transport 0", None, None]
    assert shards.pick() == (1, "transport 3")  # a taken shard is made again when picked
    never = _Shards(2, make, expiry=None)
    never.pick()
    never.release(0)
    clock.now = 10**9
    assert never.take_expired() == []


def test_a_shard_released_while_the_shards_are_walked_is_still_taken_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stream's finalizer can release its shard in the middle of take_expired().
    clock = _Clock()
    monkeypatch.setattr("spanstream.transports.time", clock)
    shards = _Shards(2, object, expiry=1.0)
    shards.pick()
    shards.pick()
    shards.release(0)
    clock.now += 1.0
    transports = shards.transports

    class Finalizing(list):  # type: ignore[type-arg]
        def __iter__(self) -> Iterator[Any]:
            yield transports[0]
            shards.release(1)  # what the collector may run here
            yield transports[1]

    shards.transports = Finalizing(transports)
    assert len(shards.take_expired()) == 1
    clock.now += 1.0
    assert len(shards.take_expired()) == 1
