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
from opentelemetry.trace import StatusCode

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
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES, Telemetry

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


def _check_span(telemetry: Telemetry, path: ExitPath, caplog: pytest.LogCaptureFixture) -> None:
    span = telemetry.only_inference_span()
    attributes = dict(span.attributes or {})
    assert attributes["spanstream.outcome"] == path.outcome
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == path.finish_reasons  # type: ignore[arg-type]
    failure = path.outcome in ("failed", "error")
    assert (span.status.status_code is StatusCode.ERROR) is failure
    assert attributes.get("error.type") == path.error_type
    if path.usage is not None:
        assert attributes["gen_ai.usage.input_tokens"] == path.usage[0]
        assert attributes["gen_ai.usage.output_tokens"] == path.usage[1]
    for key, value in path.extra.items():
        assert attributes[key] == value
    assert telemetry.lifecycle.started == telemetry.lifecycle.ended
    assert "ended span" not in caplog.text


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_sync_exit_path(
    path: ExitPath, server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(*path.replies())
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.provider,
        retry=NO_RETRY,
        strict=path.strict,
    )
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
    _check_span(telemetry, path, caplog)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
async def test_async_exit_path(
    path: ExitPath, server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(*path.replies())
    client = AsyncClient(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.provider,
        retry=NO_RETRY,
        strict=path.strict,
    )
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
    _check_span(telemetry, path, caplog)


# -- paths where the consumer ends the stream ---------------------------------------------------

ABANDONED = ExitPath("abandoned", lambda: [], "abandoned")


def _sync_client(server: ReplayServer, telemetry: Telemetry) -> Client:
    # hold_after_events keeps the server streaming, so nothing ends the stream but the consumer.
    server.enqueue(Reply.from_file(PLAIN, hold_after_events=4))
    return Client(api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider)


def _async_client(server: ReplayServer, telemetry: Telemetry) -> AsyncClient:
    server.enqueue(Reply.from_file(PLAIN, hold_after_events=4))
    return AsyncClient(
        api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider
    )


def test_sync_consumer_break(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _sync_client(server, telemetry)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(telemetry, ABANDONED, caplog)
    assert server.wait_for_finished(1)


def test_sync_exception_in_consumer_loop(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _sync_client(server, telemetry)

    def consume() -> None:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        consume()
    _check_span(telemetry, ABANDONED, caplog)
    span = telemetry.only_inference_span()
    assert [e.attributes["exception.type"] for e in span.events if e.attributes] == [
        "tests.integration.test_exit_paths.ConsumerError"
    ]


def test_sync_close_before_iterating(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _sync_client(server, telemetry)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.close()
        assert list(stream) == []
    _check_span(telemetry, ABANDONED, caplog)


def test_sync_garbage_collected_unclosed_stream(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _sync_client(server, telemetry)
    stream = client.responses.stream(model="gpt-4.1", input="hi")
    next(stream)
    assert telemetry.inference_spans == []
    del stream
    gc.collect()
    _check_span(telemetry, ABANDONED, caplog)
    assert server.wait_for_finished(1)


async def test_async_consumer_break(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _async_client(server, telemetry)
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        async for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_exception_in_consumer_loop(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _async_client(server, telemetry)

    async def consume() -> None:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        await consume()
    _check_span(telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_close_before_iterating(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _async_client(server, telemetry)
    async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        await stream.close()
        assert [event async for event in stream] == []
    _check_span(telemetry, ABANDONED, caplog)
    await client.aclose()


async def test_async_garbage_collected_unclosed_stream(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _async_client(server, telemetry)
    stream = client.responses.stream(model="gpt-4.1", input="hi")
    await stream.__anext__()
    del stream
    gc.collect()
    _check_span(telemetry, ABANDONED, caplog)
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
    reading: bool, server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    client = _async_client(server, telemetry)
    task, got_event = await _cancel_while(client, reading)
    await got_event.wait()
    if reading:
        # The server holds after 4 events: wait until it does, so the task is blocked reading.
        await asyncio.to_thread(server.wait_for_hold, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _check_span(telemetry, CANCELLED, caplog)
    await client.aclose()
