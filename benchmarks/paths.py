"""Every in-process path the benchmark measures, as ``make(stream, chunks) -> Runner``.

A runner consumes one whole stream per call and returns how many events it delivered (checked
against :attr:`Path.expected` on every sample); ``verify`` runs once and checks the result
itself (the accumulated text and usage), so a path cannot get fast by dropping work.

The floor parser, the httpx mock-transport wiring and the openai SDK calls are adapted from
``../shared/bench/paths.py`` (copied, not imported), so that the rows are comparable with
``../shared/bench/baseline/RESULTS.md``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry.metrics import MeterProvider as ApiMeterProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider
from opentelemetry.trace import TracerProvider as ApiTracerProvider

import spanstream
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.sse import SSEDecoder

from .ssegen import EVENT_FRAMING_COUNT, SSEStream

BASE_URL = "http://bench.invalid/v1"
URL = BASE_URL + "/responses"
MODEL = "gpt-5-mini"
PROMPT = "Write a long essay."
REQUEST_JSON = {"model": MODEL, "input": PROMPT, "stream": True}
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "x-request-id": "req_bench"}

# spanstream yields normalized events: of the 10 framing events of a generated stream,
# response.created, the reasoning item's done, the message's done and response.completed
# (usage + done) become 5 events; the other framing events carry nothing new.
SPANSTREAM_FRAMING_EVENTS = 5


def sse_events(stream: SSEStream) -> int:
    return stream.n_events


def spanstream_events(stream: SSEStream) -> int:
    return stream.n_events - EVENT_FRAMING_COUNT + SPANSTREAM_FRAMING_EVENTS


def _nothing() -> None:
    return None


@dataclass
class Runner:
    run: Callable[[], int] | None = None
    arun: Callable[[], Awaitable[int]] | None = None
    verify: Callable[[], object] = _nothing
    close: Callable[[], object] = _nothing


@dataclass(frozen=True)
class Path:
    key: str
    label: str
    make: Callable[[SSEStream, list[bytes]], Runner]
    expected: Callable[[SSEStream], int] = sse_events
    is_async: bool = False
    requires: str | None = None  # an importable module the path needs
    big_chunkings: tuple[str, ...] = ("net", "event", "split")  # chunkings run at N=100,000
    tags: frozenset[str] = field(default_factory=frozenset)

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


# --------------------------------------------------------------------------- the floor


def split_and_load(chunks: Iterable[bytes], loads: Callable[[bytes], object]) -> int:
    """Minimal SSE framing: buffer bytes, cut at b"\\n\\n", ``loads`` the ``data: `` payload."""
    buf = bytearray()
    n = 0
    for chunk in chunks:
        start_search = len(buf) - 1 if buf else 0
        buf += chunk
        pos = buf.find(b"\n\n", start_search)
        if pos < 0:
            continue
        start = 0
        while pos >= 0:
            d = buf.find(b"data: ", start, pos)
            loads(buf[d + 6 : pos])
            n += 1
            start = pos + 2
            pos = buf.find(b"\n\n", start)
        del buf[:start]
    return n


def _floor(stream: SSEStream, chunks: list[bytes]) -> Runner:
    return Runner(run=lambda: split_and_load(iter(chunks), json.loads))


# --------------------------------------------------------------------------- httpx mocks


def sync_http(chunks: list[bytes]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=iter(chunks))

    return httpx.Client(transport=httpx.MockTransport(handler))


def async_http(chunks: list[bytes]) -> httpx.AsyncClient:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=body())

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _httpx_floor(stream: SSEStream, chunks: list[bytes]) -> Runner:
    http = sync_http(chunks)

    def run() -> int:
        with http.stream("POST", URL, json=REQUEST_JSON) as response:
            return split_and_load(response.iter_bytes(), json.loads)

    return Runner(run=run, close=http.close)


def _httpx_sse(stream: SSEStream, chunks: list[bytes]) -> Runner:
    from httpx_sse import connect_sse

    http = sync_http(chunks)
    loads = json.loads

    def run() -> int:
        n = 0
        with connect_sse(http, "POST", URL, json=REQUEST_JSON) as source:
            for sse in source.iter_sse():
                loads(sse.data)
                n += 1
        return n

    return Runner(run=run, close=http.close)


# --------------------------------------------------------------------------- openai SDK


def _openai_create(stream: SSEStream, chunks: list[bytes]) -> Runner:
    from openai import OpenAI

    client = OpenAI(api_key="sk-bench", base_url=BASE_URL, http_client=sync_http(chunks))

    def run() -> int:
        n = 0
        for _event in client.responses.create(model=MODEL, input=PROMPT, stream=True):
            n += 1
        return n

    return Runner(run=run, close=client.close)


def _openai_stream(stream: SSEStream, chunks: list[bytes]) -> Runner:
    from openai import OpenAI

    client = OpenAI(api_key="sk-bench", base_url=BASE_URL, http_client=sync_http(chunks))

    def run() -> int:
        n = 0
        with client.responses.stream(model=MODEL, input=PROMPT) as events:
            for _event in events:
                n += 1
            events.get_final_response()
        return n

    def verify() -> None:
        with client.responses.stream(model=MODEL, input=PROMPT) as events:
            final = events.get_final_response()
        assert final.output_text == stream.text, "openai stream(): accumulated text differs"

    return Runner(run=run, verify=verify, close=client.close)


# --------------------------------------------------------------------------- spanstream


class Telemetry:
    """Telemetry on: SDK tracer and meter providers exporting to memory. Off: no-op providers.
    ``traces`` / ``metrics`` switch one of the two back to no-op (the breakdown rows)."""

    def __init__(self, on: bool, *, traces: bool = True, metrics: bool = True) -> None:
        self.tracing = on and traces  # spans go to self.exporter
        self.tracer_provider: ApiTracerProvider = NoOpTracerProvider()
        self.meter_provider: ApiMeterProvider = NoOpMeterProvider()
        if self.tracing:
            self.exporter = InMemorySpanExporter()
            tracer_provider = TracerProvider()
            tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.tracer_provider = tracer_provider
        if on and metrics:
            self.reader = InMemoryMetricReader()
            self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def clear(self) -> None:
        if self.tracing:
            self.exporter.clear()

    def check_one_span(self) -> None:
        if self.tracing:
            spans = self.exporter.get_finished_spans()
            assert len(spans) == 1, f"expected one span per stream, got {len(spans)}"
            self.exporter.clear()


def check_response(stream: SSEStream, response: spanstream.Response) -> None:
    assert response.status == "completed", response.status
    assert response.text == stream.text, "spanstream: accumulated text differs"
    assert response.usage is not None
    details = stream.usage["input_tokens_details"]
    assert response.usage.cache_read_input_tokens == details["cached_tokens"]
    assert response.usage.output_tokens == stream.usage["output_tokens"]


def _client_options(telemetry: Telemetry) -> dict[str, Any]:
    """What the benchmark's sync and async clients share: no retries, telemetry's providers."""
    return {
        "api_key": "sk-bench",
        "base_url": BASE_URL,
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
        "max_retries": 0,
    }


def sync_client(
    chunks: list[bytes], telemetry: Telemetry, *, time_per_output_chunk: bool = True
) -> spanstream.Client:
    """spanstream's sync Client on the mock transport serving ``chunks``, telemetry to
    ``telemetry``'s providers."""
    return spanstream.Client(
        http_client=sync_http(chunks),
        time_per_output_chunk=time_per_output_chunk,
        **_client_options(telemetry),
    )


