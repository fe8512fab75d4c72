"""What spanstream._body assumes of httpx: it fails loudly when a release changes it."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from spanstream._body import async_chunks, sync_chunks

BODY = b"data: one\n\ndata: two\n\n"


def _sync(body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    client = httpx.Client(
        transport=httpx.MockTransport(
            lambda request: httpx.Response(200, content=body, headers=headers)
        )
    )
    return client.send(client.build_request("GET", "http://test/"), stream=True)


def test_the_transport_stream_is_read_directly_and_the_body_marked_consumed() -> None:
    response = _sync(BODY)
    assert isinstance(response.stream, httpx.SyncByteStream)
    assert b"".join(sync_chunks(response)) == BODY
    assert response.is_stream_consumed
    with pytest.raises(httpx.StreamConsumed):
        next(response.iter_raw())


def test_an_encoded_body_goes_through_httpx_decoding() -> None:
    response = _sync(gzip.compress(BODY), {"content-encoding": "gzip"})
    assert b"".join(sync_chunks(response)) == BODY


def test_the_async_transport_stream_is_read_directly() -> None:
    async def main() -> bytes:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.send(client.build_request("GET", "http://test/"), stream=True)
            assert isinstance(response.stream, httpx.AsyncByteStream)
            chunks = [chunk async for chunk in async_chunks(response)]
            assert response.is_stream_consumed
            return b"".join(chunks)

    assert asyncio.run(main()) == BODY
