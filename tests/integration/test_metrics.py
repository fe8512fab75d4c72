"""GenAI metrics from a replayed real recording, in both name sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import TracerProvider

from spanstream import AnthropicClient, APIStatusError, AsyncClient, Client, RetryPolicy
from spanstream.results import StreamTimings
from spanstream.telemetry.metrics import DURATION_BUCKETS, METRICS, TOKEN_BUCKETS
from spanstream.testing import ReplayServer, Reply

from ..conftest import FIXTURES, RESPONSES

_C = TypeVar("_C", Client, AnthropicClient)

CACHED = RESPONSES / "gpt-4o-cached-tokens.sse"  # in=1515 (cached 1390) out=8, reasoning 0
CACHED_EVENTS = 15


@dataclass
class Metrics:
    reader: InMemoryMetricReader
    provider: MeterProvider

    def collect(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found


@pytest.fixture
def meter() -> Iterator[Metrics]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield Metrics(reader, provider)
    provider.shutdown()


def _client(cls: type[_C], server: ReplayServer, meter: Metrics, reply: Reply) -> _C:
    """A client of ``cls`` on ``server`` (which will answer ``reply``), metrics to ``meter``."""
    server.enqueue(reply)
    return cls(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=TracerProvider(),
        meter_provider=meter.provider,
        retry=RetryPolicy(max_retries=0),
    )


def _stream(server: ReplayServer, meter: Metrics, reply: Reply) -> None:
    client = _client(Client, server, meter, reply)
    with client.responses.stream(model="gpt-4o", input="Count") as stream:
        stream.final_response()


def _points(metric: Metric) -> list[HistogramDataPoint | NumberDataPoint]:
    return list(metric.data.data_points)  # type: ignore[arg-type]


def _common(server: ReplayServer) -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }


def test_released_names_units_buckets_attributes_and_values(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    _stream(server, meter, Reply.from_file(CACHED))
    found = meter.collect()
    common = _common(server)

    assert set(found) == {
        "spanstream.client.streams",
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
        "spanstream.client.operation.time_to_first_token",
        "spanstream.client.usage.cache_read.input_tokens",
        "spanstream.client.usage.reasoning.output_tokens",
    }, "cache writes are not reported by this recording, so none are recorded"
    # The OpenAI refinement: duration and token metrics carry the response's service tier.
    refined = {**common, "openai.response.service_tier": "default"}
    for name, attributes, count in (
        ("gen_ai.client.operation.duration", refined, 1),
        ("gen_ai.client.operation.time_to_first_chunk", common, 1),
        # Once for each chunk (server-sent event) after the first, as the conventions define.
        ("gen_ai.client.operation.time_per_output_chunk", common, CACHED_EVENTS - 1),
        ("spanstream.client.operation.time_to_first_token", common, 1),
    ):
        assert found[name].unit == "s"
        (point,) = _points(found[name])
        assert isinstance(point, HistogramDataPoint)
        assert tuple(point.explicit_bounds) == DURATION_BUCKETS
        assert point.count == count, name
        assert dict(point.attributes or {}) == attributes
        assert point.sum > 0

    usage = found["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {dict(p.attributes or {})["gen_ai.token.type"]: p for p in _points(usage)}
    assert set(by_type) == {"input", "output"}
    for token_type, value in (("input", 1515), ("output", 8)):
        point = by_type[token_type]
        assert isinstance(point, HistogramDataPoint)
        assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
        assert (point.count, point.sum) == (1, value)
        assert dict(point.attributes or {}) == {**refined, "gen_ai.token.type": token_type}

    (cached,) = _points(found["spanstream.client.usage.cache_read.input_tokens"])
    assert isinstance(cached, NumberDataPoint)
    assert cached.value == 1390
    assert dict(cached.attributes or {}) == refined
    (reasoning,) = _points(found["spanstream.client.usage.reasoning.output_tokens"])
    assert reasoning.value == 0  # type: ignore[union-attr]
    (streams,) = _points(found["spanstream.client.streams"])
    assert streams.value == 1  # type: ignore[union-attr]
    assert dict(streams.attributes or {}) == {**common, "spanstream.outcome": "completed"}


def test_latest_names_switch_on_with_the_opt_in(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    _stream(server, meter, Reply.from_file(CACHED))
    found = meter.collect()
    common = _common(server)
    expected = {spec.name for spec in METRICS["latest"].values()}
    # The recording reports no cache writes: that counter stays unrecorded. The operation
    # duration is for operations other than inference (a fetch) and SHOULD NOT be reported here,
    # nor are the embeddings metrics.
    assert set(found) == expected - {
        "gen_ai.client.inference.usage.cache_write.input_tokens",
        "gen_ai.client.operation.duration",
        "gen_ai.client.embeddings.duration",
        "gen_ai.client.embeddings.operation.input_tokens",
    }
    assert "gen_ai.client.token.usage" not in found

    counters = {
        "gen_ai.client.inference.usage.input_tokens": 1515,
        "gen_ai.client.inference.usage.output_tokens": 8,
        "gen_ai.client.inference.usage.cache_read.input_tokens": 1390,
        "gen_ai.client.inference.usage.reasoning.output_tokens": 0,
    }
    for name, value in counters.items():
        (point,) = _points(found[name])
        assert isinstance(point, NumberDataPoint)
        assert point.value == value
        assert dict(point.attributes or {}) == {
            **common,
            "openai.response.service_tier": "default",
            "gen_ai.token.modality": "unknown",
        }
    for name, value in (
        ("gen_ai.client.inference.operation.input_tokens", 1515),
        ("gen_ai.client.inference.operation.output_tokens", 8),
    ):
        (point,) = _points(found[name])
        assert isinstance(point, HistogramDataPoint)
        assert (point.count, point.sum) == (1, value)
        assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
    (duration,) = _points(found["gen_ai.client.inference.duration"])
    assert isinstance(duration, HistogramDataPoint)
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS
    (per_chunk,) = _points(found["gen_ai.client.inference.time_per_output_chunk"])
    assert isinstance(per_chunk, HistogramDataPoint)
    assert per_chunk.count == CACHED_EVENTS - 1
    assert dict(per_chunk.attributes or {}) == common


@pytest.mark.parametrize("chunk_size", [None, 7, 1 << 20], ids=["per-event", "split", "one-chunk"])
def test_time_per_output_chunk_is_one_value_per_event_after_the_first_however_it_arrives(
    chunk_size: int | None, server: ReplayServer, meter: Metrics
) -> None:
    """Events split across reads or packed into one read: still one value per event after the
    first; the values add up to the time from the first event to the last."""
    _stream(server, meter, Reply.from_file(CACHED, chunk_size=chunk_size))
    (point,) = _points(meter.collect()["gen_ai.client.operation.time_per_output_chunk"])
    assert isinstance(point, HistogramDataPoint)
    assert point.count == CACHED_EVENTS - 1
    assert point.min >= 0
    (duration,) = _points(meter.collect()["gen_ai.client.operation.duration"])
    assert point.sum <= duration.sum  # type: ignore[union-attr]


def test_failed_request_records_duration_with_error_type(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    with pytest.raises(APIStatusError):
        _stream(server, meter, Reply.error(500))
    found = meter.collect()
    (duration,) = _points(found["gen_ai.client.operation.duration"])
    attributes = dict(duration.attributes or {})
    assert attributes["error.type"] == "500"
    assert "gen_ai.response.model" not in attributes
    assert "gen_ai.client.token.usage" not in found  # no usage was reported
    (streams,) = _points(found["spanstream.client.streams"])
    assert dict(streams.attributes or {})["spanstream.outcome"] == "error"


def test_failed_request_counts_zero_tokens_under_the_latest_names(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    with pytest.raises(APIStatusError):
        _stream(server, meter, Reply.error(503))
    found = meter.collect()
    (inputs,) = _points(found["gen_ai.client.inference.usage.input_tokens"])
    assert isinstance(inputs, NumberDataPoint)
    assert inputs.value == 0
    assert dict(inputs.attributes or {})["error.type"] == "503"


def test_two_streams_make_two_measurements_not_one_per_event(
    server: ReplayServer, meter: Metrics
) -> None:
    _stream(server, meter, Reply.from_file(CACHED))
    _stream(server, meter, Reply.from_file(CACHED))
    found = meter.collect()
    (ttfc,) = _points(found["gen_ai.client.operation.time_to_first_chunk"])
    assert isinstance(ttfc, HistogramDataPoint)
    assert ttfc.count == 2


CHAT_CACHED = FIXTURES / "openai-chat" / "gpt-4.1-cached-tokens.sse"  # fp_8b22347a3e, default
ANTHROPIC_TEXT = FIXTURES / "anthropic-messages" / "claude-haiku-4-5-text.sse"


def test_chat_completions_metrics_carry_service_tier_and_system_fingerprint(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    client = _client(Client, server, meter, Reply.from_file(CHAT_CACHED))
    with client.chat.completions.stream(
        model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        stream.final_response()
    found = meter.collect()
    refinement = {
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_8b22347a3e",
    }
    for name in ("gen_ai.client.token.usage", "gen_ai.client.operation.duration"):
        for point in _points(found[name]):
            assert refinement.items() <= dict(point.attributes or {}).items(), name
    for name in ("gen_ai.client.operation.time_to_first_chunk", "spanstream.client.streams"):
        for point in _points(found[name]):
            assert "openai.response.service_tier" not in dict(point.attributes or {}), name


def test_anthropic_metrics_carry_no_openai_attributes(
    server: ReplayServer, meter: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    client = _client(AnthropicClient, server, meter, Reply.from_file(ANTHROPIC_TEXT))
    with client.messages.stream(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}], max_tokens=64
    ) as stream:
        stream.final_response()
    found = meter.collect()
    points = [point for metric in found.values() for point in _points(metric)]
    assert points
    assert not [
        point
        for point in points
        if any(str(name).startswith("openai.") for name in (point.attributes or {}))
    ]


def test_output_chunk_gaps_give_one_value_per_event_after_the_first() -> None:
    """Two reads after the first, five events: the reads' gaps, then 0 for the events that
    came in the same read as the one before them."""
    timings = StreamTimings(started=0.0, chunks=5)
    timings.gaps.extend([0.5, 0.25])
    assert list(timings.output_chunk_gaps()) == [0.5, 0.25, 0.0, 0.0]
    assert list(StreamTimings(started=0.0, chunks=1).output_chunk_gaps()) == []
    assert list(StreamTimings(started=0.0).output_chunk_gaps()) == []


async def test_async_streams_record_time_per_output_chunk_per_event(
    server: ReplayServer, meter: Metrics
) -> None:
    server.enqueue(Reply.from_file(CACHED, chunk_size=7))
    client = AsyncClient(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=TracerProvider(),
        meter_provider=meter.provider,
    )
    async with client.responses.stream(model="gpt-4o", input="Count") as stream:
        await stream.final_response()
    await client.aclose()
    (point,) = _points(meter.collect()["gen_ai.client.operation.time_per_output_chunk"])
    assert isinstance(point, HistogramDataPoint)
    assert point.count == CACHED_EVENTS - 1


def test_time_per_output_chunk_can_be_left_out(server: ReplayServer, meter: Metrics) -> None:
    """The one metric recorded per event costs an SDK histogram record each: a client made with
    ``time_per_output_chunk=False`` records every other metric and not that one."""
    server.enqueue(Reply.from_file(CACHED))
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=TracerProvider(),
        meter_provider=meter.provider,
        retry=RetryPolicy(max_retries=0),
        time_per_output_chunk=False,
    )
    with client.responses.stream(model="gpt-4o", input="Count") as stream:
        stream.final_response()
    found = meter.collect()
    assert "gen_ai.client.operation.time_per_output_chunk" not in found
    assert "gen_ai.client.operation.duration" in found
    assert "gen_ai.client.operation.time_to_first_chunk" in found
