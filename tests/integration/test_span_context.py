"""Where the inference span sits in the caller's trace, and what it leaves behind."""

from __future__ import annotations

import httpx
from opentelemetry import trace

from spanstream.testing import GenAITelemetry, ReplayServer

from ..conftest import RESPONSES

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"


class SpanningTransport(httpx.HTTPTransport):
    """Stands in for opentelemetry-instrumentation-httpx: one span per request, under whatever
    span is current when the request is sent."""

    def __init__(self, tracer: trace.Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.tracer.start_as_current_span(f"HTTP {request.method}"):
            return super().handle_request(request)


def test_span_is_a_child_of_the_callers_span(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_file(PLAIN)
    tracer = genai_telemetry.tracer_provider.get_tracer("app")
    client = genai_telemetry.client(sse_replay_server)
    with (
        tracer.start_as_current_span("handler") as handler,
        client.responses.stream(model="gpt-4.1", input="hi") as stream,
    ):
        stream.final_response()
    span = genai_telemetry.inference_span()
    assert span.parent is not None
    assert span.parent.span_id == handler.get_span_context().span_id
    assert span.context.trace_id == handler.get_span_context().trace_id
    assert span.kind is trace.SpanKind.CLIENT
    assert span.name == "chat gpt-4.1"


def test_http_client_spans_nest_under_the_inference_span(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_file(PLAIN)
    transport = SpanningTransport(genai_telemetry.tracer_provider.get_tracer("httpx"))
    with (
        httpx.Client(transport=transport) as http,  # the user's own client: never closed by us
        genai_telemetry.client(sse_replay_server, http_client=http).responses.stream(
            model="gpt-4.1", input="hi"
        ) as stream,
    ):
        stream.final_response()
    inference = genai_telemetry.inference_span()
    (http_span,) = [s for s in genai_telemetry.spans if s.name == "HTTP POST"]
    assert http_span.parent is not None
    assert http_span.parent.span_id == inference.context.span_id


def test_inference_span_is_not_current_in_the_consumers_loop(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.reply_with_file(PLAIN)
    tracer = genai_telemetry.tracer_provider.get_tracer("app")
    client = genai_telemetry.client(sse_replay_server)
    seen: set[int] = set()
    with tracer.start_as_current_span("handler") as handler:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            for _ in stream:
                seen.add(trace.get_current_span().get_span_context().span_id)
        after = trace.get_current_span()
    assert seen == {handler.get_span_context().span_id}
    assert after is handler


async def test_async_stream_consumed_in_another_task_keeps_the_creators_parent(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    import asyncio

    sse_replay_server.reply_with_file(PLAIN)
    tracer = genai_telemetry.tracer_provider.get_tracer("app")
    client = genai_telemetry.async_client(sse_replay_server)
    with tracer.start_as_current_span("request_handler") as handler:
        stream = client.responses.stream(model="gpt-4.1", input="hi")

    async def consume() -> str:
        async with stream:
            return (await stream.final_response()).text

    assert await asyncio.create_task(consume()) == "Four plus five equals **nine**."
    span = genai_telemetry.inference_span()
    assert span.parent is not None
    assert span.parent.span_id == handler.get_span_context().span_id
    await client.aclose()
