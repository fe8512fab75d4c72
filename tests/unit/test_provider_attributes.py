"""A provider's own attributes (its refinement of the conventions) reach the span and metrics as
data the request carries (``ProviderAttributes``), copied by telemetry that knows no provider,
and only while ``gen_ai.provider.name`` is the provider that built the request."""

from __future__ import annotations

from dataclasses import replace

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.semconv._incubating.attributes import openai_attributes

from spanstream._request import ProviderAttributes, RequestInfo
from spanstream.events import Response, Usage
from spanstream.providers import _openai
from spanstream.providers.openai_chat import build_request as chat_request
from spanstream.providers.openai_responses import build_fetch_request
from spanstream.results import StreamResult, StreamTimings
from spanstream.telemetry.attributes import end_attributes, start_attributes
from spanstream.telemetry.metrics import StreamMetrics

# A provider telemetry has never heard of, with one request and one response attribute.
ACME = ProviderAttributes(
    "acme",
    request=(("acme.api.flavour", "turbo"), ("acme.request.priority", 3)),
    response=(
        ("acme.response.tier", "service_tier"),
        ("acme.response.build", "system_fingerprint"),
    ),
)
INFO = RequestInfo(provider="acme", operation="chat", model="m", provider_attributes=ACME)
RESPONSE = Response(
    "r1", "m", "completed", "stop", "hi", None, (), (), Usage(1, 2), service_tier="gold"
)


def _end(info: RequestInfo) -> dict[str, object]:
    return dict(
        end_attributes(
            info,
            RESPONSE,
            outcome="completed",
            error_type=None,
            time_to_first_chunk=None,
            time_to_first_token=None,
            latest=False,
        )
    )


def test_telemetry_copies_an_unknown_providers_attributes() -> None:
    start = start_attributes(INFO, "acme.example", 443)
    assert start["acme.api.flavour"] == "turbo"
    assert start["acme.request.priority"] == 3
    end = _end(INFO)
    assert end["acme.response.tier"] == "gold"
    assert "acme.response.build" not in end  # the response did not state it


def test_the_attributes_belong_to_the_provider_that_built_the_request() -> None:
    # The client names a server that speaks the API under another name (a gateway, DeepSeek).
    renamed = replace(INFO, provider="gateway")
    assert not [n for n in start_attributes(renamed, None, None) if n.startswith("acme.")]
    assert not [n for n in _end(renamed) if n.startswith("acme.")]


def test_duration_and_token_metrics_carry_the_response_attributes() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    try:
        result = StreamResult("completed", RESPONSE, StreamTimings(started=0.0, ended=1.0))
        StreamMetrics(provider, latest=False).record(INFO, result, "acme.example", 443)
        data = reader.get_metrics_data()
    finally:
        provider.shutdown()
    assert isinstance(data, MetricsData)
    tiers = {
        metric.name: [
            dict(p.attributes or {}).get("acme.response.tier") for p in metric.data.data_points
        ]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert set(tiers["gen_ai.client.operation.duration"]) == {"gold"}
    assert set(tiers["gen_ai.client.token.usage"]) == {"gold"}


@pytest.mark.parametrize(
    ("ours", "semconv"),
    [
        (_openai.API_TYPE, openai_attributes.OPENAI_API_TYPE),
        (_openai.REQUEST_SERVICE_TIER, openai_attributes.OPENAI_REQUEST_SERVICE_TIER),
        (_openai.RESPONSE_SERVICE_TIER, openai_attributes.OPENAI_RESPONSE_SERVICE_TIER),
        (_openai.RESPONSE_SYSTEM_FINGERPRINT, openai_attributes.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ],
)
def test_the_openai_names_are_the_conventions_constants(ours: str, semconv: str) -> None:
    # The protocol layer imports nothing from OpenTelemetry, so the names are written there.
    assert ours == semconv


def test_openai_requests_describe_the_refinement() -> None:
    fetch = build_fetch_request("resp_1").info
    assert fetch.request_attributes() == {"openai.api.type": "responses"}
    chat = chat_request(model="m", messages=[], service_tier="auto").info
    assert chat.request_attributes() == {"openai.api.type": "chat_completions"}
    fingerprinted = replace(RESPONSE, service_tier=None, system_fingerprint="fp_1")
    assert chat.response_attributes(fingerprinted) == {"openai.response.system_fingerprint": "fp_1"}
