"""Sending a request: retries, redirects and error bodies, written once for sync and async.

:func:`send_flow` is a generator that never does I/O: it yields what it needs done — send a
request, sleep, read the start of a body, close a response — and receives the result (or the
exception, thrown into it), as httpx's ``Auth.auth_flow`` does. :func:`drive` and
:func:`adrive` perform those steps with a sync or an async httpx client; they are the only
places that differ.

The rules the flow applies, in order, to each response:

* a connection that could not be made (``ConnectError``, ``ConnectTimeout``), or that the
  server closed without sending a response, is retried
  (:meth:`~spanstream.RetryPolicy.should_retry_error`); any other transport error is raised at
  once, wrapped (the server may be answering the request);
* a success status is the stream, unless its body is certainly no event stream (an HTML page,
  JSON): then the start of the body is read and :class:`~spanstream.UnexpectedContentTypeError`
  raised;
* a redirect is followed within the same origin with the same method and body (a redirect
  elsewhere raises: the API key must not follow it);
* an error status is retried when the policy says so (``Retry-After`` honoured), else raised
  with the provider's message read from the start of its body.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import TYPE_CHECKING, NamedTuple, Protocol, Union

import httpx

from ._body import is_event_stream, is_json
from .errors import SpanstreamError
from .stream import wrap_transport_error

if TYPE_CHECKING:
    from .client import _ClientConfig
    from .providers.base import PreparedRequest

__all__ = ["SendFlow", "adrive", "drive", "send_flow", "unexpected_content_type"]

MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body read for its message (the rest is not waited for)."""


# The steps are named tuples, not dataclasses: as cheap to use, and far cheaper to define
# (``import spanstream`` pays for every class a dataclass decorator builds).


class Send(NamedTuple):
    request: httpx.Request


class Sleep(NamedTuple):
    seconds: float


class ReadHead(NamedTuple):
    """Read at most :data:`MAX_ERROR_BODY` bytes of the body, then close the response; the
    result is the text read (what arrived before a broken or undecodable body)."""

    response: httpx.Response


class Close(NamedTuple):
    response: httpx.Response


Step = Union[Send, Sleep, ReadHead, Close]
SendFlow = Generator[Step, object, httpx.Response]
"""Yields steps, receives their results; returns the response (its retries are counted on the
stream's tally as they happen)."""


def unexpected_content_type(response: httpx.Response, *, stream: bool = True) -> bool:
    """Whether a success response is certainly not the reply asked for: HTML (a proxy's or a
    portal's page), or JSON to a streaming request (an error body, or a server that ignored
    ``stream``). Anything else is read as a stream: compatible servers label their streams
    loosely (``text/plain``, none). To a request that is not streamed, JSON is the reply (and
    an event stream is read as one: the server streamed anyway)."""
    content_type = response.headers.get("content-type", "")
    if is_event_stream(content_type):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("text/html", "application/xhtml+xml") or (stream and is_json(media))


class Tally(Protocol):
    """Where the flow counts its retries: the stream's state, so that a send that fails after
    retrying still reports them (``spanstream.retries``)."""

    retries: int


def send_flow(
    config: _ClientConfig,
    client: httpx.Client | httpx.AsyncClient,
    prepared: PreparedRequest,
    tally: Tally,
) -> SendFlow:
    """The whole decision of sending ``prepared`` (see the module's rules)."""
    config.check_usable(client)
    policy = config.retry
    hops = 0
    url: httpx.URL | None = None
    while True:
        request = config.http_request(client, prepared, url)
        try:
            response = yield Send(request)
        except httpx.TransportError as exc:
            if tally.retries >= policy.max_retries or not policy.should_retry_error(exc):
                raise wrap_transport_error(exc) from exc
            yield Sleep(policy.delay(tally.retries))
            tally.retries += 1
            continue
        assert isinstance(response, httpx.Response)
        status = response.status_code
        if status < 300:
            if not unexpected_content_type(response, stream=prepared.stream):
                return response
            body = yield ReadHead(response)
            assert isinstance(body, str)
            raise config.content_type_error(response, body, stream=prepared.stream)
        if status < 400:
            yield Close(response)
            target = config.redirect(response, hops)
            if isinstance(target, SpanstreamError):
                raise target
            url, hops = target, hops + 1
            continue
        body = yield ReadHead(response)
        assert isinstance(body, str)
        if tally.retries >= policy.max_retries or not policy.should_retry_status(status):
            raise config.status_error(response, body)
        yield Sleep(policy.delay(tally.retries, response.headers))
        tally.retries += 1


class _Finished(NamedTuple):
    value: httpx.Response


def _resume(flow: SendFlow, result: object, error: Exception | None) -> Step | _Finished:
    """Give ``flow`` a step's result (or its exception); return its next step, or its end."""
    try:
        return flow.throw(error) if error is not None else flow.send(result)
    except StopIteration as stop:
        return _Finished(stop.value)


def drive(flow: SendFlow, client: httpx.Client) -> httpx.Response:
    """Perform ``flow``'s steps with a sync httpx client."""
    step = _resume(flow, None, None)
    while not isinstance(step, _Finished):
        step = _resume(flow, *_perform(step, client))
    return step.value


async def adrive(flow: SendFlow, client: httpx.AsyncClient) -> httpx.Response:
    """Perform ``flow``'s steps with an async httpx client."""
    step = _resume(flow, None, None)
    while not isinstance(step, _Finished):
        step = _resume(flow, *await _aperform(step, client))
    return step.value


_Done = tuple[object, Union[Exception, None]]  # a step's result, or what it raised


def _perform(step: Step, client: httpx.Client) -> _Done:
    try:
        if isinstance(step, Send):
            return client.send(step.request, stream=True), None
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
        elif isinstance(step, Close):
            step.response.close()
        else:
            head = _Head(step.response)
            try:
                for chunk in step.response.iter_bytes():
                    if head.full(chunk):
                        break
            except httpx.HTTPError:
                pass  # the message is what arrived before the body broke off
            finally:
                step.response.close()
            return head.text(), None
    except Exception as exc:
        return None, exc
    return None, None


async def _aperform(step: Step, client: httpx.AsyncClient) -> _Done:
    try:
        if isinstance(step, Send):
            return await client.send(step.request, stream=True), None
        if isinstance(step, Sleep):
            import asyncio  # loaded by the async client's event loop already

            await asyncio.sleep(step.seconds)
        elif isinstance(step, Close):
            await step.response.aclose()
        else:
            head = _Head(step.response)
            try:
                async for chunk in step.response.aiter_bytes():
                    if head.full(chunk):
                        break
            except httpx.HTTPError:
                pass  # the message is what arrived before the body broke off
            finally:
                await step.response.aclose()
            return head.text(), None
    except Exception as exc:
        return None, exc
    return None, None


class _Head:
    """The start of a body, read for an error's message: at most :data:`MAX_ERROR_BODY` bytes;
    a body that breaks off or cannot be decoded gives what arrived before."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.data = bytearray()

    def full(self, chunk: bytes) -> bool:
        self.data += chunk
        return len(self.data) >= MAX_ERROR_BODY

    def text(self) -> str:
        encoding = self.response.encoding or "utf-8"
        return bytes(self.data[:MAX_ERROR_BODY]).decode(encoding, errors="replace")