# The metric families the brief names (operation duration, token usage, time to first token:
# the conventions' time to first chunk), without the others spanstream records.
BRIEF_MEASURES = frozenset({"duration", "input_tokens", "output_tokens", "time_to_first_chunk"})


def _spanstream_sync(
    on: bool,
    *,
    traces: bool = True,
    metrics: bool = True,
    only: frozenset[str] | None = None,
    per_chunk: bool = True,
) -> Callable[[SSEStream, list[bytes]], Runner]:
    def make(stream: SSEStream, chunks: list[bytes]) -> Runner:
        telemetry = Telemetry(on, traces=traces, metrics=metrics)
        client = sync_client(chunks, telemetry, time_per_output_chunk=per_chunk)
        if only is not None:
            # A diagnostic, not an option spanstream offers: its other instruments removed.
            recorder = client._config.instrumentation.metrics
            recorder._instruments = {
                measure: entry
                for measure, entry in recorder._instruments.items()
                if measure in only
            }

        def run() -> int:
            n = 0
            with client.responses.stream(model=MODEL, input=PROMPT) as events:
                for _event in events:
                    n += 1
                events.final_response()
            telemetry.clear()
            return n

        def verify() -> None:
            telemetry.clear()
            with client.responses.stream(model=MODEL, input=PROMPT) as events:
                check_response(stream, events.final_response())
            telemetry.check_one_span()

        return Runner(run=run, verify=verify, close=client.close)

    return make


def _spanstream_async(on: bool) -> Callable[[SSEStream, list[bytes]], Runner]:
    def make(stream: SSEStream, chunks: list[bytes]) -> Runner:
        telemetry = Telemetry(on)
        client = spanstream.AsyncClient(
            http_client=async_http(chunks), **_client_options(telemetry)
        )

        async def arun() -> int:
            n = 0
            async with client.responses.stream(model=MODEL, input=PROMPT) as events:
                async for _event in events:
                    n += 1
                await events.final_response()
            telemetry.clear()
            return n

        async def averify() -> None:
            telemetry.clear()
            async with client.responses.stream(model=MODEL, input=PROMPT) as events:
                check_response(stream, await events.final_response())
            telemetry.check_one_span()

        return Runner(arun=arun, verify=averify, close=client.aclose)

    return make


