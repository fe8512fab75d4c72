"""GenAITelemetry (the ``genai_telemetry`` fixture): isolated providers, spans, metric points."""

from __future__ import annotations

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from spanstream import AsyncClient, Client
from spanstream.testing import GenAITelemetry, MetricPoint, ReplayServer


def test_the_global_providers_are_left_alone(genai_telemetry: GenAITelemetry) -> None:
    assert trace.get_tracer_provider() is not genai_telemetry.tracer_provider
    assert metrics.get_meter_provider() is not genai_telemetry.meter_provider
    trace.get_tracer("elsewhere").start_span("global").end()
    assert genai_telemetry.spans == ()


def test_two_instances_do_not_see_each_others_spans() -> None:
    first, second = GenAITelemetry(), GenAITelemetry()
    first.tracer_provider.get_tracer("t").start_span("only in first").end()
    assert [span.name for span in first.spans] == ["only in first"]
    assert second.spans == ()
    first.close()
    second.close()


def test_inference_spans_are_those_with_an_inference_operation(
    genai_telemetry: GenAITelemetry,
) -> None:
    tracer = genai_telemetry.tracer_provider.get_tracer("t")
    for name, operation in [
        ("chat m", "chat"),
        ("tool", "execute_tool"),
        ("gen m", "text_completion"),
    ]:
        tracer.start_span(name, attributes={"gen_ai.operation.name": operation}).end()
    tracer.start_span("plain").end()
    assert [span.name for span in genai_telemetry.inference_spans] == ["chat m", "gen m"]


def test_inference_span_fails_readably_unless_there_is_exactly_one(
    genai_telemetry: GenAITelemetry,
) -> None:
    tracer = genai_telemetry.tracer_provider.get_tracer("t")
    tracer.start_span("handler").end()
    still_open = tracer.start_span("chat gpt-4.1", attributes={"gen_ai.operation.name": "chat"})
    with pytest.raises(AssertionError) as raised:
        genai_telemetry.inference_span()
    assert str(raised.value) == (
        "expected exactly one finished inference span, got 0; "
        "finished spans: ['handler']; still open: ['chat gpt-4.1']"
    )
    still_open.end()
    assert genai_telemetry.inference_span().name == "chat gpt-4.1"


def test_open_spans_and_start_end_counts(genai_telemetry: GenAITelemetry) -> None:
    tracer = genai_telemetry.tracer_provider.get_tracer("t")
    outer = tracer.start_span("outer")
    inner = tracer.start_span("inner")
    inner.end()
    assert [span.name for span in genai_telemetry.open_spans] == ["outer"]
    assert (genai_telemetry.started, genai_telemetry.ended) == (2, 1)
    with pytest.raises(AssertionError, match=r"1 span\(s\) never ended: \['outer'\]"):
        genai_telemetry.assert_all_spans_ended()
    outer.end()
    genai_telemetry.assert_all_spans_ended()
    assert (genai_telemetry.started, genai_telemetry.ended) == (2, 2)


def test_clear_forgets_spans_and_metrics_but_keeps_tracking_open_spans(
    genai_telemetry: GenAITelemetry,
) -> None:
    tracer = genai_telemetry.tracer_provider.get_tracer("t")
    counter = genai_telemetry.meter_provider.get_meter("m").create_counter("requests")
    tracer.start_span("done").end()
    open_span = tracer.start_span("open")
    counter.add(3)
    genai_telemetry.clear()
    assert genai_telemetry.spans == ()
    assert genai_telemetry.metric_points("requests") == []
    assert [span.name for span in genai_telemetry.open_spans] == ["open"]
    counter.add(2)
    open_span.end()
    assert [point.value for point in genai_telemetry.metric_points("requests")] == [2]
    assert [span.name for span in genai_telemetry.spans] == ["open"]


