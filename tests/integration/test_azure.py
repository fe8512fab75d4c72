"""Azure OpenAI (``AzureOpenAIClient``) end to end over loopback: the URLs the openai SDK's
``AzureOpenAI`` builds (deployment paths, ``api-version``, the v1 API), ``api-key``
authentication, the environment variables, and the recorded Azure streams (their first chunk
has an empty id and model and ``prompt_filter_results``) told as ``azure.ai.openai`` spans."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues,
)

from spanstream import (
    AnthropicClient,
    APIStatusError,
    AsyncAzureOpenAIClient,
    AzureOpenAIClient,
    Client,
    ConfigurationError,
    ResponseFailedError,
    StreamEvent,
    TextDelta,
)
from spanstream.events import ErrorReported
from spanstream.providers.services import AZURE_OPENAI
from spanstream.testing import (
    GenAITelemetry,
    ReplayServer,
    Reply,
    assert_inference_span,
    assert_semconv,
)

from ..conftest import FIXTURES, RESPONSES
from ..recorded import sdk_payloads

CHAT = FIXTURES / "openai-chat"
# Every recorded Azure stream: dd-trace-py's, and openllmetry's test_azure cassettes (the
# ``__3`` interaction of each; see the folder's PROVENANCE.md).
AZURE_RECORDINGS = [
    CHAT / "azure-gpt-5.2-content-filter-results.sse",
    *sorted(CHAT.glob("openllmetry__*__3.sse")),
]
KEY = "5f0c2a9e7b3d4c18a6e1f9d2b7c40e3a"  # the shape of an Azure key: 32 hex digits
VERSION = "2024-10-21"
MESSAGES = [{"role": "user", "content": "hi"}]
ENVIRONMENT = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def _endpoint(server: ReplayServer) -> str:
    """The server as an Azure resource's endpoint: scheme and host, no path."""
    return f"http://{server.host}:{server.port}"


def _options(server: ReplayServer, telemetry: GenAITelemetry, **options: Any) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": _endpoint(server),
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
        **options,
    }


