"""``client.embeddings.create()`` against the loopback replay server, sync and async: real
recorded OpenAI replies (floats, base64, three inputs, a 404), the ``embeddings {model}`` span
and its metrics on the real OpenTelemetry SDK, and the failures a reply can bring."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import SpanKind, StatusCode
from typing_extensions import assert_type

from spanstream import (
    APIStatusError,
    AsyncClient,
    Client,
    MalformedEventError,
    ResponseFailedError,
    RetryPolicy,
)
from spanstream.embeddings import EmbeddingsResponse
from spanstream.telemetry import CaptureMode
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_semconv

FIXTURES = Path(__file__).parents[1] / "fixtures" / "openai-embeddings"
KINDS = ["sync", "async"]
MODEL = "text-embedding-3-small"


def _embed(
    kind: str, telemetry: GenAITelemetry, server: ReplayServer, options: Any = None, **params: Any
) -> EmbeddingsResponse | Exception:
    """``create(**params)`` with a client of ``kind`` wired to ``telemetry``: its result, or
    the error it raised."""
    options = {"retry": RetryPolicy(max_retries=0), **(options or {})}
    if kind == "sync":
        client = telemetry.client(server, **options)
        try:
            return client.embeddings.create(**params)
        except Exception as exc:
            return exc

    async def main() -> EmbeddingsResponse | Exception:
        async with telemetry.async_client(server, **options) as client:
            try:
                return await client.embeddings.create(**params)
            except Exception as exc:
                return exc

    return asyncio.run(main())


def _recorded(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A recording's request body and reply."""
    request = json.loads((FIXTURES / f"{name}.request.json").read_text())
    return request, json.loads((FIXTURES / f"{name}.json").read_text())


def _vectors(reply: dict[str, Any]) -> tuple[tuple[float, ...], ...]:
    """The vectors a reply holds, by index: floats as sent, base64 as float32."""
    vectors = []
    for item in sorted(reply["data"], key=lambda item: item["index"]):
        embedding = item["embedding"]
        if isinstance(embedding, str):
            raw = base64.b64decode(embedding)
            embedding = struct.unpack(f"<{len(raw) // 4}f", raw)
        vectors.append(tuple(embedding))
    return tuple(vectors)


