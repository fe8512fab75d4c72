"""A request whose connection the server closes before sending any response byte is retried
(#19), as the official SDKs do: what a keep-alive server closing an idle connection causes when
the request was already on its way (httpx: ``RemoteProtocolError`` "Server disconnected without
sending a response"). Nothing else of that kind is retried: a response that started, or bytes
that are no HTTP response, end the request at once.

A raw-socket loopback server (tests/rawserver.py) does exactly that at the byte level."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx
import pytest

from spanstream import APIConnectionError, RetryPolicy, TextDelta
from spanstream.testing import GenAITelemetry

from ..conftest import RESPONSES
from ..rawserver import LAST_CHUNK, SSE_HEADERS, Conn, RawServer, chunk

BODY = (RESPONSES / "gpt-4.1-plain-text.sse").read_bytes()
TEXT = "Four plus five equals **nine**."
NO_WAIT = RetryPolicy(max_retries=2, initial_delay=0.0)
KINDS = ["sync", "async"]


def _answer(conn: Conn) -> None:
    """Answer one request with the whole recorded stream; the connection stays open."""
    conn.send(SSE_HEADERS + chunk(BODY) + LAST_CHUNK)


def _numbered(*handlers: Callable[[Conn], None]) -> Callable[[Conn], None]:
    """The n-th connection is served by the n-th handler (the last serves any later one)."""
    lock = threading.Lock()
    accepted: list[Conn] = []

    def handler(conn: Conn) -> None:
        with lock:
            accepted.append(conn)
            index = min(len(accepted), len(handlers)) - 1
        handlers[index](conn)

    return handler


def _drop(conn: Conn) -> None:
    """Read the request, then close the connection without a byte of response."""
    conn.request()


def _serve(conn: Conn) -> None:
    while conn.request() is not None:
        _answer(conn)


def _serve_then_drop(conn: Conn) -> None:
    """A keep-alive connection: the first request is answered, the next one (sent on the same
    connection) finds it closed without a response, as when a server closes it as idle."""
    if conn.request() is not None:
        _answer(conn)
        conn.request()


def _stream(
    kind: str, telemetry: GenAITelemetry, base_url: str, requests: int = 1
) -> str | Exception:
    """``requests`` streams one after another on one client; the text of the last, or the
    error that ended one."""
    options = {"api_key": "sk-test", "retry": NO_WAIT}
    if kind == "sync":
        with telemetry.client(base_url, **options) as client:
            try:
                for _ in range(requests):
                    with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
                        text = "".join(e.text for e in stream if isinstance(e, TextDelta))
                return text
            except APIConnectionError as exc:
                return exc

    async def main() -> str | Exception:
        async with telemetry.async_client(base_url, **options) as client:
            try:
                for _ in range(requests):
                    async with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
                        text = "".join([e.text async for e in stream if isinstance(e, TextDelta)])
                return text
            except APIConnectionError as exc:
                return exc

    return asyncio.run(main())


def _retries(telemetry: GenAITelemetry) -> list[object]:
    spans = telemetry.inference_spans
    return [(span.attributes or {}).get("spanstream.retries", 0) for span in spans]


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_closed_before_any_response_byte_is_retried(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_numbered(_drop, _serve)) as server:
        # Before the fix: APIConnectionError "connection failed: Server disconnected ...".
        assert _stream(kind, genai_telemetry, server.base_url) == TEXT
        assert len(server.conns) == 2  # the dropped request was sent, then sent again
    assert _retries(genai_telemetry) == [1]
    span = genai_telemetry.inference_span()
    assert (span.attributes or {})["spanstream.outcome"] == "completed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_keep_alive_connection_the_server_closed_is_retried_on_a_new_one(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_numbered(_serve_then_drop, _serve)) as server:
        assert _stream(kind, genai_telemetry, server.base_url, requests=2) == TEXT
        assert len(server.conns) == 2
    assert _retries(genai_telemetry) == [0, 1]


@pytest.mark.parametrize("kind", KINDS)
def test_retries_of_dropped_connections_stop_at_max_retries(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_drop) as server:
        error = _stream(kind, genai_telemetry, server.base_url)
        assert isinstance(error, APIConnectionError)
        assert "Server disconnected without sending a response" in str(error)
        assert len(server.conns) == NO_WAIT.max_retries + 1
    assert genai_telemetry.open_spans == []


def _headers_then_close(conn: Conn) -> None:
    if conn.request() is not None:
        conn.send(SSE_HEADERS)


def _not_http(conn: Conn) -> None:
    if conn.request() is not None:
        conn.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "handler",
    [_headers_then_close, _not_http],
    ids=["response_started", "not_an_http_response"],
)
def test_a_connection_closed_after_response_bytes_is_not_retried(
    kind: str, handler: Callable[[Conn], None], genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_numbered(handler, _serve)) as server:
        error = _stream(kind, genai_telemetry, server.base_url)
        assert isinstance(error, APIConnectionError), error
        assert len(server.conns) == 1
    assert genai_telemetry.open_spans == []


def test_only_a_disconnect_without_response_is_a_retryable_protocol_error() -> None:
    policy = RetryPolicy()
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    assert policy.should_retry_error(dropped)
    assert policy.should_retry_error(httpx.ConnectError("refused"))
    assert policy.should_retry_error(httpx.ConnectTimeout("slow"))
    assert not policy.should_retry_error(httpx.RemoteProtocolError("illegal status line"))
    assert not policy.should_retry_error(httpx.ReadTimeout("slow"))
    assert not policy.should_retry_error(httpx.ReadError("reset"))
