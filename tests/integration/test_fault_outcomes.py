"""Every fault the replay server can inject, and the span outcome it must produce.

Written only with the pytest plugin's fixtures (``sse_replay_server``, ``genai_telemetry``) and
assertions, as a user would write them. Each fault runs with the sync and the async client.
Timing faults are checked through lower bounds only (a delay of d seconds makes the measured
time at least d), never through upper bounds, so no test depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import pytest

from spanstream import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    MalformedEventError,
    ResponseFailedError,
    RetryPolicy,
)
from spanstream.testing import (
    GenAITelemetry,
    ReplayServer,
    assert_inference_span,
    assert_semconv,
)

PLAIN = "openai-responses/gpt-4.1-plain-text"  # 12 events, usage in=13 out=9
PLAIN_DELTA_EVENTS = 5  # the first output_text.delta is the 5th event of PLAIN
NO_RETRY = RetryPolicy(max_retries=0)
ClientKind = Literal["sync", "async"]


@dataclass(frozen=True)
class Fault:
    """One fault scenario: how to script the server, and what the span must say."""

    name: str
    script: Callable[[ReplayServer], object]
    outcome: str
    raises: type[BaseException] | None = None
    error_type: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    usage: tuple[int, int] | None = None
    attributes: dict[str, object] = field(default_factory=dict)


FAULTS = [
    Fault(
        "cut_after_bytes",
        lambda s: s.reply_with_recording(PLAIN, cut_after_bytes=2000),
        "error",
        APIConnectionError,
        "APIConnectionError",
    ),
    Fault(
        "cut_after_events",
        lambda s: s.reply_with_recording(PLAIN, cut_after_events=5),
        "error",
        APIConnectionError,
        "APIConnectionError",
    ),
    Fault(
        "cut_before_the_first_event",
        lambda s: s.reply_with_recording(PLAIN, cut_after_events=0),
        "error",
        APIConnectionError,
        "APIConnectionError",
    ),
    Fault(
        "delay_first_byte",
        lambda s: s.reply_with_recording(PLAIN, delay_first_byte=0.05),
        "completed",
        usage=(13, 9),
    ),
    Fault(
        "delay_first_byte_past_the_read_timeout",
        # The server would wait 60 s (close() cuts that short); the client gives up at 0.2 s.
        lambda s: s.reply_with_recording(PLAIN, delay_first_byte=60),
        "error",
        APITimeoutError,
        "timeout",
        options={"timeout": httpx.Timeout(0.2)},
    ),
    Fault(
        "drip",
        lambda s: s.reply_with_recording(PLAIN, drip_interval=0.01),
        "completed",
        usage=(13, 9),
    ),
    Fault(
        "one_byte_chunks",
        lambda s: s.reply_with_recording(PLAIN, chunk_size=1),
        "completed",
        usage=(13, 9),
    ),
    Fault(
        "http_429_rate_limited",
        lambda s: s.reply_with_error(429),
        "error",
        APIStatusError,
        "429",
    ),
    Fault(
        "http_500_provider_error_body",
        lambda s: s.reply_with_error(
            500,
            {
                "error": {
                    "message": "boom",
                    "type": "server_error",
                    "code": "internal",
                    "param": None,
                }
            },
        ),
        "error",
        APIStatusError,
        "500",
    ),
    Fault(
        "http_503_then_success_after_a_retry",
        lambda s: (
            s.reply_with_error(503, headers={"Retry-After": "0"}),
            s.reply_with_recording(PLAIN),
        ),
        "completed",
        options={"retry": RetryPolicy(max_retries=1)},
        usage=(13, 9),
        attributes={"spanstream.retries": 1},
    ),
    Fault(
        "http_503_until_the_retries_run_out",
        lambda s: (
            s.reply_with_error(503, headers={"Retry-After": "0"}),
            s.reply_with_error(503, headers={"Retry-After": "0"}),
        ),
        "error",
        APIStatusError,
        "503",
        options={"retry": RetryPolicy(max_retries=1)},
        # The retry happened although the send failed in the end: the span says so.
        attributes={"spanstream.retries": 1},
    ),
    Fault(
        "end_after_events_without_a_terminal_event",
        lambda s: s.reply_with_recording(PLAIN, end_after_events=6),
        "error",
        APIConnectionError,
        "APIConnectionError",
    ),
    Fault(
        "injected_error_event_ending_the_stream",
        lambda s: s.reply_with_recording(PLAIN, inject_error_after_events=3, end_after_events=3),
        "failed",
        ResponseFailedError,
        "server_error",
    ),
    Fault(
        "injected_error_event_then_a_dropped_connection",
        lambda s: s.reply_with_recording(PLAIN, inject_error_after_events=3, cut_after_events=3),
        "failed",
        ResponseFailedError,
        "server_error",
    ),
    Fault(
        "malformed_json_skipped",
        lambda s: s.reply_with_recording(PLAIN, malformed_after_events=4),
        "completed",
        usage=(13, 9),
        attributes={"spanstream.events.malformed": 1},
    ),
    Fault(
        "malformed_json_strict",
        lambda s: s.reply_with_recording(PLAIN, malformed_after_events=4),
        "error",
        MalformedEventError,
        "MalformedEventError",
        options={"strict": True},
    ),
]


async def _consume(
    kind: ClientKind, telemetry: GenAITelemetry, server: ReplayServer, **options: object
) -> None:
    options.setdefault("retry", NO_RETRY)
    if kind == "sync":
        with telemetry.client(server, **options).responses.stream(
            model="gpt-4.1", input="4+5?"
        ) as stream:
            for _ in stream:
                pass
        return
    async with (
        telemetry.async_client(server, **options) as client,
        client.responses.stream(model="gpt-4.1", input="4+5?") as astream,
    ):
        async for _ in astream:
            pass


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_fault_ends_the_span_with_its_outcome(
    fault: Fault,
    kind: ClientKind,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    fault.script(sse_replay_server)
    if fault.raises is None:
        await _consume(kind, genai_telemetry, sse_replay_server, **fault.options)
    else:
        with pytest.raises(fault.raises):
            await _consume(kind, genai_telemetry, sse_replay_server, **fault.options)

    span = genai_telemetry.inference_span()
    failure = fault.outcome in ("failed", "error")
    assert_inference_span(
        span,
        outcome=fault.outcome,
        status="error" if failure else "unset",
        error_type=fault.error_type,
        attributes=fault.attributes,
    )
    if fault.usage is not None:
        assert_inference_span(
            span, input_tokens=fault.usage[0], output_tokens=fault.usage[1], finish_reasons=["stop"]
        )
    assert_semconv(span)
    genai_telemetry.assert_all_spans_ended()


def test_delay_first_byte_shows_in_time_to_first_chunk(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_recording(PLAIN, delay_first_byte=0.05)
    with genai_telemetry.client(sse_replay_server).responses.stream(
        model="gpt-4.1", input="hi"
    ) as stream:
        stream.final_response()
    attributes = genai_telemetry.inference_span().attributes or {}
    # A lower bound only: no byte can arrive before the server's delay has passed.
    assert attributes["gen_ai.response.time_to_first_chunk"] >= 0.05  # type: ignore[operator]


def test_drip_shows_in_time_to_first_token(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    drip = 0.01
    sse_replay_server.reply_with_recording(PLAIN, drip_interval=drip)
    with genai_telemetry.client(sse_replay_server).responses.stream(
        model="gpt-4.1", input="hi"
    ) as stream:
        stream.final_response()
    attributes = genai_telemetry.inference_span().attributes or {}
    # The first text delta is sent after (events before it) drip intervals, at the earliest.
    minimum = (PLAIN_DELTA_EVENTS - 1) * drip
    assert attributes["spanstream.time_to_first_token"] >= minimum  # type: ignore[operator]


def test_held_stream_released_completes(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_recording(PLAIN, hold_after_events=4)
    client = genai_telemetry.client(sse_replay_server)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        for count, _ in enumerate(stream, start=1):
            if count == 1:
                assert sse_replay_server.wait_for_hold(1)
                assert genai_telemetry.inference_spans == []  # still streaming: span open
                sse_replay_server.release()
    assert_inference_span(
        genai_telemetry.inference_span(), outcome="completed", input_tokens=13, output_tokens=9
    )


def test_held_stream_left_by_the_consumer_is_abandoned(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_recording(PLAIN, hold_after_events=4)
    client = genai_telemetry.client(sse_replay_server)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        for _ in stream:
            break
    assert_inference_span(
        genai_telemetry.inference_span(),
        outcome="abandoned",
        status="unset",
        error_type=None,
        finish_reasons=None,  # the consumer left: no reason expected, so none, not "error"
    )
    genai_telemetry.assert_all_spans_ended()


def test_held_stream_cut_by_a_server_shutdown_is_an_error(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_recording(PLAIN, hold_after_events=4)
    client = genai_telemetry.client(sse_replay_server)

    def consume() -> None:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            for count, _ in enumerate(stream, start=1):
                if count == 1:
                    assert sse_replay_server.wait_for_hold(1)
                    sse_replay_server.close()

    with pytest.raises(APIConnectionError):
        consume()
    assert_inference_span(
        genai_telemetry.inference_span(),
        outcome="error",
        status="error",
        error_type="APIConnectionError",
    )
    assert sse_replay_server.outcomes == ["aborted"]


@pytest.mark.parametrize(
    ("path", "events"),
    [
        (
            "/chat/completions",
            [
                (None, {"id": "chatcmpl-1", "choices": [{"delta": {"content": "hi"}}]}),
                (None, "[DONE]"),
            ],
        ),
        (
            "/messages",
            [
                ("message_start", {"type": "message_start", "message": {"id": "msg_1"}}),
                ("message_stop", {"type": "message_stop"}),
            ],
        ),
    ],
    ids=["chat_completions", "messages"],
)
def test_other_provider_paths_serve_events_built_in_the_test(
    path: str,
    events: list[tuple[str | None, dict[str, object] | str]],
    sse_replay_server: ReplayServer,
) -> None:
    sse_replay_server.reply_with_events(events, cut_after_events=1)
    with (
        httpx.Client(base_url=sse_replay_server.base_url) as http,
        http.stream("POST", path.lstrip("/"), json={"stream": True}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    assert sse_replay_server.last_request.path == f"/v1{path}"
