"""The exit-path matrix: every way a stream can end, for the Responses API, Chat Completions and
Anthropic Messages.

Same promise for every provider, sync and async, against a real loopback HTTP server: each way
a stream can end ends the inference span exactly once, with ``spanstream.outcome``, status ERROR
only for failures, ``error.type`` where it failed, the provider's finish reasons and the usage
seen so far. Replies are real recordings (faults injected by the replay server), except the
Anthropic in-stream ``error`` event, which no public recording has: it is built from a recorded
prefix and the ``error`` event documented by the Messages API.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spanstream import (
    AnthropicClient,
    APIConnectionError,
    APIStatusError,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    MalformedEventError,
    ResponseFailedError,
    RetryPolicy,
    SSEDecodeError,
    transports,
)
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..conftest import FIXTURES

CHAT = FIXTURES / "openai-chat"
ANTHROPIC = FIXTURES / "anthropic-messages"
NO_RETRY = RetryPolicy(max_retries=0)
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def every_connection_handed_back(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After each path, the HTTP client spanstream created counts no response as still open
    (a count left behind would steer later requests away from a shard's idle connections)."""
    made: list[transports._Shards[Any]] = []

    class Recorded(transports._Shards[Any]):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(transports, "_Shards", Recorded)
    yield
    assert made, "the clients of these tests create their own HTTP client"
    assert [shards.open for shards in made if any(shards.open)] == []


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
    finish_reasons: tuple[str, ...] | None = ("error",)
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


def _file(path: Path, **faults: object) -> Callable[[], list[Reply]]:
    return lambda: [Reply.from_file(path, **faults)]


def _without_done(path: Path, **faults: object) -> Callable[[], list[Reply]]:
    """The recording without its final ``data: [DONE]`` frame (servers that omit it)."""
    raw = path.read_bytes()
    return lambda: [Reply.sse(raw[: raw.rindex(b"data: [DONE]")], **faults)]


CHAT_INVALID_UTF8 = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"\xff\xfe"}}]}\n\n'
)
ANTHROPIC_INVALID_UTF8 = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":"\xff\xfe"}\n\n'
)


