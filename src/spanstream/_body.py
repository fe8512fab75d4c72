"""Reading a response body straight from the transport: the one place spanstream relies on
httpx's internals for speed.

``Response.iter_raw`` wraps every chunk the transport yields in a generator, a chunker's list
and a byte count. A streamed event is small (often one per chunk), so those layers are a
measurable share of its cost (benchmarks/RESULTS.md). When the body needs no decoding, the
stream iterates the transport's byte stream itself, doing what ``iter_raw`` does that matters:
the response is marked consumed (a later ``read()`` raises ``StreamConsumed``) and a read error
still names its request (``_StreamCore.received`` sets it, as ``iter_raw`` does).

What this assumes of httpx (tests/unit/test_body.py fails loudly if a release changes it):
``Response.stream`` is the transport's ``SyncByteStream`` / ``AsyncByteStream``, and
``Response.is_stream_consumed`` is a plain attribute that ``read()`` and ``iter_raw`` check.
Anything else (an encoded body, a stream already read, another kind of stream) takes httpx's
own ``iter_bytes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import httpx

__all__ = ["async_chunks", "is_json", "sync_chunks"]

S = TypeVar("S", httpx.SyncByteStream, httpx.AsyncByteStream)


def _transport_stream(response: httpx.Response, kind: type[S]) -> S | None:
    """The body as the transport hands it over, when it can be read so: not read or closed
    already, not content-encoded, and of the expected kind. Marks the body consumed, as
    ``iter_raw`` does; the response's ``num_bytes_downloaded`` is not kept."""
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


def is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` names JSON (``application/json``, ``application/*+json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def is_event_stream(content_type: str) -> bool:
    """Whether a ``Content-Type`` names an event stream (``text/event-stream``)."""
    return content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


def sync_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body's chunks (decoded by httpx when it is content-encoded)."""
    stream = _transport_stream(response, httpx.SyncByteStream)
    return iter(stream) if stream is not None else response.iter_bytes()


def async_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The ``asyncio`` twin of :func:`sync_chunks`."""
    stream = _transport_stream(response, httpx.AsyncByteStream)
    return stream.__aiter__() if stream is not None else response.aiter_bytes()
