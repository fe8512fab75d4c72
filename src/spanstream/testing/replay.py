"""A loopback HTTP/1.1 server that replays LLM streaming responses, with fault injection.

`ReplayServer` speaks just enough of the OpenAI Responses, OpenAI Chat Completions, OpenAI
embeddings and Anthropic Messages HTTP APIs for a client under test: every ``POST`` to one of
their routes is answered with the next queued `Reply` -- a recorded Server-Sent-Events body sent
over a real socket, optionally chunked, slowed down, cut, held open, or corrupted, or one JSON
document (`Reply.json`, `ReplayServer.reply_with_embeddings`) -- and the request is recorded for
later assertions. A ``GET /v1/responses/{id}`` (streaming a stored Responses API
response, or resuming one with ``starting_after=N``) takes the next queued reply too, sent from
the first event whose ``sequence_number`` is above N. It uses the standard library only, binds
to loopback only, and runs in a background thread, so it works from synchronous and asynchronous
tests alike::

    import httpx
    from spanstream.testing import Reply, ReplayServer

    with ReplayServer() as server:
        server.enqueue(Reply.error(503, headers={"Retry-After": "0"}))
        server.enqueue(Reply.from_file("tests/fixtures/openai-responses/gpt-4.1-plain-text.sse"))
        with httpx.Client(base_url=server.base_url) as client:
            assert client.post("/responses", json={"stream": True}).status_code == 503
            body = client.post("/responses", json={"stream": True}).content
        assert len(server.requests) == 2
        assert server.requests[1].json() == {"stream": True}

Wire format: SSE replies use ``Transfer-Encoding: chunked``, never a close-delimited body. With a
chunked body the client can tell a complete response (terminated by the zero-length chunk) from a
dropped connection, exactly as with a real provider behind a proxy; with a close-delimited body a
mid-stream drop would look like a normal, merely shorter, response. Every SSE frame (or every
``chunk_size`` bytes) is one HTTP chunk written with its own ``send`` call on a socket with Nagle's
algorithm disabled, so the client sees the stream arrive piece by piece.

Faults that count events count *dispatched* SSE events of the original body, i.e. blank-line
terminated frames with at least one ``data`` field (comment-only frames such as ``: ping`` are
not counted). When several faults target the same count they apply in this order: injected error
frame, malformed frame, hold, cut or end. A count larger than the number of events in the body
applies at the end of the body, before the terminating chunk.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal, cast

from .recordings import recording

__all__ = [
    "FETCH_ROUTE",
    "MALFORMED_DATA",
    "ROUTES",
    "embeddings_body",
    "ReplyOutcome",
    "RecordedRequest",
    "ReplayServer",
    "Reply",
]

ReplyOutcome = Literal["completed", "cut", "disconnected", "aborted"]
"""How the server finished handling one request (see `ReplayServer.outcomes`).

