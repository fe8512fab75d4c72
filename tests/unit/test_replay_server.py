"""ReplayServer observed from real httpx clients over loopback.

No test sleeps to synchronise: ordering comes from the bytes the client has received (the
server cannot send past a hold or a cut) and from the server's own wait_for_* helpers. Client
timeouts only guard against hangs.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from spanstream.testing import MALFORMED_DATA, ReplayServer, Reply

PLAIN_TEXT = (
    Path(__file__).resolve().parents[1] / "fixtures/openai-responses/gpt-4.1-plain-text.sse"
)
BODY = PLAIN_TEXT.read_bytes()
# The fixture uses LF line endings only, so frames end at each blank line.
FRAMES = [frame + b"\n\n" for frame in BODY.split(b"\n\n") if frame]
assert b"".join(FRAMES) == BODY
TIMEOUT = httpx.Timeout(5.0)  # a hang guard only: nothing below waits for it to expire


def replay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("spanstream-replay")]


def parse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """Complete SSE events in ``raw`` (LF line endings) as (event name, data)."""
    events = []
    for frame in raw.split(b"\n\n")[:-1]:  # the last piece is unterminated (or empty)
        name, data = None, []
        for line in frame.decode().split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, "\n".join(data)))
    return events


def read_until(chunks: Iterator[bytes], size: int) -> bytes:
    """Read from ``chunks`` until at least ``size`` bytes arrived."""
    got = b""
    while len(got) < size:
        got += next(chunks)
    return got


def read_all(chunks: Iterator[bytes]) -> tuple[bytes, httpx.HTTPError | None]:
    """Everything ``chunks`` yields, and the error that ended it (None for a clean end)."""
    got = b""
    try:
        for piece in chunks:
            got += piece
    except httpx.HTTPError as error:
        return got, error
    return got, None


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv
    assert srv.errors == []
    assert replay_threads() == []


@pytest.fixture
def client(server: ReplayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as c:
        yield c


# --- plain replay ------------------------------------------------------------------------------


def test_file_replay_sends_the_recorded_body_byte_for_byte(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT))

    response = client.post("/responses", json={"model": "gpt-4.1", "stream": True})

    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert response.headers["x-request-id"] == "req_replay_1"
    # The client can have the last byte before the server thread records the outcome.
    assert server.wait_for_finished(1)
    assert server.outcomes == ["completed"]


def test_base_url_host_and_port(server: ReplayServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


def test_connections_counts_what_the_client_opened(server: ReplayServer) -> None:
    server.default = Reply.events([("response.created", {"type": "response.created"})])
    url = server.base_url + "/responses"
    with httpx.Client() as client:  # keep-alive: one connection for both requests
        client.post(url, json={})
        client.post(url, json={})
    assert server.connections == 1
    with httpx.Client() as other:
        other.post(url, json={})
    assert server.connections == 2
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "path",
    [
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/messages",
        "/responses",
        "/chat/completions",
        "/messages?beta=true",
    ],
)
def test_every_streaming_route_is_served(server: ReplayServer, path: str) -> None:
    server.enqueue(Reply.sse(BODY))
    with httpx.Client(timeout=TIMEOUT) as client:
        response = client.post(f"http://{server.host}:{server.port}{path}", json={})
    assert response.content == BODY
    assert server.requests[0].path == path


def test_default_chunking_sends_one_http_chunk_per_event(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY))
    with client.stream("POST", "/responses", json={}) as response:
        pieces = list(response.iter_raw())
    assert b"".join(pieces) == BODY
    # h11 never merges HTTP chunks, so no piece can span two frames.
    boundaries = {sum(len(f) for f in FRAMES[:i]) for i in range(len(FRAMES) + 1)}
    offset = 0
    for piece in pieces:
        end = offset + len(piece)
        assert not any(offset < b < end for b in boundaries)
        offset = end


@pytest.mark.parametrize(("chunk_size", "drip_interval"), [(7, 0.0), (500, 0.001)])
def test_chunk_size_is_preserved_on_the_wire(
    server: ReplayServer, client: httpx.Client, chunk_size: int, drip_interval: float
) -> None:
    server.enqueue(Reply.sse(BODY, chunk_size=chunk_size, drip_interval=drip_interval))
    with client.stream("POST", "/responses", json={}) as response:
        pieces = list(response.iter_raw())
    assert b"".join(pieces) == BODY
    # Each HTTP chunk reaches httpx as one piece at most (possibly split by TCP reads, never
    # merged), so there are at least as many pieces as chunks.
    assert max(len(piece) for piece in pieces) <= chunk_size
    assert len(pieces) >= -(-len(BODY) // chunk_size)


# --- cuts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [0, 1, 1000, len(BODY) - 1, len(BODY), len(BODY) + 50])
def test_cut_after_bytes_delivers_exactly_that_prefix_then_a_protocol_error(
    server: ReplayServer, client: httpx.Client, cut: int
) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT, cut_after_bytes=cut))
    with client.stream("POST", "/responses", json={}) as response:
        assert response.status_code == 200  # the headers always arrive
        got, error = read_all(response.iter_raw())
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "incomplete chunked read" in str(error)
    # The cut is a FIN, not an RST: every byte sent before it is delivered, even when the cut
    # is at or past the end of the body (only the terminating chunk is missing).
    assert got == BODY[:cut]
    assert server.wait_for_finished(1)
    assert server.outcomes == ["cut"]


@pytest.mark.parametrize("chunk_size", [None, 5])
def test_cut_after_events_delivers_exactly_n_complete_events(
    server: ReplayServer, client: httpx.Client, chunk_size: int | None
) -> None:
    server.enqueue(Reply.sse(BODY, cut_after_events=3, chunk_size=chunk_size))
    with client.stream("POST", "/responses", json={}) as response:
        got, error = read_all(response.iter_bytes())
    assert isinstance(error, httpx.RemoteProtocolError)
    assert got == b"".join(FRAMES[:3])
    assert [name for name, _ in parse_events(got)] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]


def test_client_can_reuse_the_pool_after_a_cut(server: ReplayServer, client: httpx.Client) -> None:
    server.enqueue(Reply.sse(BODY, cut_after_events=1), Reply.sse(BODY))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/responses", json={})
    assert client.post("/responses", json={}).content == BODY


# --- error replies and the queue ---------------------------------------------------------------


def test_error_reply_has_status_default_body_and_headers(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.error(429, headers={"Retry-After": "2", "x-request-id": "req_abc"}))

    response = client.post("/responses", json={})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-request-id"] == "req_abc"
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"
    assert error["param"] is None
    assert "429" in error["message"]


def test_error_reply_with_custom_bodies(server: ReplayServer, client: httpx.Client) -> None:
    anthropic = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.enqueue(
        Reply.error(529, anthropic),
        Reply.error(502, "<html>bad gateway</html>", headers={"Content-Type": "text/html"}),
    )

    first = client.post("/messages", json={})
    second = client.post("/messages", json={})

    assert (first.status_code, first.json()) == (529, anthropic)
    assert (second.status_code, second.text) == (502, "<html>bad gateway</html>")
    assert second.headers["content-type"] == "text/html"


def test_queue_is_fifo_and_each_request_consumes_one_reply(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.error(503))
    server.enqueue(Reply.from_file(PLAIN_TEXT))
    assert server.pending == 2

    first = client.post("/responses", json={"attempt": 1})
    second = client.post("/responses", json={"attempt": 2})
    third = client.post("/responses", json={"attempt": 3})

    assert first.status_code == 503
    assert first.json()["error"]["type"] == "server_error"
    assert (second.status_code, second.content) == (200, BODY)
    # An empty queue without a default is an explicit failure, not a hang.
    assert third.status_code == 500
    assert "no reply queued" in third.json()["error"]["message"]
    assert server.pending == 0
    assert [r.json()["attempt"] for r in server.requests] == [1, 2, 3]


def test_default_reply_is_used_when_the_queue_is_empty() -> None:
    default = Reply.events([(None, {"id": "chunk"}), (None, "[DONE]")])
    with (
        ReplayServer(default=default) as server,
        httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client,
    ):
        server.enqueue(Reply.error(500))
        statuses = [client.post("/chat/completions", json={}).status_code for _ in range(3)]
        body = client.post("/chat/completions", json={}).content
    assert statuses == [500, 200, 200]
    assert body == b'data: {"id":"chunk"}\n\ndata: [DONE]\n\n'


def test_unknown_path_is_a_404_with_an_openai_error_body(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY))

    response = client.post("/images/generations", json={})
    wrong_method = client.get("/responses")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/images/generations)",
            "type": "invalid_request_error",
            "code": None,
            "param": None,
        }
    }
    assert wrong_method.status_code == 405
    assert server.pending == 1  # neither consumed the queued reply
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/v1/images/generations"),
        ("GET", "/v1/responses"),
    ]


def _sequence_numbers(raw: bytes) -> list[int]:
    return [json.loads(data)["sequence_number"] for _, data in parse_events(raw)]


def test_a_get_of_a_stored_response_takes_the_next_reply_from_its_cursor(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY), Reply.sse(BODY, cut_after_events=2))
    whole = client.get("/responses/resp_1", params={"stream": "true"}).content
    params = {"stream": "true", "starting_after": "3"}
    with client.stream("GET", "/responses/resp_1", params=params) as response:
        got, error = read_all(response.iter_raw())
    assert isinstance(error, httpx.RemoteProtocolError)
    numbers = _sequence_numbers(BODY)
    assert _sequence_numbers(whole) == numbers
    # Resumed after event 3, and the fault counts the events it sends: 4 and 5, then the cut.
    assert _sequence_numbers(got) == [4, 5]
    assert numbers[:6] == [0, 1, 2, 3, 4, 5]


def test_a_stored_response_is_fetched_with_get_only_and_by_its_id_only(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY))
    statuses = [
        client.post("/responses/resp_1", json={}).status_code,
        client.get("/responses/resp_1/input_items").status_code,
        client.get("/responses/").status_code,
    ]
    assert statuses == [405, 404, 404]
    assert server.pending == 1


# --- recorded requests -------------------------------------------------------------------------


def test_requests_are_recorded_with_lower_cased_headers_and_raw_body(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY), Reply.sse(BODY))

    client.post(
        "/responses",
        json={"model": "gpt-4.1", "input": "hi"},
        headers={"Authorization": "Bearer sk-test", "X-Custom": "1"},
    )
    # A streamed request body is sent with chunked transfer encoding; it is decoded too.
    client.post("/chat/completions", content=iter([b'{"a":', b" 1}"]))

    assert server.wait_for_requests(2, timeout=0)
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/responses")
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-custom"] == "1"
    assert all(name == name.lower() for name in first.headers)
    assert first.json() == {"model": "gpt-4.1", "input": "hi"}
    assert json.loads(first.body) == first.json()
    assert second.headers["transfer-encoding"] == "chunked"
    assert second.body == b'{"a": 1}'


def test_wait_for_requests_times_out_without_requests(server: ReplayServer) -> None:
    assert server.wait_for_requests(0, timeout=0)
    assert not server.wait_for_requests(1, timeout=0.01)


# --- hold --------------------------------------------------------------------------------------


def test_hold_then_release_sends_the_rest(server: ReplayServer, client: httpx.Client) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT, hold_after_events=3))
    prefix = b"".join(FRAMES[:3])

    with client.stream("POST", "/responses", json={}) as response:
        chunks = response.iter_raw()
        got = read_until(chunks, len(prefix))
        assert got == prefix  # nothing past the hold point can have been sent
        assert server.wait_for_hold()
        assert server.held == 1
        assert not server.wait_for_finished(1, timeout=0)

        server.release()
        got += b"".join(chunks)

    assert got == BODY
    assert server.wait_for_finished(1)
    assert server.outcomes == ["completed"]
    assert server.held == 0


def test_hold_then_client_closes_ends_the_reply_quietly(
    server: ReplayServer, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply.sse(BODY, hold_after_events=2))

    with client.stream("POST", "/responses", json={}) as response:
        got = read_until(response.iter_raw(), len(FRAMES[0]) + len(FRAMES[1]))
        assert server.wait_for_hold()
    # Leaving the block unread closes the connection (the consumer's `break`).

    assert got == FRAMES[0] + FRAMES[1]
    assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]
    assert server.held == 0
    assert "Traceback" not in capfd.readouterr().err


def test_hold_at_zero_events_holds_before_any_body_byte(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY, hold_after_events=0))
    with client.stream("POST", "/responses", json={}) as response:
        assert response.status_code == 200  # headers are sent before the hold
        assert server.wait_for_hold()
        server.release()
        assert response.read() == BODY


def test_close_interrupts_a_held_reply_and_an_idle_keep_alive_connection(
    capfd: pytest.CaptureFixture[str],
) -> None:
    server = ReplayServer().start()
    server.enqueue(Reply.sse(BODY), Reply.sse(BODY, hold_after_events=1))
    with (
        httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as idle,
        httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as streaming,
    ):
        assert idle.post("/responses", json={}).content == BODY  # leaves a pooled connection
        with streaming.stream("POST", "/responses", json={}) as response:
            chunks = response.iter_raw()
            assert read_until(chunks, len(FRAMES[0])) == FRAMES[0]
            assert server.wait_for_hold()

            started = time.monotonic()
            server.close()
            # Generous bound: close() must not wait for the held client or the idle one.
            assert time.monotonic() - started < 5.0
            assert replay_threads() == []

            with pytest.raises(httpx.RemoteProtocolError):
                b"".join(chunks)

    assert sorted(server.outcomes) == ["aborted", "completed"]  # two threads, any order
    assert server.errors == []
    assert "Traceback" not in capfd.readouterr().err


def test_close_interrupts_a_delayed_first_byte() -> None:
    server = ReplayServer().start()
    server.enqueue(Reply.sse(BODY, delay_first_byte=60.0))
    # A raw client that keeps its connection open: the server must be interrupted by close(),
    # not by noticing its client went away (a timed-out httpx client would close the socket).
    host, port = httpx.URL(server.base_url).host, httpx.URL(server.base_url).port
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n{}"
        )
        assert server.wait_for_requests(1)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 30.0  # far below the 60 s delay
    assert replay_threads() == []
    assert server.outcomes == ["aborted"]


def test_close_is_idempotent_and_start_only_once() -> None:
    server = ReplayServer()
    server.close()  # never started: nothing to do
    server = ReplayServer().start()
    with pytest.raises(RuntimeError):
        server.start()
    server.close()
    server.close()
    assert replay_threads() == []


# --- injected frames ---------------------------------------------------------------------------


def test_injected_error_frame_follows_event_n(server: ReplayServer, client: httpx.Client) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT, inject_error_after_events=2))

    events = parse_events(client.post("/responses", json={}).content)

    original = parse_events(BODY)
    assert len(events) == len(original) + 1
    assert events[:2] == original[:2]
    assert events[2][0] == "error"
    assert json.loads(events[2][1]) == {
        "type": "error",
        "code": "server_error",
        "message": "injected error",
        "sequence_number": 2,
    }
    assert events[3:] == original[2:]


@pytest.mark.parametrize(
    ("route", "event", "payload"),
    [
        (
            "/chat/completions",
            None,
            {
                "error": {
                    "code": "server_error",
                    "message": "injected error",
                    "type": "server_error",
                    "param": None,
                }
            },
        ),
        (
            "/messages",
            "error",
            {"type": "error", "error": {"type": "api_error", "message": "injected error"}},
        ),
    ],
)
def test_injected_error_frame_speaks_the_routes_api(
    server: ReplayServer, client: httpx.Client, route: str, event: str | None, payload: Any
) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT, inject_error_after_events=1))

    events = parse_events(client.post(route, json={}).content)

    assert events[1][0] == event
    assert json.loads(events[1][1]) == payload


def test_malformed_frame_follows_event_n(server: ReplayServer, client: httpx.Client) -> None:
    server.enqueue(Reply.from_file(PLAIN_TEXT, malformed_after_events=1))

    events = parse_events(client.post("/responses", json={}).content)

    original = parse_events(BODY)
    assert events[:1] == original[:1]
    assert events[1] == (None, MALFORMED_DATA)
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[1][1])
    assert events[2:] == original[1:]


def test_faults_past_the_last_event_apply_at_the_end(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY, inject_error_after_events=1000, cut_after_events=1000))
    with client.stream("POST", "/responses", json={}) as response:
        got, error = read_all(response.iter_raw())
    assert isinstance(error, httpx.RemoteProtocolError)
    assert got.startswith(BODY)
    assert parse_events(got[len(BODY) :])[0][0] == "error"


def test_events_constructor_builds_compact_frames() -> None:
    reply = Reply.events(
        [
            ("response.created", {"type": "response.created", "n": [1, 2]}),
            ("response.output_text.delta", '{"broken": '),
            (None, "line one\nline two"),
        ]
    )
    assert reply.body == (
        b'event: response.created\ndata: {"type":"response.created","n":[1,2]}\n\n'
        b'event: response.output_text.delta\ndata: {"broken": \n\n'
        b"data: line one\ndata: line two\n\n"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"cut_after_bytes": -1}, "cut_after_bytes"),
        ({"hold_after_events": -1}, "hold_after_events"),
        ({"drip_interval": -0.1}, "drip_interval"),
        ({"status": 42}, "status"),
        ({"headers": {"Content-Length": "3"}}, "Content-Length"),
        ({"headers": {"Transfer-Encoding": "identity"}}, "Transfer-Encoding"),
    ],
)
def test_invalid_fault_options_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reply.sse(BODY, **kwargs)


def test_only_ipv4_loopback_hosts_are_accepted() -> None:
    for host in ("0.0.0.0", "192.168.1.1", "example.com", "::1"):
        with pytest.raises(ValueError, match="loopback"):
            ReplayServer(host)


# --- async client ------------------------------------------------------------------------------


async def test_async_client_streams_a_chat_completions_reply() -> None:
    chunks = [(None, {"choices": [{"delta": {"content": word}}]}) for word in ("Hel", "lo")]
    reply = Reply.events([*chunks, (None, "[DONE]")], chunk_size=4, drip_interval=0.001)
    with ReplayServer() as server:
        server.enqueue(reply)
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as client,
            client.stream("POST", "/chat/completions", json={"stream": True}) as response,
        ):
            lines = [line async for line in response.aiter_lines() if line]
    assert lines == [
        'data: {"choices":[{"delta":{"content":"Hel"}}]}',
        'data: {"choices":[{"delta":{"content":"lo"}}]}',
        "data: [DONE]",
    ]
    assert server.requests[0].json() == {"stream": True}
    assert replay_threads() == []


async def test_async_consumer_break_while_the_server_holds(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with ReplayServer() as server:
        server.enqueue(Reply.sse(BODY, hold_after_events=2))
        async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as client:
            events = 0
            async with client.stream("POST", "/responses", json={}) as response:
                async for line in response.aiter_lines():
                    events += line.startswith("data:")
                    if events == 2:
                        break
            # The server thread notices the closed connection; wait for it off the event loop.
            finished = await asyncio.to_thread(server.wait_for_finished, 1)
        assert finished
        assert server.outcomes == ["disconnected"]
    assert replay_threads() == []
    assert "Traceback" not in capfd.readouterr().err


# A delay far longer than the bound a test waits for the server to notice the client left:
# without noticing, the server would only find out when it next writes, after the delay.
LONG_DELAY = 600.0


def test_a_client_leaving_during_delay_first_byte_is_noticed_at_once(server: ReplayServer) -> None:
    server.enqueue(Reply.sse(BODY, delay_first_byte=LONG_DELAY))
    request = b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(request)
        assert server.wait_for_requests(1)
    assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]
    assert server.errors == []


def test_a_client_leaving_between_dripped_events_is_noticed_at_once(
    server: ReplayServer, client: httpx.Client
) -> None:
    server.enqueue(Reply.sse(BODY, drip_interval=LONG_DELAY))
    with client.stream("POST", "/responses", json={}) as response:
        # Only the first event comes before the drip interval.
        assert read_until(response.iter_raw(), len(FRAMES[0])) == FRAMES[0]
    assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]


async def test_async_a_client_cancelled_during_delay_first_byte_is_noticed_at_once(
    server: ReplayServer,
) -> None:
    server.enqueue(Reply.sse(BODY, delay_first_byte=LONG_DELAY))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as client:
        task = asyncio.create_task(client.post("/responses", json={}))
        assert await asyncio.to_thread(server.wait_for_requests, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.wait_for_finished, 1)
    assert server.outcomes == ["disconnected"]


def test_a_pipelined_request_does_not_end_a_delay_early(server: ReplayServer) -> None:
    # Data from the client during a delay means it is still there: the reply goes on.
    server.enqueue(Reply.sse(BODY, delay_first_byte=0.2), Reply.sse(BODY))
    request = b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(request)
        assert server.wait_for_requests(1)
        sock.sendall(request)
        assert server.wait_for_finished(2)
    assert server.outcomes == ["completed", "completed"]
