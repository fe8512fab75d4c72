"""Every way a stream can end, sync and async, against a real loopback HTTP server.

Each path must end the inference span exactly once (no span left open, no double end), with
the outcome recorded as ``spanstream.outcome``, status ERROR only for failures, ``error.type``
where it failed, and the usage seen so far.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from spanstream import (
    APIConnectionError,
    APIStatusError,
    AsyncClient,
    Client,
    MalformedEvent,
    ResponseFailed,
    RetryPolicy,
    SSEDecodeError,
)
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..conftest import RESPONSES

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"  # 12 events, usage in=13 out=9
CACHED = RESPONSES / "gpt-4o-cached-tokens.sse"
INCOMPLETE = RESPONSES / "gpt-4o-incomplete-max-output-tokens-long.sse"
FAILED = RESPONSES / "gpt-5-error-event-then-response-failed.sse"

NO_RETRY = RetryPolicy(max_retries=0)


class ConsumerError(Exception):
    """Raised by a test's own loop body."""


@dataclass(frozen=True)
class ExitPath:
    """One way to end a stream and what the span must say about it."""

    name: str
    replies: Callable[[], list[Reply]]
    outcome: str
    raises: type[BaseException] | None = None
    error_type: str | None = None
    strict: bool = False
    usage: tuple[int, int] | None = None
    finish_reasons: tuple[str, ...] = ("error",)
    extra: dict[str, object] = field(default_factory=dict)


def _file(path: object, **faults: object) -> Callable[[], list[Reply]]:
    return lambda: [Reply.from_file(path, **faults)]  # type: ignore[arg-type]


INVALID_UTF8 = (
    b'event: response.created\ndata: {"type":"response.created","response":{"id":"r1"}}\n\n'
    b'event: response.output_text.delta\ndata: {"delta":"\xff\xfe"}\n\n'
)

PATHS = [
    ExitPath(
        "completed",
        _file(CACHED),
        "completed",
        usage=(1515, 8),
        finish_reasons=("stop",),
        extra={"gen_ai.usage.cache_read.input_tokens": 1390},
    ),
    ExitPath(
        "incomplete",
        _file(INCOMPLETE),
        "incomplete",
        usage=(14, 50),
        finish_reasons=("length",),
    ),
    ExitPath(
        "response_failed",
        _file(FAILED),
        "failed",
        raises=ResponseFailed,
        error_type="insufficient_quota",
    ),
    ExitPath(
        "error_event",
        _file(PLAIN, inject_error_after_events=3, cut_after_events=3),
        "failed",
        raises=ResponseFailed,
        error_type="server_error",
    ),
    ExitPath(
        "http_error_status",
        lambda: [Reply.error(429, headers={"x-request-id": "req_429"})],
        "error",
        raises=APIStatusError,
        error_type="429",
    ),
    ExitPath(
        "connection_dropped",
        _file(PLAIN, cut_after_events=5),
        "error",
        raises=APIConnectionError,
        error_type="APIConnectionError",
    ),
    ExitPath(
        "malformed_event_strict",
        _file(PLAIN, malformed_after_events=4),
        "error",
        raises=MalformedEvent,
        error_type="MalformedEvent",
        strict=True,
    ),
    ExitPath(
        "invalid_utf8",
        lambda: [Reply.sse(INVALID_UTF8)],
        "error",
        raises=SSEDecodeError,
        error_type="SSEDecodeError",
    ),
]