``"completed"``: the whole reply was sent. ``"cut"``: a ``cut_after_*`` fault dropped the
connection. ``"disconnected"``: the client went away first. ``"aborted"``: `ReplayServer.close`
interrupted the reply.
"""

#: Paths answered with a queued reply (the same paths without the ``/v1`` prefix work too, and
#: under Azure OpenAI's ``/openai`` and ``/openai/deployments/{name}``).
ROUTES = ("/v1/responses", "/v1/chat/completions", "/v1/messages", "/v1/embeddings")
FETCH_ROUTE = "/v1/responses/"
"""``GET`` under this prefix (or without ``/v1``) fetches a stored response: ``{id}`` follows."""

#: ``data`` of the frame inserted by ``malformed_after_events``: not valid JSON.
MALFORMED_DATA = '{"type": "response.output_text.delta", "delta": "unterminated'

# How often a held reply checks whether its client has gone away. A held reply blocks on a
# threading.Event (set by release()/close()); between waits it peeks at the socket, because a
# peer's FIN cannot be waited for together with an Event using the standard library.
_HOLD_POLL_INTERVAL = 0.02

# serve_forever() only notices shutdown() between polls, so this bounds how long close() waits
# for the accept loop.
_ACCEPT_POLL_INTERVAL = 0.02

# Upper bound for close() to wait for a worker thread. Workers never block on anything close()
# does not interrupt, so reaching this is a bug, reported rather than hanging the test run.
_JOIN_TIMEOUT = 10.0

_THREAD_NAME = "spanstream-replay"

# A line of an SSE body together with its terminator (CRLF, LF or lone CR, per the SSE spec).
_SSE_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")

# Framing is the server's job: letting a reply set these would produce an unparseable response.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

# Default (type, code) of an error body per status, after the OpenAI API's error objects.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", None),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
    504: ("server_error", None),
}


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


def _default_error_body(status: int) -> dict[str, Any]:
    type_, code = _ERROR_KINDS.get(
        status, ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    )
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _error_body(f"{status} {phrase} (replayed by spanstream ReplayServer)", type_, code)


def _check_count(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _header_items(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return () if headers is None else tuple(headers.items())


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP response; build it with `sse`, `from_file`, `events`, `json` or
    `error`.

    SSE replies (``kind == "sse"``) are sent with ``Content-Type: text/event-stream`` and a
    chunked body, and accept the fault options documented on `Reply.sse`. JSON and error
    replies (``kind == "json"`` / ``"error"``) are sent as one body with a ``Content-Length``.
    """

    kind: Literal["sse", "json", "error"]
    body: bytes
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    chunk_size: int | None = None
    cut_after_bytes: int | None = None
    cut_after_events: int | None = None
    delay_first_byte: float = 0.0
    drip_interval: float = 0.0
    hold_after_events: int | None = None
    inject_error_after_events: int | None = None
    malformed_after_events: int | None = None
    end_after_events: int | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        for name in (
            "cut_after_bytes",
            "cut_after_events",
            "end_after_events",
            "hold_after_events",
            "inject_error_after_events",
            "malformed_after_events",
        ):
            _check_count(name, getattr(self, name))
        if self.delay_first_byte < 0 or self.drip_interval < 0:
            raise ValueError("delay_first_byte and drip_interval must be >= 0")
        for name, _ in self.headers:
            if name.lower() in _FRAMING_HEADERS:
                raise ValueError(f"header {name!r} is managed by ReplayServer and cannot be set")

    @classmethod
    def sse(
        cls,
        body: bytes | str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        chunk_size: int | None = None,
        cut_after_bytes: int | None = None,
        cut_after_events: int | None = None,
        end_after_events: int | None = None,
        delay_first_byte: float = 0.0,
        drip_interval: float = 0.0,
        hold_after_events: int | None = None,
        inject_error_after_events: int | None = None,
        malformed_after_events: int | None = None,
    ) -> Reply:
        """An SSE reply whose body is ``body`` byte for byte (``str`` is UTF-8 encoded).

        Fault options:

        * ``status``, ``headers``: response status and extra headers (``Content-Type`` may be
          overridden; ``Content-Length``, ``Transfer-Encoding`` and ``Connection`` may not).
        * ``chunk_size``: send the body as HTTP chunks of this many bytes, each flushed on its
          own; by default each SSE frame is one chunk.
        * ``cut_after_bytes``: send this many body bytes, then close the connection without the
          terminating chunk (httpx raises ``RemoteProtocolError``). Counts bytes of the body as
          sent, injected frames included.
        * ``cut_after_events``: send the first N events complete, then close the same way.
        * ``end_after_events``: send the first N events, then end the body cleanly (with the
          terminating chunk), as a provider that stops mid-response without a terminal event;
          with ``inject_error_after_events=N`` it is a provider's ``error`` ending the stream.
        * ``delay_first_byte``: seconds to wait before the status line.
        * ``drip_interval``: seconds to wait between two chunks.
        * Both delays end as soon as the client disconnects (outcome ``"disconnected"``,
          recorded then, not at the next write) or `ReplayServer.close` is called.
        * ``hold_after_events``: send N events, then keep the connection open without sending
          anything until the client disconnects or `ReplayServer.release` or
          `ReplayServer.close` is called; after a release the rest of the body is sent.
        * ``inject_error_after_events``: after N events insert a server error as the API of the
          requested route reports one mid-stream. Responses: an ``error`` event
          ``{"type":"error","code":"server_error","message":"injected error",
          "sequence_number":N}``; Chat Completions: a data-only frame
          ``{"error":{"code":"server_error","message":"injected error","type":"server_error",
          "param":null}}``; Anthropic Messages: an ``error`` event
          ``{"type":"error","error":{"type":"api_error","message":"injected error"}}``.
        * ``malformed_after_events``: after N events insert a frame whose ``data`` is not valid
          JSON (`MALFORMED_DATA`).

        A fault scheduled after more events than the body has applies at the end of the body.
        Cuts close the socket with a normal FIN, not an RST, so the client always receives every
        byte sent before the cut.
        """
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return cls(
            kind="sse",
            body=data,
            status=status,
            headers=_header_items(headers),
            chunk_size=chunk_size,
            cut_after_bytes=cut_after_bytes,
            cut_after_events=cut_after_events,
            end_after_events=end_after_events,
            delay_first_byte=delay_first_byte,
            drip_interval=drip_interval,
            hold_after_events=hold_after_events,
            inject_error_after_events=inject_error_after_events,
            malformed_after_events=malformed_after_events,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **faults: Any) -> Reply:
        """An SSE reply replaying the recorded body in ``path`` (e.g. a ``.sse`` fixture).

        ``faults`` are the keyword options of `Reply.sse`.
        """
        with open(path, "rb") as file:
            return cls.sse(file.read(), **faults)

    @classmethod
    def events(
        cls,
        events: Sequence[tuple[str | None, Mapping[str, Any] | str]],
        **faults: Any,
    ) -> Reply:
        """An SSE reply built from ``(event_name, payload)`` pairs.

        Each pair becomes ``event: <event_name>\\ndata: <payload>\\n\\n``. A mapping payload is
        encoded as compact JSON; a ``str`` payload is sent verbatim (use it for ``[DONE]`` or for
        malformed JSON; a multi-line string becomes several ``data:`` lines, as SSE requires).
        An ``event_name`` of ``None`` omits the ``event:`` line, as Chat Completions streams do.
        ``faults`` are the keyword options of `Reply.sse`.
        """
        frames: list[str] = []
        for name, payload in events:
            if isinstance(payload, str):
                data = payload
            else:
                data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            lines = [] if name is None else [f"event: {name}"]
            lines.extend(f"data: {line}" for line in data.split("\n"))
            frames.append("\n".join(lines) + "\n\n")
        return cls.sse("".join(frames), **faults)

    @classmethod
    def error(
        cls,
        status: int,
        body: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        delay_first_byte: float = 0.0,
    ) -> Reply:
        """A non-streaming error response, e.g. ``Reply.error(429, headers={"Retry-After": "1"})``.

        ``body`` defaults to an OpenAI-style ``{"error": {"message", "type", "code", "param"}}``
        object for ``status``; a mapping is sent as JSON, a ``str`` verbatim. The content type is
        ``application/json`` unless ``headers`` sets another one.
        """
        if body is None:
            body = _default_error_body(status)
        return cls._document("error", body, status, headers, delay_first_byte)

    @classmethod
    def json(
        cls,
        body: Mapping[str, Any] | str | bytes,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay_first_byte: float = 0.0,
    ) -> Reply:
        """A reply that is one JSON document, as a request that is not streamed gets (an
        embeddings reply, a ``create()``): a mapping is sent as JSON, ``str`` or ``bytes``
        verbatim (a recorded body, or a malformed one). The content type is
        ``application/json`` unless ``headers`` sets another one."""
        return cls._document("json", body, status, headers, delay_first_byte)

    @classmethod
    def _document(
        cls,
        kind: Literal["json", "error"],
        body: Mapping[str, Any] | str | bytes,
        status: int,
        headers: Mapping[str, str] | None,
        delay_first_byte: float,
    ) -> Reply:
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
        return cls(
            kind=kind,
            body=data,
            status=status,
            headers=_header_items(headers),
            delay_first_byte=delay_first_byte,
        )


