"""The serving recipe (docs/serving.md, #5): ``examples/fastapi_sse.py`` under a real uvicorn on
127.0.0.1, traced by FastAPIInstrumentor, streaming from a ReplayServer on loopback, read by
httpx and by headless Chromium's ``EventSource``.

What a user of the recipe relies on: the trace (SERVER span -> chat span), errors in-band (the
browser does not reconnect and call the model again), a disconnect ending the stream at once on
both paths (``cancelled``, upstream request closed), and no span left open under load.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import spanstream
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES, Telemetry

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")
pytest.importorskip("opentelemetry.instrumentation.fastapi")

REPO = Path(__file__).resolve().parents[2]
PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
PATHS = ["/chat", "/chat-sync"]
# The answer the recording streams: its text deltas, joined.
ANSWER = "".join(
    json.loads(line.removeprefix("data: "))["delta"]
    for line in PLAIN.read_text(encoding="utf-8").splitlines()
    if line.startswith('data: {"type":"response.output_text.delta"')
)
REQUIRE_CHROMIUM_ENV = "SPANSTREAM_REQUIRE_CHROMIUM"
DEADLINE = 30.0  # a hang guard for polling; nothing waits for it to pass


def _example() -> ModuleType:
    """``examples/fastapi_sse.py``, imported from its path (``examples/`` is no package)."""
    name = "spanstream_example_fastapi_sse"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "fastapi_sse.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after :data:`DEADLINE`."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class DisconnectWatch:
    """ASGI middleware around the example app: counts the ``http.disconnect`` messages the app
    receives, so a test knows the app has seen its client leave."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def watched() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect":
                with self._lock:
                    self.seen += 1
            return message

        await self.app(scope, watched, send)


@dataclass
class Service:
    base_url: str
    upstream: ReplayServer
    telemetry: Telemetry
    disconnects: DisconnectWatch

    def chat_spans(self) -> list[ReadableSpan]:
        return self.telemetry.inference_spans

    def server_spans(self) -> list[ReadableSpan]:
        return [s for s in self.telemetry.spans if s.kind is SpanKind.SERVER]

    def all_spans_ended(self) -> bool:
        lifecycle = self.telemetry.lifecycle
        return lifecycle.started == lifecycle.ended


@pytest.fixture
def service(server: ReplayServer, telemetry: Telemetry) -> Iterator[Service]:
    """The example app under uvicorn on 127.0.0.1, its clients pointed at ``server``."""
    example = _example()
    options: dict[str, Any] = {
        "api_key": "sk-test",
        "base_url": server.base_url,
        "tracer_provider": telemetry.provider,
    }
    client = spanstream.Client(**options)
    async_client = spanstream.AsyncClient(**options)
    app = DisconnectWatch(example.create_app(client, async_client, telemetry.provider))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _until(lambda: web.started, "uvicorn to start")
    host, port = sock.getsockname()
    yield Service(f"http://{host}:{port}", server, telemetry, app)
    server.release()  # let a reply still held end, so the app's requests finish
    web.should_exit = True
    thread.join(DEADLINE)
    assert not thread.is_alive(), "uvicorn did not stop"  # the app closed its clients
    sock.close()