def _anthropic_overloaded() -> list[Reply]:
    """A recorded prefix (start, first text delta), then the documented ``error`` event."""
    raw = (ANTHROPIC / "claude-haiku-4-5-text.sse").read_bytes()
    prefix = raw[: raw.index(b"event: content_block_stop")]
    error = (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    return [Reply.sse(prefix + error)]


CHAT_INCLUDE_USAGE = CHAT / "gpt-4o-mini-include-usage.sse"  # 7 events, usage 22/3
ANTHROPIC_TEXT = ANTHROPIC / "claude-haiku-4-5-text.sse"  # 7 events, usage 10/4

CHAT_PATHS = [
    ExitPath(
        "completed",
        _file(CHAT / "gpt-4.1-cached-tokens.sse"),
        "completed",
        usage=(1144, 2),
        finish_reasons=("stop",),
        cached_tokens=1024,
    ),
    ExitPath(
        "completed_without_done_sentinel",
        _without_done(CHAT_INCLUDE_USAGE),
        "completed",
        usage=(22, 3),
        finish_reasons=("stop",),
    ),
    ExitPath(
        "incomplete",
        _file(CHAT / "gpt-4o-cached-tokens-finish-length.sse"),
        "incomplete",
        usage=(1420, 100),
        finish_reasons=("length",),
        cached_tokens=1280,
    ),
    ExitPath(
        "response_failed",
        _file(CHAT / "pydantic-ai__test_tool_use_failed_error_streaming.sse"),
        "failed",
        raises=ResponseFailedError,
        error_type="tool_use_failed",
    ),
    ExitPath(
        "error_event",
        _file(CHAT_INCLUDE_USAGE, inject_error_after_events=3, cut_after_events=3),
        "failed",
        raises=ResponseFailedError,
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
        _file(CHAT_INCLUDE_USAGE, cut_after_events=3),
        "error",
        raises=APIConnectionError,
        error_type="APIConnectionError",
    ),
    ExitPath(
        # Everything but [DONE] arrived, then the connection broke: a transport error stays an
        # error (only a clean end of the body may stand in for [DONE]).
        "connection_dropped_before_done",
        _file(CHAT_INCLUDE_USAGE, cut_after_events=6),
        "error",
        raises=APIConnectionError,
        error_type="APIConnectionError",
        usage=(22, 3),
    ),
    ExitPath(
        "malformed_event_strict",
        _file(CHAT_INCLUDE_USAGE, malformed_after_events=2),
        "error",
        raises=MalformedEventError,
        error_type="MalformedEventError",
        strict=True,
    ),
    ExitPath(
        "invalid_utf8",
        lambda: [Reply.sse(CHAT_INVALID_UTF8)],
        "error",
        raises=SSEDecodeError,
        error_type="SSEDecodeError",
    ),
]

RESPONSES = FIXTURES / "openai-responses"
RESPONSES_PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"  # 12 events, usage in=13 out=9
RESPONSES_INVALID_UTF8 = (
    b'event: response.created\ndata: {"type":"response.created","response":{"id":"r1"}}\n\n'
    b'event: response.output_text.delta\ndata: {"delta":"\xff\xfe"}\n\n'
)

RESPONSES_PATHS = [
    ExitPath(
        "completed",
        _file(RESPONSES / "gpt-4o-cached-tokens.sse"),
        "completed",
        usage=(1515, 8),
        finish_reasons=("stop",),
        cached_tokens=1390,
    ),
    ExitPath(
        "incomplete",
        _file(RESPONSES / "gpt-4o-incomplete-max-output-tokens-long.sse"),
        "incomplete",
        usage=(14, 50),
        finish_reasons=("length",),
    ),
    ExitPath(
        "response_failed",
        _file(RESPONSES / "gpt-5-error-event-then-response-failed.sse"),
        "failed",
        raises=ResponseFailedError,
        error_type="insufficient_quota",
    ),
    ExitPath(
        "error_event",
        _file(RESPONSES_PLAIN, inject_error_after_events=3, cut_after_events=3),
        "failed",
        raises=ResponseFailedError,
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
        _file(RESPONSES_PLAIN, cut_after_events=5),
        "error",
        raises=APIConnectionError,
        error_type="APIConnectionError",
    ),
    ExitPath(
        "malformed_event_strict",
        _file(RESPONSES_PLAIN, malformed_after_events=4),
        "error",
        raises=MalformedEventError,
        error_type="MalformedEventError",
        strict=True,
    ),
    ExitPath(
        "invalid_utf8",
        lambda: [Reply.sse(RESPONSES_INVALID_UTF8)],
        "error",
        raises=SSEDecodeError,
        error_type="SSEDecodeError",
    ),
]

ANTHROPIC_PATHS = [
    ExitPath(
        "completed",
        _file(ANTHROPIC / "claude-sonnet-4-5-cache-read.sse"),
        "completed",
        usage=(3 + 1217, 4),
        finish_reasons=("stop",),
        cached_tokens=1217,
        cache_write_tokens=0,
    ),
    ExitPath(
        "incomplete",
        _file(ANTHROPIC / "claude-sonnet-4-cache-creation.sse"),
        "incomplete",
        usage=(18 + 1031, 100),
        finish_reasons=("length",),
        cached_tokens=0,
        cache_write_tokens=1031,
    ),
    ExitPath(
        "response_failed",
        _anthropic_overloaded,
        "failed",
        raises=ResponseFailedError,
        error_type="overloaded_error",
        usage=(10, 2),
    ),
    ExitPath(
        "error_event",
        _file(ANTHROPIC_TEXT, inject_error_after_events=3, cut_after_events=3),
        "failed",
        raises=ResponseFailedError,
        error_type="api_error",  # the Anthropic-style error frame the server injects
    ),
    ExitPath(
        "http_error_status",
        lambda: [
            Reply.error(
                529,
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                headers={"request-id": "req_529"},
            )
        ],
        "error",
        raises=APIStatusError,
        error_type="529",
    ),
    ExitPath(
        "connection_dropped",
        _file(ANTHROPIC_TEXT, cut_after_events=4),
        "error",
        raises=APIConnectionError,
        error_type="APIConnectionError",
        usage=(10, 2),
    ),
    ExitPath(
        "malformed_event_strict",
        _file(ANTHROPIC_TEXT, malformed_after_events=2),
        "error",
        raises=MalformedEventError,
        error_type="MalformedEventError",
        strict=True,
    ),
    ExitPath(
        "invalid_utf8",
        lambda: [Reply.sse(ANTHROPIC_INVALID_UTF8)],
        "error",
        raises=SSEDecodeError,
        error_type="SSEDecodeError",
    ),
]


@dataclass(frozen=True)
class Api:
    """How to open a stream of one API, and what its spans say about the provider."""

    name: str
    provider: str
    held: Path  # a recording with at least 5 events, for the paths the consumer ends
    sync_client: Callable[..., Any]
    async_client: Callable[..., Any]
    open: Callable[[Any], Any]
    attributes: dict[str, object] = field(default_factory=dict)


RESPONSES_API = Api(
    "responses",
    "openai",
    RESPONSES_PLAIN,
    Client,
    AsyncClient,
    lambda client: client.responses.stream(model="gpt-4.1", input="hi"),
    {"openai.api.type": "responses"},
)
CHAT_API = Api(
    "chat",
    "openai",
    CHAT_INCLUDE_USAGE,
    Client,
    AsyncClient,
    lambda client: client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES),
    {"openai.api.type": "chat_completions"},
)
ANTHROPIC_API = Api(
    "anthropic",
    "anthropic",
    ANTHROPIC_TEXT,
    AnthropicClient,
    AsyncAnthropicClient,
    lambda client: client.messages.stream(
        model="claude-haiku-4-5", messages=MESSAGES, max_tokens=64
    ),
    {"openai.api.type": None},
)
MATRIX = [
    pytest.param(api, path, id=f"{api.name}-{path.name}")
    for api, paths in (
        (RESPONSES_API, RESPONSES_PATHS),
        (CHAT_API, CHAT_PATHS),
        (ANTHROPIC_API, ANTHROPIC_PATHS),
    )
    for path in paths
]
APIS = [pytest.param(api, id=api.name) for api in (RESPONSES_API, CHAT_API, ANTHROPIC_API)]


