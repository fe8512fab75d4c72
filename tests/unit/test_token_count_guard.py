"""The telemetry boundary records no token count outside 0..2**63-1 (issue #6).

The parsers drop such counts already (tests/unit/test_lenient_fields.py); this is the last guard,
for usage no parser checked (an agent's sum over its turns, a user's own observer): span
attributes and metric records leave the count out and log it once per name, so the OTLP
exporter's encoder, which refuses anything beyond int64, keeps working for every later stream.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData

from spanstream.events import Response, Usage
from spanstream.providers.base import RequestInfo
from spanstream.results import StreamResult, StreamTimings
from spanstream.telemetry.attributes import end_attributes, usage_attributes
from spanstream.telemetry.metrics import StreamMetrics

INT64_MAX = 2**63 - 1
BAD_USAGE = Usage(
    input_tokens=-1,
    output_tokens=5,
    total_tokens=INT64_MAX,
    cache_read_input_tokens=10**30,
    cache_write_input_tokens=INT64_MAX + 1,
    reasoning_output_tokens=True,  # a bool is no count
)
INFO = RequestInfo(provider="openai", operation="chat", model="gpt-4o")


def _response(usage: Usage) -> Response:
    return Response("resp_1", "gpt-4o", "completed", "stop", "hi", None, (), (), usage)


def _result(usage: Usage) -> StreamResult:
    return StreamResult("completed", _response(usage), StreamTimings(started=0.0, ended=1.0))


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_usage_attributes_leave_out_what_is_no_count(latest: bool) -> None:
    attributes = usage_attributes(BAD_USAGE, latest=latest)
    assert attributes == {"gen_ai.usage.output_tokens": 5}
    span = end_attributes(
        INFO,
        _response(BAD_USAGE),
        outcome="completed",
        error_type=None,
        time_to_first_chunk=None,
        time_to_first_token=None,
        latest=latest,
    )
    assert {name: value for name, value in span.items() if "usage" in name} == attributes


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_metrics_record_no_bad_count_and_still_encode_for_later_streams(
    latest: bool, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("spanstream.telemetry.attributes._REFUSED", set())
    reader = InMemoryMetricReader()  # cumulative, as an OTLP exporter's reader by default
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        metrics = StreamMetrics(provider, latest=latest)
        caplog.set_level(logging.WARNING, logger="spanstream.telemetry")
        for _ in range(3):  # the bad stream twice, then a good one
            metrics.record(INFO, _result(BAD_USAGE), "127.0.0.1", 8080)
        metrics.record(INFO, _result(Usage(input_tokens=10, output_tokens=5)), "127.0.0.1", 8080)
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    assert isinstance(data, MetricsData)
    encode_metrics(data)  # EncodingException "Value out of range" before the guard
    names = {
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert not {name for name in names if "cache" in name or "reasoning" in name}
    # Logged once per instrument, however many streams brought a bad count.
    refused = [r.getMessage() for r in caplog.records if "not recording" in r.getMessage()]
    assert refused
    assert len(refused) == len(set(refused))
    assert "1000000000000000000000000000000" not in caplog.text
