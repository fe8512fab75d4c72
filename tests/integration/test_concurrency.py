"""The HTTP client spanstream creates itself (its sharded pool, ``spanstream.transports``): many
streams at once, streams one after another, and a proxy named in the environment; and the same
pool in a client the user brings (``spanstream.ShardedTransport``), here through a proxy.

A stream holds its connection for as long as the model writes. httpx's default pool has 100
connections, so with it stream 101 of a busy service would wait, silently, for another to end.
In the concurrency tests every reply holds after its first event until the test releases them
all: they only pass if every stream is open on the server at the same time.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spanstream import APIStatusError, AsyncClient
from spanstream.client import DEFAULT_LIMITS
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, recording
from spanstream.transports import AsyncShardedTransport, ShardedTransport

PLAIN = "openai-responses/gpt-4.1-plain-text"
STREAMS = 120  # more than httpx's default of 100 connections per pool
HOLD_TIMEOUT = 60.0  # only reached when the streams cannot all be open at once


@pytest.fixture
def held_server(sse_replay_server: ReplayServer) -> ReplayServer:
    sse_replay_server.default = Reply.from_file(recording(PLAIN), hold_after_events=1)
    return sse_replay_server


def _release_all(server: ReplayServer) -> int:
    """Wait until every stream is held, then let them all finish (also the late ones, if the
    pool made some wait: they get a reply that does not hold). Returns how many were open."""
    server.wait_for_hold(STREAMS, timeout=HOLD_TIMEOUT)
    open_at_once = server.held
    server.default = Reply.from_file(recording(PLAIN))
    server.release()
    return open_at_once


def test_default_pool_is_larger_than_the_concurrency_tested() -> None:
    assert DEFAULT_LIMITS.max_connections is not None
    assert DEFAULT_LIMITS.max_connections > STREAMS
    # Below max_connections, httpcore never evicts idle connections for being too many (the
    # eviction pass that can close a connection already handed to a waiting request).
    assert DEFAULT_LIMITS.max_keepalive_connections == DEFAULT_LIMITS.max_connections


def test_sync_client_keeps_every_concurrent_stream_open(
    held_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    client = genai_telemetry.client(held_server)

    def consume(_: int) -> str:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            return stream.final_response().status

    with ThreadPoolExecutor(STREAMS) as pool:
        futures = [pool.submit(consume, n) for n in range(STREAMS)]
        open_at_once = _release_all(held_server)
        statuses = [future.result(timeout=HOLD_TIMEOUT) for future in futures]

    assert open_at_once == STREAMS
    assert statuses == ["completed"] * STREAMS
    spans = genai_telemetry.inference_spans
    assert len(spans) == STREAMS
    assert {span.attributes["spanstream.outcome"] for span in spans if span.attributes} == {
        "completed"
    }
    genai_telemetry.assert_all_spans_ended()


async def _consume(client: AsyncClient) -> str:
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        response = await stream.final_response()
    return str(response.status)


async def test_async_client_keeps_every_concurrent_stream_open(
    held_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    async with genai_telemetry.async_client(held_server) as client:
        streams = asyncio.gather(*(_consume(client) for _ in range(STREAMS)))
        open_at_once = await asyncio.to_thread(_release_all, held_server)
        statuses = await asyncio.wait_for(streams, HOLD_TIMEOUT)

    assert open_at_once == STREAMS
    assert statuses == ["completed"] * STREAMS
    assert len(genai_telemetry.inference_spans) == STREAMS
    genai_telemetry.assert_all_spans_ended()


def test_streams_one_after_another_reuse_one_connection(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.default = Reply.from_file(recording(PLAIN))
    client = genai_telemetry.client(sse_replay_server)
    for _ in range(5):
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            assert stream.final_response().status == "completed"
    assert len(sse_replay_server.requests) == 5
    assert sse_replay_server.connections == 1


async def test_async_streams_one_after_another_reuse_one_connection(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.default = Reply.from_file(recording(PLAIN))
    async with genai_telemetry.async_client(sse_replay_server) as client:
        for _ in range(5):
            async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
                assert (await stream.final_response()).status == "completed"
    assert sse_replay_server.connections == 1


def test_a_proxy_named_in_the_environment_is_used(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The replay server stands in for the proxy: an HTTP proxy receives the absolute URL.
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", sse_replay_server.base_url.removesuffix("/v1"))
    client = genai_telemetry.client("http://api.example.invalid/v1", max_retries=0)
    with pytest.raises(APIStatusError), client.responses.stream(model="gpt-4.1", input="hi"):
        pass
    (request,) = sse_replay_server.requests
    assert request.path == "http://api.example.invalid/v1/responses"


def _clear_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_client_the_user_brings_sends_through_its_sharded_transport_s_proxy(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The replay server stands in for the proxy, as above.
    _clear_proxy_environment(monkeypatch)
    proxy = sse_replay_server.base_url.removesuffix("/v1")
    with httpx.Client(transport=ShardedTransport(proxy=proxy)) as http:
        client = genai_telemetry.client("http://api.example.invalid/v1", http_client=http)
        with pytest.raises(APIStatusError), client.responses.stream(model="gpt-4.1", input="hi"):
            pass
    (request,) = sse_replay_server.requests
    assert request.path == "http://api.example.invalid/v1/responses"
    (span,) = genai_telemetry.inference_spans
    assert span.attributes is not None
    assert span.attributes["server.address"] == "api.example.invalid"


async def test_an_async_client_the_user_brings_keeps_every_concurrent_stream_open(
    held_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    async with httpx.AsyncClient(transport=AsyncShardedTransport()) as http:
        client = genai_telemetry.async_client(held_server, http_client=http)
        streams = asyncio.gather(*(_consume(client) for _ in range(STREAMS)))
        open_at_once = await asyncio.to_thread(_release_all, held_server)
        statuses = await asyncio.wait_for(streams, HOLD_TIMEOUT)

    assert open_at_once == STREAMS
    assert statuses == ["completed"] * STREAMS
    genai_telemetry.assert_all_spans_ended()