RECORDINGS = [
    "text-embedding-3-small-dimensions-512",
    "text-embedding-3-small-base64",
    "text-embedding-3-small-batch-3",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recorded_reply_gives_its_vectors_span_and_metrics(
    name: str, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    request, reply = _recorded(name)
    server.reply_with_json((FIXTURES / f"{name}.json").read_bytes())

    result = _embed(kind, genai_telemetry, server, **request)

    assert isinstance(result, EmbeddingsResponse), result
    assert result.vectors == _vectors(reply)
    assert result.model == reply["model"]
    assert result.usage is not None
    assert result.usage.input_tokens == reply["usage"]["prompt_tokens"]
    # The request sent is the recorded one, asking for base64 where it named no format.
    assert server.last_request.path == "/v1/embeddings"
    assert server.last_request.json() == {"encoding_format": "base64", **request}
    assert server.last_request.headers["accept"] == "application/json"

    span = genai_telemetry.embeddings_span()
    assert span.name == f"embeddings {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.encoding_formats": (request.get("encoding_format", "base64"),),
        "gen_ai.embeddings.dimension.count": len(result.vectors[0]),
        "gen_ai.response.model": reply["model"],
        "gen_ai.usage.input_tokens": reply["usage"]["prompt_tokens"],
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "spanstream.outcome": "completed",
    }
    assert_semconv(span, latest=False)
    assert_semconv(span, latest=True)
    genai_telemetry.assert_all_spans_ended()

    # The released conventions: the operation duration and the input token usage, no output
    # tokens, no chunk timings.
    assert genai_telemetry.metric_names() == [
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "spanstream.client.streams",
    ]
    common = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": reply["model"],
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == common
    assert duration.count == 1
    (tokens,) = genai_telemetry.metric_points("gen_ai.client.token.usage")
    assert dict(tokens.attributes) == {**common, "gen_ai.token.type": "input"}
    assert tokens.sum == reply["usage"]["prompt_tokens"]


def test_the_result_is_typed_for_each_client(server: ReplayServer) -> None:
    # What a type checker sees (assert_type is checked by mypy, a no-op at run time).
    server.reply_with_embeddings([[1.0, 0.0]])
    with Client(api_key="sk-test", base_url=server.base_url) as client:
        result = assert_type(client.embeddings.create(model=MODEL, input="a"), EmbeddingsResponse)
    assert result.vectors == ((1.0, 0.0),)

    async def main() -> EmbeddingsResponse:
        async with AsyncClient(api_key="sk-test", base_url=server.base_url) as client:
            return await client.embeddings.create(model=MODEL, input="a")

    server.reply_with_embeddings([[0.5]])
    assert asyncio.run(main()).vectors == ((0.5,),)


@pytest.mark.parametrize("kind", KINDS)
def test_the_latest_conventions_have_the_embeddings_metrics(
    kind: str,
    genai_telemetry: GenAITelemetry,
    server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    server.reply_with_embeddings([[0.5, 0.5], [0.25, 1.0]], model="m-2", prompt_tokens=7)

    result = _embed(kind, genai_telemetry, server, model="m", input=["a", "b"])

    assert isinstance(result, EmbeddingsResponse), result
    assert genai_telemetry.metric_names() == [
        "gen_ai.client.embeddings.duration",
        "gen_ai.client.embeddings.operation.input_tokens",
        "spanstream.client.streams",
    ]
    (duration,) = genai_telemetry.metric_points("gen_ai.client.embeddings.duration")
    assert duration.count == 1
    assert duration.explicit_bounds[:2] == (0.01, 0.02)
    (tokens,) = genai_telemetry.metric_points("gen_ai.client.embeddings.operation.input_tokens")
    assert tokens.sum == 7
    assert tokens.attributes["gen_ai.response.model"] == "m-2"
    assert "gen_ai.token.type" not in tokens.attributes
    assert tokens.explicit_bounds[:3] == (1, 4, 16)
    span = genai_telemetry.embeddings_span()
    assert_semconv(span, latest=True)


@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_without_usage_records_no_token_metric(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_embeddings([[1.0, 2.0, 3.0]])
    result = _embed(kind, genai_telemetry, server, model="m", input="a", encoding_format="float")
    assert isinstance(result, EmbeddingsResponse), result
    assert result.usage is None
    span = genai_telemetry.embeddings_span()
    attributes = dict(span.attributes or {})
    assert "gen_ai.usage.input_tokens" not in attributes
    assert attributes["gen_ai.request.encoding_formats"] == ("float",)
    assert attributes["gen_ai.embeddings.dimension.count"] == 3
    assert genai_telemetry.metric_points("gen_ai.client.token.usage") == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_dimensions_asked_for_are_on_the_span_when_no_vector_came(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_error(500)
    result = _embed(kind, genai_telemetry, server, model="m", input="a", dimensions=256)
    assert isinstance(result, APIStatusError)
    attributes = dict(genai_telemetry.embeddings_span().attributes or {})
    assert attributes["gen_ai.embeddings.dimension.count"] == 256


@pytest.mark.parametrize("kind", KINDS)
def test_a_recorded_404_is_a_status_error_on_an_error_span(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    request, _ = _recorded("model-not-found-404")
    server.reply_with_error(404, (FIXTURES / "model-not-found-404.json").read_text())

    error = _embed(kind, genai_telemetry, server, **request)

    assert isinstance(error, APIStatusError), error
    assert error.status_code == 404
    assert error.code == "model_not_found"
    assert "does not exist" in str(error)
    span = genai_telemetry.embeddings_span()
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "404"
    assert attributes["spanstream.outcome"] == "error"
    # Nothing an inference span would say about a failed answer.
    assert "gen_ai.response.finish_reasons" not in attributes
    assert "gen_ai.embeddings.dimension.count" not in attributes
    assert_semconv(span)
    genai_telemetry.assert_all_spans_ended()
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "404"
    assert genai_telemetry.metric_points("gen_ai.client.token.usage") == []


@pytest.mark.parametrize("kind", KINDS)
def test_retries_and_a_same_origin_redirect_go_through_the_client_machinery(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.enqueue(
        Reply.error(503, headers={"Retry-After": "0"}),
        Reply.error(307, "", headers={"Location": "/v1/embeddings?moved=1"}),
        Reply.json(
            {"data": [{"index": 0, "embedding": [1.5]}], "model": "m", "object": "list"},
        ),
    )
    options = {"retry": RetryPolicy(max_retries=1, initial_delay=0, jitter=0)}

    result = _embed(kind, genai_telemetry, server, options, model="m", input="a")

    assert isinstance(result, EmbeddingsResponse), result
    assert result.vectors == ((1.5,),)
    assert [request.path for request in server.requests] == [
        "/v1/embeddings",
        "/v1/embeddings",
        "/v1/embeddings?moved=1",
    ]
    assert server.requests[2].json() == server.requests[0].json()
    attributes = dict(genai_telemetry.embeddings_span().attributes or {})
    assert attributes["spanstream.retries"] == 1
    assert attributes["spanstream.outcome"] == "completed"


MALFORMED = [
    pytest.param(b"{not json", "Invalid JSON", id="not-json"),
    pytest.param(b'{"object": "list", "model": "m"}', "no embeddings", id="no-data"),
    pytest.param(b'{"data": [{"index": 0, "embedding": "@@@@"}]}', "not base64", id="bad-base64"),
    pytest.param(
        b'{"data": [{"index": 0, "embedding": [1]}, {"index": 1, "embedding": [2]}]}',
        "2 embedding(s) for 1 input(s)",
        id="too-many-vectors",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("body", "reason"), MALFORMED)
def test_a_malformed_reply_is_a_typed_error_and_the_span_ends_with_it(
    body: bytes, reason: str, kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    server.reply_with_json(body)

    error = _embed(kind, genai_telemetry, server, model="m", input="a")

    assert isinstance(error, MalformedEventError), error
    assert reason in str(error)
    genai_telemetry.assert_all_spans_ended()
    span = genai_telemetry.embeddings_span()
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "MalformedEventError"
    assert attributes["spanstream.outcome"] == "error"
    assert_semconv(span)
    (duration,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "MalformedEventError"


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_in_a_success_reply_is_a_failed_response(
    kind: str, genai_telemetry: GenAITelemetry, server: ReplayServer
) -> None:
    body = {"error": {"message": "upstream overloaded", "type": "server_error", "code": "busy"}}
    server.reply_with_json(body)

    error = _embed(kind, genai_telemetry, server, model="m", input="a")

    assert isinstance(error, ResponseFailedError), error
    assert error.code == "busy"
    span = genai_telemetry.embeddings_span()
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "busy"
    assert attributes["spanstream.outcome"] == "failed"
    assert_semconv(span)


KEY = "sk-proj-SPANSTREAM-embeddings-canary-4d1e"
FORBIDDEN = (KEY, "SPANSTREAM-embeddings", "canary-4d1e", "Bearer sk-")
PRIVATE_INPUT = "the private text to embed 91c2"


def test_neither_the_key_nor_the_input_reaches_telemetry_logs_or_errors(
    genai_telemetry: GenAITelemetry, server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": KEY}}
    server.enqueue(
        Reply.error(401, echo),
        Reply.json({"error": {"message": f"key {KEY} is over quota", "code": "quota"}}),
        Reply.json(f'{{"data": [{{"embedding": "{KEY}"}}], "model": "{KEY}"}}'),
        Reply.json(json.dumps({"data": [{"index": 0, "embedding": [0.5]}], "model": "m"})),
    )
    client = genai_telemetry.client(
        server,
        api_key=KEY,
        logger_provider=logger_provider,
        # The embeddings span has no content attributes: nothing is captured, even asked.
        capture_content=CaptureMode.SPAN_AND_EVENT,
        retry=RetryPolicy(max_retries=0),
    )
    errors: list[str] = []
    for _ in range(4):
        try:
            client.embeddings.create(model="m", input=PRIVATE_INPUT)
        except Exception as exc:
            errors.extend([str(exc), repr(exc), repr(exc.args), repr(vars(exc))])
    assert len(errors) == 3 * 4, "the 401, the failed reply and the malformed one raised"
    logger_provider.force_flush()

    dumped = [span.to_json() for span in genai_telemetry.spans]
    assert len(dumped) == 4
    for name in genai_telemetry.metric_names():
        dumped.extend(repr(point) for point in genai_telemetry.metric_points(name))
    dumped.extend(record.to_json() for record in logs.get_finished_logs())
    dumped.extend(errors)
    dumped.append(caplog.text)
    # The canaries were live: the key was sent, and so was the input.
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.requests[0].json()["input"] == PRIVATE_INPUT
    for text in dumped:
        for forbidden in (*FORBIDDEN, PRIVATE_INPUT):
            assert forbidden not in text
    assert logs.get_finished_logs() == ()
