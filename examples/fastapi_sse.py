"""Serve a model's answer as Server-Sent Events from a traced FastAPI app (docs/serving.md).

Two endpoints forward the same stream, one per client flavour:

* ``GET /chat?q=...``      an ``async def`` endpoint with ``spanstream.AsyncClient``;
* ``GET /chat-sync?q=...`` a ``def`` endpoint with ``spanstream.Client`` (Starlette runs the
  generator in its thread pool).

Each sends ``data: {"text": ...}`` events, then one final event: ``event: done`` with the
stream's outcome and finish reason, or ``event: failed`` with the error's low-cardinality type
when the model call fails after the 200 headers went out. Errors travel in-band because the
status can no longer change then: an uncaught error would just cut the body, and the browser's
``EventSource`` would reconnect and call the model again. ``GET /`` is a page that shows what
its ``EventSource`` receives and closes it on either final event.

Run it against the real API, then open http://127.0.0.1:8000/::

    pip install fastapi uvicorn opentelemetry-instrumentation-fastapi
    OPENAI_API_KEY=sk-... python examples/fastapi_sse.py
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider

import spanstream
from spanstream.stream import error_type_of

MODEL = "gpt-4.1-mini"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


def sse(data: object, event: str | None = None) -> str:
    """One Server-Sent Event; the data is JSON, so a newline in the text cannot end it early."""
    name = f"event: {event}\n" if event else ""
    return f"{name}data: {json.dumps(data)}\n\n"


def done(stream: spanstream.Stream | spanstream.AsyncStream) -> str:
    response = stream.response
    return sse(
        {
            "outcome": stream.outcome,
            "finish_reason": response.finish_reason,
            "refusal": response.refusal is not None,
        },
        event="done",
    )


def failed(error: spanstream.SpanstreamError) -> str:
    # The error's type only: its message is for the service's logs and trace, not its users.
    return sse({"error": error_type_of(error)}, event="failed")


def answer_sync(
    client: spanstream.Client, question: str, opened: list[spanstream.Stream]
) -> Generator[str, None, None]:
    """The answer as SSE, from the sync client. The stream goes into ``opened`` before it is
    sent, so that :func:`iterate_closing` can close it from the event loop."""
    try:
        stream = client.responses.stream(model=MODEL, input=question)
        opened.append(stream)
        with stream:
            for text in stream.text_stream:
                yield sse({"text": text})
        yield done(stream)
    except spanstream.SpanstreamError as error:
        yield failed(error)


async def answer(client: spanstream.AsyncClient, question: str) -> AsyncIterator[str]:
    """The answer as SSE, from the async client. A client that disconnects cancels this
    generator where it waits for the model: the stream ends ``cancelled`` at once and its
    upstream request is closed."""
    try:
        async with client.responses.stream(model=MODEL, input=question) as stream:
            async for text in stream.text_stream:
                yield sse({"text": text})
        yield done(stream)
    except spanstream.SpanstreamError as error:
        yield failed(error)


_END = object()


async def iterate_closing(
    iterator: Generator[str, None, None], opened: list[spanstream.Stream]
) -> AsyncIterator[str]:
    """Starlette's ``iterate_in_threadpool``, plus: a response that ends early (the client
    disconnected) ends the stream at once. Starlette never closes the generator of a ``def``
    endpoint: it would be left suspended, kept by reference cycles until the garbage collector
    runs, its upstream request open. Here the streams in ``opened`` are cancelled from the event
    loop: ``Stream.cancel()`` from another thread interrupts the read the worker thread is
    blocked in, so the stream ends ``cancelled`` at once, as the async endpoint's does, and the
    worker returns. (A stream still waiting for the response headers ends as they arrive.)
    Then the generator is closed."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            # In a copy of the request's context, as Starlette's thread pool calls run: the
            # stream's span is then a child of the request's.
            context = contextvars.copy_context()
            pending = loop.run_in_executor(None, context.run, next, iterator, _END)
            try:
                item = await asyncio.shield(pending)
            except asyncio.CancelledError:
                for stream in opened:
                    stream.cancel()
                with anyio.CancelScope(shield=True):
                    await pending  # the worker returns now that its read was interrupted
                raise
            if item is _END:
                return
            assert isinstance(item, str)
            yield item
    finally:
        iterator.close()


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>spanstream SSE</title></head>
<body><h1>Answer</h1><pre id="answer"></pre><p id="status">streaming</p>
<script>
const answer = document.getElementById("answer");
const status = document.getElementById("status");
const path = new URLSearchParams(location.search).get("path") || "/chat";
const source = new EventSource(path + "?q=" + encodeURIComponent("Say hello"));
source.onmessage = (event) => { answer.textContent += JSON.parse(event.data).text; };
// Both final events close the source: left open, EventSource would reconnect and ask again.
source.addEventListener("done", (event) => {
  source.close();
  status.textContent = "done " + JSON.parse(event.data).outcome;
});
source.addEventListener("failed", (event) => {
  source.close();
  status.textContent = "failed " + JSON.parse(event.data).error;
});
source.onerror = () => { status.textContent += " (connection error)"; };
</script></body></html>
"""


def create_app(
    client: spanstream.Client,
    async_client: spanstream.AsyncClient,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The app, traced: a SERVER span per request, the model call's span inside it. It closes
    the clients when it shuts down (the async one on its own event loop, where its connections
    live)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await async_client.aclose()
        client.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/chat")
    async def chat(q: str) -> StreamingResponse:
        return StreamingResponse(
            answer(async_client, q), media_type="text/event-stream", headers=SSE_HEADERS
        )

    @app.get("/chat-sync")
    def chat_sync(q: str) -> StreamingResponse:
        opened: list[spanstream.Stream] = []
        return StreamingResponse(
            iterate_closing(answer_sync(client, q, opened), opened),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    # No spans for each ASGI send/receive: one per SSE event would drown the trace.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, exclude_spans=["send", "receive"]
    )
    return app


def main() -> None:
    import uvicorn

    # Spans, metrics and logs per the OTEL_* environment variables (the global providers too).
    telemetry = spanstream.configure(service_name="fastapi-sse")
    app = create_app(spanstream.Client(), spanstream.AsyncClient(), telemetry.tracer_provider)
    try:
        uvicorn.run(app, host="127.0.0.1", port=8000)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
