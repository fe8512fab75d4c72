"""``stream.text_stream``: the text-only view for forwarding an answer (#4), sync and async,
over a real loopback server, with the refusal, failure and early-exit cases."""

from __future__ import annotations

import pytest

from spanstream import AsyncClient, AsyncStream, Client, ResponseFailedError
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES, Telemetry

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
REFUSAL = RESPONSES / "gpt-4o-refusal.sse"
FAILED = RESPONSES / "gpt-5-error-event-then-response-failed.sse"


def _client(server: ReplayServer, telemetry: Telemetry) -> Client:
    return Client(api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider)


def _async_client(server: ReplayServer, telemetry: Telemetry) -> AsyncClient:
    return AsyncClient(
        api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider
    )


def test_text_stream_yields_the_answer_piece_by_piece(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(PLAIN))
    with (
        _client(server, telemetry) as client,
        client.responses.stream(model="gpt-4.1", input="Hi") as stream,
    ):
        pieces = list(stream.text_stream)
    assert len(pieces) > 1
    assert "".join(pieces) == stream.response.text != ""
    assert stream.outcome == "completed"
    assert telemetry.only_inference_span().attributes["spanstream.outcome"] == "completed"


def test_a_refusal_is_yielded_as_text_and_told_apart_by_the_response(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    # The pattern `if isinstance(event, TextDelta)` forwards nothing here.
    server.enqueue(Reply.from_file(REFUSAL))
    with (
        _client(server, telemetry) as client,
        client.responses.stream(model="gpt-4o", input="Hi") as stream,
    ):
        text = "".join(stream.text_stream)
    assert text == stream.response.refusal
    assert text.startswith("I'm sorry")
    assert stream.response.text == ""
    assert (stream.outcome, stream.response.finish_reason) == ("completed", "stop")


def test_a_failure_raises_from_the_text_stream_after_the_text_received(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(FAILED))
    pieces: list[str] = []
    with (
        _client(server, telemetry) as client,
        client.responses.stream(model="gpt-5", input="Hi") as stream,
        pytest.raises(ResponseFailedError),
    ):
        pieces.extend(stream.text_stream)
    assert "".join(pieces) == stream.response.text
    assert stream.outcome == "failed"


def test_leaving_the_text_stream_early_abandons_the_stream(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(PLAIN, hold_after_events=5))
    with (
        _client(server, telemetry) as client,
        client.responses.stream(model="gpt-4.1", input="Hi") as stream,
    ):
        assert next(stream.text_stream)
    assert stream.outcome == "abandoned"
    assert server.wait_for_finished(1)
    assert server.outcomes == ["disconnected"]


async def test_async_text_stream_yields_the_answer_and_a_refusal(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(PLAIN), Reply.from_file(REFUSAL))
    async with _async_client(server, telemetry) as client:
        async with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
            pieces = [text async for text in stream.text_stream]
        assert "".join(pieces) == stream.response.text != ""
        async with client.responses.stream(model="gpt-4o", input="Hi") as refused:
            text = "".join([text async for text in refused.text_stream])
        assert text == refused.response.refusal
        assert text.startswith("I'm sorry")
    assert [span.attributes["spanstream.outcome"] for span in telemetry.inference_spans] == [
        "completed",
        "completed",
    ]


async def test_async_a_failure_raises_from_the_text_stream(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(FAILED))
    pieces: list[str] = []

    async def forward(stream: AsyncStream) -> None:
        async for text in stream.text_stream:
            pieces.append(text)

    async with (
        _async_client(server, telemetry) as client,
        client.responses.stream(model="gpt-5", input="Hi") as stream,
    ):
        with pytest.raises(ResponseFailedError):
            await forward(stream)
    assert "".join(pieces) == stream.response.text
    assert stream.outcome == "failed"
