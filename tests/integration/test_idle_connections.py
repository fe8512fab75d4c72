"""Idle keep-alive connections of the sharded pool are closed once they expire, on every shard
(#1): after a burst of concurrent streams, one request after another goes back to one shard,
and the connections the burst left on the others must not stay open for good."""

from __future__ import annotations

import contextlib
import os
import time

import httpx

import spanstream
from spanstream.testing import ReplayServer, Reply, recording
from spanstream.transports import AsyncShardedTransport, ShardedTransport

BURST = 50
# Short enough for a test; the default is httpx's 5 s.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=0.2)
RECORDING = "openai-responses/gpt-4.1-plain-text"


def _descriptors() -> int | None:
    """Open file descriptors of this process (Linux), or None where /proc is missing."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _one_left(server: ReplayServer, deadline: float) -> bool:
    """After a request: whether the server sees a single connection left (the one one request
    after another reuses). The server notices a closed connection when its worker reads EOF:
    wait for that a little, then the caller makes the next request (which is when expired
    shards are closed). Fails after the deadline."""
    if server.wait_for_open_connections(1, timeout=0.05):
        return True
    assert time.monotonic() < deadline, f"{server.open_connections} connections still open"
    return False


def test_after_a_burst_idle_connections_on_every_shard_are_closed(server: ReplayServer) -> None:
    server.default = Reply.from_file(recording(RECORDING))
    server.enqueue(*[Reply.from_file(recording(RECORDING), hold_after_events=1)] * BURST)
    baseline = _descriptors()
    http = httpx.Client(transport=ShardedTransport(LIMITS))
    with spanstream.Client(api_key="sk-test", base_url=server.base_url, http_client=http) as client:
        with contextlib.ExitStack() as streams:
            opened = [
                streams.enter_context(client.responses.stream(model="gpt-4.1", input="Hi"))
                for _ in range(BURST)
            ]
            assert server.wait_for_hold(BURST)
            server.release()
            for stream in opened:
                assert stream.final_response().status == "completed"
        assert server.open_connections == BURST  # kept alive, one per shard

        deadline = time.monotonic() + 10.0
        while True:
            with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
                stream.final_response()
            if _one_left(server, deadline):
                break
        if baseline is not None:
            descriptors = _descriptors()
            assert descriptors is not None
            # The connection kept for the next request, and the server's end of it.
            assert descriptors <= baseline + 2
    http.close()
    assert server.wait_for_open_connections(0)


async def test_async_after_a_burst_idle_connections_on_every_shard_are_closed(
    server: ReplayServer,
) -> None:
    server.default = Reply.from_file(recording(RECORDING))
    server.enqueue(*[Reply.from_file(recording(RECORDING), hold_after_events=1)] * BURST)
    http = httpx.AsyncClient(transport=AsyncShardedTransport(LIMITS))
    client = spanstream.AsyncClient(api_key="sk-test", base_url=server.base_url, http_client=http)
    async with contextlib.AsyncExitStack() as streams:
        opened = [
            await streams.enter_async_context(client.responses.stream(model="gpt-4.1", input="Hi"))
            for _ in range(BURST)
        ]
        assert server.wait_for_hold(BURST)
        server.release()
        for stream in opened:
            assert (await stream.final_response()).status == "completed"
    assert server.open_connections == BURST

    deadline = time.monotonic() + 10.0
    while True:
        async with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
            await stream.final_response()
        # A blocking wait, in a test of its own: nothing else runs on this loop meanwhile.
        if _one_left(server, deadline):
            break
    await http.aclose()
    assert server.wait_for_open_connections(0)
