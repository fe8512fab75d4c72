"""Bad token usage through the real client, on loopback (issues #5 and #6).

A real recording of each API with one usage value corrupted is served by ``ReplayServer``; the
client must deliver the whole answer as ``completed`` (the usage field, not the terminal event,
is dropped), count the drop on the span (``spanstream.events.malformed``), record no count
outside ``0..2**63-1``, and leave the metrics encodable by the OTLP exporter's encoder — for this
stream and every later one (a cumulative sum of ``10**30`` made every later export fail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, MetricsData

from spanstream import AnthropicClient, AsyncAnthropicClient, AsyncClient, Client, RetryPolicy
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.base import ParserFactory
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..recorded import (
    ANTHROPIC_MESSAGES,
    HUGE_MARK,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    decode,
    rewrite_payloads,
)

INT64_MAX = 2**63 - 1
MESSAGES = [{"role": "user", "content": "hi"}]


@dataclass(frozen=True)
class Api:
    name: str
    recording: Path
    parser: ParserFactory
    sync_client: Callable[..., Any]
    async_client: Callable[..., Any]
    open: Callable[[Any], Any]
    usage: Callable[[dict[str, Any]], dict[str, Any] | None]
    """The usage object of a payload, if it has one (to corrupt)."""
    cached: str
    """The cache-read field of that usage object."""
    cached_attribute: int
    """The span's gen_ai.usage.cache_read.input_tokens on the clean recording."""


def _responses_usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    if payload.get("type") != "response.completed":
        return None
    usage: dict[str, Any] = payload["response"]["usage"]
    return usage


def _chat_usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    usage: dict[str, Any] | None = payload.get("usage")
    return usage


def _anthropic_usage(payload: dict[str, Any]) -> dict[str, Any] | None:
    usage: dict[str, Any] | None = (payload.get("message") or payload).get("usage")
    return usage


RESPONSES = Api(
    "responses",
    OPENAI_RESPONSES / "gpt-4o-cached-tokens.sse",
    ResponsesParser,
    Client,
    AsyncClient,
    lambda client: client.responses.stream(model="gpt-4o", input="hi"),
    _responses_usage,
    "input_tokens_details.cached_tokens",
    1390,
)
CHAT = Api(
    "chat",
    OPENAI_CHAT / "gpt-4.1-cached-tokens.sse",
    ChatCompletionsParser,
    Client,
    AsyncClient,
    lambda client: client.chat.completions.stream(model="gpt-4.1", messages=MESSAGES),
    _chat_usage,
    "prompt_tokens_details.cached_tokens",
    1024,
)
ANTHROPIC = Api(
    "anthropic",
    ANTHROPIC_MESSAGES / "claude-sonnet-4-5-cache-read.sse",
    MessagesParser,
    AnthropicClient,
    AsyncAnthropicClient,
    lambda client: client.messages.stream(
        model="claude-sonnet-4-5", messages=MESSAGES, max_tokens=64
    ),
    _anthropic_usage,
    "cache_read_input_tokens",
    1217,
)
APIS = [pytest.param(api, id=api.name) for api in (RESPONSES, CHAT, ANTHROPIC)]

# What is put in the cache-read count (or, for "usage", in place of the usage object).
BAD = [
    pytest.param("usage", "a string", id="usage-is-a-string"),
    pytest.param("cached", HUGE_MARK, id="cached-5000-digits"),
    pytest.param("cached", 10**30, id="cached-10e30"),
    pytest.param("cached", -7, id="cached-negative"),
    pytest.param("cached", 2.5, id="cached-float"),
]


def _corrupted(api: Api, where: str, value: Any) -> tuple[bytes, int]:
    """The recording with the value put in place; how many payloads were changed."""
    changed = 0

    def edit(payload: dict[str, Any]) -> bool:
        nonlocal changed
        usage = api.usage(payload)
        if usage is None:
            return False
        if where == "usage":
            holder = payload.get("message") or payload
            if payload.get("type") == "response.completed":
                holder = payload["response"]
            holder["usage"] = value
        else:
            *parents, last = api.cached.split(".")
            node = usage
            for key in parents:
                node = node[key]
            node[last] = value
        changed += 1
        return True

    body = rewrite_payloads(api.recording.read_bytes(), edit)
    assert changed
    return body, changed