def _check_span(
    telemetry: GenAITelemetry, path: ExitPath, caplog: pytest.LogCaptureFixture
) -> None:
    span = telemetry.inference_span()
    failure = path.outcome in ("failed", "error")
    assert_inference_span(
        span,
        outcome=path.outcome,
        finish_reasons=path.finish_reasons,
        status="error" if failure else "unset",
        error_type=path.error_type,
        attributes=path.extra,
    )
    if path.usage is not None:
        assert_inference_span(span, input_tokens=path.usage[0], output_tokens=path.usage[1])
    # No span left open, none ended twice (the SDK logs "Calling end() on an ended span").
    assert telemetry.started == telemetry.ended
    assert telemetry.open_spans == []
    assert "ended span" not in caplog.text


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_sync_exit_path(
    path: ExitPath,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sse_replay_server.enqueue(*path.replies())
    client = genai_telemetry.client(sse_replay_server, retry=NO_RETRY, strict=path.strict)
    caplog.set_level(logging.WARNING)

    def consume() -> None:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            for _ in stream:
                pass

    if path.raises is None:
        consume()
    else:
        with pytest.raises(path.raises):
            consume()
    client.close()
    _check_span(genai_telemetry, path, caplog)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
async def test_async_exit_path(
    path: ExitPath,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sse_replay_server.enqueue(*path.replies())
    client = genai_telemetry.async_client(sse_replay_server, retry=NO_RETRY, strict=path.strict)
    caplog.set_level(logging.WARNING)

    async def consume() -> None:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _ in stream:
                pass

    if path.raises is None:
        await consume()
    else:
        with pytest.raises(path.raises):
            await consume()
    await client.aclose()
    _check_span(genai_telemetry, path, caplog)


# -- paths where the consumer ends the stream ---------------------------------------------------

ABANDONED = ExitPath("abandoned", lambda: [], "abandoned")


def _sync_client(server: ReplayServer, telemetry: GenAITelemetry) -> Client:
    # hold_after_events keeps the server streaming, so nothing ends the stream but the consumer.
    server.reply_with_file(PLAIN, hold_after_events=4)
    return telemetry.client(server)


def _async_client(server: ReplayServer, telemetry: GenAITelemetry) -> AsyncClient:
    server.reply_with_file(PLAIN, hold_after_events=4)
    return telemetry.async_client(server)


def test_sync_consumer_break(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _sync_client(sse_replay_server, genai_telemetry)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(genai_telemetry, ABANDONED, caplog)
    assert sse_replay_server.wait_for_finished(1)


def test_sync_exception_in_consumer_loop(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _sync_client(sse_replay_server, genai_telemetry)

    def consume() -> None:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        consume()
    _check_span(genai_telemetry, ABANDONED, caplog)
    span = genai_telemetry.inference_span()
    assert [e.attributes["exception.type"] for e in span.events if e.attributes] == [
        "tests.integration.test_exit_paths.ConsumerError"
    ]


def test_sync_close_before_iterating(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _sync_client(sse_replay_server, genai_telemetry)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.close()
        assert list(stream) == []
    _check_span(genai_telemetry, ABANDONED, caplog)


def test_sync_garbage_collected_unclosed_stream(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _sync_client(sse_replay_server, genai_telemetry)
    stream = client.responses.stream(model="gpt-4.1", input="hi")
    next(stream)
    assert genai_telemetry.inference_spans == []
    assert [span.name for span in genai_telemetry.open_spans] == ["chat gpt-4.1"]
    del stream
    gc.collect()
    _check_span(genai_telemetry, ABANDONED, caplog)
    assert sse_replay_server.wait_for_finished(1)


async def test_async_consumer_break(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _async_client(sse_replay_server, genai_telemetry)
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        async for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(genai_telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_exception_in_consumer_loop(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _async_client(sse_replay_server, genai_telemetry)

    async def consume() -> None:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        await consume()
    _check_span(genai_telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_close_before_iterating(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _async_client(sse_replay_server, genai_telemetry)
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        await stream.close()
        assert [event async for event in stream] == []
    _check_span(genai_telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_garbage_collected_unclosed_stream(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _async_client(sse_replay_server, genai_telemetry)
    stream = client.responses.stream(model="gpt-4.1", input="hi")
    await stream.__anext__()
    del stream
    gc.collect()
    _check_span(genai_telemetry, ABANDONED, caplog)
    await client.aclose()


CANCELLED = ExitPath("cancelled", lambda: [], "cancelled")


async def _cancel_while(
    client: AsyncClient, reading: bool
) -> tuple[asyncio.Task[None], asyncio.Event]:
    got_event = asyncio.Event()
    blocker = asyncio.Event()  # never set: the consumer waits on it until cancelled

    async def consume() -> None:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _ in stream:
                got_event.set()
                if not reading:
                    await blocker.wait()

    task = asyncio.create_task(consume())
    return task, got_event


@pytest.mark.parametrize("reading", [True, False], ids=["while_reading", "in_consumer_code"])
async def test_async_cancellation(
    reading: bool,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _async_client(sse_replay_server, genai_telemetry)
    task, got_event = await _cancel_while(client, reading)
    await got_event.wait()
    if reading:
        # The server holds after 4 events: wait until it does, so the task is blocked reading.
        await asyncio.to_thread(sse_replay_server.wait_for_hold, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _check_span(genai_telemetry, CANCELLED, caplog)
    await client.aclose()
