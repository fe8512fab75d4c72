"""Streaming a stored (background) Responses API response: ``client.responses.resume``, its
``fetch_response`` span and metrics, and resuming after a dropped connection with
``Stream.last_sequence_number``, over the loopback replay server.

The recordings are real: a background-mode stream (``..._starting_after_vcr.sse``) and the
same response fetched again with ``starting_after=0`` (``..._starting_after_vcr__1.sse``), from
pydantic-ai's cassettes (tests/fixtures/openai-responses/PROVENANCE.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from spanstream import (
    APIConnectionError,
    APIStatusError,
    AsyncStream,
    ResponseFailedError,
    Stream,
    StreamEvent,
    TextDelta,
)
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_semconv

from ..conftest import RESPONSES, adrain, drain
from ..semconv_schemas import assert_content_conforms

BACKGROUND = RESPONSES / "pydantic-ai__test_background_mode_streaming_starting_after_vcr.sse"
RESUMED = RESPONSES / "pydantic-ai__test_background_mode_streaming_starting_after_vcr__1.sse"
FAILED = RESPONSES / "gpt-5-error-event-then-response-failed.sse"
RESPONSE_ID = "resp_0850765c843cca5300699cc47d93c0819089a181f5feeff8eb"
TEXT = "2 + 2 equals 4."
CUT_AFTER = 6  # events 0-5: queued, created, in_progress, item added, part added, first delta


def _text(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def _fetch_recorded(
    server: ReplayServer,
    telemetry: GenAITelemetry,
    starting_after: int | None = 0,
    **options: Any,
) -> tuple[Stream, list[StreamEvent]]:
    """Fetch the recorded stored response to its end; the stream and the events it gave."""
    server.enqueue(Reply.from_file(RESUMED))
    client = telemetry.client(server, **options)
    with client.responses.resume(RESPONSE_ID, starting_after=starting_after) as stream:
        events = list(stream)
        stream.final_response()
    return stream, events


def _fetch_spans(telemetry: GenAITelemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.spans if span.name == "fetch_response"]


def test_resume_sends_a_get_for_the_response_from_the_cursor(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    stream, events = _fetch_recorded(sse_replay_server, genai_telemetry)
    (request,) = sse_replay_server.requests
    assert request.method == "GET"
    assert request.path == f"/v1/responses/{RESPONSE_ID}?stream=true&starting_after=0"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == b""
    assert _text(events) == TEXT
    response = stream.final_response()
    assert (response.id, response.status, response.text) == (RESPONSE_ID, "completed", TEXT)
    assert stream.last_sequence_number == 16


def test_a_fetch_is_a_fetch_response_span_without_model_or_token_usage(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    _fetch_recorded(sse_replay_server, genai_telemetry)
    assert genai_telemetry.inference_spans == []
    (span,) = _fetch_spans(genai_telemetry)
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    assert isinstance(attributes.pop("gen_ai.response.time_to_first_chunk"), float)
    assert {name: value for name, value in attributes.items() if name.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "fetch_response",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.stream": True,
        "gen_ai.request.stream_cursor": 0,
        "gen_ai.response.id": RESPONSE_ID,
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.status": "completed",
        "gen_ai.response.finish_reasons": ("stop",),
    }
    assert attributes["openai.api.type"] == "responses"
    assert attributes["spanstream.outcome"] == "completed"
    assert_semconv(span)
    assert_semconv(span, latest=True)


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_a_fetch_records_its_operation_duration_and_no_tokens(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
    latest: bool,
) -> None:
    if latest:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    _fetch_recorded(sse_replay_server, genai_telemetry, starting_after=None)
    assert sorted(genai_telemetry.metric_names()) == [
        "gen_ai.client.operation.duration",
        "spanstream.client.streams",
    ]
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "fetch_response",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "server.address": "127.0.0.1",
        "server.port": sse_replay_server.port,
    }
    (span,) = _fetch_spans(genai_telemetry)
    assert "gen_ai.request.stream_cursor" not in (span.attributes or {})  # from the start


def test_fetching_a_response_that_failed_is_not_a_failed_fetch(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(FAILED))
    client = genai_telemetry.client(sse_replay_server)
    with client.responses.resume("resp_failed") as stream, pytest.raises(ResponseFailedError):
        stream.final_response()  # the caller still learns that the response failed
    (span,) = _fetch_spans(genai_telemetry)
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes
    assert not span.events  # no exception recorded
    assert attributes["gen_ai.response.status"] == "failed"
    assert attributes["spanstream.outcome"] == "failed"
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert "error.type" not in duration.attributes


def test_a_fetch_that_fails_itself_is_an_error(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(RESUMED, cut_after_events=3))
    client = genai_telemetry.client(sse_replay_server)
    with (
        client.responses.resume(RESPONSE_ID, starting_after=0) as stream,
        pytest.raises(APIConnectionError),
    ):
        list(stream)
    assert stream.last_sequence_number == 3
    (span,) = _fetch_spans(genai_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "APIConnectionError"
    genai_telemetry.assert_all_spans_ended()


def _drop_then_resume(server: ReplayServer) -> None:
    # The background stream drops after CUT_AFTER events; the fetch replays the same stored
    # stream, which the server sends from the first event after the request's starting_after.
    server.enqueue(Reply.from_file(BACKGROUND, cut_after_events=CUT_AFTER))
    server.enqueue(Reply.from_file(BACKGROUND))


def _check_drop_then_resume(
    server: ReplayServer,
    telemetry: GenAITelemetry,
    first: Stream | AsyncStream,
    seen: list[StreamEvent],
    rest: list[StreamEvent],
    final_text: str,
) -> None:
    assert first.last_sequence_number == CUT_AFTER - 1
    assert _text(seen) + _text(rest) == TEXT  # nothing lost, nothing twice
    assert final_text == TEXT
    post, get = server.requests
    assert post.method == "POST"
    assert post.json()["background"] is True
    assert get.path == f"/v1/responses/{RESPONSE_ID}?stream=true&starting_after={CUT_AFTER - 1}"
    (inference,) = telemetry.inference_spans
    assert (inference.attributes or {})["spanstream.outcome"] == "error"
    (fetch,) = _fetch_spans(telemetry)
    assert (fetch.attributes or {})["gen_ai.request.stream_cursor"] == CUT_AFTER - 1
    assert (fetch.attributes or {})["spanstream.outcome"] == "completed"
    telemetry.assert_all_spans_ended()


def test_a_dropped_background_stream_resumes_where_it_stopped(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    _drop_then_resume(sse_replay_server)
    client = genai_telemetry.client(sse_replay_server, max_retries=0)
    seen: list[StreamEvent] = []
    first = client.responses.stream(model="gpt-4o", input="2+2?", background=True)
    with first, pytest.raises(APIConnectionError):
        drain(first, seen)
    response_id = first.response.id
    assert response_id == RESPONSE_ID
    with client.responses.resume(response_id, starting_after=first.last_sequence_number) as resumed:
        rest = list(resumed)
        final = resumed.final_response()
    _check_drop_then_resume(sse_replay_server, genai_telemetry, first, seen, rest, final.text)


async def test_a_dropped_background_stream_resumes_where_it_stopped_async(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    _drop_then_resume(sse_replay_server)
    seen: list[StreamEvent] = []
    async with genai_telemetry.async_client(sse_replay_server, max_retries=0) as client:
        first = client.responses.stream(model="gpt-4o", input="2+2?", background=True)
        async with first:
            with pytest.raises(APIConnectionError):
                await adrain(first, seen)
        assert first.response.id is not None
        async with client.responses.resume(
            first.response.id, starting_after=first.last_sequence_number
        ) as resumed:
            rest = [event async for event in resumed]
            final = await resumed.final_response()
    _check_drop_then_resume(sse_replay_server, genai_telemetry, first, seen, rest, final.text)


def test_last_sequence_number_is_none_until_an_event_and_outside_the_responses_api(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    client = genai_telemetry.client(sse_replay_server)
    stream = client.responses.resume(RESPONSE_ID)
    assert stream.last_sequence_number is None
    stream.close()
    sse_replay_server.enqueue(
        Reply.from_file(RESPONSES.parent / "openai-chat" / "gpt-4o-mini-include-usage.sse")
    )
    messages = [{"role": "user", "content": "hi"}]
    with client.chat.completions.stream(model="gpt-4o-mini", messages=messages) as chat:
        list(chat)
    assert chat.last_sequence_number is None


@pytest.mark.parametrize(
    ("response_id", "starting_after", "message"),
    [
        ("", None, "response_id must be a non-empty string"),
        ("resp_1", -1, "starting_after must be an int >= 0"),
        ("resp_1", True, "starting_after must be an int >= 0"),
    ],
)
def test_resume_rejects_a_bad_id_or_cursor_before_sending(
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    response_id: str,
    starting_after: int | None,
    message: str,
) -> None:
    client = genai_telemetry.client(sse_replay_server)
    with pytest.raises(ValueError, match=message):
        client.responses.resume(response_id, starting_after=starting_after)
    assert sse_replay_server.requests == []
    assert genai_telemetry.spans == ()


def test_the_response_id_stays_inside_its_path_segment(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    client = genai_telemetry.client(sse_replay_server, max_retries=0)
    # No reply queued: the server answers 500, after recording the path it was asked for.
    with pytest.raises(APIStatusError), client.responses.resume("../chat/completions?x=1"):
        pass
    (request,) = sse_replay_server.requests
    assert request.path == "/v1/responses/..%2Fchat%2Fcompletions%3Fx%3D1?stream=true"


def test_captured_content_of_a_fetch_has_the_output_and_no_input(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    _fetch_recorded(sse_replay_server, genai_telemetry, capture_content="span_only")
    (span,) = _fetch_spans(genai_telemetry)
    attributes = dict(span.attributes or {})
    assert "gen_ai.input.messages" not in attributes  # a fetch sends no input
    output = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output[0]["parts"] == [{"type": "text", "content": TEXT}]
    assert assert_content_conforms(attributes) == 1