def _client(
    factory: Callable[..., Any], server: ReplayServer, telemetry: GenAITelemetry, **options: Any
) -> Any:
    return factory(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        **options,
    )


def _check_span(
    telemetry: GenAITelemetry, api: Api, path: ExitPath, caplog: pytest.LogCaptureFixture
) -> None:
    span = telemetry.inference_span()
    failure = path.outcome in ("failed", "error")
    assert_inference_span(
        span,
        provider=api.provider,
        operation="chat",
        outcome=path.outcome,
        finish_reasons=path.finish_reasons,
        status="error" if failure else "unset",
        error_type=path.error_type,
        attributes=api.attributes,
    )
    if path.usage is not None:
        assert_inference_span(span, input_tokens=path.usage[0], output_tokens=path.usage[1])
    if path.cached_tokens is not None:
        assert_inference_span(span, cached_tokens=path.cached_tokens)
    if path.cache_write_tokens is not None:
        assert_inference_span(span, cache_write_tokens=path.cache_write_tokens)
    # No span left open, none ended twice (the SDK logs "Calling end() on an ended span").
    assert telemetry.started == telemetry.ended
    assert telemetry.open_spans == []
    assert "ended span" not in caplog.text


@pytest.mark.parametrize(("api", "path"), MATRIX)
def test_sync_exit_path(
    api: Api,
    path: ExitPath,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sse_replay_server.enqueue(*path.replies())
    client = _client(
        api.sync_client, sse_replay_server, genai_telemetry, retry=NO_RETRY, strict=path.strict
    )
    caplog.set_level(logging.WARNING)

    def consume() -> None:
        with api.open(client) as stream:
            for _ in stream:
                pass

    if path.raises is None:
        consume()
    else:
        with pytest.raises(path.raises):
            consume()
    client.close()
    _check_span(genai_telemetry, api, path, caplog)


@pytest.mark.parametrize(("api", "path"), MATRIX)
async def test_async_exit_path(
    api: Api,
    path: ExitPath,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sse_replay_server.enqueue(*path.replies())
    client = _client(
        api.async_client, sse_replay_server, genai_telemetry, retry=NO_RETRY, strict=path.strict
    )
    caplog.set_level(logging.WARNING)

    async def consume() -> None:
        async with api.open(client) as stream:
            async for _ in stream:
                pass

    if path.raises is None:
        await consume()
    else:
        with pytest.raises(path.raises):
            await consume()
    await client.aclose()
    _check_span(genai_telemetry, api, path, caplog)


# -- paths where the consumer ends the stream ---------------------------------------------------

# A consumer that left expected no finish reason any more: none is recorded, not "error".
ABANDONED = ExitPath("abandoned", lambda: [], "abandoned", finish_reasons=None)
CANCELLED = ExitPath("cancelled", lambda: [], "cancelled", finish_reasons=None)


def _held_sync(api: Api, server: ReplayServer, telemetry: GenAITelemetry) -> Any:
    # hold_after_events keeps the server streaming, so nothing ends the stream but the consumer.
    server.enqueue(Reply.from_file(api.held, hold_after_events=4))
    return _client(api.sync_client, server, telemetry)


def _held_async(api: Api, server: ReplayServer, telemetry: GenAITelemetry) -> Any:
    server.enqueue(Reply.from_file(api.held, hold_after_events=4))
    return _client(api.async_client, server, telemetry)


@pytest.mark.parametrize("api", APIS)
def test_sync_consumer_break(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_sync(api, sse_replay_server, genai_telemetry)
    with api.open(client) as stream:
        for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    assert sse_replay_server.wait_for_finished(1)
    client.close()


@pytest.mark.parametrize("api", APIS)
def test_sync_exception_in_consumer_loop(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_sync(api, sse_replay_server, genai_telemetry)

    def consume() -> None:
        with api.open(client) as stream:
            for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        consume()
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    # The consumer's exception is recorded on the span (without making it an error).
    span = genai_telemetry.inference_span()
    assert [e.attributes["exception.type"] for e in span.events if e.attributes] == [
        f"{__name__}.ConsumerError"
    ]
    client.close()


@pytest.mark.parametrize("api", APIS)
def test_sync_close_before_iterating(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_sync(api, sse_replay_server, genai_telemetry)
    with api.open(client) as stream:
        stream.close()
        assert list(stream) == []
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    client.close()


@pytest.mark.parametrize("api", APIS)
def test_sync_garbage_collected_unclosed_stream(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_sync(api, sse_replay_server, genai_telemetry)
    stream = api.open(client)
    next(stream)
    assert genai_telemetry.inference_spans == []
    del stream
    gc.collect()
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    assert sse_replay_server.wait_for_finished(1)
    client.close()


@pytest.mark.parametrize("api", APIS)
async def test_async_consumer_break(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_async(api, sse_replay_server, genai_telemetry)
    async with api.open(client) as stream:
        async for _ in stream:
            break
    assert stream.outcome == "abandoned"
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    await client.aclose()


@pytest.mark.parametrize("api", APIS)
async def test_async_exception_in_consumer_loop(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_async(api, sse_replay_server, genai_telemetry)

    async def consume() -> None:
        async with api.open(client) as stream:
            async for _ in stream:
                raise ConsumerError("boom")

    with pytest.raises(ConsumerError):
        await consume()
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    await client.aclose()


@pytest.mark.parametrize("api", APIS)
async def test_async_close_before_iterating(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_async(api, sse_replay_server, genai_telemetry)
    async with api.open(client) as stream:
        await stream.close()
        assert [event async for event in stream] == []
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    await client.aclose()


@pytest.mark.parametrize("api", APIS)
async def test_async_garbage_collected_unclosed_stream(
    api: Api,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_async(api, sse_replay_server, genai_telemetry)
    stream = api.open(client)
    await stream.__anext__()
    del stream
    gc.collect()
    _check_span(genai_telemetry, api, ABANDONED, caplog)
    await client.aclose()


@pytest.mark.parametrize("reading", [True, False], ids=["while_reading", "in_consumer_code"])
@pytest.mark.parametrize("api", APIS)
async def test_async_cancellation(
    api: Api,
    reading: bool,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _held_async(api, sse_replay_server, genai_telemetry)
    got_event = asyncio.Event()
    blocker = asyncio.Event()  # never set: the consumer waits on it until cancelled

    async def consume() -> None:
        async with api.open(client) as stream:
            async for _ in stream:
                got_event.set()
                if not reading:
                    await blocker.wait()

    task = asyncio.create_task(consume())
    await got_event.wait()
    if reading:
        # The server holds after 4 events: wait until it does, so the task is blocked reading.
        await asyncio.to_thread(sse_replay_server.wait_for_hold, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _check_span(genai_telemetry, api, CANCELLED, caplog)
    await client.aclose()