def _events(body: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of an SSE body as the example writes it."""
    events = []
    for frame in body.split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def _parent_is(child: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        child.parent is not None
        and child.parent.span_id == parent.context.span_id
        and child.context.trace_id == parent.context.trace_id
    )


@pytest.mark.parametrize("path", PATHS)
def test_the_answer_is_forwarded_as_sse_under_the_request_span(service: Service, path: str) -> None:
    service.upstream.enqueue(Reply.from_file(PLAIN))
    with httpx.Client(base_url=service.base_url) as http:
        response = http.get(path, params={"q": "Hi"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    texts = [data["text"] for name, data in events if name == "message"]
    assert len(texts) > 1
    assert events[-1] == (
        "done",
        {"outcome": "completed", "finish_reason": "stop", "refusal": False},
    )

    _until(service.all_spans_ended, "the spans to end")
    (chat,) = service.chat_spans()
    (request,) = service.server_spans()
    assert "".join(texts) == ANSWER
    assert _parent_is(chat, request)
    assert request.attributes["http.route"] == path
    assert chat.attributes["spanstream.outcome"] == "completed"


@pytest.mark.parametrize("path", PATHS)
def test_an_error_after_the_headers_is_sent_in_band(service: Service, path: str) -> None:
    service.upstream.enqueue(Reply.from_file(PLAIN, cut_after_events=6))
    with httpx.Client(base_url=service.base_url) as http:
        response = http.get(path, params={"q": "Hi"})
    # The body ends cleanly with a final event: nothing for EventSource to retry.
    assert response.status_code == 200
    events = _events(response.text)
    assert [name for name, _ in events[:-1]] == ["message"] * 2
    assert events[-1] == ("failed", {"error": "APIConnectionError"})
    _until(service.all_spans_ended, "the spans to end")
    (chat,) = service.chat_spans()
    assert chat.attributes["spanstream.outcome"] == "error"
    assert chat.attributes["error.type"] == "APIConnectionError"


@pytest.mark.parametrize("path", PATHS)
def test_a_client_that_disconnects_cancels_the_stream_and_its_upstream_request(
    service: Service, path: str
) -> None:
    upstream = service.upstream
    # Held after two text deltas: the model is still "writing" when the client leaves.
    upstream.enqueue(Reply.from_file(PLAIN, hold_after_events=6))
    with (
        httpx.Client(base_url=service.base_url) as http,
        http.stream("GET", path, params={"q": "Hi"}) as response,
    ):
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:")).startswith('data: {"text"')
        assert upstream.wait_for_hold()
    # Leaving the block closed the connection: the user closed the tab.
    _until(lambda: service.disconnects.seen == 1, "the app to see the disconnect")
    # At once on both paths, while the model is still "writing": the async endpoint's task is
    # cancelled where it awaits the model; the def endpoint's stream is closed from the event
    # loop, which interrupts the read its worker thread is blocked in.
    assert upstream.wait_for_open_connections(0)  # the upstream request was closed

    _until(service.all_spans_ended, "the spans to end")
    (chat,) = service.chat_spans()
    (request,) = service.server_spans()
    assert _parent_is(chat, request)
    assert chat.attributes["spanstream.outcome"] == "cancelled"
    assert "error.type" not in chat.attributes
    assert "gen_ai.response.finish_reasons" not in chat.attributes  # none came
    assert len(upstream.requests) == 1


def test_twenty_concurrent_clients_leave_no_span_open(service: Service) -> None:
    service.upstream.default = Reply.from_file(PLAIN)

    async def one(http: httpx.AsyncClient, path: str, leave: bool) -> str:
        async with http.stream("GET", path, params={"q": "Hi"}) as response:
            body = ""
            async for line in response.aiter_lines():
                if leave and line.startswith("data:"):
                    return "left"  # closes the connection after the first piece of text
                body += line + "\n"
        return str(_events(body)[-1][1]["outcome"])

    async def twenty() -> list[str]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=DEADLINE) as http:
            # Both endpoints; every fourth client leaves early.
            clients = (one(http, PATHS[i % 2], leave=i % 4 == 3) for i in range(20))
            return await asyncio.gather(*clients)

    assert sorted(asyncio.run(twenty())) == ["completed"] * 15 + ["left"] * 5
    _until(service.all_spans_ended, "the spans to end")
    chats, requests = service.chat_spans(), service.server_spans()
    assert len(chats) == len(requests) == 20
    assert {chat.parent.span_id for chat in chats if chat.parent} == {
        request.context.span_id for request in requests
    }
    outcomes = {chat.attributes["spanstream.outcome"] for chat in chats}
    assert outcomes <= {"completed", "cancelled"}  # a client that left may have had it all


# -- a real browser ------------------------------------------------------------------------


def _chromium() -> str:
    """The path of Chromium; skip (or, when CI requires it, fail) if it is absent."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path is not None:
            return path
    reason = "`chromium` not found: install Debian's `chromium` package to run the browser test"
    if os.environ.get(REQUIRE_CHROMIUM_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_CHROMIUM_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


def _browse(url: str) -> str:
    """The DOM of ``url`` once its scripts have run, from headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="spanstream-chromium-") as profile:
        result = subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                # Run the page's scripts (in virtual time: no wall clock) before dumping.
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("path", PATHS)
def test_a_browser_eventsource_shows_the_answer(service: Service, path: str) -> None:
    service.upstream.enqueue(Reply.from_file(PLAIN))
    dom = _browse(f"{service.base_url}/?path={path}")
    assert f'<pre id="answer">{html.escape(ANSWER, quote=False)}</pre>' in dom, dom
    assert '<p id="status">done completed</p>' in dom, dom
    _until(service.all_spans_ended, "the spans to end")
    (chat,) = service.chat_spans()
    # The page's own request (and the browser's favicon) have SERVER spans too.
    (request,) = [s for s in service.server_spans() if s.attributes.get("http.route") == path]
    assert _parent_is(chat, request)
    assert len(service.upstream.requests) == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_browser_eventsource_gets_the_error_in_band_and_does_not_ask_again(
    service: Service, path: str
) -> None:
    # Sent out of band (an exception after the 200 headers), the error would cut the body and
    # EventSource would reconnect: a second request to the model.
    service.upstream.default = Reply.from_file(PLAIN, cut_after_events=6)
    dom = _browse(f"{service.base_url}/?path={path}")
    assert '<p id="status">failed APIConnectionError</p>' in dom, dom
    _until(service.all_spans_ended, "the spans to end")
    assert len(service.upstream.requests) == 1
    (chat,) = service.chat_spans()
    assert chat.attributes["spanstream.outcome"] == "error"
