"""``client.chat.completions`` and ``AnthropicClient.messages`` end to end over loopback:
what is sent (path, authentication, body), what comes back, and what the span says."""

from __future__ import annotations

import json

import pytest

from spanstream import (
    AnthropicClient,
    APIStatusError,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    ConfigurationError,
    RetryPolicy,
    TextDelta,
)
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..conftest import FIXTURES
from ..semconv_schemas import assert_content_conforms

CHAT = FIXTURES / "openai-chat"
ANTHROPIC = FIXTURES / "anthropic-messages"
MESSAGES = [{"role": "user", "content": "hi"}]


def _anthropic(
    server: ReplayServer, telemetry: GenAITelemetry, **options: object
) -> AnthropicClient:
    return AnthropicClient(
        api_key="sk-ant-test",
        base_url=server.base_url,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        **options,  # type: ignore[arg-type]
    )


def test_chat_stream_posts_to_chat_completions_with_bearer_auth(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(CHAT / "gpt-4o-mini-include-usage.sse"))
    client = genai_telemetry.client(sse_replay_server)
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.5, seed=1, stop=["END"], n=1
    ) as stream:
        text = "".join(e.text for e in stream if isinstance(e, TextDelta))
    (request,) = sse_replay_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert "x-api-key" not in request.headers
    body = request.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    response = stream.final_response()
    assert response.text == text
    assert stream.request_id == "req_replay_1"
    assert_inference_span(
        genai_telemetry.inference_span(),
        provider="openai",
        operation="chat",
        model="gpt-4o-mini",
        response_id=response.id,
        response_model="gpt-4o-mini-2024-07-18",
        input_tokens=22,
        output_tokens=3,
        finish_reasons=["stop"],
        outcome="completed",
        attributes={
            "openai.api.type": "chat_completions",
            # Read off the recording (every chunk carries the same one).
            "openai.response.system_fingerprint": "fp_39a40c96a0",
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.seed": 1,
            "gen_ai.request.stop_sequences": ("END",),
            "gen_ai.request.choice.count": None,  # n=1 is the default: not recorded
        },
    )


async def test_async_chat_stream(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(CHAT / "gpt-4o-refusal-delta.sse"))
    async with genai_telemetry.async_client(sse_replay_server) as client:
        stream = client.chat.completions.stream(model="gpt-4o", messages=MESSAGES)
        async with stream:
            response = await stream.final_response()
    assert response.refusal
    assert response.text == ""
    assert_inference_span(genai_telemetry.inference_span(), outcome="completed")


def test_anthropic_stream_posts_to_messages_with_api_key_and_version(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(ANTHROPIC / "claude-sonnet-4-cache-creation.sse"))
    with (
        _anthropic(sse_replay_server, genai_telemetry) as client,
        client.messages.stream(
            model="claude-sonnet-4",
            messages=MESSAGES,
            max_tokens=100,
            top_k=5,
            system="be brief",
        ) as stream,
    ):
        response = stream.final_response()
    (request,) = sse_replay_server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.json()["system"] == "be brief"
    assert (response.status, response.finish_reason) == ("incomplete", "length")
    assert_inference_span(
        genai_telemetry.inference_span(),
        provider="anthropic",
        operation="chat",
        model="claude-sonnet-4",
        response_model="claude-sonnet-4-20250514",
        input_tokens=18 + 1031,
        output_tokens=100,
        cached_tokens=0,
        cache_write_tokens=1031,
        finish_reasons=["length"],
        outcome="incomplete",
        status="unset",
        attributes={
            "gen_ai.request.top_k": 5,
            "gen_ai.request.max_tokens": 100,
            "openai.api.type": None,  # openai.* only with provider openai
        },
    )


async def test_async_anthropic_stream(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(
        Reply.from_file(ANTHROPIC / "claude-haiku-4-5-thinking-signature.sse")
    )
    async with (
        AsyncAnthropicClient(
            api_key="sk-ant-test",
            base_url=sse_replay_server.base_url,
            tracer_provider=genai_telemetry.tracer_provider,
        ) as client,
        client.messages.stream(
            model="claude-haiku-4-5", messages=MESSAGES, max_tokens=500
        ) as stream,
    ):
        response = await stream.final_response()
    (reasoning,) = response.reasoning
    assert reasoning.signature
    assert_inference_span(genai_telemetry.inference_span(), provider="anthropic", input_tokens=46)


def test_anthropic_http_error_carries_type_and_request_id(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    sse_replay_server.enqueue(Reply.error(529, body, headers={"request-id": "req_011"}))
    client = _anthropic(sse_replay_server, genai_telemetry, retry=RetryPolicy(max_retries=0))
    with pytest.raises(APIStatusError) as raised:
        client.messages.stream(model="c", messages=MESSAGES, max_tokens=9).final_response()
    error = raised.value
    assert (error.status_code, error.error_type, error.message) == (
        529,
        "overloaded_error",
        "Overloaded",
    )
    assert error.request_id == "req_011"
    assert "sk-ant-test" not in str(error)
    client.close()


def test_anthropic_client_reads_its_environment(
    monkeypatch: pytest.MonkeyPatch, sse_replay_server: ReplayServer
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sse_replay_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-env")
    sse_replay_server.enqueue(Reply.from_file(ANTHROPIC / "claude-haiku-4-5-text.sse"))
    with AnthropicClient() as client:
        assert str(client.base_url) == sse_replay_server.base_url + "/"
        client.messages.stream(model="c", messages=MESSAGES, max_tokens=9).final_response()
    assert sse_replay_server.requests[0].headers["x-api-key"] == "sk-ant-env"


def test_anthropic_client_defaults_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-env")  # never used for Anthropic
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicClient()
    with AnthropicClient(api_key="sk-ant-1") as client:
        assert str(client.base_url) == "https://api.anthropic.com/v1/"


def test_openai_clients_keep_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")  # never used for OpenAI
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        Client()
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        AsyncClient()
    assert str(Client(api_key="sk-1").base_url) == "https://api.openai.com/v1/"


def test_span_reports_one_finish_reason_per_choice(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(CHAT / "gpt-3.5-turbo-n2-choices-usage.sse"))
    client = genai_telemetry.client(sse_replay_server)
    client.chat.completions.stream(model="gpt-3.5-turbo", messages=MESSAGES, n=2).final_response()
    assert_inference_span(
        genai_telemetry.inference_span(),
        finish_reasons=["stop", "stop"],
        attributes={"gen_ai.request.choice.count": 2},
    )


def test_captured_content_uses_each_providers_request_shapes(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(ANTHROPIC / "claude-haiku-4-5-text.sse"))
    client = _anthropic(sse_replay_server, genai_telemetry, capture_content="SPAN_ONLY")
    client.messages.stream(
        model="c", messages=MESSAGES, max_tokens=9, system="be brief"
    ).final_response()
    client.close()
    attributes = dict(genai_telemetry.inference_span().attributes or {})
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    assert json.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "be brief"}
    ]
    output = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output[0]["parts"][0] == {"type": "text", "content": "Hello"}
    assert assert_content_conforms(attributes) == 3
