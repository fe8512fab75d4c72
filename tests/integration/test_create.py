"""``create()`` on the three inference APIs against the loopback replay server, sync and async:
the non-streamed reply of a real recording (the Responses terminal event's response, the
official SDKs' own accumulation of a Chat or Anthropic stream) gives the stream's final
``Response``, inside the same ``chat {model}`` span with the same metrics, less what only a
stream has; retries, errors, failures and content capture as for a stream."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from spanstream import (
    AnthropicClient,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    MalformedEventError,
    ResponseFailedError,
    RetryPolicy,
    UnexpectedContentTypeError,
)
from spanstream.events import Response
from spanstream.telemetry import CaptureMode
from spanstream.testing import (
    GenAITelemetry,
    ReplayServer,
    Reply,
    assert_inference_span,
    assert_semconv,
)

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import (  # noqa: E402
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    decode_anthropic,
    decode_chat,
    decode_fixture,
    sdk_anthropic_message,
    sdk_chat_completion,
    sdk_terminal_payload,
)

KINDS = ["sync", "async"]
STREAM_ONLY_ATTRIBUTES = {
    "gen_ai.request.stream",
    "gen_ai.response.time_to_first_chunk",
    "spanstream.time_to_first_token",
}
STREAM_ONLY_METRICS = {
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.operation.time_per_output_chunk",
    "spanstream.client.operation.time_to_first_token",
}


@dataclass(frozen=True)
class Api:
    """One inference API: a recording, the non-streamed reply of the same answer, and how to
    call it."""

    name: str
    recording: Path
    body: Callable[[], str]
    expected: Callable[[], Response]
    model: str
    params: dict[str, Any]
    anthropic: bool = False

    def resource(self, client: Any) -> Any:
        if self.name == "responses":
            return client.responses
        return client.chat.completions if self.name == "chat" else client.messages


RESPONSES = OPENAI_RESPONSES / "gpt-4.1-plain-text.sse"
CHAT = OPENAI_CHAT / "gpt-4o-mini-include-usage.sse"
MESSAGES = ANTHROPIC_MESSAGES / "claude-haiku-4-5-text.sse"
USER = [{"role": "user", "content": "4+5?"}]
APIS = [
    Api(
        "responses",
        RESPONSES,
        lambda: json.dumps(sdk_terminal_payload(RESPONSES)["response"]),  # type: ignore[index]
        lambda: decode_fixture(RESPONSES).parser.response,
        "gpt-4.1",
        {"input": "4+5?"},
    ),
    Api(
        "chat",
        CHAT,
        lambda: sdk_chat_completion(CHAT).model_dump_json(),
        lambda: decode_chat(CHAT).parser.response,
        "gpt-4o-mini",
        {"messages": USER},
    ),
    Api(
        "anthropic",
        MESSAGES,
        lambda: sdk_anthropic_message(MESSAGES).model_dump_json(),
        lambda: decode_anthropic(MESSAGES).parser.response,
        "claude-haiku-4-5",
        {"messages": USER, "max_tokens": 64},
        anthropic=True,
    ),
]
API_IDS = [api.name for api in APIS]


def _clients(api: Api, kind: str) -> tuple[type[Any], type[Any]]:
    if api.anthropic:
        return AnthropicClient, AsyncAnthropicClient
    return Client, AsyncClient


def _call(
    api: Api,
    kind: str,
    telemetry: GenAITelemetry,
    server: ReplayServer,
    *,
    stream: bool = False,
    **options: Any,
) -> Response | Exception:
    """``create()`` (or, with ``stream``, a stream read to its end) of ``api`` with a client of
    ``kind`` wired to ``telemetry``: the response, or the error raised."""
    sync_type, async_type = _clients(api, kind)
    options = {
        "api_key": "sk-test",
        "base_url": server.base_url,
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
        "retry": RetryPolicy(max_retries=0),
        **options,
    }
    params = {"model": api.model, **api.params}
    if kind == "sync":
        with sync_type(**options) as client:
            try:
                if stream:
                    with api.resource(client).stream(**params) as opened:
                        return opened.final_response()  # type: ignore[no-any-return]
                return api.resource(client).create(**params)  # type: ignore[no-any-return]
            except Exception as exc:
                return exc

    async def main() -> Response | Exception:
        async with async_type(**options) as client:
            try:
                if stream:
                    async with api.resource(client).stream(**params) as opened:
                        return await opened.final_response()  # type: ignore[no-any-return]
                return await api.resource(client).create(**params)  # type: ignore[no-any-return]
            except Exception as exc:
                return exc

    return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_create_gives_the_streams_response_span_and_metrics(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    # The same answer streamed, then not: the recording, then its non-streamed reply.
    server.reply_with_file(api.recording)
    streamed = _call(api, kind, genai_telemetry, server, stream=True)
    stream_span = genai_telemetry.inference_span()
    stream_metrics = set(genai_telemetry.metric_names())
    genai_telemetry.clear()
    server.reply_with_json(api.body())

    response = _call(api, kind, genai_telemetry, server)

    assert isinstance(response, Response), response
    assert response == streamed == api.expected()
    request = server.last_request
    assert "stream" not in request.json()
    assert "stream_options" not in request.json()
    assert request.headers["accept"] == "application/json"
    span = genai_telemetry.inference_span()
    assert span.name == stream_span.name == f"chat {api.model}"
    # The stream's span, less what only a stream has: gen_ai.request.stream is conditionally
    # required "if and only if the request is streaming" and left unset otherwise (the
    # conventions' client-inference span), and there is no time to a first chunk or token.
    expected = {
        name: value
        for name, value in (stream_span.attributes or {}).items()
        if name not in STREAM_ONLY_ATTRIBUTES
    }
    assert "gen_ai.request.stream" in (stream_span.attributes or {})
    assert dict(span.attributes or {}) == expected
    assert_inference_span(
        span,
        model=api.model,
        response_id=response.id,
        finish_reasons=["stop"],
        outcome="completed",
        status="unset",
        attributes={"gen_ai.request.stream": None, "gen_ai.response.time_to_first_chunk": None},
    )
    assert_semconv(span, latest=False)  # the naming set the clients use (no opt-in)
    genai_telemetry.assert_all_spans_ended()
    # Duration and token usage as for a stream; no chunk or first-token timings.
    assert set(genai_telemetry.metric_names()) == stream_metrics - STREAM_ONLY_METRICS
    assert STREAM_ONLY_METRICS & stream_metrics
    usage = response.usage
    assert usage is not None
    tokens = genai_telemetry.metric_points("gen_ai.client.token.usage")
    assert sorted(point.sum for point in tokens) == sorted(
        [usage.input_tokens, usage.output_tokens]
    )
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.count == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_a_429_is_retried_then_the_reply_read(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.enqueue(Reply.error(429, headers={"Retry-After": "0"}), Reply.json(api.body()))

    response = _call(
        api, kind, genai_telemetry, server, retry=RetryPolicy(max_retries=2, initial_delay=0)
    )

    assert response == api.expected()
    assert len(server.requests) == 2
    assert_inference_span(
        genai_telemetry.inference_span(),
        outcome="completed",
        error_type=None,
        attributes={"spanstream.retries": 1},
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_html_with_a_success_status_is_not_the_json_asked_for(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    page = "<html><body><h1>Sign in to the Wi-Fi</h1></body></html>"
    server.reply_with_json(page, headers={"Content-Type": "text/html; charset=utf-8"})

    error = _call(api, kind, genai_telemetry, server)

    assert isinstance(error, UnexpectedContentTypeError), error
    assert "expected JSON" in str(error)
    assert "Sign in to the Wi-Fi" in str(error)
    span = genai_telemetry.inference_span()
    assert_inference_span(span, outcome="error", status="error")
    assert_semconv(span, latest=False)
    genai_telemetry.assert_all_spans_ended()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_a_reply_streamed_anyway_is_read_as_the_stream_it_is(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_file(api.recording)  # text/event-stream, though stream was not asked

    response = _call(api, kind, genai_telemetry, server)

    assert response == api.expected()
    assert "stream" not in server.last_request.json()
    assert_inference_span(
        genai_telemetry.inference_span(),
        outcome="completed",
        attributes={"gen_ai.request.stream": None},
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_json_labelled_loosely_is_still_the_reply(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    # Compatible servers label their replies loosely: only an event stream is read as one.
    server.reply_with_json(api.body(), headers={"Content-Type": "text/plain"})

    assert _call(api, kind, genai_telemetry, server) == api.expected()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param('{"id": "x", "secret-prompt": ', "Invalid JSON", id="truncated"),
        pytest.param('["secret-prompt"]', "payload", id="not-an-object"),
        pytest.param('{"note": "secret-prompt"}', "the reply has no", id="no-answer"),
    ],
)
def test_a_reply_that_cannot_be_read_is_malformed_without_its_payload(
    api: Api,
    kind: str,
    body: str,
    reason: str,
    genai_telemetry: GenAITelemetry,
    server: ReplayServer,
) -> None:
    server.reply_with_json(body)

    error = _call(api, kind, genai_telemetry, server)

    assert isinstance(error, MalformedEventError), error
    assert reason in str(error)
    assert "secret-prompt" not in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None
    span = genai_telemetry.inference_span()
    assert_inference_span(span, outcome="error", status="error", error_type="MalformedEventError")
    assert "secret-prompt" not in json.dumps(
        [dict(span.attributes or {}), [dict(e.attributes or {}) for e in span.events]]
    )
    genai_telemetry.assert_all_spans_ended()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_a_bad_usage_is_dropped_counted_and_the_answer_kept(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    body = json.loads(api.body())
    body["usage"] = "lots"

    server.reply_with_json(body)
    response = _call(api, kind, genai_telemetry, server)

    assert isinstance(response, Response), response
    assert response.text == api.expected().text
    # No count survived: the output is estimated and marked, the input is not made up.
    assert response.usage is not None
    assert response.usage.estimated
    assert response.usage.input_tokens is None
    assert_inference_span(
        genai_telemetry.inference_span(),
        outcome="completed",
        input_tokens=None,
        output_tokens=None,
        attributes={"spanstream.events.malformed": 1, "spanstream.usage.estimated": True},
    )
    # Strict: the same reply raises.
    server.reply_with_json(body)
    assert isinstance(_call(api, kind, genai_telemetry, server, strict=True), MalformedEventError)


FAILURES = {
    "responses": {
        "id": "resp_1",
        "object": "response",
        "status": "failed",
        "model": "gpt-4.1",
        "output": [],
        "error": {"code": "server_error", "message": "The model crashed."},
    },
    "chat": {"error": {"code": "server_error", "message": "The model crashed."}},
    "anthropic": {
        "type": "error",
        "error": {"type": "server_error", "message": "The model crashed."},
    },
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_a_failure_reported_with_a_success_status_raises_response_failed(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_json(FAILURES[api.name])

    error = _call(api, kind, genai_telemetry, server)

    assert isinstance(error, ResponseFailedError), error
    assert error.error.message == "The model crashed."
    assert error.response.status == "failed"
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span, outcome="failed", error_type="server_error", status=StatusCode.ERROR
    )
    assert_semconv(span, latest=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", ["queued", "in_progress"])
def test_a_background_response_comes_back_in_progress_with_its_id(
    status: str, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    # What POST /responses with background=true answers (the API reference's example).
    server.reply_with_json(
        {
            "id": "resp_bg",
            "object": "response",
            "status": status,
            "background": True,
            "model": "o3-2025-04-16",
            "output": [],
            "usage": None,
            "error": None,
        }
    )
    api = APIS[0]

    response = _call(api, kind, genai_telemetry, server)

    assert isinstance(response, Response), response
    assert (response.id, response.model, response.status) == (
        "resp_bg",
        "o3-2025-04-16",
        "in_progress",
    )
    assert (response.finish_reason, response.finish_reasons, response.text) == (None, (), "")
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span,
        response_id="resp_bg",
        finish_reasons=None,
        error_type=None,
        outcome="incomplete",
        status="unset",
        input_tokens=None,
    )
    assert_semconv(span, latest=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_content_capture_records_the_answer(
    api: Api, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_json(api.body())

    _call(api, kind, genai_telemetry, server, capture_content=CaptureMode.SPAN_ONLY)

    attributes = genai_telemetry.inference_span().attributes or {}
    (message,) = json.loads(str(attributes["gen_ai.output.messages"]))
    assert message["role"] == "assistant"
    assert message["parts"] == [{"type": "text", "content": api.expected().text}]
    (asked,) = json.loads(str(attributes["gen_ai.input.messages"]))
    assert asked["parts"] == [{"type": "text", "content": "4+5?"}]


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_whose_response_failed_without_an_error_raises_response_failed(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    # The end a reply and a stream share: a failure that names no error (which made the
    # stream's settle fail an assertion) is still a ResponseFailedError, and the span failed.
    failed = {"id": "resp_1", "status": "failed", "error": None, "output": []}
    server.reply_with_events([("response.failed", {"type": "response.failed", "response": failed})])

    error = _call(APIS[0], kind, genai_telemetry, server, stream=True)

    assert isinstance(error, ResponseFailedError), error
    assert error.error.message == "the response failed without an error"
    assert_inference_span(genai_telemetry.inference_span(), outcome="failed", status="error")
    genai_telemetry.assert_all_spans_ended()
