"""``Stream`` and ``AsyncStream``: drive bytes -> SSE -> events and own the HTTP response.

Both share :class:`_StreamCore`, which holds every decision (timings, outcome, when to raise);
the two classes differ only in how they read bytes and close the response. Whatever way a
stream ends — completed, incomplete, failed, HTTP or transport error, malformed stream, the
consumer breaking out or raising, task cancellation, ``close()``, garbage collection — the
observer's ``end`` runs exactly once, with the usage seen so far.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Generic, NoReturn, TypeVar

import httpx

from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ResponseFailed,
    SpanstreamError,
    StreamError,
)
from .events import (
    RefusalDelta,
    Response,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
)
from .observe import Outcome, StreamObserver, StreamResult, StreamTimings
from .providers.base import Parser, RequestInfo
from .sse import SSEDecoder

__all__ = ["AsyncStream", "Stream", "error_type_of"]

logger = logging.getLogger("spanstream")

_OUTPUT_DELTAS = (TextDelta, RefusalDelta, ToolCallStarted, ToolCallArgumentsDelta)

R = TypeVar("R")

_closing: set[asyncio.Task[None]] = set()  # keeps close tasks of collected streams alive


def error_type_of(error: BaseException) -> str:
    """The low-cardinality ``error.type`` of an error: the HTTP status, ``timeout``, the
    provider's error code, or the exception's class name."""
    if isinstance(error, APIStatusError):
        return str(error.status_code)
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, ResponseFailed):
        return error.code or "_OTHER"
    return type(error).__qualname__


def wrap_transport_error(error: httpx.TransportError) -> APIConnectionError:
    """Map an httpx transport error to spanstream's hierarchy (the message names no secret:
    httpx messages carry no headers)."""
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"timed out: {error}")
    return APIConnectionError(f"connection failed: {error}")


S = TypeVar("S", httpx.SyncByteStream, httpx.AsyncByteStream)


def _transport_stream(response: httpx.Response, kind: type[S]) -> S | None:
    """The body as the transport hands it over, when it can be read so: not read or closed
    already, not content-encoded, and of the expected kind. The stream then iterates it
    directly, without the layers ``iter_raw`` adds to every chunk (a generator, a chunker's
    list, a byte count: about 0.2 µs a chunk, a twentieth of an event's cost when a chunk
    carries one event). Marks the body consumed, as ``iter_raw`` does; the response's
    ``num_bytes_downloaded`` is not kept."""
    if response.is_stream_consumed or response.is_closed:
        return None
    encoding = response.headers.get("content-encoding", "")
    if encoding.strip().lower() not in ("", "identity"):
        return None
    stream = response.stream
    if not isinstance(stream, kind):
        return None
    response.is_stream_consumed = True
    return stream


def _sync_chunks(response: httpx.Response) -> Iterator[bytes]:
    stream = _transport_stream(response, httpx.SyncByteStream)
    return iter(stream) if stream is not None else response.iter_bytes()


def _async_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    stream = _transport_stream(response, httpx.AsyncByteStream)
    return stream.__aiter__() if stream is not None else response.aiter_bytes()


_HELD_DATA = 4096  # bytes of the last event's data a stream keeps for its cursor
_SEQUENCE_NUMBER = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


def _cursor_of(data: bytes) -> bytes | None:
    """A large event's ``sequence_number`` as a small JSON object (or ``None``). The first match
    is the event's own: nested objects have no such key, and inside a JSON string the quotes
    around it would be escaped."""
    match = _SEQUENCE_NUMBER.search(data)
    return b'{"sequence_number":%s}' % match.group(1) if match else None


class _StreamCore:
    """Everything a stream decides, with no I/O."""

    __slots__ = (
        "decoder",
        "failure",
        "finished",
        "info",
        "last_data",
        "observer",
        "outcome",
        "parser",
        "queue",
        "retries",
        "timings",
        "to_raise",
    )

    def __init__(self, parser: Parser, observer: StreamObserver, info: RequestInfo) -> None:
        self.parser = parser
        self.observer = observer
        self.info = info
        self.decoder = SSEDecoder()
        self.queue: deque[StreamEvent] = deque()
        self.timings = StreamTimings(started=0.0)
        self.finished = False
        self.outcome: Outcome | None = None
        self.retries = 0
        self.to_raise: BaseException | None = None
        self.failure: ResponseFailed | None = None
        self.last_data: bytes | None = None  # the data of the last event decoded

    def start(self, server_address: str | None, server_port: int | None) -> None:
        self.timings.started = time.perf_counter()
        try:
            self.observer.start(self.info, server_address, server_port)
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream observer failed to start")

    def feed(self, chunk: bytes) -> None:
        """Decode one chunk of the body into queued events."""
        parser = self.parser
        queue = self.queue
        try:
            sse_events = self.decoder.feed_raw(chunk)
            if not sse_events:
                return
            feed = parser.feed_raw
            for event, data, _, _ in sse_events:
                queue.extend(feed(event, data))
            # Once per chunk, for last_sequence_number. A done event restating a long answer
            # is not held: its cursor is read now, so that it does not outlive its parsing.
            self.last_data = data if len(data) <= _HELD_DATA else _cursor_of(data)
        except StreamError as exc:
            # Events decoded before the bad one are still delivered, then the error is raised.
            self.to_raise = exc
            self.finish("error", exc)
            return
        # Per network read, not per event: one clock read, a counter and one buffered gap.
        now = time.perf_counter()
        timings = self.timings
        if timings.last_chunk is not None:
            timings.gaps.append(now - timings.last_chunk)
        timings.last_chunk = now
        timings.chunks += len(sse_events)
        if timings.first_token is None:
            if timings.first_chunk is None:
                timings.first_chunk = now
            if any(isinstance(event, _OUTPUT_DELTAS) for event in queue):
                timings.first_token = now

    def end_of_body(self) -> None:
        """The body ended: settle the outcome, and what to raise once the queue is drained."""
        truncated = self.decoder.has_pending
        self.decoder.close()
        self.queue.extend(self.parser.close())
        parser = self.parser
        if parser.done:
            response = parser.response
            if response.status == "failed":
                error = response.error or parser.error
                assert error is not None
                failure = ResponseFailed(error, response)
                self.to_raise = self.failure = failure
                self.finish("failed", failure)
            else:
                self.finish("completed" if response.status == "completed" else "incomplete")
            return
        detail = " in the middle of an event" if truncated else ""
        cut = APIConnectionError(f"the stream ended{detail} before the response was complete")
        self.to_raise = cut
        self.finish("error", cut)

    def finish(self, outcome: Outcome, error: BaseException | None = None) -> None:
        """End the observation, once."""
        if self.finished:
            return
        self.finished = True
        self.outcome = outcome
        self.timings.ended = time.perf_counter()
        parser = self.parser
        failure = outcome in ("failed", "error")
        result = StreamResult(
            outcome=outcome,
            response=parser.response,
            timings=self.timings,
            error=error,
            error_type=error_type_of(error) if failure and error is not None else None,
            retries=self.retries,
            unknown_events=parser.unknown_count,
            malformed_events=parser.malformed_count,
        )
        try:
            self.observer.end(result)
        except Exception:  # telemetry must never break the stream
            logger.exception("spanstream observer failed to end")

    def provider_failed(self, error: BaseException) -> bool:
        """Whether a transport error merely follows a failure the provider already reported
        (an ``error`` event, then the connection closed): the provider's failure is the story."""
        return isinstance(error, httpx.TransportError) and self.parser.error is not None

    def fail(self, error: BaseException) -> SpanstreamError | BaseException:
        """Finish with an error raised while reading; return the error to raise."""
        if isinstance(error, httpx.TransportError):
            error = wrap_transport_error(error)
        self.finish("error", error)
        return error

    def consumer_exit(self, error: BaseException | None) -> None:
        """The consumer left the ``with`` block (or closed the stream) before the end."""
        if self.finished:
            return
        if isinstance(error, asyncio.CancelledError):
            self.finish("cancelled", error)
        elif isinstance(error, GeneratorExit):
            # A generator consuming the stream was closed: abandoned, not an error.
            self.finish("abandoned")
        else:
            self.finish("abandoned", error)