def embeddings_body(
    vectors: Sequence[Sequence[float]],
    *,
    model: str = "text-embedding-3-small",
    encoding_format: Literal["float", "base64"] = "float",
    prompt_tokens: int | None = None,
) -> dict[str, Any]:
    """An OpenAI ``/embeddings`` reply (OpenAI API reference, "The embedding object"): the
    ``embedding`` of each item is its floats, or base64 of little-endian float32."""

    def encode(vector: Sequence[float]) -> list[float] | str:
        if encoding_format == "float":
            return list(vector)
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")

    body: dict[str, Any] = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode(vector)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
    }
    if prompt_tokens is not None:
        body["usage"] = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    return body


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it; ``headers`` names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


# --- reply planning ------------------------------------------------------------------------


class _Hold:
    """Plan step: block until released, the client leaves, or the server closes."""


class _Cut:
    """Plan step: drop the connection without finishing the body."""


_HOLD = _Hold()
_CUT = _Cut()
_Step = bytes | _Hold | _Cut


def _split_frames(body: bytes) -> list[tuple[bytes, bool]]:
    """Split an SSE body into frames: ``(bytes including the blank line, dispatches_event)``.

    A frame dispatches an event when it has a ``data`` field. Bytes after the last blank line
    (an unterminated frame, which a client discards) form a final non-dispatching frame, so the
    frames always concatenate back to ``body``.
    """
    frames: list[tuple[bytes, bool]] = []
    start = 0
    has_data = False
    for match in _SSE_LINE.finditer(body):
        line = match.group(1)
        if not line:
            frames.append((body[start : match.end()], has_data))
            start, has_data = match.end(), False
        elif line == b"data" or line.startswith(b"data:"):
            has_data = True
    if start < len(body):
        frames.append((body[start:], False))
    return frames


