"""``Stream`` and ``AsyncStream``: drive bytes -> SSE -> events and own the HTTP response.

Both share :class:`_StreamCore`, which holds every decision (timings, outcome, when to raise);
the two classes differ only in how they read bytes and close the response. Whatever way a
stream ends — completed, incomplete, failed, HTTP or transport error, malformed stream, the
consumer breaking out or raising, task cancellation, ``close()``, garbage collection — the
observer's ``end`` runs exactly once, with the usage seen so far.

The rules of the end, for every API alike:

* A stream is complete at its terminal event (Responses ``response.completed`` /
  ``incomplete`` / ``failed``, Chat Completions ``[DONE]``, Anthropic ``message_stop``), even if
  the server keeps the body open: the outcome is settled and the span ends there. The first
  terminal event wins; events after it are not delivered and are counted
  (``spanstream.events.ignored``). What is left of the body is then read for at most
  ``drain_timeout`` seconds, so that a well-behaved server's connection goes back to the pool,
  and the response is closed.
* No event for ``idle_timeout`` seconds (comments do not count: a keep-alive comment restarts
  httpx's read timer, not this one) ends the stream with :class:`~spanstream.APITimeoutError`.
  Both deadlines span many reads, so they are kept by :mod:`spanstream._watchdog`.
* Every event decoded before an error is delivered before the error is raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

import httpx

from ._body import async_chunks, is_event_stream, sync_chunks
from ._record import Record
from ._secrets import scrub_exception
from ._watchdog import Watch, shut, socket_of, watchdog
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ResponseFailedError,
    SpanstreamError,
    SSEDecodeError,
    StreamError,
    UnexpectedContentTypeError,
    UsageError,
)
from .events import (
    ProviderError,
    RefusalDelta,
    Response,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
)
from .providers.base import Parser, RequestInfo
from .results import Outcome, StreamObserver, StreamResult, StreamTimings
from .sse import DEFAULT_MAX_EVENT_SIZE, RawEvent, SSEDecoder

__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "AsyncStream",
    "Stream",
    "StreamSettings",
    "error_type_of",
]

DEFAULT_DRAIN_TIMEOUT = 0.5
"""Seconds to read what is left of the body after the terminal event before closing it: a
server that ends the body promptly keeps its connection for the next request."""


def _keep(text: str) -> str:
    return text


@dataclasses.dataclass(frozen=True, slots=True, eq=False, repr=False)
class StreamSettings(Record):
    """How a stream bounds a server and cleans what it reports (set from the client's options).

    ``idle_timeout``: seconds without an event (comments do not count) before the stream ends
    with :class:`~spanstream.APITimeoutError` (``None``: no bound). ``drain_timeout``: see
    :data:`DEFAULT_DRAIN_TIMEOUT`. ``max_event_size``: bytes of one event before the stream ends
    with :class:`~spanstream.SSEDecodeError` (``None``: no bound). ``scrub``: applied to every
    provider-supplied string that goes into an error (it removes the client's API key).
    """

    idle_timeout: float | None = None
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE
    scrub: Callable[[str], str] = _keep
    request_id_headers: tuple[str, ...] = ("x-request-id", "request-id")
    """The provider's response headers that carry its request id, first match wins."""

    def request_id(self, headers: httpx.Headers) -> str | None:
        """The request id in ``headers``, scrubbed (a server may echo the key there)."""
        for name in self.request_id_headers:
            value: str | None = headers.get(name)
            if value is not None:
                return self.scrub(value)
        return None


_DEFAULT_SETTINGS = StreamSettings()

logger = logging.getLogger("spanstream")

_OUTPUT_DELTAS = (TextDelta, RefusalDelta, ToolCallStarted, ToolCallArgumentsDelta)

_Sent = TypeVar("_Sent")  # what sending returns (awaitable for the async stream)
_Chunks = TypeVar("_Chunks")  # the body's chunks: an iterator or an async iterator

_closing: set[Any] = set()  # keeps the close tasks of collected async streams alive


def _is_cancellation(error: BaseException | None) -> bool:
    """Whether ``error`` cancelled an ``asyncio`` task. asyncio is not imported for this: a
    process that never imported it has no task to cancel (importing it would cost every
    ``import spanstream`` what only async code uses)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(error, asyncio.CancelledError)


def error_type_of(error: BaseException) -> str:
    """The low-cardinality ``error.type`` of an error: the HTTP status, ``timeout``, the
    provider's error code, or the exception's class name."""
    if isinstance(error, UnexpectedContentTypeError):
        return error.code or "UnexpectedContentTypeError"
    if isinstance(error, APIStatusError):
        return str(error.status_code)
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, ResponseFailedError):
        return error.code or "_OTHER"
    return type(error).__qualname__


_WHAT_FAILED: dict[type, str] = {
    httpx.ConnectTimeout: "timed out connecting",
    httpx.ReadTimeout: "timed out waiting for data (read timeout)",
    httpx.WriteTimeout: "timed out sending the request (write timeout)",
    httpx.PoolTimeout: "timed out waiting for a free connection in the pool (pool timeout)",
    httpx.ConnectError: "could not connect",
    httpx.ReadError: "the connection broke while reading (reset or closed by the peer)",
    httpx.WriteError: "the connection broke while sending the request",
    httpx.RemoteProtocolError: "the server broke the HTTP protocol or closed the connection",
    httpx.ProxyError: "the proxy refused or failed the connection",
}


def _what_failed(error: httpx.TransportError) -> str:
    """What happened, in words, even when httpx's own message is empty (an asyncio reset or a
    read timeout carry none)."""
    detail = str(error).strip()
    for kind in type(error).__mro__:
        what = _WHAT_FAILED.get(kind)
        if what is not None:
            break
    else:
        what = type(error).__name__
    try:
        request = error.request
        where = f" ({request.method} {request.url.copy_with(query=None)})"
    except RuntimeError:  # no request attached
        where = ""
    return f"{what}{where}: {detail}" if detail else f"{what}{where}"


def wrap_transport_error(error: httpx.TransportError) -> APIConnectionError:
    """Map an httpx transport error to spanstream's hierarchy. The message always says what
    happened and names no secret (httpx messages carry no headers; the URL is given without its
    query)."""
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"timed out: {_what_failed(error)}")
    return APIConnectionError(f"connection failed: {_what_failed(error)}")


def scrubbed_failure(
    error: ProviderError, response: Response, scrub: Callable[[str], str]
) -> ResponseFailedError:
    """The :class:`ResponseFailedError` for a provider's error, its strings passed through
    ``scrub`` (a server may echo the API key in an error message)."""

    def clean(text: str | None) -> str | None:
        return None if text is None else scrub(text)

    error = ProviderError(
        message=scrub(error.message),
        code=clean(error.code),
        type=clean(error.type),
        param=clean(error.param),
    )
    return ResponseFailedError(error, dataclasses.replace(response, error=error))


_HELD_DATA = 4096  # bytes of the last event's data a stream keeps for its cursor


class _Document:
    """The decoder of a reply that is one JSON document (a ``create()``), in place of the
    stream's :class:`~spanstream.sse.SSEDecoder`: it keeps the body, bounded by the maximum
    event size (the document is the reply's one event), for the parser's ``feed_body`` at the
    end of the body. No chunk is an event: a document has no time to first chunk."""

    __slots__ = ("data", "limit")

    has_pending = False

    def __init__(self, limit: int | None) -> None:
        self.data = bytearray()
        self.limit = limit

    def feed_raw(self, chunk: bytes) -> list[RawEvent]:
        self.data += chunk
        if self.limit is not None and len(self.data) > self.limit:
            raise StreamError(
                f"the response body is larger than max_event_size ({self.limit} bytes)"
            )
        return []

    def close(self) -> None:
        pass


_VISIBLE = (TextDelta, RefusalDelta)


class _Texts(Iterator[str]):
    """``Stream.text_stream``: the text of the visible deltas, read from the stream itself
    (nothing of its own to close: the stream's ``with`` block owns the response)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def __next__(self) -> str:
        stream = self._stream
        while True:
            event = next(stream)
            if isinstance(event, _VISIBLE):
                return event.text


class _AsyncTexts(AsyncIterator[str]):
    """``AsyncStream.text_stream``: the ``asyncio`` twin of :class:`_Texts`."""

    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncStream) -> None:
        self._stream = stream

    async def __anext__(self) -> str:
        stream = self._stream
        while True:
            event = await stream.__anext__()
            if isinstance(event, _VISIBLE):
                return event.text


# What a consumer's read does next (_StreamCore.next_action); the streams perform the I/O.
DELIVER, READ, RELEASE, RAISE, STOP = range(5)


class _StreamCore:
    """Everything a stream decides, with no I/O."""

    __slots__ = (
        "decoder",
        "failure",
        "finished",
        "ignored",
        "info",
        "is_closed",
        "last_data",
        "observer",
        "outcome",
        "parser",
        "queue",
        "reading",
        "response",
        "retries",
        "server",
        "settings",
        "started",
        "terminal",
        "timings",
        "to_raise",
        "watch",
    )

    def __init__(
        self,
        parser: Parser,
        observer: StreamObserver,
        info: RequestInfo,
        settings: StreamSettings = _DEFAULT_SETTINGS,
        server: tuple[str | None, int | None] = (None, None),
    ) -> None:
        self.parser = parser
        self.observer = observer
        self.info = info
        self.settings = settings
        self.server = server  # the span's server.address and server.port
        self.started = False  # the request was sent (or its sending began)
        self.response: httpx.Response | None = None
        self.decoder: SSEDecoder | _Document = SSEDecoder(max_event_size=settings.max_event_size)
        self.queue: deque[StreamEvent] = deque()
        self.timings = StreamTimings(started=0.0)
        self.finished = False
        self.terminal = False  # the terminal event arrived (the body may still be open)
        self.outcome: Outcome | None = None
        self.retries = 0
        self.ignored = 0  # events after the terminal event
        self.reading = False  # a consumer is inside a read (to catch a second one)
        self.is_closed = False  # close() was called: nothing more is delivered
        self.to_raise: BaseException | None = None
        self.failure: ResponseFailedError | None = None
        # The last event decoded, for the parser's cursor: its data while small, else the cursor
        # read from it at once (a done event restating a long answer must not be held).
        self.last_data: bytes | int | None = None
        self.watch: Watch | None = None

    def begin(self) -> bool:
        """Start the observation before the request is sent; False if the stream has started
        already (the request is sent once, on entering the ``with`` block or the first read)."""
        if self.started:
            return False
        self.started = True
        self.timings.started = time.perf_counter()
        try:
            self.observer.start(self.info, *self.server)
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream observer failed to start")
        return True

    def send_failed(self, error: BaseException) -> None:
        """Sending raised (after its retries): the stream ends with it."""
        if isinstance(error, Exception):
            self.finish("error", error)
        else:
            self.consumer_exit(error)

    def sent(self, response: httpx.Response) -> httpx.Response:
        """The response's head arrived: keep it, and arm the idle and drain deadlines on its
        connection (when the transport exposes its socket: httpx's own HTTP/1.1 transports
        do). A reply to a request that is not streamed is one JSON document (whatever its label:
        compatible servers label loosely), unless the server says it streamed it anyway (then it
        is read as the stream it is)."""
        self.response = response
        if not self.info.stream and not is_event_stream(response.headers.get("content-type", "")):
            self.decoder = _Document(self.settings.max_event_size)
        sock = socket_of(response.extensions)
        if sock is not None:
            watch = Watch(sock, self.settings.idle_timeout, self.timings, time.perf_counter())
            self.watch = watch
            watchdog.add(watch)
        return response

    def unwatch(self) -> None:
        watch = self.watch
        if watch is not None:
            self.watch = None
            watchdog.discard(watch)

    def _undecodable(self, exc: SSEDecodeError) -> None:
        """A chunk the SSE decoder refused: deliver what it decoded before the bad bytes (they
        may even hold the end), then end the stream with the error."""
        events: list[RawEvent] = exc.events  # type: ignore[assignment]
        exc.events = []
        if events and not self._parse(events):
            return
        if not self.terminal:
            self.to_raise = exc
            self.finish("error", exc)

    def _parse(self, sse_events: list[RawEvent]) -> bool:
        """Parse decoded events into the queue; False if that raised (and finished)."""
        parser = self.parser
        queue = self.queue
        try:
            read = parser.feed_events(sse_events, queue)
            if read < len(sse_events):
                for _, data, _, _ in sse_events[read:]:  # after the terminal event
                    self._ignore(data)
            # Once per chunk, for last_sequence_number. A done event restating a long answer
            # is not held: its cursor is read now, so that it does not outlive its parsing.
            data = sse_events[-1][1]
            self.last_data = data if len(data) <= _HELD_DATA else parser.cursor(data)
        except StreamError as exc:
            # Events decoded before the bad one are still delivered, then the error is raised.
            return self._unreadable(exc)
        # Per network read, not per event: one clock read, a counter and one buffered gap.
        now = time.perf_counter()
        timings = self.timings
        last = timings.last_chunk
        if last is not None:
            timings.gaps.append(now - last)
        timings.last_chunk = now
        timings.chunks += len(sse_events)
        if timings.first_token is None:
            if timings.first_chunk is None:
                timings.first_chunk = now
            if any(isinstance(event, _OUTPUT_DELTAS) for event in queue):
                timings.first_token = now
        if parser.done and not self.finished:
            self.settle()
        return True

    def _parse_document(self, data: bytes) -> bool:
        """Parse a reply that is one JSON document into the queue; False if it could not be
        read (the stream then ends with the error, without the payload: see :meth:`_parse`)."""
        try:
            self.queue.extend(self.parser.feed_body(data))
        except StreamError as exc:
            return self._unreadable(exc)
        return True

    def _unreadable(self, exc: StreamError) -> bool:
        """End the stream with a parser's error, to raise once the queue is delivered. The
        chained cause (a pydantic ValidationError) quotes the payload: it must not reach a
        recorded exception's stack trace. Returns False (what the parse methods return)."""
        exc.__cause__ = exc.__context__ = None
        exc.__suppress_context__ = True
        self.to_raise = exc
        self.finish("error", exc)
        return False

    def _ignore(self, data: bytes) -> None:
        """An event after the terminal event: not delivered, counted. The Chat Completions
        sentinel that some servers send after a Responses terminal event is expected."""
        if data not in (b"[DONE]", "[DONE]"):
            self.ignored += 1

    def settle(self) -> None:
        """The terminal event arrived: the outcome is the parser's, and the stream is over."""
        self.terminal = True
        parser = self.parser
        response = parser.response
        if response.status == "failed":
            error = response.error or parser.error
            assert error is not None
            failure = scrubbed_failure(error, response, self.settings.scrub)
            self.to_raise = self.failure = failure
            self.finish("failed", failure)
        else:
            self.finish("completed" if response.status == "completed" else "incomplete")

    def drained(self, chunk: bytes) -> None:
        """A chunk of the body read after the terminal event: count its events, keep none."""
        try:
            for _, data, _, _ in self.decoder.feed_raw(chunk):
                self._ignore(data)
        except SSEDecodeError:
            pass  # nothing after the end is delivered, valid or not

    def end_drain(self) -> None:
        if self.ignored:
            logger.warning(
                "spanstream ignored %d event(s) the server sent after the terminal event",
                self.ignored,
            )

    def start_drain(self) -> bool:
        """Bound the rest of the body by the watchdog's drain deadline; False without a socket
        to watch (the sync stream then does not read the rest, the async one bounds it by the
        event loop's clock)."""
        watch = self.watch
        if watch is None:
            return False
        watch.drain_until = time.perf_counter() + self.settings.drain_timeout
        watchdog.changed(watch)
        return True

    def end_of_body(self) -> None:
        """The body ended: settle the outcome, and what to raise once the queue is drained."""
        if self.finished:
            return
        timeout = self.timed_out()
        if timeout is not None:
            self.to_raise = timeout
            self.finish("error", timeout)
            return
        decoder = self.decoder
        truncated = decoder.has_pending
        decoder.close()
        if isinstance(decoder, _Document) and not self._parse_document(bytes(decoder.data)):
            return
        self.queue.extend(self.parser.close())
        if self.parser.done:
            self.settle()
            return
        detail = " in the middle of an event" if truncated else ""
        cut = APIConnectionError(f"the stream ended{detail} before the response was complete")
        self.to_raise = cut
        self.finish("error", cut)

    def timed_out(self) -> APITimeoutError | None:
        """The idle timeout's error, if the watchdog ended the connection for it."""
        watch = self.watch
        if watch is None or watch.fired != "idle":
            return None
        return APITimeoutError(
            f"timed out: no event for {watch.idle_timeout} s (idle_timeout); comments and"
            " keep-alives do not count"
        )

    def finish(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """End the observation, once."""
        if self.finished:
            return
        self.finished = True
        self.outcome = outcome
        self.timings.ended = time.perf_counter()
        parser = self.parser
        failure = outcome in ("failed", "error")
        if failure and error is not None:
            # The last net: whatever built the message (an event type a server chose, say),
            # the key leaves it before the error is recorded or raised.
            scrub_exception(error, self.settings.scrub)
        result = StreamResult(
            outcome=outcome,
            response=parser.response,
            timings=self.timings,
            error=error,
            error_type=error_type_of(error) if failure and error is not None else None,
            retries=self.retries,
            unknown_events=parser.unknown_count,
            malformed_events=parser.malformed_count,
            ignored_events=self.ignored,
        )
        try:
            self.observer.end(result)
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream observer failed to end")

    def next_action(self, body_open: bool) -> int:
        """What a consumer's read must do next; the I/O it names is the caller's. ``READ`` is
        an open body and a stream not ended (``finished`` is set on every path that closes or
        fails it): the streams' read loops test that themselves, once per network read."""
        if self.is_closed:  # close() or cancel(), maybe from another thread during a read
            self.queue.clear()
            return STOP
        if self.queue:
            return DELIVER
        if self.to_raise is not None:
            return RAISE
        if not body_open:
            return STOP
        if self.finished:  # the terminal event arrived (or an error ended the stream)
            return RELEASE
        return READ

    def final(self) -> Response:
        """The final response of a stream read to its end; raises the provider's failure."""
        if self.failure is not None:
            raise self.failure
        return self.parser.response

    def take_error(self) -> BaseException:
        error, self.to_raise = self.to_raise, None
        assert error is not None
        return error

    def received(self, got: bytes | BaseException) -> bool:
        """The result of one read: a chunk, the end of the body (``StopIteration`` or
        ``StopAsyncIteration``) or what the read raised. Returns whether the response must be
        closed now; an error to raise is queued for :meth:`next_action`."""
        if isinstance(got, bytes):
            # A chunk: decoded into queued events (this is once per network read).
            try:
                try:
                    sse_events = self.decoder.feed_raw(got)
                except SSEDecodeError as exc:
                    self._undecodable(exc)
                else:
                    if sse_events:
                        self._parse(sse_events)
            except BaseException as exc:  # not a StreamError (parsing keeps those): a bug,
                return self._read_raised(exc)  # or a KeyboardInterrupt in parsing
            return False
        if isinstance(got, (StopIteration, StopAsyncIteration)):
            self.end_of_body()
            return True
        return self._read_raised(got)

    def _read_raised(self, exc: BaseException) -> bool:
        if self.is_closed and isinstance(exc, Exception):
            return True  # close() from another thread or task broke the read: nothing to say
        response = self.response
        if isinstance(exc, httpx.RequestError) and response is not None:
            # As iter_raw does (the body is read from the transport directly).
            exc.request = response.request
        if self.provider_failed(exc) and self.timed_out() is None:
            self.end_of_body()  # the provider's failure, reported before, is the story
            return True
        if isinstance(exc, Exception):
            error = self.fail(exc)
            if error is not exc:
                error.__cause__ = exc  # raised as ``raise error from exc`` would
                error.__suppress_context__ = True
        else:
            self.consumer_exit(exc)
            error = exc
        self.to_raise = error
        return True

    def provider_failed(self, error: BaseException) -> bool:
        """Whether a transport error merely follows a failure the provider already reported
        (an ``error`` event, then the connection closed): the provider's failure is the story."""
        return isinstance(error, httpx.TransportError) and self.parser.error is not None

    def fail(self, error: BaseException) -> SpanstreamError | BaseException:
        """Finish with an error raised while reading; return the error to raise."""
        timeout = self.timed_out()
        if timeout is not None:
            error = timeout
        elif isinstance(error, httpx.TransportError):
            error = wrap_transport_error(error)
        elif isinstance(error, httpx.DecodingError):
            error = StreamError(f"the response body could not be decoded: {error}")
        self.finish("error", error)
        return error

    def misuse(self) -> UsageError:
        return UsageError(
            "this stream is already being read by another thread or task: a stream has one"
            " consumer (iterate it in one place, or give each consumer its own stream)"
        )

    def consumer_exit(self, error: BaseException | None) -> None:
        """The consumer left the ``with`` block (or closed the stream) before the end."""
        if self.finished:
            return
        if _is_cancellation(error):
            self.finish("cancelled", error)
        elif isinstance(error, GeneratorExit):
            # A generator consuming the stream was closed: abandoned, not an error.
            self.finish("abandoned")
        else:
            self.finish("abandoned", error)

    def stop(self, *, cancel: bool) -> bool:
        """``close()`` or ``cancel()``, from any thread or task: end the stream (``abandoned``
        or ``cancelled``, if not ended already), deliver nothing more, and wake a consumer
        blocked in a read by shutting its connection down, as the watchdog does. True when
        such a reader was woken: it releases the response itself."""
        if cancel:
            import asyncio  # cancel() is what a web server's event loop calls

            self.consumer_exit(asyncio.CancelledError("stream cancelled"))
        else:
            self.consumer_exit(None)
        self.closed()
        watch = self.watch
        if self.reading and watch is not None:
            shut(watch.sock)
            return True
        return False

    def closed(self) -> None:
        """The consumer closed the stream: nothing more is delivered or raised (a read under
        way in another thread, which close() interrupts, ends the iteration quietly)."""
        self.is_closed = True
        self.queue.clear()
        self.to_raise = None


class _StreamBase(Generic[_Sent, _Chunks]):
    """What the sync and async streams share: construction, state and read-only views."""

    def __init__(self, core: _StreamCore, send: Callable[[], _Sent]) -> None:
        self._core = core
        self._send = send
        self._chunks: _Chunks | None = None

    @property
    def response(self) -> Response:
        """The response accumulated so far (final once the stream has ended)."""
        return self._core.parser.response

    @property
    def outcome(self) -> Outcome | None:
        """How the stream ended, or ``None`` while it is still open."""
        return self._core.outcome

    @property
    def last_sequence_number(self) -> int | None:
        """The ``sequence_number`` of the last event received, in a Responses API stream
        (``None`` in other APIs' streams and before the first event). After a dropped
        connection, pass it as ``starting_after`` to ``client.responses.resume`` to receive the
        rest of a background response. Received means decoded: when the stream raises, every
        event received before has been delivered."""
        core = self._core
        data = core.last_data
        if data is None or isinstance(data, int):
            return data
        return core.parser.cursor(data)

    @property
    def http_response(self) -> httpx.Response | None:
        """The underlying HTTP response (status and headers), once the request was sent."""
        return self._core.response

    @property
    def request_id(self) -> str | None:
        """The provider's request id (its ``request_id_headers``: ``x-request-id`` for OpenAI,
        ``request-id`` for Anthropic), once the request was sent (without the API key, should a
        server echo it there)."""
        core = self._core
        response = core.response
        if response is None:
            return None
        return core.settings.request_id(response.headers)

    def _abandoned(self) -> httpx.Response | None:
        """At garbage collection: end a stream that was started and never ended; the response
        still to close, if any."""
        core = getattr(self, "_core", None)  # None if __init__ raised
        if core is None or not core.started:
            return None
        if not core.finished:
            core.finish("abandoned")
        core.unwatch()
        response = core.response
        return None if response is None or response.is_closed else response


class Stream(_StreamBase[httpx.Response, Iterator[bytes]], Iterator[StreamEvent]):
    """A streamed response. Use it as a context manager and iterate it::

        with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
            for event in stream:
                ...
            response = stream.final_response()

    The request is sent when the ``with`` block is entered (or on the first iteration).
    """

    def __enter__(self) -> Stream:
        self._ensure_started()
        return self

    def __exit__(self, _: object, exc: BaseException | None, tb: object) -> None:
        self._core.consumer_exit(exc)
        self._release()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> StreamEvent:
        core = self._core
        queue = core.queue
        if queue:
            return queue.popleft()
        if core.reading:
            raise core.misuse()
        core.reading = True
        try:
            if not core.started:
                self._ensure_started()
            # While the stream flows (started, not ended), read and decode until a read brings
            # an event: with a chunk per event, this loop is most of a stream's per-read cost,
            # so it does what _read_next would, with fewer calls. Any other state, or a read
            # that raised or ended the body, takes _read_next.
            chunks = self._chunks
            while chunks is not None and not core.finished:
                try:
                    chunk = next(chunks)
                except BaseException as exc:
                    if core.received(exc):
                        self._close_response()
                    break
                if core.received(chunk):
                    self._close_response()
                    break
                if queue:
                    if core.is_closed:  # close() from another thread during the read
                        break
                    return queue.popleft()
            return self._read_next(core)
        finally:
            core.reading = False

    def _read_next(self, core: _StreamCore) -> StreamEvent:
        """Every state but a flowing stream's (``READ``, which :meth:`__next__` reads): the
        body is closed or the stream has ended by then, and stays so."""
        while True:
            action = core.next_action(self._chunks is not None)
            if action == DELIVER:
                return core.queue.popleft()
            if action == RELEASE:
                self._release()
            elif action == RAISE:
                raise core.take_error()
            else:
                assert action == STOP, action  # READ is read by __anext__/__next__
                self._close_response()
                raise StopIteration

    def _ensure_started(self) -> None:
        core = self._core
        if core.begin():
            try:
                with core.observer.activate():
                    response = self._send()
            except BaseException as exc:
                core.send_failed(exc)
                raise
            self._chunks = sync_chunks(core.sent(response))

    def close(self) -> None:
        """Stop reading and release the connection. A stream closed before its end is recorded
        as ``abandoned``; nothing is delivered after ``close()``.

        Safe from another thread: one blocked reading the stream is woken at once, and its
        iteration ends quietly (it releases the connection).
        """
        if not self._core.stop(cancel=False):
            self._release()

    def cancel(self) -> None:
        """Like :meth:`close`, but the stream ends ``cancelled``, as an ``asyncio`` task's does:
        what a web server calls from its event loop when its client went away while a worker
        thread reads the stream (docs/serving.md)."""
        if not self._core.stop(cancel=True):
            self._release()

    def _release(self) -> None:
        """Close the response; after the terminal event, first read what is left of the body
        (bounded by the drain deadline), so that the connection can be reused."""
        core = self._core
        chunks = self._chunks
        if chunks is not None and core.terminal and core.start_drain():
            self._chunks = None
            try:
                for chunk in chunks:
                    core.drained(chunk)
            except Exception:  # a broken or cut connection after the end is moot
                pass
            core.end_drain()
        self._close_response()

    def _close_response(self) -> None:
        response = self._core.response
        if response is not None:
            self._chunks = None
            self._core.unwatch()
            response.close()

    def final_response(self) -> Response:
        """Read the rest of the stream and return the accumulated :class:`Response`.

        Raises :class:`~spanstream.errors.ResponseFailedError` if the provider reported a failure.
        On a stream that was closed early, returns what was received (status ``in_progress``).
        """
        for _ in self:
            pass
        return self._core.final()

    @property
    def text_stream(self) -> Iterator[str]:
        """The stream as text only, for forwarding an answer to a user: the ``text`` of each
        ``TextDelta`` and ``RefusalDelta``, in order (the other events are read and skipped;
        the stream accumulates them all as usual)::

            with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
                for text in stream.text_stream:
                    print(text, end="")
                refused = stream.response.refusal is not None

        A refusal is yielded too: it is the model's answer in place of one, and the stream
        ends as usual (a Responses API refusal ends ``completed`` with finish reason
        ``stop``, an Anthropic one ``incomplete`` with ``content_filter``). To tell a refusal
        from an answer once the text is exhausted: ``stream.response.refusal`` is set (OpenAI),
        or ``stream.response.finish_reason`` is ``content_filter`` (Anthropic). Errors
        raise exactly as iterating the stream does (``ResponseFailedError``,
        ``APIConnectionError``, ...). With Chat Completions' ``n`` > 1 the choices' texts
        interleave: iterate the events to keep them apart."""
        return _Texts(self)

    def __del__(self) -> None:
        response = self._abandoned()
        if response is not None:
            response.close()


class AsyncStream(
    _StreamBase[Awaitable[httpx.Response], AsyncIterator[bytes]], AsyncIterator[StreamEvent]
):
    """The ``asyncio`` twin of :class:`Stream`::

    async with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
        async for event in stream:
            ...
    """

    async def __aenter__(self) -> AsyncStream:
        await self._ensure_started()
        return self

    async def __aexit__(self, _: object, exc: BaseException | None, tb: object) -> None:
        self._core.consumer_exit(exc)
        await self._release()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> StreamEvent:
        core = self._core
        queue = core.queue
        if queue:
            return queue.popleft()
        if core.reading:
            raise core.misuse()
        core.reading = True
        try:
            if not core.started:
                await self._ensure_started()
            # The flowing stream's loop (see Stream.__next__).
            chunks = self._chunks
            while chunks is not None and not core.finished:
                try:
                    chunk = await chunks.__anext__()
                except BaseException as exc:
                    if core.received(exc):
                        await self._close_response()
                    break
                if core.received(chunk):
                    await self._close_response()
                    break
                if queue:
                    if core.is_closed:  # close() from another task during the read
                        break
                    return queue.popleft()
            return await self._read_next(core)
        finally:
            core.reading = False

    async def _read_next(self, core: _StreamCore) -> StreamEvent:
        """Every state but a flowing stream's (see :meth:`Stream._read_next`)."""
        while True:
            action = core.next_action(self._chunks is not None)
            if action == DELIVER:
                return core.queue.popleft()
            if action == RELEASE:
                await self._release()
            elif action == RAISE:
                raise core.take_error()
            else:
                assert action == STOP, action  # READ is read by __anext__/__next__
                await self._close_response()
                raise StopAsyncIteration

    async def _ensure_started(self) -> None:
        core = self._core
        if core.begin():
            try:
                with core.observer.activate():
                    response = await self._send()
            except BaseException as exc:
                core.send_failed(exc)
                raise
            self._chunks = async_chunks(core.sent(response))

    async def close(self) -> None:
        """Stop reading and release the connection (``abandoned`` if before the end; nothing
        is delivered after ``close()``; safe from another task, whose read it wakes: see
        :meth:`Stream.close`)."""
        if not self._core.stop(cancel=False):
            await self._release()

    async def cancel(self) -> None:
        """Like :meth:`close`, ending the stream ``cancelled`` (see :meth:`Stream.cancel`)."""
        if not self._core.stop(cancel=True):
            await self._release()

    async def _release(self) -> None:
        """Close the response, after draining the rest of the body (see :meth:`Stream._release`).

        Without a socket to bound the drain by (an in-memory or a custom transport), the event
        loop's clock bounds it: such a body is often an async generator of the application's
        (an ``httpx.MockTransport`` handler's), which left suspended would be finalized by the
        garbage collector, outside any loop."""
        core = self._core
        chunks = self._chunks
        if chunks is not None and core.terminal:
            import anyio  # httpx's own dependency; loaded once httpx streamed asynchronously

            timeout = None if core.start_drain() else core.settings.drain_timeout
            with anyio.move_on_after(timeout):
                try:
                    async for chunk in chunks:
                        core.drained(chunk)
                except Exception:  # a broken or cut connection after the end is moot
                    pass
            core.end_drain()
        await self._close_response()

    async def _close_response(self) -> None:
        response = self._core.response
        if response is not None:
            chunks, self._chunks = self._chunks, None
            self._core.unwatch()
            # A body left unread (no drain: a transport without a socket, an error) is an async
            # generator suspended mid-way: close it here, on the loop, rather than leave it to
            # the garbage collector's finalizer, which may find the loop gone.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            await response.aclose()

    async def final_response(self) -> Response:
        """Read the rest of the stream and return the accumulated :class:`Response`
        (see :meth:`Stream.final_response`)."""
        async for _ in self:
            pass
        return self._core.final()

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The stream as text only (see :attr:`Stream.text_stream`)::

        async for text in stream.text_stream:
            ...
        """
        return _AsyncTexts(self)

    def __del__(self) -> None:
        response = self._abandoned()
        if response is None:
            return
        # Closing needs the event loop; schedule it if one is running, else the pool reclaims
        # the connection when the response object is collected.
        asyncio = sys.modules.get("asyncio")  # an async stream ran on it, unless shutting down
        try:
            loop = asyncio.get_running_loop() if asyncio is not None else None
        except RuntimeError:
            return
        if loop is None:
            return
        task = loop.create_task(response.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