class _StreamBase(Generic[R]):
    """What the sync and async streams share: state and read-only views."""

    _core: _StreamCore
    _response: R | None

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
        data = self._core.last_data
        if data is None:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        number = payload.get("sequence_number") if isinstance(payload, dict) else None
        return number if isinstance(number, int) and not isinstance(number, bool) else None

    @property
    def http_response(self) -> R | None:
        """The underlying HTTP response (status and headers), once the request was sent."""
        return self._response

    def _name_request(self, exc: BaseException) -> None:
        """Set the request on an httpx error raised while reading the body, as ``iter_raw``
        does (the body is read from the transport directly)."""
        response = self._response
        if isinstance(exc, httpx.RequestError) and isinstance(response, httpx.Response):
            exc.request = response.request

    @property
    def request_id(self) -> str | None:
        """The provider's request id (``x-request-id``), once the request was sent."""
        response = self._response
        if not isinstance(response, httpx.Response):
            return None
        headers: httpx.Headers = response.headers
        request_id: str | None = headers.get("x-request-id") or headers.get("request-id")
        return request_id


class Stream(_StreamBase[httpx.Response], Iterator[StreamEvent]):
    """A streamed response. Use it as a context manager and iterate it::

        with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
            for event in stream:
                ...
            response = stream.final_response()

    The request is sent when the ``with`` block is entered (or on the first iteration).
    """

    def __init__(
        self,
        *,
        send: Callable[[], tuple[httpx.Response, int]],
        parser: Parser,
        observer: StreamObserver,
        info: RequestInfo,
        server_address: str | None,
        server_port: int | None,
    ) -> None:
        self._core = _StreamCore(parser, observer, info)
        self._send = send
        self._server = (server_address, server_port)
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._started = False

    def __enter__(self) -> Stream:
        self._ensure_started()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._core.consumer_exit(exc)
        self._close_response()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> StreamEvent:
        queue = self._core.queue
        if queue:
            return queue.popleft()
        return self._next_slow()

    def _next_slow(self) -> StreamEvent:
        core = self._core
        if not self._started:
            self._ensure_started()
        while True:
            if core.queue:
                return core.queue.popleft()
            if core.to_raise is not None:
                error, core.to_raise = core.to_raise, None
                raise error
            chunks = self._chunks
            if chunks is None or core.finished:
                raise StopIteration
            try:
                chunk = next(chunks)
            except StopIteration:
                core.end_of_body()
                self._close_response()
                continue
            except BaseException as exc:
                if not core.provider_failed(exc):
                    self._raise_from_read(exc)
                core.end_of_body()
                self._close_response()
                continue
            try:
                core.feed(chunk)
            except BaseException as exc:
                self._raise_from_read(exc)
            if core.finished:
                self._close_response()

    def _raise_from_read(self, exc: BaseException) -> NoReturn:
        self._name_request(exc)
        error = self._core.fail(exc) if isinstance(exc, Exception) else exc
        if not isinstance(exc, Exception):
            self._core.consumer_exit(exc)
        self._close_response()
        if error is exc:
            raise exc
        raise error from exc

    def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        core = self._core
        core.start(*self._server)
        try:
            with core.observer.activate():
                response, core.retries = self._send()
        except BaseException as exc:
            if isinstance(exc, Exception):
                core.finish("error", exc)
            else:
                core.consumer_exit(exc)
            raise
        self._response = response
        self._chunks = _sync_chunks(response)

    def close(self) -> None:
        """Stop reading and release the connection. A stream closed before its end is recorded
        as ``abandoned``."""
        self._core.consumer_exit(None)
        self._close_response()

    def _close_response(self) -> None:
        response = self._response
        if response is not None:
            self._chunks = None
            response.close()

    def final_response(self) -> Response:
        """Read the rest of the stream and return the accumulated :class:`Response`.

        Raises :class:`~spanstream.errors.ResponseFailed` if the provider reported a failure.
        On a stream that was closed early, returns what was received (status ``in_progress``).
        """
        for _ in self:
            pass
        if self._core.failure is not None:
            raise self._core.failure
        return self._core.parser.response

    get_final_response = final_response

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and self._started and not core.finished:
            core.finish("abandoned")
            self._close_response()