def parse_direct(chunks: Iterable[bytes]) -> tuple[int, ResponsesParser]:
    """spanstream's sans-IO core alone: SSE decoder + Responses parser + accumulation, wired
    as the streams wire them (undecoded data bytes from ``feed_raw`` to the parser)."""
    decoder = SSEDecoder()
    parser = ResponsesParser()
    feed = parser.feed_raw
    n = 0
    for chunk in chunks:
        for event, data, _, _ in decoder.feed_raw(chunk):
            n += len(feed(event, data))
    decoder.close()
    return n + len(parser.close()), parser


def _spanstream_core(stream: SSEStream, chunks: list[bytes]) -> Runner:
    def verify() -> None:
        check_response(stream, parse_direct(iter(chunks))[1].response)

    return Runner(run=lambda: parse_direct(iter(chunks))[0], verify=verify)


# --------------------------------------------------------------------------- registry

FLOOR = "a_floor"
SPANSTREAM_SYNC_ON = "s_sync_on"
SPANSTREAM_SYNC_OFF = "s_sync_off"
SPANSTREAM_ASYNC_ON = "s_async_on"
SPANSTREAM_ASYNC_OFF = "s_async_off"
OPENAI_CREATE = "d_openai_create"
OPENAI_STREAM = "d2_openai_stream"

PATHS: tuple[Path, ...] = (
    Path(FLOOR, "(a) floor: split + json.loads", _floor),
    Path("e0_httpx_floor", "(e0) httpx MockTransport iter_bytes + floor", _httpx_floor),
    Path(
        "e_httpx_sse",
        "(e) httpx + httpx-sse + json.loads",
        _httpx_sse,
        requires="httpx_sse",
    ),
    # One 100k stream takes ~6 s (create) and ~16 s (stream()): at N=100,000 they run on the
    # `net` chunking only, to keep `make bench` under 20 minutes.
    Path(
        OPENAI_CREATE,
        "(d) openai responses.create(stream=True)",
        _openai_create,
        requires="openai",
        big_chunkings=("net",),
    ),
    Path(
        OPENAI_STREAM,
        "(d2) openai responses.stream() + get_final_response()",
        _openai_stream,
        requires="openai",
        big_chunkings=("net",),
    ),
    Path(
        "s_core",
        "spanstream SSEDecoder + ResponsesParser (no HTTP)",
        _spanstream_core,
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_SYNC_ON,
        "**spanstream Client, telemetry on**",
        _spanstream_sync(True),
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_SYNC_OFF,
        "spanstream Client, telemetry off",
        _spanstream_sync(False),
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_ASYNC_ON,
        "**spanstream AsyncClient, telemetry on**",
        _spanstream_async(True),
        expected=spanstream_events,
        is_async=True,
    ),
    Path(
        SPANSTREAM_ASYNC_OFF,
        "spanstream AsyncClient, telemetry off",
        _spanstream_async(False),
        expected=spanstream_events,
        is_async=True,
    ),
)

SPANSTREAM_SYNC_TRACES = "s_sync_traces"
SPANSTREAM_SYNC_METRICS = "s_sync_metrics"
SPANSTREAM_SYNC_BRIEF = "s_sync_brief"
SPANSTREAM_SYNC_NO_CHUNK = "s_sync_no_chunk"

# Where telemetry's cost goes: each half alone, paired against telemetry off (not in the tables
# of every path and chunking).
BREAKDOWN_PATHS: tuple[Path, ...] = (
    Path(
        SPANSTREAM_SYNC_TRACES,
        "spanstream Client, traces only (no-op meter provider)",
        _spanstream_sync(True, metrics=False),
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_SYNC_METRICS,
        "spanstream Client, metrics only (no-op tracer provider)",
        _spanstream_sync(True, traces=False),
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_SYNC_BRIEF,
        "spanstream Client, span + only the brief's metrics (duration, 2 token counts, TTFC)",
        _spanstream_sync(True, only=BRIEF_MEASURES),
        expected=spanstream_events,
    ),
    Path(
        SPANSTREAM_SYNC_NO_CHUNK,
        "spanstream Client, telemetry on with time_per_output_chunk=False",
        _spanstream_sync(True, per_chunk=False),
        expected=spanstream_events,
    ),
)

BY_KEY = {path.key: path for path in PATHS + BREAKDOWN_PATHS}
