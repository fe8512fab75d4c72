"""``gen_ai.provider.name``: an OpenAI-compatible server is not "openai" when the conventions
name it; the user may name it; unknown servers keep the name of the API they speak."""

from __future__ import annotations

import httpx
import pytest

from spanstream import AnthropicClient, AsyncClient, Client, ConfigurationError
from spanstream.telemetry.identity import provider_name
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

from ..conftest import FIXTURES, RESPONSES
from .test_agent import spans_named, text_turn

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
ANTHROPIC = FIXTURES / "anthropic-messages" / "claude-haiku-4-5-text.sse"


@pytest.mark.parametrize(
    ("host", "wire", "expected"),
    [
        ("api.openai.com", "openai", "openai"),
        ("my-resource.openai.azure.com", "openai", "azure.ai.openai"),
        ("api.deepseek.com", "openai", "deepseek"),
        ("api.deepseek.com", "anthropic", "deepseek"),  # its Anthropic-compatible API
        ("API.Groq.com.", "openai", "groq"),
        ("api.x.ai", "openai", "x_ai"),
        ("api.mistral.ai", "openai", "mistral_ai"),
        ("generativelanguage.googleapis.com", "openai", "gcp.gemini"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "openai", "aws.bedrock"),
        ("us-central1-aiplatform.googleapis.com", "openai", "gcp.vertex_ai"),  # regional
        ("aiplatform.googleapis.com", "anthropic", "gcp.vertex_ai"),
        ("my-resource.cognitiveservices.azure.com", "openai", "azure.ai.openai"),
        ("notaiplatform.googleapis.com.evil", "openai", "openai"),
        ("api.anthropic.com", "anthropic", "anthropic"),
        # Not named by the conventions: the API spoken (their guidance for a client).
        ("openrouter.ai", "openai", "openai"),
        ("127.0.0.1", "openai", "openai"),
        ("localhost", "anthropic", "anthropic"),
        ("s3.amazonaws.com", "openai", "openai"),
        ("api.deepseek.com.example.net", "openai", "openai"),
        ("notapi.x.ai.evil", "openai", "openai"),
    ],
)
def test_provider_name_by_host(host: str, wire: str, expected: str) -> None:
    assert provider_name(host, wire) == expected


class _Loopback(httpx.HTTPTransport):
    """Sends every request to the replay server, whatever host its URL names: a client
    configured for a provider's real host, talking to 127.0.0.1."""

    def __init__(self, server: ReplayServer) -> None:
        super().__init__()
        self._port = server.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return super().handle_request(request)


def test_a_known_host_names_the_span_and_metrics_and_drops_openai_attributes(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(PLAIN))
    with httpx.Client(transport=_Loopback(sse_replay_server)) as http:
        client = genai_telemetry.client(
            "https://api.deepseek.com/v1", http_client=http, max_retries=0
        )
        client.responses.stream(model="deepseek-chat", input="hi").final_response()
    attributes = genai_telemetry.inference_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "deepseek"
    assert attributes["server.address"] == "api.deepseek.com"
    # openai.* attributes belong to the openai provider only (the conventions' discriminator).
    assert not [name for name in attributes if name.startswith("openai.")]
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["gen_ai.provider.name"] == "deepseek"


def test_the_user_names_the_provider(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(PLAIN), Reply.from_file(ANTHROPIC), text_turn("ok"))
    client = genai_telemetry.client(sse_replay_server, provider_name="vllm")
    client.responses.stream(model="m", input="hi").final_response()
    anthropic = AnthropicClient(
        api_key="k",
        base_url=sse_replay_server.base_url,
        tracer_provider=genai_telemetry.tracer_provider,
        provider_name="my-gateway",
    )
    anthropic.messages.stream(model="c", messages=[], max_tokens=4).final_response()
    anthropic.close()
    client.agent(model="m").stream("go").final_response()
    names = [(s.attributes or {})["gen_ai.provider.name"] for s in genai_telemetry.inference_spans]
    assert names == ["vllm", "my-gateway", "vllm"]
    (agent,) = spans_named(genai_telemetry, "invoke_agent")
    assert (agent.attributes or {})["gen_ai.provider.name"] == "vllm"


def test_an_unknown_host_keeps_the_api_it_speaks(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(PLAIN))
    genai_telemetry.client(sse_replay_server).responses.stream(
        model="m", input="hi"
    ).final_response()
    attributes = genai_telemetry.inference_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["openai.api.type"] == "responses"


async def test_async_client_names_the_provider(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(PLAIN))
    async with genai_telemetry.async_client(sse_replay_server, provider_name="ollama") as client:
        stream = client.responses.stream(model="m", input="hi")
        async with stream:
            await stream.final_response()
    assert (genai_telemetry.inference_span().attributes or {})["gen_ai.provider.name"] == "ollama"


@pytest.mark.parametrize("bad", ["", 7])
def test_a_provider_name_that_is_not_a_string_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="provider_name"):
        Client(api_key="k", provider_name=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="provider_name"):
        AsyncClient(api_key="k", provider_name=bad)  # type: ignore[arg-type]