@dataclass
class Meter:
    """A cumulative reader, as an OTLP exporter's periodic reader uses by default: a bad value
    in a sum would stay in every later export."""

    reader: InMemoryMetricReader
    provider: MeterProvider


@pytest.fixture
def meter() -> Iterator[Meter]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Meter(reader, provider)
    provider.shutdown()


def _client(
    factory: Callable[..., Any], server: ReplayServer, telemetry: GenAITelemetry, meter: Meter
) -> Any:
    return factory(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=meter.provider,
        retry=RetryPolicy(max_retries=0),
    )


def _check(
    api: Api, where: str, changed: int, text: str, telemetry: GenAITelemetry, meter: Meter
) -> None:
    assert text == _clean_text(api)
    bad, good = telemetry.inference_spans
    for span in (bad, good):
        assert_inference_span(span, outcome="completed", status="unset")
    attributes = dict(bad.attributes or {})
    expected = dict(good.attributes or {})
    assert attributes["spanstream.events.malformed"] == changed
    assert "gen_ai.usage.cache_read.input_tokens" not in attributes
    # Only the usage was dropped: the rest of the events that carried it was read.
    same = ["gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.response.model"]
    if where == "usage":
        assert not [name for name in attributes if name.startswith("gen_ai.usage.")]
    else:
        same.append("gen_ai.usage.output_tokens")
        if api is not ANTHROPIC:  # whose input total adds the cache reads in
            same.append("gen_ai.usage.input_tokens")
    assert {name: attributes.get(name) for name in same} == {
        name: expected.get(name) for name in same
    }
    assert_inference_span(good, cached_tokens=api.cached_attribute)
    data = meter.reader.get_metrics_data()
    assert isinstance(data, MetricsData)
    encode_metrics(data)  # raised EncodingException ("Value out of range") after 10**30
    assert all(0 <= value <= INT64_MAX for value in _values(data))


def _values(data: MetricsData) -> Iterator[float]:
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    yield point.sum if isinstance(point, HistogramDataPoint) else point.value


def _clean_text(api: Api) -> str:
    return decode(api.recording.read_bytes(), api.parser).parser.response.text


@pytest.mark.parametrize(("where", "value"), BAD)
@pytest.mark.parametrize("api", APIS)
def test_sync_stream_with_bad_usage_completes_and_records_no_bad_count(
    api: Api,
    where: str,
    value: Any,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    meter: Meter,
) -> None:
    body, changed = _corrupted(api, where, value)
    sse_replay_server.enqueue(Reply.sse(body), Reply.from_file(api.recording))
    with _client(api.sync_client, sse_replay_server, genai_telemetry, meter) as client:
        with api.open(client) as stream:
            text = stream.final_response().text
        with api.open(client) as stream:  # a later, good stream: the metrics still encode
            stream.final_response()
    _check(api, where, changed, text, genai_telemetry, meter)


@pytest.mark.parametrize(("where", "value"), BAD)
@pytest.mark.parametrize("api", APIS)
async def test_async_stream_with_bad_usage_completes_and_records_no_bad_count(
    api: Api,
    where: str,
    value: Any,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    meter: Meter,
) -> None:
    body, changed = _corrupted(api, where, value)
    sse_replay_server.enqueue(Reply.sse(body), Reply.from_file(api.recording))
    async with _client(api.async_client, sse_replay_server, genai_telemetry, meter) as client:
        async with api.open(client) as stream:
            text = (await stream.final_response()).text
        async with api.open(client) as stream:
            await stream.final_response()
    _check(api, where, changed, text, genai_telemetry, meter)
