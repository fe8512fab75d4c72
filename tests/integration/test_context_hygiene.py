"""The inference span is current only while spanstream runs its own code, never left attached
to the caller's context, right across asyncio tasks, and propagated only when asked."""

from __future__ import annotations

import asyncio
import logging

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace

from spanstream import AsyncClient, Client
from spanstream.testing import ReplayServer, Reply

from ..conftest import RESPONSES, Telemetry

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"


def test_traceparent_is_not_sent_by_default(server: ReplayServer, telemetry: Telemetry) -> None:
    server.enqueue(Reply.from_file(PLAIN))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.final_response()
    assert "traceparent" not in server.requests[0].headers


def test_traceparent_names_the_inference_span_when_asked(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(PLAIN))
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.provider,
        inject_trace_context=True,
    )
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.final_response()
    span = telemetry.only_inference_span()
    version, trace_id, span_id, flags = server.requests[0].headers["traceparent"].split("-")
    assert version == "00"
    assert int(trace_id, 16) == span.context.trace_id
    assert int(span_id, 16) == span.context.span_id
    assert int(flags, 16) & 0x01, "sampled"


def test_caller_context_is_unchanged_after_each_step(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    server.enqueue(Reply.from_file(PLAIN))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider)
    before = otel_context.get_current()
    stream = client.responses.stream(model="gpt-4.1", input="hi")
    assert otel_context.get_current() == before
    stream.__enter__()
    assert otel_context.get_current() == before
    next(stream)
    assert otel_context.get_current() == before
    stream.__exit__(None, None, None)
    assert otel_context.get_current() == before
    assert not trace.get_current_span().get_span_context().is_valid


async def test_stream_created_in_one_task_and_abandoned_in_another_detaches_cleanly(
    server: ReplayServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    # The FastAPI StreamingResponse pattern: the handler creates the stream inside its span,
    # returns, and the server iterates it later in another task, possibly stopping early.
    server.enqueue(Reply.from_file(PLAIN, hold_after_events=3))
    caplog.set_level(logging.WARNING)
    tracer = telemetry.provider.get_tracer("app")
    client = AsyncClient(
        api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider
    )

    async def handler() -> object:
        with tracer.start_as_current_span("POST /chat"):
            return client.responses.stream(model="gpt-4.1", input="hi")

    stream = await asyncio.create_task(handler())

    async def body() -> list[int]:
        seen = []
        async with stream:  # type: ignore[attr-defined]
            async for _ in stream:  # type: ignore[attr-defined]
                seen.append(trace.get_current_span().get_span_context().span_id)
                break
        return seen

    seen = await asyncio.create_task(body())
    (handler_span,) = [s for s in telemetry.spans if s.name == "POST /chat"]
    inference = telemetry.only_inference_span()
    assert inference.parent is not None
    assert inference.parent.span_id == handler_span.context.span_id
    assert inference.context.span_id not in seen
    assert (inference.attributes or {})["spanstream.outcome"] == "abandoned"
    assert "Failed to detach context" not in caplog.text
    await client.aclose()


def test_real_httpx_instrumentation_spans_nest_under_the_inference_span(
    server: ReplayServer, telemetry: Telemetry
) -> None:
    httpx = pytest.importorskip("httpx")
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    http = httpx.Client()
    instrumentation.HTTPXClientInstrumentor.instrument_client(
        http, tracer_provider=telemetry.provider
    )
    server.enqueue(Reply.from_file(PLAIN))
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=telemetry.provider,
        http_client=http,
    )
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        stream.final_response()
    inference = telemetry.only_inference_span()
    (http_span,) = [
        s for s in telemetry.spans if s.kind is trace.SpanKind.CLIENT and s is not inference
    ]
    assert http_span.name == "POST"
    assert http_span.parent is not None
    assert http_span.parent.span_id == inference.context.span_id
    http.close()


def test_a_telemetry_bug_still_ends_the_span_and_never_reaches_the_stream(
    server: ReplayServer,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import spanstream.telemetry.span_observer as observer

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("attribute bug")

    monkeypatch.setattr(observer, "end_attributes", broken)
    server.enqueue(Reply.from_file(PLAIN))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=telemetry.provider)
    with client.responses.stream(model="gpt-4.1", input="hi") as stream:
        assert stream.final_response().text == "Four plus five equals **nine**."
    assert telemetry.lifecycle.started == telemetry.lifecycle.ended == 1
    assert "spanstream observer failed to end" in caplog.text