_INJECTED_ERROR = {"code": "server_error", "message": "injected error"}


def _error_frame(route: str, sequence_number: int) -> bytes:
    """A mid-stream server error as the API of ``route`` reports it."""
    event: str | None = "error"
    payload: dict[str, Any]
    if route.endswith("/chat/completions"):
        # OpenAI sends a data-only frame holding just the error object.
        event = None
        payload = {"error": {**_INJECTED_ERROR, "type": "server_error", "param": None}}
    elif route.endswith("/messages"):
        payload = {"type": "error", "error": {"type": "api_error", "message": "injected error"}}
    else:
        payload = {"type": "error", **_INJECTED_ERROR, "sequence_number": sequence_number}
    data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    return data if event is None else b"event: " + event.encode() + b"\n" + data


def _api_route(path: str) -> str:
    """The route of a request's path, Azure OpenAI's forms (``/openai/v1/...``, ``/openai/...``,
    ``/openai/deployments/{name}/...``) read as the OpenAI routes they serve."""
    route = path.partition("?")[0]
    if route.startswith("/openai/"):
        route = route.removeprefix("/openai")
        if route.startswith("/deployments/"):
            route = "/" + route.removeprefix("/deployments/").partition("/")[2]
    return route


def _is_fetch(route: str) -> bool:
    """Whether ``route`` is ``/v1/responses/{id}`` (or the same without ``/v1``)."""
    for prefix in (FETCH_ROUTE, FETCH_ROUTE.removeprefix("/v1")):
        if route.startswith(prefix):
            return "/" not in route[len(prefix) :] and len(route) > len(prefix)
    return False


def _starting_after(query: str) -> int | None:
    values = urllib.parse.parse_qs(query).get("starting_after")
    try:
        return int(values[-1]) if values else None
    except ValueError:
        return None


_SEQUENCE_NUMBER = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


def _after(frames: list[tuple[bytes, bool]], cursor: int) -> list[tuple[bytes, bool]]:
    """The frames of a resumed stream: those with no ``sequence_number`` or one above
    ``cursor``."""
    kept = []
    for frame, dispatches in frames:
        match = _SEQUENCE_NUMBER.search(frame) if dispatches else None
        if match is None or int(match.group(1)) > cursor:
            kept.append((frame, dispatches))
    return kept


def _plan(reply: Reply, route: str, starting_after: int | None = None) -> list[_Step]:
    """The body of an SSE reply to ``route`` as data pieces (one HTTP chunk each, before
    ``chunk_size``) interleaved with hold/cut markers at their event counts; for a resumed fetch,
    from the first event after sequence number ``starting_after`` (faults count from there)."""
    steps: list[_Step] = []
    pending = {
        "error": reply.inject_error_after_events,
        "malformed": reply.malformed_after_events,
        "hold": reply.hold_after_events,
        "cut": reply.cut_after_events,
        "end": reply.end_after_events,
    }

    def faults_due(events_sent: int | None) -> bool:
        # Applies, in the documented order, every fault scheduled at ``events_sent`` (or every
        # remaining one at the end of the body when ``events_sent`` is None). True once the
        # body stops there (cut, or ended early).
        for fault, at in pending.items():
            if at is None or (events_sent is not None and at != events_sent):
                continue
            pending[fault] = None
            if fault == "error":
                steps.append(_error_frame(route, at))
            elif fault == "malformed":
                steps.append(f"data: {MALFORMED_DATA}\n\n".encode())
            elif fault == "hold":
                steps.append(_HOLD)
            elif fault == "cut":
                steps.append(_CUT)
                return True
            else:
                return True  # end: the terminating chunk follows the steps planned so far
        return False

    if faults_due(0):
        return steps
    frames = _split_frames(reply.body)
    if starting_after is not None:
        frames = _after(frames, starting_after)
    count = 0
    for frame, dispatches in frames:
        steps.append(frame)
        if dispatches:
            count += 1
            if faults_due(count):
                return steps
    faults_due(None)
    return steps