def test_counter_points_total_every_collection_per_attribute_set(
    genai_telemetry: GenAITelemetry,
) -> None:
    counter = genai_telemetry.meter_provider.get_meter("m").create_counter("tokens", unit="{token}")
    counter.add(5, {"gen_ai.token.type": "input"})
    counter.add(7, {"gen_ai.token.type": "output"})
    assert len(genai_telemetry.metric_points("tokens")) == 2  # a collection in between
    counter.add(3, {"gen_ai.token.type": "input"})
    assert genai_telemetry.metric_points("tokens") == [
        MetricPoint(
            "tokens", "sum", {"gen_ai.token.type": "input"}, "{token}", "m", value=8, sum=8
        ),
        MetricPoint(
            "tokens", "sum", {"gen_ai.token.type": "output"}, "{token}", "m", value=7, sum=7
        ),
    ]


def test_histogram_points_carry_count_sum_min_max_and_buckets(
    genai_telemetry: GenAITelemetry,
) -> None:
    histogram = genai_telemetry.meter_provider.get_meter("m").create_histogram(
        "gen_ai.client.operation.duration",
        unit="s",
        explicit_bucket_boundaries_advisory=[0.01, 0.1, 1.0],
    )
    histogram.record(0.005, {"error.type": "timeout"})
    histogram.record(0.5, {"error.type": "timeout"})
    genai_telemetry.metric_points("gen_ai.client.operation.duration")
    histogram.record(2.0, {"error.type": "timeout"})
    (point,) = genai_telemetry.metric_points("gen_ai.client.operation.duration")
    assert point.kind == "histogram"
    assert point.attributes == {"error.type": "timeout"}
    assert (point.count, point.sum, point.min, point.max) == (3, 2.505, 0.005, 2.0)
    assert point.explicit_bounds == (0.01, 0.1, 1.0)
    assert point.buckets == {0.01: 1, 0.1: 0, 1.0: 1, float("inf"): 1}
    assert point.value is None
    assert point.unit == "s"


def test_up_down_counter_gauge_and_observable_points(genai_telemetry: GenAITelemetry) -> None:
    meter = genai_telemetry.meter_provider.get_meter("m")
    in_flight = meter.create_up_down_counter("in_flight")
    in_flight.add(2)
    in_flight.add(-1)
    readings = iter([10, 15])

    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(next(readings))]

    meter.create_observable_counter("observed_total", callbacks=[observe])
    meter.create_observable_gauge("queue_depth", callbacks=[lambda options: [Observation(4)]])
    assert genai_telemetry.metric_names() == ["in_flight", "observed_total", "queue_depth"]
    assert [p.value for p in genai_telemetry.metric_points("in_flight")] == [1]
    assert [p.value for p in genai_telemetry.metric_points("observed_total")] == [15]
    (gauge,) = genai_telemetry.metric_points("queue_depth")
    assert (gauge.kind, gauge.value, gauge.sum) == ("gauge", 4, None)


def test_metric_points_of_an_unrecorded_metric_are_empty(genai_telemetry: GenAITelemetry) -> None:
    assert genai_telemetry.metric_points("never.recorded") == []
    assert genai_telemetry.metric_names() == []


def test_client_factories_wire_both_providers(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    client = genai_telemetry.client(sse_replay_server)
    assert isinstance(client, Client)
    assert str(client.base_url) == sse_replay_server.base_url + "/"
    with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
        assert stream.final_response().text == "Four plus five equals **nine**."
    assert genai_telemetry.inference_span().name == "chat gpt-4.1"
    assert sse_replay_server.last_request.headers["authorization"] == "Bearer sk-test"
    # Whatever spanstream's metrics are, they reach this meter provider and no other.
    assert genai_telemetry.metric_names() != []
    assert all(
        point.scope == "spanstream"
        for name in genai_telemetry.metric_names()
        for point in genai_telemetry.metric_points(name)
    )


async def test_async_client_factory(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    async with genai_telemetry.async_client(sse_replay_server.base_url, api_key="k") as client:
        assert isinstance(client, AsyncClient)
        async with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
            await stream.final_response()
    assert genai_telemetry.inference_span().name == "chat gpt-4.1"
    assert sse_replay_server.last_request.headers["authorization"] == "Bearer k"


def test_close_closes_the_clients_it_built_and_is_idempotent() -> None:
    telemetry = GenAITelemetry()
    client = telemetry.client("http://127.0.0.1:9/v1")
    telemetry.close()
    telemetry.close()
    assert client._http.is_closed
