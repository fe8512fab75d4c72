"""The gen_ai assertion helpers: what they accept, and what their failure messages say."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from spanstream.testing import (
    DEPRECATED_ATTRIBUTES,
    KNOWN_ATTRIBUTES,
    GenAITelemetry,
    Problem,
    ReplayServer,
    assert_inference_span,
    assert_metric_point,
    assert_semconv,
    check_semconv,
    recording_names,
)

CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4.1",
    "gen_ai.usage.input_tokens": 13,
    "gen_ai.usage.output_tokens": 9,
    "gen_ai.response.finish_reasons": ("stop",),
    "spanstream.outcome": "completed",
}


def make_span(
    telemetry: GenAITelemetry,
    attributes: Mapping[str, AttributeValue],
    *,
    name: str = "chat gpt-4.1",
    kind: SpanKind = SpanKind.CLIENT,
    status: Status | None = None,
) -> ReadableSpan:
    span = telemetry.tracer_provider.get_tracer("t").start_span(
        name, kind=kind, attributes=attributes
    )
    if status is not None:
        span.set_status(status)
    span.end()
    return telemetry.spans[-1]


# -- assert_inference_span ------------------------------------------------------------------


def test_only_the_given_fields_are_checked(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, CHAT)
    assert_inference_span(span)
    assert_inference_span(
        span,
        model="gpt-4.1",
        provider="openai",
        operation="chat",
        input_tokens=13,
        output_tokens=9,
        finish_reasons=["stop"],
        outcome="completed",
        status="unset",
        attributes={"gen_ai.request.model": "gpt-4.1"},
    )


def test_none_means_the_attribute_must_be_absent(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, CHAT)
    assert_inference_span(span, error_type=None, cached_tokens=None, reasoning_tokens=None)
    with pytest.raises(
        AssertionError, match=re.escape("gen_ai.usage.input_tokens: expected <absent>, got 13")
    ):
        assert_inference_span(span, input_tokens=None)


def test_failure_lists_each_mismatch_then_the_whole_span(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(
        genai_telemetry,
        {**CHAT, "error.type": "APIConnectionError"},
        status=Status(StatusCode.ERROR, "connection failed"),
    )
    with pytest.raises(AssertionError) as raised:
        assert_inference_span(
            span,
            model="gpt-4.1",
            input_tokens=12,
            cached_tokens=5,
            finish_reasons=["length"],
            error_type=None,
            status="unset",
        )
    assert str(raised.value) == "\n".join(
        [
            "span 'chat gpt-4.1' does not match (5 of 6 checks failed):",
            "  gen_ai.usage.input_tokens: expected 12, got 13",
            "  gen_ai.usage.cache_read.input_tokens: expected 5, got <absent>",
            "  gen_ai.response.finish_reasons: expected ['length'], got ['stop']",
            "  error.type: expected <absent>, got 'APIConnectionError'",
            "  <span status>: expected 'UNSET', got 'ERROR'",
            "span 'chat gpt-4.1' (kind CLIENT, status ERROR 'connection failed') has attributes:",
            "  error.type = 'APIConnectionError'",
            "  gen_ai.operation.name = 'chat'",
            "  gen_ai.provider.name = 'openai'",
            "  gen_ai.request.model = 'gpt-4.1'",
            "  gen_ai.response.finish_reasons = ['stop']",
            "  gen_ai.usage.input_tokens = 13",
            "  gen_ai.usage.output_tokens = 9",
            "  spanstream.outcome = 'completed'",
        ]
    )


@pytest.mark.parametrize(
    "name",
    ["gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens"],
)
def test_cache_write_tokens_accepts_either_name(genai_telemetry: GenAITelemetry, name: str) -> None:
    span = make_span(genai_telemetry, {**CHAT, name: 40})
    assert_inference_span(span, cache_write_tokens=40)
    with pytest.raises(AssertionError, match=re.escape(f"{name}: expected 41, got 40")):
        assert_inference_span(span, cache_write_tokens=41)


def test_status_accepts_a_status_code(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, CHAT, status=Status(StatusCode.ERROR))
    assert_inference_span(span, status=StatusCode.ERROR)
    assert_inference_span(span, status="error")


# -- assert_metric_point --------------------------------------------------------------------


def _record_durations(telemetry: GenAITelemetry) -> None:
    histogram = telemetry.meter_provider.get_meter("m").create_histogram(
        "gen_ai.client.operation.duration", unit="s"
    )
    histogram.record(0.25, {"gen_ai.request.model": "gpt-4.1"})
    histogram.record(0.75, {"gen_ai.request.model": "gpt-4.1"})
    histogram.record(1.0, {"gen_ai.request.model": "gpt-4.1", "error.type": "timeout"})


def test_metric_point_is_found_by_attribute_subset_and_checked(
    genai_telemetry: GenAITelemetry,
) -> None:
    _record_durations(genai_telemetry)
    point = assert_metric_point(
        genai_telemetry,
        "gen_ai.client.operation.duration",
        attributes={"error.type": None},
        count=2,
        sum=pytest.approx(1.0),
        min=0.25,
        max=0.75,
    )
    assert point.attributes == {"gen_ai.request.model": "gpt-4.1"}
    assert_metric_point(
        genai_telemetry, "gen_ai.client.operation.duration", attributes={"error.type": "timeout"}
    )


def test_metric_point_failure_shows_the_differing_fields(genai_telemetry: GenAITelemetry) -> None:
    _record_durations(genai_telemetry)
    with pytest.raises(AssertionError) as raised:
        assert_metric_point(
            genai_telemetry,
            "gen_ai.client.operation.duration",
            attributes={"error.type": "timeout"},
            count=2,
        )
    assert str(raised.value).splitlines()[:2] == [
        "metric point 'gen_ai.client.operation.duration' "
        "{'gen_ai.request.model': 'gpt-4.1', 'error.type': 'timeout'} does not match:",
        "  count: expected 2, got 1",
    ]


def test_metric_point_ambiguous_or_missing(genai_telemetry: GenAITelemetry) -> None:
    _record_durations(genai_telemetry)
    with pytest.raises(AssertionError, match="found 2; points of"):
        assert_metric_point(genai_telemetry, "gen_ai.client.operation.duration")
    with pytest.raises(AssertionError, match="found 0; points of"):
        assert_metric_point(
            genai_telemetry, "gen_ai.client.operation.duration", attributes={"error.type": "500"}
        )
    with pytest.raises(
        AssertionError,
        match=r"no metric named 'gen_ai\.client\.token\.usage' was recorded; "
        r"recorded: \['gen_ai\.client\.operation\.duration'\]",
    ):
        assert_metric_point(genai_telemetry, "gen_ai.client.token.usage")


def test_spanstreams_own_metrics_can_be_asserted(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    with genai_telemetry.client(sse_replay_server).responses.stream(
        model="gpt-4.1", input="hi"
    ) as stream:
        stream.final_response()
    assert_metric_point(
        genai_telemetry,
        "gen_ai.client.operation.duration",
        attributes={"gen_ai.request.model": "gpt-4.1", "error.type": None},
        count=1,
    )


# -- check_semconv / assert_semconv ---------------------------------------------------------


def kinds(problems: list[Problem]) -> list[tuple[str, str | None]]:
    return [(problem.kind, problem.attribute) for problem in problems]


def test_a_conforming_inference_span_has_no_problems(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, {**CHAT, "server.port": 443, "openai.api.type": "responses"})
    assert check_semconv(span) == []
    assert_semconv(span)


@pytest.mark.parametrize("name", recording_names())
def test_spanstreams_spans_conform_for_every_bundled_recording(
    name: str, genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording(name)
    client = genai_telemetry.client(sse_replay_server)
    try:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            stream.final_response()
    except Exception:  # failed recordings raise; their span must conform all the same
        pass
    assert_semconv(genai_telemetry.inference_span(), latest=False)
    assert_semconv(genai_telemetry.inference_span(), latest=True)


def test_missing_required_attributes(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, {"gen_ai.provider.name": "openai"}, name="chat")
    assert kinds(check_semconv(span)) == [
        ("missing", "gen_ai.operation.name"),
        ("missing", "gen_ai.request.model"),
    ]
    span = make_span(genai_telemetry, {"gen_ai.operation.name": "chat"}, name="chat")
    assert kinds(check_semconv(span)) == [("missing", "gen_ai.provider.name")]
    openai_without_model = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    span = make_span(genai_telemetry, openai_without_model, name="chat")
    assert kinds(check_semconv(span)) == [("missing", "gen_ai.request.model")]
    anthropic = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}
    assert check_semconv(make_span(genai_telemetry, anthropic, name="chat")) == []


def test_error_status_requires_error_type(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, CHAT, status=Status(StatusCode.ERROR))
    assert kinds(check_semconv(span)) == [("missing", "error.type")]


def test_span_kind_and_name(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, CHAT, name="openai.responses", kind=SpanKind.INTERNAL)
    problems = check_semconv(span)
    assert kinds(problems) == [("span_kind", None), ("span_name", None)]
    assert [str(problem) for problem in problems] == [
        "span kind is INTERNAL, expected CLIENT",
        "span name is 'openai.responses', expected 'chat gpt-4.1' "
        "({gen_ai.operation.name} {gen_ai.request.model})",
    ]


def test_tool_span_rules(genai_telemetry: GenAITelemetry) -> None:
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    span = make_span(genai_telemetry, tool, name="execute_tool get_weather", kind=SpanKind.INTERNAL)
    assert check_semconv(span) == []
    span = make_span(genai_telemetry, tool, name="get_weather", kind=SpanKind.CLIENT)
    assert kinds(check_semconv(span)) == [("span_kind", None), ("span_name", None)]


EMBEDDINGS = {
    "gen_ai.operation.name": "embeddings",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "text-embedding-3-small",
    "gen_ai.request.encoding_formats": ("base64",),
    "gen_ai.embeddings.dimension.count": 1536,
    "gen_ai.usage.input_tokens": 9,
    "spanstream.outcome": "completed",
}


def test_embeddings_span_rules(genai_telemetry: GenAITelemetry) -> None:
    name = "embeddings text-embedding-3-small"
    assert check_semconv(make_span(genai_telemetry, EMBEDDINGS, name=name)) == []
    # What only an inference span has does not belong on an embeddings span.
    inference_only = {
        **EMBEDDINGS,
        "gen_ai.usage.output_tokens": 0,
        "gen_ai.response.finish_reasons": ("error",),
        "gen_ai.request.stream": True,
        "gen_ai.input.messages": "[]",
    }
    problems = check_semconv(make_span(genai_telemetry, inference_only, name=name))
    assert kinds(problems) == [
        ("unknown", "gen_ai.input.messages"),
        ("unknown", "gen_ai.request.stream"),
        ("unknown", "gen_ai.response.finish_reasons"),
        ("unknown", "gen_ai.usage.output_tokens"),
    ]
    assert str(problems[0]) == "gen_ai.input.messages is not an attribute of the embeddings span"
    nameless = {k: v for k, v in EMBEDDINGS.items() if k != "gen_ai.provider.name"}
    span = make_span(genai_telemetry, nameless, name=name, kind=SpanKind.INTERNAL)
    assert kinds(check_semconv(span)) == [
        ("missing", "gen_ai.provider.name"),
        ("span_kind", None),
    ]


def test_wrong_types(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(
        genai_telemetry,
        {
            **CHAT,
            "gen_ai.usage.input_tokens": 13.0,
            "gen_ai.request.temperature": 1,
            "gen_ai.request.max_tokens": "100",
            "gen_ai.response.finish_reasons": "stop",
            "gen_ai.request.stop_sequences": (1, 2),
            "gen_ai.request.stream": "true",
        },
    )
    assert [str(problem) for problem in check_semconv(span)] == [
        "gen_ai.request.max_tokens must be int, got string '100'",
        "gen_ai.request.stop_sequences must be string[], got int[] [1, 2]",
        "gen_ai.request.stream must be boolean, got string 'true'",
        "gen_ai.request.temperature must be double, got int 1",
        "gen_ai.response.finish_reasons must be string[], got string 'stop'",
        "gen_ai.usage.input_tokens must be int, got double 13.0",
    ]


def test_deprecated_names(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(
        genai_telemetry,
        {
            **CHAT,
            "gen_ai.system": "openai",
            "gen_ai.usage.prompt_tokens": 1,
            "gen_ai.usage.completion_tokens": 2,
            "gen_ai.prompt": "hi",
            "gen_ai.completion": "hello",
            "gen_ai.openai.request.service_tier": "auto",
            "gen_ai.openai.api_base": "https://api.openai.com",
            "gen_ai.prompt.0.content": "hi",
        },
    )
    assert [str(problem) for problem in check_semconv(span)] == [
        "gen_ai.completion is deprecated: use gen_ai.output.messages",
        "gen_ai.openai.api_base is deprecated: use openai.api_base",
        "gen_ai.openai.request.service_tier is deprecated: use openai.request.service_tier",
        "gen_ai.prompt is deprecated: use gen_ai.input.messages",
        "gen_ai.prompt.0.content is deprecated: use gen_ai.input.messages / gen_ai.output.messages",
        "gen_ai.system is deprecated: use gen_ai.provider.name",
        "gen_ai.usage.completion_tokens is deprecated: use gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens is deprecated: use gen_ai.usage.input_tokens",
    ]


def test_cache_write_names_depend_on_the_convention_set(genai_telemetry: GenAITelemetry) -> None:
    released = make_span(genai_telemetry, {**CHAT, "gen_ai.usage.cache_creation.input_tokens": 4})
    assert check_semconv(released, latest=False) == []
    assert kinds(check_semconv(released, latest=True)) == [
        ("deprecated", "gen_ai.usage.cache_creation.input_tokens")
    ]
    latest = make_span(genai_telemetry, {**CHAT, "gen_ai.usage.cache_write.input_tokens": 4})
    assert check_semconv(latest, latest=False) == []
    assert check_semconv(latest, latest=True) == []


def test_the_default_convention_set_follows_the_opt_in_variable(
    genai_telemetry: GenAITelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    span = make_span(genai_telemetry, {**CHAT, "gen_ai.usage.cache_creation.input_tokens": 4})
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    assert kinds(check_semconv(span)) == [
        ("deprecated", "gen_ai.usage.cache_creation.input_tokens")
    ]
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN")
    assert check_semconv(span) == []


def test_unknown_names(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(
        genai_telemetry,
        {
            **CHAT,
            "gen_ai.usage.total_tokens": 22,
            "openai.request.organization": "org",
            "gen_ai.prompt.variable.city": "Paris",
            "spanstream.outcome": "completed",
            "http.request.method": "POST",
        },
    )
    assert [str(problem) for problem in check_semconv(span)] == [
        "gen_ai.usage.total_tokens is not defined by the GenAI conventions",
        "openai.request.organization is not defined by the GenAI conventions",
    ]


def test_values_the_conventions_rule_out(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(
        genai_telemetry,
        {
            **CHAT,
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.stream": False,
            "openai.api.type": "responses",
        },
    )
    assert [str(problem) for problem in check_semconv(span)] == [
        "gen_ai.request.stream is set only as true, never false (leave it unset instead)",
        "openai.api.type is only for gen_ai.provider.name 'openai'",
    ]
    fetch = {
        "gen_ai.operation.name": "fetch_response",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.id": "resp_1",
        "gen_ai.usage.input_tokens": 3,
    }
    problems = check_semconv(make_span(genai_telemetry, fetch, name="fetch_response"))
    assert [str(problem) for problem in problems] == [
        "gen_ai.usage.input_tokens: fetch_response reports no token usage"
    ]


def test_assert_semconv_lists_every_problem(genai_telemetry: GenAITelemetry) -> None:
    span = make_span(genai_telemetry, {**CHAT, "gen_ai.system": "openai"}, name="chat")
    with pytest.raises(AssertionError) as raised:
        assert_semconv(span)
    assert str(raised.value).splitlines()[:3] == [
        "span 'chat' departs from the GenAI semantic conventions:",
        "  [span_name] span name is 'chat', expected 'chat gpt-4.1' "
        "({gen_ai.operation.name} {gen_ai.request.model})",
        "  [deprecated] gen_ai.system is deprecated: use gen_ai.provider.name",
    ]


def test_the_tables_cover_semconv_md_and_do_not_overlap() -> None:
    for name in (
        "gen_ai.usage.cache_write.input_tokens",  # latest only, still known
        "gen_ai.request.reasoning.level",
        "gen_ai.usage.image.cache_read.input_tokens",
        "gen_ai.response.time_to_first_chunk",
        "openai.response.system_fingerprint",
    ):
        assert name in KNOWN_ATTRIBUTES
    assert KNOWN_ATTRIBUTES["gen_ai.request.top_k"] == "int"  # semconv-genai PR #217
    assert not set(KNOWN_ATTRIBUTES) & set(DEPRECATED_ATTRIBUTES)
