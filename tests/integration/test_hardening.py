"""A hostile or quirky server and a careless caller, at the byte level (tests/rawserver.py).

Each test runs the sync and the async client; where the three APIs end differently (their
terminal events), each API. The bodies are real recordings (tests/fixtures, provenance there)
with bytes added or held back around them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from spanstream import (
    AnthropicClient,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    MalformedEventError,
    ResponseFailedError,
    SSEDecodeError,
    StreamError,
    TextDelta,
)
from spanstream.errors import UnexpectedContentTypeError, UsageError
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

from ..conftest import FIXTURES
from ..rawserver import LAST_CHUNK, SSE_HEADERS, Conn, RawServer, chunk

RESPONSES_BODY = (FIXTURES / "openai-responses/gpt-4.1-plain-text.sse").read_bytes()
CHAT_BODY = (FIXTURES / "openai-chat/gpt-3.5-turbo-no-usage.sse").read_bytes()
ANTHROPIC_BODY = (FIXTURES / "anthropic-messages/claude-haiku-4-5-text.sse").read_bytes()


@dataclass(frozen=True)
class Api:
    name: str
    sync: Callable[..., Any]
    asynchronous: Callable[..., Any]
    body: bytes
    text: str
    after_end: bytes
    """An event that must not be delivered after the terminal event."""

    def stream(self, client: Any) -> Any:
        if self.name == "anthropic":
            return client.messages.stream(
                model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "x"}]
            )
        if self.name == "chat":
            return client.chat.completions.stream(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
            )
        return client.responses.stream(model="gpt-4.1", input="hi")


APIS = [
    Api(
        "responses",
        Client,
        AsyncClient,
        RESPONSES_BODY,
        "Four plus five equals **nine**.",
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"item_id":"msg_x","output_index":0,"content_index":0,"delta":" AFTER",'
        b'"sequence_number":99}\n\n',
    ),
    Api(
        "chat",
        Client,
        AsyncClient,
        CHAT_BODY,
        "Hello! Not much, just here to chat and assist you with anything you need."
        " How are you doing?",
        b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":" AFTER"},"finish_reason":null}]}\n\n',
    ),
    Api(
        "anthropic",
        AnthropicClient,
        AsyncAnthropicClient,
        ANTHROPIC_BODY,
        "Hello",
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":" AFTER"}}\n\n',
    ),
]
API_IDS = [api.name for api in APIS]
KEY = "gw-live-0123456789abcdefghijKLMNOP"  # a gateway key: no sk- prefix
ECHO_HEADERS = SSE_HEADERS.replace(b"\r\n\r\n", b"\r\nx-request-id: " + KEY.encode() + b"\r\n\r\n")


def _options(telemetry: GenAITelemetry, base_url: str, **options: Any) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": base_url,
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
        "max_retries": 0,
        **options,
    }


def _sync_run(api: Api, client: Any) -> tuple[list[Any], Any]:
    events: list[Any] = []
    with api.stream(client) as stream:
        for event in stream:
            events.append(event)
    return events, stream


async def _async_run(api: Api, client: Any) -> tuple[list[Any], Any]:
    events: list[Any] = []
    async with api.stream(client) as stream:
        async for event in stream:
            events.append(event)
    return events, stream


def run(api: Api, kind: str, telemetry: GenAITelemetry, base_url: str, **options: Any) -> Any:
    """Stream once through a new client of ``kind``; returns (events, stream) or the error."""
    if kind == "sync":
        with api.sync(**_options(telemetry, base_url, **options)) as client:
            try:
                return _sync_run(api, client)
            except Exception as exc:
                return exc

    async def main() -> Any:
        async with api.asynchronous(**_options(telemetry, base_url, **options)) as client:
            try:
                return await _async_run(api, client)
            except Exception as exc:
                return exc

    return asyncio.run(main())


def _text(events: list[Any]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


KINDS = ["sync", "async"]


# -- 1, 2: a finished stream finishes, and only once ---------------------------------------------


def _then_hold(body: bytes) -> Callable[[Conn], None]:
    def handler(conn: Conn) -> None:
        if conn.request() is None:
            return
        conn.send(SSE_HEADERS + chunk(body))
        conn.wait_until_client_leaves()

    return handler


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_terminal_event_completes_a_stream_whose_body_stays_open(
    api: Api, kind: str, genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_then_hold(api.body)) as server:
        # Before the fix the stream waited for the read timeout (here 30 s), then failed.
        result = run(api, kind, genai_telemetry, server.base_url, timeout=30.0, drain_timeout=0.05)
        assert not isinstance(result, BaseException), result
        events, stream = result
        assert server.wait_done()
        assert server.conns[0].client_left.is_set(), "the held connection was closed"
    assert _text(events) == api.text
    assert stream.outcome == "completed"
    span = genai_telemetry.inference_span()
    assert _attributes(span)["spanstream.outcome"] == "completed"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_events_after_the_terminal_event_are_not_delivered_and_counted(
    api: Api, kind: str, genai_telemetry: GenAITelemetry
) -> None:
    failed = (
        b'event: response.failed\ndata: {"type":"response.failed","sequence_number":100,'
        b'"response":{"id":"resp_x","status":"failed","error":{"code":"server_error",'
        b'"message":"late"},"output":[]}}\n\n'
    )
    body = api.body + api.after_end + failed

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(SSE_HEADERS + chunk(body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(api, kind, genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    events, stream = result
    assert "AFTER" not in _text(events)
    assert _text(events) == api.text
    assert stream.outcome == "completed"
    attributes = _attributes(genai_telemetry.inference_span())
    assert attributes["spanstream.outcome"] == "completed"
    assert attributes["spanstream.events.ignored"] == 2
    assert "error.type" not in attributes


@pytest.mark.parametrize("kind", KINDS)
def test_completed_then_failed_in_a_later_read_stays_completed(
    kind: str, genai_telemetry: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    failed = (
        b'event: response.failed\ndata: {"type":"response.failed","sequence_number":100,'
        b'"response":{"id":"resp_x","status":"failed","error":{"code":"server_error",'
        b'"message":"late"},"output":[]}}\n\n'
    )

    def handler(conn: Conn) -> None:
        if conn.request() is None:
            return
        conn.send(SSE_HEADERS + chunk(RESPONSES_BODY))
        # The client has the terminal event; what follows arrives in a read of its own.
        conn.send(chunk(failed) + LAST_CHUNK)

    api = APIS[0]
    with RawServer(handler) as server:
        result = run(api, kind, genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    _, stream = result
    assert stream.outcome == "completed"
    assert stream.response.status == "completed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_well_behaved_server_keeps_its_connection(
    kind: str, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    api = APIS[0]
    server.enqueue(Reply.sse(RESPONSES_BODY), Reply.sse(RESPONSES_BODY))

    async def twice_async() -> None:
        async with AsyncClient(**_options(genai_telemetry, server.base_url)) as client:
            for _ in range(2):
                await _async_run(api, client)

    if kind == "sync":
        with Client(**_options(genai_telemetry, server.base_url)) as client:
            for _ in range(2):
                _sync_run(api, client)
    else:
        asyncio.run(twice_async())
    assert server.connections == 1


# -- 3: an idle timeout between events -------------------------------------------------------------

CREATED = RESPONSES_BODY.split(b"\n\n")[0] + b"\n\n"


def _comments_forever(conn: Conn) -> None:
    if conn.request() is None:
        return
    conn.send(SSE_HEADERS + chunk(CREATED))
    for _ in range(3000):  # bounded: 60 s at most
        if not conn.send(chunk(b": keep-alive\n\n")) or conn.gone():
            return
        conn.client_left.wait(0.02)


@pytest.mark.parametrize("kind", KINDS)
def test_keep_alive_comments_do_not_hold_a_stream_forever(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    api = APIS[0]
    with RawServer(_comments_forever) as server:
        result = run(api, kind, genai_telemetry, server.base_url, idle_timeout=0.3)
    assert isinstance(result, APITimeoutError), result
    assert "idle_timeout" in str(result)
    attributes = _attributes(genai_telemetry.inference_span())
    assert attributes["error.type"] == "timeout"
    assert attributes["spanstream.outcome"] == "error"


@pytest.mark.parametrize("kind", KINDS)
def test_events_keep_a_stream_alive_past_its_idle_timeout(
    kind: str, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    # 12 events 0.1 s apart outlast a 0.6 s idle timeout: the timeout is between events.
    server.enqueue(Reply.sse(RESPONSES_BODY, drip_interval=0.1))
    result = run(APIS[0], kind, genai_telemetry, server.base_url, idle_timeout=0.6)
    assert not isinstance(result, BaseException), result
    assert result[1].outcome == "completed"


# -- 4: a maximum event size ----------------------------------------------------------------------


def _endless_line(conn: Conn) -> None:
    if conn.request() is None:
        return
    conn.send(SSE_HEADERS + chunk(b"data: "))
    piece = chunk(b"x" * 65536)
    for _ in range(3200):  # 200 MiB at most
        if not conn.send(piece):
            return


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_line_ends_the_stream_at_the_maximum_event_size(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    with RawServer(_endless_line) as server:
        result = run(APIS[0], kind, genai_telemetry, server.base_url, max_event_size=1 << 20)
        assert server.wait_done()
    assert isinstance(result, SSEDecodeError), result
    assert "max_event_size" in str(result)
    assert server.conns[0].client_left.is_set(), "the client closed the connection"
    assert _attributes(genai_telemetry.inference_span())["error.type"] == "SSEDecodeError"


# -- 7: invalid UTF-8 after good events in one read ------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_events_before_invalid_utf8_in_the_same_read_are_delivered(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    frames = RESPONSES_BODY.split(b"\n\n")
    good = b"\n\n".join(frames[:6]) + b"\n\n"  # up to the second text delta

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            # One write: the good events and the bad byte arrive in the same read.
            conn.send(SSE_HEADERS + chunk(good + b"data: {\xff}\n\n") + LAST_CHUNK)

    events: list[Any] = []

    def collect(stream: Any) -> None:
        for event in stream:
            events.append(event)

    async def acollect(stream: Any) -> None:
        async for event in stream:
            events.append(event)

    with RawServer(handler) as server:
        options = _options(genai_telemetry, server.base_url)
        if kind == "sync":
            with Client(**options) as client, pytest.raises(SSEDecodeError):
                collect(client.responses.stream(model="gpt-4.1", input="hi"))
        else:

            async def main() -> None:
                async with AsyncClient(**options) as client:
                    with pytest.raises(SSEDecodeError):
                        await acollect(client.responses.stream(model="gpt-4.1", input="hi"))

            asyncio.run(main())
    assert _text(events) == "Four plus"


# -- 8, 9, 10: secrets and payloads ---------------------------------------------------------------


def _leaks(texts: list[str]) -> list[str]:
    pieces = [KEY, KEY[:-3], KEY[4:], KEY[10:18]]
    return [text for text in texts for piece in pieces if piece in text]


def _span_texts(span: ReadableSpan) -> list[str]:
    texts = [span.to_json()]
    texts.extend(str(value) for event in span.events for value in (event.attributes or {}).values())
    return texts


@pytest.mark.parametrize("kind", KINDS)
def test_an_echoed_key_is_scrubbed_from_errors_spans_and_logs(
    kind: str, genai_telemetry: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The key in the request id header, a truncated key in an error event, the whole key in
    # response.failed's message.
    error_event = json.dumps(
        {"type": "error", "code": "bad", "message": f"key {KEY[:-3]}…", "sequence_number": 2}
    ).encode()
    failed = json.dumps(
        {
            "type": "response.failed",
            "sequence_number": 3,
            "response": {
                "id": "resp_1",
                "status": "failed",
                "error": {"code": "server_error", "message": f"rejected {KEY} upstream"},
                "output": [],
            },
        }
    ).encode()

    def handler(conn: Conn) -> None:
        if conn.request() is None:
            return
        headers = ECHO_HEADERS
        body = CREATED + b"event: error\ndata: " + error_event + b"\n\n"
        body += b"event: response.failed\ndata: " + failed + b"\n\n"
        conn.send(headers + chunk(body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert isinstance(result, ResponseFailedError), result
    texts = [str(result), repr(result), repr(vars(result)), caplog.text]
    texts += _span_texts(genai_telemetry.inference_span())
    assert not _leaks(texts), _leaks(texts)
    assert "rejected *** upstream" in str(result)
    assert result.code == "server_error"


def test_an_echoed_key_in_an_error_status_is_scrubbed(
    server: ReplayServer, genai_telemetry: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"error": {"message": f"Incorrect API key provided: {KEY[2:]}", "code": "invalid"}}
    server.enqueue(Reply.error(401, body, headers={"x-request-id": KEY}))
    result = run(APIS[0], "sync", genai_telemetry, server.base_url)
    assert isinstance(result, APIStatusError), result
    assert result.request_id == "***"
    texts = [str(result), repr(vars(result)), caplog.text]
    texts += _span_texts(genai_telemetry.inference_span())
    assert not _leaks(texts), _leaks(texts)


def test_a_request_id_header_echoing_the_key_is_scrubbed_on_the_stream(
    genai_telemetry: GenAITelemetry,
) -> None:
    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(ECHO_HEADERS + chunk(RESPONSES_BODY) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], "sync", genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    assert result[1].request_id == "***"


def test_anthropics_invalid_x_api_key_message_stays_readable(
    server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    error = {"type": "authentication_error", "message": "invalid x-api-key"}
    body = {"type": "error", "error": error}
    server.enqueue(Reply.error(401, body))
    result = run(APIS[2], "sync", genai_telemetry, server.base_url)
    assert isinstance(result, APIStatusError), result
    assert result.message == "invalid x-api-key"
    assert result.error_type == "authentication_error"


@pytest.mark.parametrize("kind", KINDS)
def test_strict_mode_records_no_payload_in_the_exception(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    frames = RESPONSES_BODY.split(b"\n\n")
    bad = (
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"item_id":"msg","output_index":0,"content_index":0,'
        b'"delta":{"text":"PAYLOAD-TEXT-42"},"sequence_number":4}\n\n'
    )
    body = b"\n\n".join(frames[:3]) + b"\n\n" + bad

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(SSE_HEADERS + chunk(body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], kind, genai_telemetry, server.base_url, strict=True)
    assert isinstance(result, MalformedEventError), result
    span = genai_telemetry.inference_span()
    recorded = [event for event in span.events if event.name == "exception"]
    assert recorded, "the exception was recorded"
    assert not [text for text in _span_texts(span) if "PAYLOAD-TEXT-42" in text]


# -- 11, 12: every failure is a spanstream error with a useful message ---------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_200_html_page_names_its_content_type(
    kind: str, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    page = "<html><body><h1>Sign in to the corporate proxy</h1></body></html>"
    server.enqueue(Reply.error(200, page, headers={"Content-Type": "text/html; charset=utf-8"}))
    result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert isinstance(result, UnexpectedContentTypeError), result
    assert "text/html" in str(result)
    assert "Sign in to the corporate proxy" in str(result)
    assert _attributes(genai_telemetry.inference_span())["error.type"] == (
        "UnexpectedContentTypeError"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_200_json_error_body_gives_the_providers_message_and_code(
    kind: str, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    body = {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    server.enqueue(Reply.error(200, body))
    result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert isinstance(result, UnexpectedContentTypeError), result
    assert result.code == "insufficient_quota"
    assert "You exceeded your current quota." in str(result)
    assert "application/json" in str(result)
    assert _attributes(genai_telemetry.inference_span())["error.type"] == "insufficient_quota"


@pytest.mark.parametrize(
    ("body", "message", "error_type", "code"),
    [
        (
            {
                "object": "error",
                "message": "Invalid model: nope",
                "type": "invalid_model",
                "param": None,
                "code": "1500",
            },
            "Invalid model: nope",
            "invalid_model",
            "1500",
        ),
        ({"object": "error", "message": "bad", "type": "x", "code": 3051}, "bad", "x", "3051"),
        ({"error": "model 'nope' not found"}, "model 'nope' not found", None, None),
        ({"detail": "Not authenticated"}, "Not authenticated", None, None),
    ],
)
def test_error_bodies_in_every_common_shape(
    server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    body: dict[str, Any],
    message: str,
    error_type: str | None,
    code: str | None,
) -> None:
    server.enqueue(Reply.error(400, body))
    result = run(APIS[1], "sync", genai_telemetry, server.base_url)
    assert isinstance(result, APIStatusError), result
    assert (result.message, result.error_type, result.code) == (message, error_type, code)


# -- 13: redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_same_origin_redirect_is_followed_with_its_body(
    kind: str, status: int, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    server.enqueue(
        Reply.error(status, "", headers={"Location": "/v1/responses?moved=1"}),
        Reply.sse(RESPONSES_BODY),
    )
    result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    assert _text(result[0]) == APIS[0].text
    assert [r.method for r in server.requests] == ["POST", "POST"]
    assert server.requests[1].json() == server.requests[0].json()
    assert server.requests[1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_to_another_origin_is_refused(
    kind: str, server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    with ReplayServer() as elsewhere:
        other = elsewhere.base_url.replace("127.0.0.1", "localhost")
        server.enqueue(Reply.error(307, "", headers={"Location": f"{other}/responses"}))
        result = run(APIS[0], kind, genai_telemetry, server.base_url)
        assert isinstance(result, APIConnectionError), result
        assert "another origin" in str(result)
        assert elsewhere.requests == []


# -- 14: a corrupt compressed body ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_corrupt_gzip_stream_is_a_stream_error(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    good = gzip.compress(RESPONSES_BODY)

    def handler(conn: Conn) -> None:
        if conn.request() is None:
            return
        headers = SSE_HEADERS.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
        conn.send(headers + chunk(good[:40] + b"\x00garbage" * 40) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert isinstance(result, StreamError), result
    assert not isinstance(result, httpx.HTTPError)
    assert "could not be decoded" in str(result)


def test_a_corrupt_gzip_error_body_is_still_a_status_error(genai_telemetry: GenAITelemetry) -> None:
    def handler(conn: Conn) -> None:
        if conn.request() is None:
            return
        body = b"\x1f\x8b\x08\x00garbage"
        conn.send(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    with RawServer(handler) as server:
        result = run(APIS[0], "sync", genai_telemetry, server.base_url)
    assert isinstance(result, APIStatusError), result
    assert result.status_code == 500


# -- 15, 17: misuse ------------------------------------------------------------------------------


def test_streaming_on_a_closed_client_is_a_usage_error(server: ReplayServer) -> None:
    client = Client(api_key=KEY, base_url=server.base_url)
    client.close()
    with pytest.raises(UsageError, match="client is closed"):
        client.responses.stream(model="m", input="hi").final_response()

    async def main() -> None:
        aclient = AsyncClient(api_key=KEY, base_url=server.base_url)
        await aclient.aclose()
        with pytest.raises(UsageError, match="client is closed"):
            await aclient.responses.stream(model="m", input="hi").final_response()

    asyncio.run(main())
    assert server.requests == []


def test_one_stream_read_by_two_threads_is_a_usage_error(
    server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    server.enqueue(Reply.sse(RESPONSES_BODY, hold_after_events=3))
    seen: list[Any] = []
    with Client(**_options(genai_telemetry, server.base_url)) as client:
        stream = client.responses.stream(model="gpt-4.1", input="hi")
        with stream:
            reader = threading.Thread(target=lambda: seen.extend(stream))
            reader.start()
            assert server.wait_for_hold()
            # The reader has taken the three events and blocks in the read (a bounded poll on
            # what the stream says of itself; no sleep decides the order).
            for _ in range(10_000):
                if stream._core.reading and not stream._core.queue:
                    break
                threading.Event().wait(0.001)
            with pytest.raises(UsageError, match="another thread or task"):
                next(stream)
            server.release()
            reader.join(10)
    assert _text(seen) == APIS[0].text
    assert stream.outcome == "completed"


async def _with_a_blocked_reader(
    server: ReplayServer,
    telemetry: GenAITelemetry,
    ready: Callable[[list[Any]], bool],
    act: Callable[[Any], Awaitable[None]],
) -> tuple[list[Any], Any]:
    """Stream in a reader task until it waits in a read with ``ready(seen)`` true (a bounded
    poll on the stream's own state: each pass yields to the reader once), then ``act`` on the
    stream from this task and let the reader finish."""
    seen: list[Any] = []
    client = AsyncClient(**_options(telemetry, server.base_url))
    async with client, client.responses.stream(model="gpt-4.1", input="hi") as stream:

        async def read() -> None:
            async for event in stream:
                seen.append(event)

        reader = asyncio.create_task(read())
        assert await asyncio.to_thread(server.wait_for_hold)
        for _ in range(10_000):
            if stream._core.reading and not stream._core.queue and ready(seen):
                break
            await asyncio.sleep(0)
        await act(stream)
        await asyncio.wait_for(reader, 10)
    return seen, stream


def test_one_stream_read_by_two_tasks_is_a_usage_error(
    server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    server.enqueue(Reply.sse(RESPONSES_BODY, hold_after_events=3))

    async def second_reader(stream: Any) -> None:
        with pytest.raises(UsageError, match="another thread or task"):
            await stream.__anext__()
        server.release()

    seen, stream = asyncio.run(
        _with_a_blocked_reader(server, genai_telemetry, lambda seen: True, second_reader)
    )
    assert _text(seen) == APIS[0].text
    assert stream.outcome == "completed"


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_is_delivered_after_close(kind: str, genai_telemetry: GenAITelemetry) -> None:
    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            # One write: the first read brings every event, so all but one are buffered.
            conn.send(SSE_HEADERS + chunk(RESPONSES_BODY) + LAST_CHUNK)

    with RawServer(handler) as server:
        options = _options(genai_telemetry, server.base_url)
        if kind == "sync":
            with Client(**options) as client:
                stream = client.responses.stream(model="gpt-4.1", input="hi")
                first = next(stream)
                stream.close()
                rest = list(stream)
        else:

            async def main() -> tuple[Any, list[Any]]:
                async with AsyncClient(**options) as client:
                    stream = client.responses.stream(model="gpt-4.1", input="hi")
                    first = await stream.__anext__()
                    await stream.close()
                    return first, [event async for event in stream]

            first, rest = asyncio.run(main())
    assert first is not None
    assert rest == []


# -- 16: messages that say what happened ---------------------------------------------------------


def _reset_after_headers(conn: Conn) -> None:
    if conn.request() is None:
        return
    conn.send(SSE_HEADERS + chunk(CREATED))
    # SO_LINGER 0: close with an RST, as a crashed proxy does.
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _hold_after_headers(conn: Conn) -> None:
    if conn.request() is None:
        return
    conn.send(SSE_HEADERS + chunk(CREATED))
    conn.wait_until_client_leaves()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("handler", "error", "prefix"),
    [
        (_reset_after_headers, APIConnectionError, "connection failed: "),
        (_hold_after_headers, APITimeoutError, "timed out: "),
    ],
    ids=["reset", "read-timeout"],
)
def test_transport_errors_say_what_happened(
    kind: str,
    handler: Callable[[Conn], None],
    error: type[Exception],
    prefix: str,
    genai_telemetry: GenAITelemetry,
) -> None:
    with RawServer(handler) as server:
        result = run(
            APIS[0], kind, genai_telemetry, server.base_url, timeout=0.3, idle_timeout=None
        )
    assert isinstance(result, error), result
    message = str(result)
    assert message.startswith(prefix)
    assert len(message) > len(prefix) + 10, message
    assert "127.0.0.1" in message


def test_default_limits_are_documented_values() -> None:
    from spanstream.client import DEFAULT_TIMEOUT
    from spanstream.sse import DEFAULT_MAX_EVENT_SIZE
    from spanstream.stream import DEFAULT_DRAIN_TIMEOUT

    assert DEFAULT_MAX_EVENT_SIZE == 16 * 1024 * 1024
    assert DEFAULT_DRAIN_TIMEOUT == 0.5
    docs = Path(__file__).parents[2] / "docs"
    options = (docs / "options.md").read_text()
    outcomes = (docs / "outcomes.md").read_text()
    for option in ("idle_timeout", "drain_timeout", "max_event_size"):
        assert option in options
        assert option in outcomes
    # The defaults the guide states are the ones the code uses.
    assert f"`drain_timeout` ({DEFAULT_DRAIN_TIMEOUT} s)" in outcomes
    assert f"`max_event_size`** ({DEFAULT_MAX_EVENT_SIZE // 2**20} MiB" in outcomes
    assert DEFAULT_TIMEOUT.read is not None
    assert f"(default: the read timeout, {DEFAULT_TIMEOUT.read:g} s)" in outcomes


@pytest.mark.parametrize("strict", [False, True])
def test_a_key_echoed_as_an_event_type_reaches_no_log_and_no_error(
    strict: bool, genai_telemetry: GenAITelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    frames = RESPONSES_BODY.split(b"\n\n")
    bad = b'data: {"type":"' + KEY.encode() + b'","sequence_number":2,"x":{"y":1}}\n\n'
    body = frames[0] + b"\n\n" + bad + b"\n\n".join(frames[1:])

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(SSE_HEADERS + chunk(body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], "sync", genai_telemetry, server.base_url, strict=strict)
    texts = [caplog.text, *_span_texts(genai_telemetry.inference_span())]
    if isinstance(result, BaseException):
        texts += [str(result), repr(vars(result))]
    assert not _leaks(texts), _leaks(texts)


def _wait_until_reading(stream: Any, seen: list[Any]) -> None:
    # A bounded poll on what the stream says of itself: the reader took every event sent (the
    # fifth is the first text delta) and waits in the read (no sleep decides the order).
    for _ in range(10_000):
        if stream._core.reading and not stream._core.queue and _text(seen) == "Four":
            return
        threading.Event().wait(0.001)
    raise AssertionError("the reader never blocked in a read")


@pytest.mark.parametrize(("method", "outcome"), [("cancel", "cancelled"), ("close", "abandoned")])
def test_cancel_from_another_thread_interrupts_a_blocked_read(
    server: ReplayServer, genai_telemetry: GenAITelemetry, method: str, outcome: str
) -> None:
    # A web server's worker thread reads the model while its client goes away: the server's
    # own thread closes the stream, and the worker must not wait for the model's next word.
    server.enqueue(Reply.sse(RESPONSES_BODY, hold_after_events=5))
    seen: list[Any] = []
    with Client(**_options(genai_telemetry, server.base_url)) as client:
        stream = client.responses.stream(model="gpt-4.1", input="hi")
        reader = threading.Thread(target=lambda: seen.extend(stream))
        with stream:
            reader.start()
            assert server.wait_for_hold()
            _wait_until_reading(stream, seen)
            getattr(stream, method)()
            reader.join(10)
            assert not reader.is_alive(), "the blocked read was interrupted"
        assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]
    assert stream.outcome == outcome
    assert _text(seen) == "Four"
    attributes = _attributes(genai_telemetry.inference_span())
    assert attributes["spanstream.outcome"] == outcome
    assert genai_telemetry.open_spans == []


def test_cancel_from_another_task_interrupts_a_pending_read(
    server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    server.enqueue(Reply.sse(RESPONSES_BODY, hold_after_events=5))

    async def cancel(stream: Any) -> None:
        await stream.cancel()

    seen, stream = asyncio.run(
        _with_a_blocked_reader(server, genai_telemetry, lambda seen: _text(seen) == "Four", cancel)
    )
    assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]
    assert stream.outcome == "cancelled"
    assert _text(seen) == "Four"


@pytest.mark.parametrize(
    ("api", "expected"), [(APIS[0], "req_x"), (APIS[2], "req_a")], ids=["openai", "anthropic"]
)
def test_the_request_id_is_read_from_the_providers_own_headers(
    api: Api, expected: str, genai_telemetry: GenAITelemetry
) -> None:
    # Both headers present: each provider's own comes first (Anthropic's is request-id).
    headers = SSE_HEADERS.replace(
        b"\r\n\r\n", b"\r\nrequest-id: req_a\r\nx-request-id: req_x\r\n\r\n"
    )

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(headers + chunk(api.body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(api, "sync", genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    assert result[1].request_id == expected


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_event_followed_by_completed_ends_completed(
    kind: str, genai_telemetry: GenAITelemetry
) -> None:
    # The terminal event decides: the error was delivered (ErrorReported) and the answer
    # completed after it, so the span has no error status and no error.type (docs/outcomes.md).
    frames = RESPONSES_BODY.split(b"\n\n")
    error = (
        b'event: error\ndata: {"type":"error","code":"server_error","message":"transient",'
        b'"sequence_number":3}'
    )
    body = b"\n\n".join([*frames[:3], error, *frames[3:]])

    def handler(conn: Conn) -> None:
        if conn.request() is not None:
            conn.send(SSE_HEADERS + chunk(body) + LAST_CHUNK)

    with RawServer(handler) as server:
        result = run(APIS[0], kind, genai_telemetry, server.base_url)
    assert not isinstance(result, BaseException), result
    events, stream = result
    assert any(type(event).__name__ == "ErrorReported" for event in events)
    assert _text(events) == APIS[0].text
    assert stream.outcome == "completed"
    span = genai_telemetry.inference_span()
    attributes = _attributes(span)
    assert attributes["spanstream.outcome"] == "completed"
    assert "error.type" not in attributes
    assert span.status.status_code.name == "UNSET"


def test_an_in_memory_async_body_is_read_to_its_end_after_the_terminal_event() -> None:
    # A transport without a socket (an application's httpx.MockTransport serving an async
    # generator): the drain is bounded by the loop's clock, and the generator finishes on the
    # loop instead of being finalized by the garbage collector after the loop is gone.
    finished: list[bool] = []

    async def body() -> Any:
        for frame in RESPONSES_BODY.split(b"\n\n"):
            yield frame + b"\n\n"
        finished.append(True)  # read to its end, not closed half-way

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async def main() -> tuple[str, list[bool]]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = AsyncClient(api_key=KEY, base_url="http://test/v1", http_client=http)
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            text = (await stream.final_response()).text
        at_the_end = list(finished)  # before the loop's own shutdown could close it
        await http.aclose()
        return text, at_the_end

    text, at_the_end = asyncio.run(main())
    assert text == APIS[0].text
    assert at_the_end == [True]