@pytest.fixture
def azure(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> Iterator[AzureOpenAIClient]:
    with AzureOpenAIClient(
        **_options(sse_replay_server, genai_telemetry, api_version=VERSION)
    ) as client:
        yield client


def _recorded_request(path: Path) -> dict[str, Any]:
    return json.loads(path.with_suffix(".request.json").read_text())  # type: ignore[no-any-return]


def _expected(path: Path) -> dict[str, Any]:
    """What the recording says, read as the openai SDK reads it (not through our parser): the
    id and model of the chunks that have one, the text, the finish reason and the usage."""
    chunks = sdk_payloads(path.read_bytes())
    assert chunks[0]["id"] == chunks[0]["model"] == ""
    assert "prompt_filter_results" in chunks[0]
    usage = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    choices = [choice for chunk in chunks for choice in chunk["choices"]]
    return {
        "id": next(chunk["id"] for chunk in chunks if chunk["id"]),
        "model": next(chunk["model"] for chunk in chunks if chunk["model"]),
        "text": "".join(choice["delta"].get("content") or "" for choice in choices),
        "finish_reasons": [c["finish_reason"] for c in choices if c["finish_reason"]],
        "input_tokens": usage[-1]["prompt_tokens"] if usage else None,
        "output_tokens": usage[-1]["completion_tokens"] if usage else None,
    }


def _check_recorded_stream(
    path: Path,
    text: str,
    server: ReplayServer,
    telemetry: GenAITelemetry,
    request_id: str | None,
) -> None:
    recorded = _recorded_request(path)
    expected = _expected(path)
    (request,) = server.requests
    # The URL the openai SDK's AzureOpenAI sent when the stream was recorded (openllmetry's
    # cassette: /openai/deployments/openllmetry-testing/chat/completions?api-version=...).
    assert request.method == "POST"
    assert request.path == (
        f"/openai/deployments/{recorded['model']}/chat/completions?api-version={VERSION}"
    )
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers
    assert request.json()["model"] == recorded["model"]
    assert text == expected["text"]
    assert request_id == "apim-1"
    span = telemetry.inference_span()
    assert_inference_span(
        span,
        provider=GenAiProviderNameValues.AZURE_AI_OPENAI.value,
        operation="chat",
        model=recorded["model"],
        response_id=expected["id"],
        response_model=expected["model"],
        input_tokens=expected["input_tokens"],
        output_tokens=expected["output_tokens"],
        finish_reasons=expected["finish_reasons"],
        outcome="completed",
        status="unset",
        attributes={
            "server.address": server.host,
            "server.port": server.port,
            # OpenAI's own attributes are for gen_ai.provider.name "openai" only.
            "openai.api.type": None,
            "openai.response.system_fingerprint": None,
        },
    )
    assert_semconv(span)
    (duration,) = telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert duration.attributes["gen_ai.response.model"] == expected["model"]


def _reply(path: Path) -> Reply:
    return Reply.from_file(path, headers={"apim-request-id": "apim-1"})


@pytest.mark.parametrize("path", AZURE_RECORDINGS, ids=lambda p: p.stem)
def test_recorded_azure_stream(
    path: Path,
    azure: AzureOpenAIClient,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    recorded = _recorded_request(path)
    sse_replay_server.enqueue(_reply(path))
    with azure.chat.completions.stream(
        model=recorded["model"],
        messages=recorded["messages"],
        include_usage="stream_options" in recorded,
    ) as stream:
        text = "".join(event.text for event in stream if isinstance(event, TextDelta))
    assert stream.final_response().text == text
    _check_recorded_stream(path, text, sse_replay_server, genai_telemetry, stream.request_id)


@pytest.mark.parametrize("path", AZURE_RECORDINGS, ids=lambda p: p.stem)
async def test_recorded_azure_stream_async(
    path: Path, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    recorded = _recorded_request(path)
    sse_replay_server.enqueue(_reply(path))
    options = _options(sse_replay_server, genai_telemetry, api_version=VERSION)
    async with AsyncAzureOpenAIClient(**options) as client:
        stream = client.chat.completions.stream(
            model=recorded["model"],
            messages=recorded["messages"],
            include_usage="stream_options" in recorded,
        )
        async with stream:
            text = "".join([e.text async for e in stream if isinstance(e, TextDelta)])
    _check_recorded_stream(path, text, sse_replay_server, genai_telemetry, stream.request_id)


def test_the_provider_name_is_the_conventions() -> None:
    assert AZURE_OPENAI.name == GenAiProviderNameValues.AZURE_AI_OPENAI.value


def test_each_model_names_its_own_deployment(
    azure: AzureOpenAIClient, sse_replay_server: ReplayServer
) -> None:
    """The deployment comes from each request's model, so the URLs a client keeps joined are
    kept per deployment, not per API path."""
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4o", "my deployment/../x"):
        sse_replay_server.enqueue(Reply.from_file(AZURE_RECORDINGS[0]))
        with azure.chat.completions.stream(model=model, messages=MESSAGES) as stream:
            stream.final_response()
    assert [request.path.partition("?")[0] for request in sse_replay_server.requests] == [
        "/openai/deployments/gpt-4o/chat/completions",
        "/openai/deployments/gpt-4o-mini/chat/completions",
        "/openai/deployments/gpt-4o/chat/completions",
        # A name is one path segment, whatever it holds.
        "/openai/deployments/my%20deployment%2F..%2Fx/chat/completions",
    ]


@pytest.mark.parametrize("model", ["", ".."])
def test_a_model_that_names_no_deployment_is_an_error(
    model: str,
    azure: AzureOpenAIClient,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    with (
        pytest.raises(ConfigurationError, match="no deployment"),
        azure.chat.completions.stream(model=model, messages=MESSAGES) as stream,
    ):
        stream.final_response()
    assert sse_replay_server.requests == []  # nothing sent, not even to deployments/..
    genai_telemetry.assert_all_spans_ended()
    assert_inference_span(
        genai_telemetry.inference_span(), error_type="ConfigurationError", status="error"
    )


def test_the_deployment_option_routes_every_request(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    options = _options(sse_replay_server, genai_telemetry, api_version=VERSION)
    sse_replay_server.enqueue(Reply.from_file(AZURE_RECORDINGS[0]))
    with (
        AzureOpenAIClient(deployment="prod-chat", **options) as client,
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,
    ):
        stream.final_response()
    (request,) = sse_replay_server.requests
    assert request.path == f"/openai/deployments/prod-chat/chat/completions?api-version={VERSION}"
    assert request.json()["model"] == "gpt-4o"  # sent as given, and the span's request model
    assert_inference_span(genai_telemetry.inference_span(), model="gpt-4o")


def test_responses_are_not_under_a_deployment(
    azure: AzureOpenAIClient, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(
        Reply.from_file(RESPONSES / "gpt-4.1-plain-text.sse"),
        Reply.from_file(RESPONSES / "gpt-4.1-plain-text.sse"),
    )
    with azure.responses.stream(model="gpt-4.1", input="hi") as stream:
        response = stream.final_response()
    with azure.responses.resume("resp_1", starting_after=3) as rest:
        rest.final_response()
    create, fetch = sse_replay_server.requests
    assert create.path == f"/openai/responses?api-version={VERSION}"
    assert create.headers["api-key"] == KEY
    assert create.json()["model"] == "gpt-4.1"
    # The request's own query and the client's, together.
    path, _, query = fetch.path.partition("?")
    assert (fetch.method, path) == ("GET", "/openai/responses/resp_1")
    assert sorted(query.split("&")) == [f"api-version={VERSION}", "starting_after=3", "stream=true"]
    span = genai_telemetry.inference_spans[0]
    assert_inference_span(
        span,
        provider="azure.ai.openai",
        response_id=response.id,
        attributes={"openai.api.type": None},
    )
    assert_semconv(span)


@pytest.mark.parametrize("version", [None, "preview", "latest"])
def test_the_v1_api(
    version: str | None, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    """No dated API version: the v1 API, the deployment named by the model in the body (as the
    openai SDK, which routes no deployment under ``preview`` and ``latest`` either)."""
    options = _options(sse_replay_server, genai_telemetry, api_version=version)
    sse_replay_server.enqueue(
        Reply.from_file(AZURE_RECORDINGS[0]), Reply.from_file(RESPONSES / "gpt-4.1-plain-text.sse")
    )
    with AzureOpenAIClient(**options) as client:
        with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            stream.final_response()
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            stream.final_response()
    query = "" if version is None else f"?api-version={version}"
    chat, responses = sse_replay_server.requests
    assert chat.path == f"/openai/v1/chat/completions{query}"
    assert responses.path == f"/openai/v1/responses{query}"
    assert chat.json()["model"] == "gpt-4o"
    assert chat.headers["api-key"] == KEY


def test_a_base_url_with_a_path_is_used_as_is(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    endpoint = _endpoint(sse_replay_server)
    named = _options(sse_replay_server, genai_telemetry, api_version=VERSION)
    named["base_url"] = f"{endpoint}/openai/deployments/fixed"
    sse_replay_server.enqueue(Reply.from_file(AZURE_RECORDINGS[0]))
    with (
        AzureOpenAIClient(**named) as client,
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,
    ):
        stream.final_response()  # not routed under a second deployment
    gateway = {**named, "base_url": f"{endpoint}/gateway/"}
    with AzureOpenAIClient(**gateway) as client, pytest.raises(APIStatusError) as caught:
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES).final_response()
    assert caught.value.status_code == 404  # the replay server is no gateway
    assert [request.path for request in sse_replay_server.requests] == [
        f"/openai/deployments/fixed/chat/completions?api-version={VERSION}",
        f"/gateway/deployments/gpt-4o/chat/completions?api-version={VERSION}",
    ]


def test_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", _endpoint(sse_replay_server) + "/")
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-azure")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    sse_replay_server.enqueue(Reply.from_file(AZURE_RECORDINGS[0]))
    with (
        AzureOpenAIClient(tracer_provider=genai_telemetry.tracer_provider) as client,
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,
    ):
        stream.final_response()
    (request,) = sse_replay_server.requests
    assert request.path == (
        "/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview"
    )
    assert request.headers["api-key"] == KEY


@pytest.mark.parametrize("cls", [AzureOpenAIClient, AsyncAzureOpenAIClient])
def test_no_endpoint_or_no_key_is_a_configuration_error(
    cls: type[AzureOpenAIClient] | type[AsyncAzureOpenAIClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        cls(api_key=KEY)
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        cls(base_url="https://my-resource.openai.azure.com")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # OpenAI's key is not Azure's
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        cls(base_url="https://my-resource.openai.azure.com")


def test_options_that_do_not_apply_are_errors() -> None:
    with pytest.raises(ConfigurationError, match="api_version"):
        Client(api_key="sk-test", api_version=VERSION)
    with pytest.raises(ConfigurationError, match="deployment"):
        AnthropicClient(api_key="sk-test", deployment="x")
    endpoint = "https://my-resource.openai.azure.com"
    # The v1 API names the deployment by the model: a deployment option would be ignored.
    with pytest.raises(ConfigurationError, match="v1 API"):
        AzureOpenAIClient(api_key=KEY, base_url=endpoint, deployment="x")
    with pytest.raises(ConfigurationError, match="names a deployment"):
        AzureOpenAIClient(
            api_key=KEY,
            base_url=f"{endpoint}/openai/deployments/a",
            api_version=VERSION,
            deployment="b",
        )
    with pytest.raises(ConfigurationError, match="non-empty"):
        AzureOpenAIClient(api_key=KEY, base_url=endpoint, api_version="")
    with pytest.raises(TypeError, match="api_versions"):
        AzureOpenAIClient(api_key=KEY, base_url=endpoint, api_versions=VERSION)  # type: ignore[call-arg]


def test_default_query_is_sent_by_every_client(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(
        Reply.from_file(CHAT / "gpt-4o-mini-include-usage.sse"),
        Reply.from_file(AZURE_RECORDINGS[0]),
    )
    client = genai_telemetry.client(sse_replay_server, default_query={"tenant": "a b"})
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        stream.final_response()
    # The client's api-version wins over a default_query one, as in the openai SDK.
    query = {"tenant": "a", "api-version": "1999-01-01"}
    options = _options(sse_replay_server, genai_telemetry, api_version=VERSION)
    with (
        AzureOpenAIClient(default_query=query, **options) as azure,
        azure.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,
    ):
        stream.final_response()
    plain, versioned = sse_replay_server.requests
    assert plain.path == "/v1/chat/completions?tenant=a+b"
    assert versioned.path == (
        f"/openai/deployments/gpt-4o/chat/completions?tenant=a&api-version={VERSION}"
    )


def test_a_401_that_echoes_the_key_reveals_it_nowhere(
    azure: AzureOpenAIClient,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Azure's 401 message, plus the key echoed in full, cut short, and as the header.
    message = (
        "Access denied due to invalid subscription key or wrong API endpoint."
        f" Received {KEY} ({KEY[:20]}...); api-key: {KEY}"
    )
    sse_replay_server.enqueue(
        Reply.error(
            401,
            {"error": {"code": "401", "message": message}},
            headers={"apim-request-id": f"apim-{KEY}"},
        )
    )
    with pytest.raises(APIStatusError) as caught:
        azure.chat.completions.stream(model="gpt-4o", messages=MESSAGES).final_response()
    error = caught.value
    assert error.status_code == 401
    assert error.message.startswith("Access denied due to invalid subscription key")
    assert "api-key: ***" in error.message  # the header is named, its value is not
    span = genai_telemetry.inference_span()
    assert_inference_span(span, provider="azure.ai.openai", error_type="401", status="error")
    assert_semconv(span)
    shown = [str(error), repr(error), repr(vars(error)), span.to_json(), caplog.text]
    for piece in (KEY[:8], KEY[10:18], KEY[-8:]):
        assert [text for text in shown if piece in text] == []
    # The key was sent: the check above is live.
    assert sse_replay_server.requests[0].headers["api-key"] == KEY


def test_an_error_mid_stream_on_an_azure_route(
    azure: AzureOpenAIClient, sse_replay_server: ReplayServer
) -> None:
    """The replay server reads Azure's routes as the APIs they serve: an error injected into a
    Chat Completions stream under a deployment is a Chat Completions error."""
    sse_replay_server.enqueue(Reply.from_file(AZURE_RECORDINGS[0], inject_error_after_events=2))
    seen: list[StreamEvent] = []
    stream = azure.chat.completions.stream(model="gpt-4o", messages=MESSAGES)
    with stream, pytest.raises(ResponseFailedError, match="injected error"):
        seen.extend(stream)
    assert any(isinstance(event, ErrorReported) for event in seen)


def _mock_azure(request: httpx.Request) -> httpx.Response:
    assert request.headers["api-key"] == KEY
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream", "x-request-id": "req-1"},
        content=AZURE_RECORDINGS[0].read_bytes(),
    )


def test_server_address_is_the_azure_host(genai_telemetry: GenAITelemetry) -> None:
    """``server.address``: the resource's host, here behind httpx's MockTransport (a loopback
    server cannot be ``*.openai.azure.com``)."""
    http = httpx.Client(transport=httpx.MockTransport(_mock_azure))
    with (
        AzureOpenAIClient(
            api_key=KEY,
            base_url="https://my-resource.openai.azure.com",
            api_version=VERSION,
            http_client=http,
            tracer_provider=genai_telemetry.tracer_provider,
        ) as client,
        client.chat.completions.stream(model="gpt-5.2", messages=MESSAGES) as stream,
    ):
        stream.final_response()
    http.close()
    assert stream.request_id == "req-1"  # no apim-request-id: the next header
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span,
        provider="azure.ai.openai",
        attributes={"server.address": "my-resource.openai.azure.com", "server.port": 443},
    )
    assert_semconv(span)


async def test_server_address_is_the_azure_host_async(genai_telemetry: GenAITelemetry) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return _mock_azure(request)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        AsyncAzureOpenAIClient(
            api_key=KEY,
            base_url="https://my-resource.cognitiveservices.azure.com/",
            http_client=http,
            tracer_provider=genai_telemetry.tracer_provider,
        ) as client,
    ):
        stream = client.chat.completions.stream(model="gpt-5.2", messages=MESSAGES)
        async with stream:
            await stream.final_response()
    assert [str(url) for url in seen] == [
        "https://my-resource.cognitiveservices.azure.com/openai/v1/chat/completions"
    ]
    assert_inference_span(
        genai_telemetry.inference_span(),
        provider="azure.ai.openai",
        attributes={"server.address": "my-resource.cognitiveservices.azure.com"},
    )