# --- server --------------------------------------------------------------------------------


class _Abort(Exception):
    """Ends a reply early; ``outcome`` says why."""

    def __init__(self, outcome: ReplyOutcome) -> None:
        super().__init__(outcome)
        self.outcome: ReplyOutcome = outcome


class _TCPServer(socketserver.TCPServer):
    """A threaded TCP server that tracks its connections and worker threads so `close` can
    interrupt and join all of them (ThreadingMixIn would join without a bound)."""

    # Only for a fixed port (the default is ephemeral): lets a demo restart right away. Not on
    # Windows, where SO_REUSEADDR allows stealing a port in use.
    allow_reuse_address = sys.platform != "win32"
    request_queue_size = 64

    def __init__(self, owner: ReplayServer, address: tuple[str, int]) -> None:
        self.owner = owner
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.workers: set[threading.Thread] = set()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        sock = cast(socket.socket, request)
        # Each chunk must leave as soon as it is written: without TCP_NODELAY, Nagle's algorithm
        # holds back small writes until the previous one is acknowledged.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        worker = threading.Thread(
            target=self._work,
            args=(sock, client_address),
            name=f"{_THREAD_NAME}-worker",
            daemon=True,
        )
        # Registered here, on the accept thread, so that once shutdown() has stopped the accept
        # loop, close() sees every connection that will ever exist.
        with self.lock:
            self.connections.add(sock)
            self.workers.add(worker)
        self.owner._count_connection()
        worker.start()

    def _work(self, sock: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(sock, client_address)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            self.shutdown_request(sock)
            with self.lock:
                self.workers.discard(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            known = request in self.connections
            self.connections.discard(request)
        super().shutdown_request(request)
        if known:
            self.owner._uncount_connection()

    def interrupt_connections(self) -> None:
        """Wake every worker blocked on its socket (reading a next request, or sending)."""
        with self.lock:
            for sock in self.connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError) or (
            isinstance(error, OSError) and self.owner.closing
        ):
            return  # a client going away (or close() cutting it off) is not an error
        if error is not None:
            self.owner.errors.append(error)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spanstream-replay"
    sys_version = ""

    @property
    def owner(self) -> ReplayServer:
        return cast(_TCPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: a test helper must not write a line per request to stderr."""

    def handle(self) -> None:
        # The client going away between requests or mid-request is not an error.
        with contextlib.suppress(ConnectionError):
            super().handle()

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise ConnectionResetError("client closed during a chunked request body")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section: header lines up to a blank line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        # The body must be read in full even when unused: closing a socket with unread input
        # makes the kernel send RST, which would turn a clean "cut" into a connection reset.
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        owner = self.owner
        request_number = owner._record(RecordedRequest(self.command, self.path, headers, body))
        outcome: ReplyOutcome = "completed"
        try:
            route = _api_route(self.path)
            fetch = _is_fetch(route)
            if route not in owner._routes and not fetch:
                message = f"Invalid URL ({self.command} {route})"
                self._send_json(404, _error_body(message, "invalid_request_error", None))
            elif self.command != ("GET" if fetch else "POST"):
                message = f"Method {self.command} not allowed for {route}"
                self._send_json(405, _error_body(message, "invalid_request_error", None))
            else:
                reply = owner._next_reply()
                if reply is None:
                    message = "ReplayServer has no reply queued for this request (use enqueue())"
                    self._send_json(500, _error_body(message, "server_error", None))
                else:
                    self._send_reply(reply, request_number)
        except _Abort as abort:
            outcome = abort.outcome
            self.close_connection = True
        except ConnectionError:
            outcome = "aborted" if owner.closing else "disconnected"
            self.close_connection = True
        except OSError:
            if not owner.closing:
                raise
            outcome = "aborted"
            self.close_connection = True
        finally:
            owner._finish(outcome)

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _wait(self, seconds: float) -> None:
        """Wait out a delay fault (``delay_first_byte``, ``drip_interval``), ending it as soon as
        the client goes away ("disconnected": a test of a disconnect sees it at once, not at the
        next write) or close() is called ("aborted"). One select() on the client's socket and
        the server's wake-up socket, which close() makes readable: no polling."""
        if seconds <= 0:
            return
        owner = self.owner
        deadline = time.monotonic() + seconds
        sock = self.connection
        watched: list[socket.socket] = [sock, owner._wakeup]
        while not owner.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select(watched, [], [], remaining)
            except (OSError, ValueError):  # the socket was closed under us
                raise _Abort("aborted" if owner.closing else "disconnected") from None
            if sock in readable and not owner.closing:
                if self._peer_closed():
                    raise _Abort("disconnected")
                # Data from a client still there (a pipelined request): the socket stays
                # readable, so wait for the rest of the delay on close() alone.
                watched = [owner._wakeup]
        raise _Abort("aborted")

    def _send_headers(self, reply: Reply, request_number: int, defaults: dict[str, str]) -> None:
        names = {name.lower() for name, _ in reply.headers}
        self.send_response(reply.status)
        for name, value in defaults.items():
            if name.lower() not in names:
                self.send_header(name, value)
        if "x-request-id" not in names:
            self.send_header("x-request-id", f"req_replay_{request_number}")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()

    def _send_reply(self, reply: Reply, request_number: int) -> None:
        gate = self.owner._open_gate() if reply.hold_after_events is not None else None
        try:
            self._wait(reply.delay_first_byte)
            if reply.kind != "sse":
                defaults = {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(reply.body)),
                }
                self._send_headers(reply, request_number, defaults)
                self.wfile.write(reply.body)
                return
            defaults = {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "Transfer-Encoding": "chunked",
            }
            self._send_headers(reply, request_number, defaults)
            self._send_body(reply, gate)
        finally:
            if gate is not None:
                self.owner._close_gate(gate)

    def _chunks(self, reply: Reply) -> Iterator[bytes | _Hold | _Cut]:
        """The plan with ``chunk_size`` and ``cut_after_bytes`` applied."""
        budget = reply.cut_after_bytes
        route, query = _api_route(self.path), self.path.partition("?")[2]
        for step in _plan(reply, route, _starting_after(query)):
            if not isinstance(step, bytes):
                yield step
                if isinstance(step, _Cut):
                    return
                continue
            if budget is not None:
                step = step[:budget]
                budget -= len(step)
            # Never yield an empty piece: a zero-length chunk would end the body cleanly.
            if step:
                size = reply.chunk_size or len(step)
                for start in range(0, len(step), size):
                    yield step[start : start + size]
            if budget == 0:
                yield _CUT
                return
        if budget is not None:
            yield _CUT  # the body had fewer bytes than cut_after_bytes: cut at its end

    def _send_body(self, reply: Reply, gate: threading.Event | None) -> None:
        first = True
        for step in self._chunks(reply):
            if isinstance(step, _Cut):
                self.close_connection = True
                # SHUT_WR sends FIN right away; the client then reads every byte already sent
                # and hits EOF inside the chunked body, like a dropped upstream connection.
                self.connection.shutdown(socket.SHUT_WR)
                raise _Abort("cut")
            if isinstance(step, _Hold):
                assert gate is not None
                self._hold(gate)
                continue
            if not first:
                self._wait(reply.drip_interval)
            first = False
            # One write per chunk (size line, data, CRLF): each becomes its own TCP segment.
            self.wfile.write(b"%X\r\n%s\r\n" % (len(step), step))
        self.wfile.write(b"0\r\n\r\n")

    def _hold(self, gate: threading.Event) -> None:
        owner = self.owner
        owner._enter_hold()
        try:
            while not gate.wait(_HOLD_POLL_INTERVAL):
                if self._peer_closed():
                    raise _Abort("disconnected")
            if owner.closing:
                raise _Abort("aborted")
        finally:
            owner._leave_hold()

    def _peer_closed(self) -> bool:
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            # Readable with nothing to read means EOF. Readable with data (a pipelined request)
            # means the client is still there.
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class ReplayServer:
    """A loopback HTTP/1.1 server answering LLM API requests with queued `Reply` objects.

    Use it as a context manager, or call `start` and `close`. Each request to a route in
    `ROUTES` (or the same path without ``/v1``, or as Azure OpenAI names it) takes the next reply
    from the FIFO queue filled by `enqueue`; when the queue is empty the ``default`` reply is
    used if given, otherwise the server answers 500 with an OpenAI-style error body. Other paths
    get a 404 error body and do not consume a reply. Every request, whatever its path, is
    appended to `requests`.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, default: Reply | None = None
    ) -> None:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host must be an IPv4 loopback address, got {host!r}") from None
        if address.version != 4 or not address.is_loopback:
            raise ValueError(f"host must be an IPv4 loopback address, got {host!r}")
        self._host = host
        self._requested_port = port
        self.default = default
        """Reply used when the queue is empty (None: answer 500)."""
        self._routes = frozenset(ROUTES) | {route.removeprefix("/v1") for route in ROUTES}
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order."""
        self.outcomes: list[ReplyOutcome] = []
        """How each handled request ended, in the order they finished. An outcome is recorded
        after the reply's last byte, so a client may see the response end first: call
        `wait_for_finished` before reading this."""
        self.errors: list[BaseException] = []
        """Unexpected exceptions raised while handling requests (bugs, not client disconnects)."""
        self._queue: deque[Reply] = deque()
        self._state = threading.Condition()
        self._gates: set[threading.Event] = set()
        self._held = 0
        self._connections = 0
        self._open = 0
        self._closing = threading.Event()
        self._tcp: _TCPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> ReplayServer:
        """Bind the socket and start serving in a daemon thread; returns ``self``."""
        if self._tcp is not None or self._closing.is_set():
            raise RuntimeError("a ReplayServer can only be started once")
        self._tcp = _TCPServer(self, (self._host, self._requested_port))
        # Made readable by close(), and never read: wakes every reply waiting on a delay fault.
        self._wakeup, self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._tcp.serve_forever,
            kwargs={"poll_interval": _ACCEPT_POLL_INTERVAL},
            name=f"{_THREAD_NAME}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the server: releases held replies, drops open connections, joins all threads.

        Idempotent. Returns promptly even if clients still hold connections open or a reply is
        held or delayed. Raises RuntimeError if a thread fails to stop (which would be a bug).
        """
        if self._closing.is_set():
            return
        self._closing.set()
        with self._state:
            for gate in self._gates:
                gate.set()
        tcp, thread = self._tcp, self._thread
        if tcp is None or thread is None:
            return
        self._wake.send(b"x")
        tcp.shutdown()  # returns once the accept loop has exited: no new connections after this
        thread.join(_JOIN_TIMEOUT)
        tcp.interrupt_connections()
        with tcp.lock:
            workers = list(tcp.workers)
        for worker in workers:
            worker.join(_JOIN_TIMEOUT)
        tcp.server_close()
        if thread.is_alive() or any(worker.is_alive() for worker in workers):
            raise RuntimeError("ReplayServer threads did not stop")
        self._close_wakeup()

    def _close_wakeup(self) -> None:
        self._wakeup.close()
        self._wake.close()

    def __enter__(self) -> ReplayServer:
        if self._tcp is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closing(self) -> bool:
        """True once `close` has been called."""
        return self._closing.is_set()

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the ephemeral port chosen when started)."""
        if self._tcp is None:
            raise RuntimeError("ReplayServer is not started")
        return int(self._tcp.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, the ``base_url`` to give an OpenAI-style client."""
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting --

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the FIFO queue; each request consumes one."""
        with self._state:
            self._queue.extend(replies)

    def reply_with_file(self, path: str | os.PathLike[str], **faults: Any) -> Reply:
        """Queue `Reply.from_file` of ``path`` with the fault options of `Reply.sse`; returns
        the queued reply. ``server.reply_with_file(path, cut_after_events=3)``."""
        return self._enqueue_one(Reply.from_file(path, **faults))

    def reply_with_recording(self, name: str, **faults: Any) -> Reply:
        """Queue a recording bundled with spanstream (see `spanstream.testing.recording`), e.g.
        ``server.reply_with_recording("openai-responses/gpt-4.1-plain-text")``."""
        return self._enqueue_one(Reply.from_file(recording(name), **faults))

    def reply_with_sse(self, body: bytes | str, **faults: Any) -> Reply:
        """Queue `Reply.sse` of ``body`` (sent byte for byte) with the given fault options."""
        return self._enqueue_one(Reply.sse(body, **faults))

    def reply_with_events(
        self, events: Sequence[tuple[str | None, Mapping[str, Any] | str]], **faults: Any
    ) -> Reply:
        """Queue `Reply.events` built from ``(event_name, payload)`` pairs, e.g. a Chat
        Completions stream ``[(None, {...}), (None, "[DONE]")]``."""
        return self._enqueue_one(Reply.events(events, **faults))

    def reply_with_error(
        self,
        status: int,
        body: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        delay_first_byte: float = 0.0,
    ) -> Reply:
        """Queue `Reply.error`: ``status`` with an OpenAI-style error body unless ``body`` is
        given (pass an Anthropic-style ``{"type": "error", "error": {...}}`` for /messages)."""
        return self._enqueue_one(
            Reply.error(status, body, headers, delay_first_byte=delay_first_byte)
        )

    def reply_with_json(
        self,
        body: Mapping[str, Any] | str | bytes,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay_first_byte: float = 0.0,
    ) -> Reply:
        """Queue `Reply.json`: one JSON document (a mapping, or a body sent verbatim)."""
        return self._enqueue_one(
            Reply.json(body, status=status, headers=headers, delay_first_byte=delay_first_byte)
        )

    def reply_with_embeddings(
        self,
        vectors: Sequence[Sequence[float]],
        *,
        model: str = "text-embedding-3-small",
        encoding_format: Literal["float", "base64"] = "float",
        prompt_tokens: int | None = None,
        **options: Any,
    ) -> Reply:
        """Queue an OpenAI ``/embeddings`` reply holding ``vectors`` (one per input, indexed in
        order) as floats or, with ``encoding_format="base64"``, as base64 of little-endian
        float32, with ``usage`` when ``prompt_tokens`` is given. ``options`` are those of
        `Reply.json` (``status``, ``headers``, ``delay_first_byte``)."""
        return self._enqueue_one(
            Reply.json(
                embeddings_body(
                    vectors,
                    model=model,
                    encoding_format=encoding_format,
                    prompt_tokens=prompt_tokens,
                ),
                **options,
            )
        )

    def _enqueue_one(self, reply: Reply) -> Reply:
        self.enqueue(reply)
        return reply

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request received; AssertionError if there was none."""
        with self._state:
            if not self.requests:
                raise AssertionError("ReplayServer has received no request")
            return self.requests[-1]

    @property
    def pending(self) -> int:
        """Number of queued replies not yet consumed."""
        with self._state:
            return len(self._queue)

    def release(self) -> None:
        """Let every reply that is held (or will hold) on a ``hold_after_events`` fault continue.

        Affects replies whose request has already arrived; a reply served after this call holds
        until the next `release`.
        """
        with self._state:
            for gate in self._gates:
                gate.set()
            self._gates.clear()

    @property
    def held(self) -> int:
        """Number of replies currently blocked on a ``hold_after_events`` fault."""
        with self._state:
            return self._held

    @property
    def connections(self) -> int:
        """Number of TCP connections accepted so far: a client that keeps connections alive
        opens fewer than it sends requests."""
        with self._state:
            return self._connections

    @property
    def open_connections(self) -> int:
        """Number of TCP connections open now: accepted, and neither closed by the client (as
        seen by the server) nor by the server."""
        with self._state:
            return self._open

    # -- waiting (no sleeping needed in tests) --

    def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._state:
            return self._state.wait_for(predicate, timeout)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were received; False on timeout."""
        return self._wait_until(lambda: len(self.requests) >= n, timeout)

    def wait_for_hold(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` replies are held at their ``hold_after_events`` point,
        i.e. have sent their first N events and are waiting; False on timeout."""
        return self._wait_until(lambda: self._held >= n, timeout)

    def wait_for_finished(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were fully handled (see `outcomes`); False on
        timeout."""
        return self._wait_until(lambda: len(self.outcomes) >= n, timeout)

    def wait_for_open_connections(self, at_most: int, timeout: float = 5.0) -> bool:
        """Block until at most ``at_most`` connections are open (see `open_connections`), e.g.
        until a client has closed its idle keep-alive connections; False on timeout."""
        return self._wait_until(lambda: self._open <= at_most, timeout)

    # -- called by handler threads --

    def _record(self, request: RecordedRequest) -> int:
        with self._state:
            self.requests.append(request)
            self._state.notify_all()
            return len(self.requests)

    def _next_reply(self) -> Reply | None:
        with self._state:
            return self._queue.popleft() if self._queue else self.default

    def _finish(self, outcome: ReplyOutcome) -> None:
        with self._state:
            self.outcomes.append(outcome)
            self._state.notify_all()

    def _open_gate(self) -> threading.Event:
        gate = threading.Event()
        with self._state:
            if self._closing.is_set():
                gate.set()
            self._gates.add(gate)
        return gate

    def _close_gate(self, gate: threading.Event) -> None:
        with self._state:
            self._gates.discard(gate)

    def _count_connection(self) -> None:
        with self._state:
            self._connections += 1
            self._open += 1

    def _uncount_connection(self) -> None:
        with self._state:
            self._open -= 1
            self._state.notify_all()

    def _enter_hold(self) -> None:
        with self._state:
            self._held += 1
            self._state.notify_all()

    def _leave_hold(self) -> None:
        with self._state:
            self._held -= 1
            self._state.notify_all()