class AsyncStream(_StreamBase[httpx.Response], AsyncIterator[StreamEvent]):
    """The ``asyncio`` twin of :class:`Stream`::

    async with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
        async for event in stream:
            ...
    """

    def __init__(
        self,
        *,
        send: Callable[[], Awaitable[tuple[httpx.Response, int]]],
        parser: Parser,
        observer: StreamObserver,
        info: RequestInfo,
        server_address: str | None,
        server_port: int | None,
    ) -> None:
        self._core = _StreamCore(parser, observer, info)
        self._send = send
        self._server = (server_address, server_port)
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._started = False

    async def __aenter__(self) -> AsyncStream:
        await self._ensure_started()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._core.consumer_exit(exc)
        await self._close_response()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> StreamEvent:
        core = self._core
        queue = core.queue
        if queue:
            return queue.popleft()
        if not self._started:
            await self._ensure_started()
        while True:
            if queue:
                return queue.popleft()
            if core.to_raise is not None:
                error, core.to_raise = core.to_raise, None
                raise error
            chunks = self._chunks
            if chunks is None or core.finished:
                raise StopAsyncIteration
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                core.end_of_body()
                await self._close_response()
                continue
            except BaseException as exc:
                if not core.provider_failed(exc):
                    await self._raise_from_read(exc)
                core.end_of_body()
                await self._close_response()
                continue
            try:
                core.feed(chunk)
            except BaseException as exc:
                await self._raise_from_read(exc)
            if core.finished:
                await self._close_response()

    async def _raise_from_read(self, exc: BaseException) -> NoReturn:
        self._name_request(exc)
        error = self._core.fail(exc) if isinstance(exc, Exception) else exc
        if not isinstance(exc, Exception):
            self._core.consumer_exit(exc)
        await self._close_response()
        if error is exc:
            raise exc
        raise error from exc

    async def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        core = self._core
        core.start(*self._server)
        try:
            with core.observer.activate():
                response, core.retries = await self._send()
        except BaseException as exc:
            if isinstance(exc, Exception):
                core.finish("error", exc)
            else:
                core.consumer_exit(exc)
            raise
        self._response = response
        self._chunks = _async_chunks(response)

    async def close(self) -> None:
        """Stop reading and release the connection (``abandoned`` if before the end)."""
        self._core.consumer_exit(None)
        await self._close_response()

    async def _close_response(self) -> None:
        response = self._response
        if response is not None:
            self._chunks = None
            await response.aclose()

    async def final_response(self) -> Response:
        """Read the rest of the stream and return the accumulated :class:`Response`
        (see :meth:`Stream.final_response`)."""
        async for _ in self:
            pass
        if self._core.failure is not None:
            raise self._core.failure
        return self._core.parser.response

    get_final_response = final_response

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is None or not self._started or core.finished:
            return
        core.finish("abandoned")
        response = self._response
        if response is None or response.is_closed:
            return
        # Closing needs the event loop; schedule it if one is running, else the pool reclaims
        # the connection when the response object is collected.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(response.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
