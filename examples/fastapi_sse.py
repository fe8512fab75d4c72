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

import json
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import TracerProvider
from starlette.concurrency import run_in_threadpool

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


def answer_sync(client: spanstream.Client, question: str) -> Generator[str, None, None]:
    """The answer as SSE, from the sync client."""
    try:
        with client.responses.stream(model=MODEL, input=question) as stream:
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


async def iterate_closing(iterator: Generator[str, None, None]) -> AsyncIterator[str]:
    """Starlette's ``iterate_in_threadpool``, plus: whatever ends the response ends the
    generator at once. Starlette never closes the generator of a ``def`` endpoint: when the
    client disconnects, the request's task is cancelled and the generator is left suspended,
    kept by reference cycles (the cancellation's traceback holds the frames that hold it)
    until the garbage collector runs, and only then does the stream end, ``abandoned``. Here the
    cancellation is thrown into the generator, so its ``with`` block ends the stream as the
    async endpoint's does: ``cancelled``, with the upstream request closed. (The thread reading
    the model is not interrupted: this happens when it returns with the next piece.)"""
    try:
        while True:
            item = await run_in_threadpool(next, iterator, _END)
            if item is _END:
                return
            assert isinstance(item, str)
            yield item
    except BaseException as exc:  # the request's cancellation, or this generator's own close
        try:
            iterator.throw(exc)
        except BaseException as thrown:
            if thrown is not exc:
                raise
        finally:
            iterator.close()
        raise


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
        return StreamingResponse(
            iterate_closing(answer_sync(client, q)),
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
