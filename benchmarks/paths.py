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
from collections import deque
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
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.sse import SSEDecoder

from . import apigen
from .ssegen import EVENT_FRAMING_COUNT, SSEStream, make_stream

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
            try:
                loads(buf[d + 6 : pos])
            except ValueError:
                # Chat Completions ends with this sentinel; a try block costs nothing unless
                # it catches, so the other APIs' floor is unchanged.
                if buf[d + 6 : pos] != b"[DONE]":
                    raise
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


_HTTPX_FLOOR_LABEL = "(e0) httpx MockTransport iter_bytes + floor"


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
    """The Responses stream's answer, as spanstream accumulated it."""
    details = stream.usage["input_tokens_details"]
    _check(response, stream.text, details["cached_tokens"], stream.usage["output_tokens"])


def _check(response: spanstream.Response, text: str, cached: int, output_tokens: int) -> None:
    assert response.status == "completed", response.status
    assert response.text == text, "spanstream: accumulated text differs"
    assert response.usage is not None
    assert response.usage.cache_read_input_tokens == cached
    assert response.usage.output_tokens == output_tokens


def _check_generated(stream: SSEStream, response: spanstream.Response) -> None:
    """A Chat Completions or Anthropic stream of :mod:`benchmarks.apigen`."""
    _check(response, stream.text, apigen.CACHED_TOKENS, stream.n_tokens)


@dataclass(frozen=True)
class Call:
    """How the benchmark opens one API's stream on spanstream and checks what it accumulated."""

    client: type[spanstream.Client] | type[spanstream.AnthropicClient]
    async_client: type[spanstream.AsyncClient] | type[spanstream.AsyncAnthropicClient]
    open: Callable[[Any], Any]  # a client (sync or async) -> its stream's context manager
    check: Callable[[SSEStream, spanstream.Response], None]
    parser: Callable[[], Any]  # the API's sans-IO parser, for the core row


MESSAGES = [{"role": "user", "content": PROMPT}]
RESPONSES_CALL = Call(
    spanstream.Client,
    spanstream.AsyncClient,
    lambda client: client.responses.stream(model=MODEL, input=PROMPT),
    check_response,
    ResponsesParser,
)
CHAT_CALL = Call(
    spanstream.Client,
    spanstream.AsyncClient,
    lambda client: client.chat.completions.stream(model=MODEL, messages=MESSAGES),
    _check_generated,
    ChatCompletionsParser,
)
ANTHROPIC_CALL = Call(
    spanstream.AnthropicClient,
    spanstream.AsyncAnthropicClient,
    lambda client: client.messages.stream(model=MODEL, max_tokens=4096, messages=MESSAGES),
    _check_generated,
    MessagesParser,
)


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
    chunks: list[bytes],
    telemetry: Telemetry,
    *,
    time_per_output_chunk: bool = True,
    call: Call = RESPONSES_CALL,
) -> Any:
    """spanstream's sync client of ``call``'s API on the mock transport serving ``chunks``,
    telemetry to ``telemetry``'s providers."""
    return call.client(
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
    call: Call = RESPONSES_CALL,
) -> Callable[[SSEStream, list[bytes]], Runner]:
    def make(stream: SSEStream, chunks: list[bytes]) -> Runner:
        telemetry = Telemetry(on, traces=traces, metrics=metrics)
        client = sync_client(chunks, telemetry, time_per_output_chunk=per_chunk, call=call)
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
            with call.open(client) as events:
                for _event in events:
                    n += 1
                events.final_response()
            telemetry.clear()
            return n

        def verify() -> None:
            telemetry.clear()
            with call.open(client) as events:
                call.check(stream, events.final_response())
            telemetry.check_one_span()

        return Runner(run=run, verify=verify, close=client.close)

    return make


def _spanstream_async(
    on: bool, *, call: Call = RESPONSES_CALL
) -> Callable[[SSEStream, list[bytes]], Runner]:
    def make(stream: SSEStream, chunks: list[bytes]) -> Runner:
        telemetry = Telemetry(on)
        client = call.async_client(http_client=async_http(chunks), **_client_options(telemetry))

        async def arun() -> int:
            n = 0
            async with call.open(client) as events:
                async for _event in events:
                    n += 1
                await events.final_response()
            telemetry.clear()
            return n

        async def averify() -> None:
            telemetry.clear()
            async with call.open(client) as events:
                call.check(stream, await events.final_response())
            telemetry.check_one_span()

        return Runner(arun=arun, verify=averify, close=client.aclose)

    return make


def parse_direct(chunks: Iterable[bytes], parser: Any = None) -> tuple[int, Any]:
    """spanstream's sans-IO core alone: SSE decoder + the API's parser (Responses by default) +
    accumulation, wired as the streams wire them (undecoded data bytes from ``feed_raw`` to the
    parser)."""
    decoder = SSEDecoder()
    if parser is None:
        parser = ResponsesParser()
    feed = parser.feed_events
    out: deque[object] = deque()
    n = 0
    for chunk in chunks:
        feed(decoder.feed_raw(chunk), out)
        n += len(out)
        out.clear()
    decoder.close()
    return n + len(parser.close()), parser


def _spanstream_core(call: Call) -> Callable[[SSEStream, list[bytes]], Runner]:
    def make(stream: SSEStream, chunks: list[bytes]) -> Runner:
        def verify() -> None:
            call.check(stream, parse_direct(iter(chunks), call.parser())[1].response)

        return Runner(run=lambda: parse_direct(iter(chunks), call.parser())[0], verify=verify)

    return make


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
    Path("e0_httpx_floor", _HTTPX_FLOOR_LABEL, _httpx_floor),
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
        _spanstream_core(RESPONSES_CALL),
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


# --------------------------------------------------------------------------- the other APIs


def _openai_chat_create(stream: SSEStream, chunks: list[bytes]) -> Runner:
    from openai import OpenAI

    client = OpenAI(api_key="sk-bench", base_url=BASE_URL, http_client=sync_http(chunks))

    def run() -> int:
        n = 0
        for _chunk in client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            n += 1
        return n

    return Runner(run=run, close=client.close)


def _anthropic(stream: SSEStream, chunks: list[bytes]) -> Any:
    """The anthropic SDK's client on a mock transport serving ``chunks`` (it runs on httpx2, a
    fork of httpx, and refuses an ``httpx.Client``)."""
    import anthropic
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=SSE_HEADERS, content=iter(chunks))

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return anthropic.Anthropic(api_key="sk-bench", base_url=BASE_URL, http_client=http)


def _anthropic_create(stream: SSEStream, chunks: list[bytes]) -> Runner:
    client = _anthropic(stream, chunks)

    def run() -> int:
        n = 0
        for _event in client.messages.create(
            model=MODEL, max_tokens=4096, messages=MESSAGES, stream=True
        ):
            n += 1
        return n

    return Runner(run=run, close=client.close)


def _anthropic_stream(stream: SSEStream, chunks: list[bytes]) -> Runner:
    client = _anthropic(stream, chunks)

    def run() -> int:
        n = 0
        with client.messages.stream(model=MODEL, max_tokens=4096, messages=MESSAGES) as events:
            for _event in events:
                n += 1
            events.get_final_message()
        return n

    def verify() -> None:
        with client.messages.stream(model=MODEL, max_tokens=4096, messages=MESSAGES) as events:
            final = events.get_final_message()
        assert final.content[0].text == stream.text, "anthropic stream(): accumulated text differs"

    return Runner(run=run, verify=verify, close=client.close)


def _chat_events(stream: SSEStream) -> int:
    """What spanstream delivers for a Chat Completions stream: the deltas, ResponseStarted,
    MessageDone, UsageReported and ResponseDone."""
    return stream.n_tokens + 4


def _anthropic_events(stream: SSEStream) -> int:
    """The deltas, ResponseStarted, a UsageReported at the start and at the end, MessageDone and
    ResponseDone."""
    return stream.n_tokens + 5


def _but_last(stream: SSEStream) -> int:
    """Every event but one: the openai SDK does not yield [DONE], the anthropic one no ping."""
    return stream.n_events - 1


def _spanstream_paths(
    prefix: str, call: Call, expected: Callable[[SSEStream], int], names: tuple[str, str, str]
) -> tuple[Path, ...]:
    """Floor, httpx + floor, core and the four client rows of one API (keys
    ``<prefix>a_floor``...)."""
    parser, sync, async_ = names
    return (
        Path(f"{prefix}{FLOOR}", "(a) floor: split + json.loads", _floor),
        Path(f"{prefix}e0_httpx_floor", _HTTPX_FLOOR_LABEL, _httpx_floor),
        Path(
            f"{prefix}s_core",
            f"spanstream SSEDecoder + {parser} (no HTTP)",
            _spanstream_core(call),
            expected=expected,
        ),
        Path(
            f"{prefix}{SPANSTREAM_SYNC_ON}",
            f"**spanstream {sync}, telemetry on**",
            _spanstream_sync(True, call=call),
            expected=expected,
        ),
        Path(
            f"{prefix}{SPANSTREAM_SYNC_OFF}",
            f"spanstream {sync}, telemetry off",
            _spanstream_sync(False, call=call),
            expected=expected,
        ),
        Path(
            f"{prefix}{SPANSTREAM_ASYNC_ON}",
            f"**spanstream {async_}, telemetry on**",
            _spanstream_async(True, call=call),
            expected=expected,
            is_async=True,
        ),
        Path(
            f"{prefix}{SPANSTREAM_ASYNC_OFF}",
            f"spanstream {async_}, telemetry off",
            _spanstream_async(False, call=call),
            expected=expected,
            is_async=True,
        ),
    )


CHAT_PATHS: tuple[Path, ...] = (
    *_spanstream_paths(
        "chat_",
        CHAT_CALL,
        _chat_events,
        ("ChatCompletionsParser", "Client", "AsyncClient"),
    ),
    Path(
        "chat_" + OPENAI_CREATE,
        "(d) openai chat.completions.create(stream=True)",
        _openai_chat_create,
        expected=_but_last,
        requires="openai",
        big_chunkings=("net",),
    ),
)
ANTHROPIC_PATHS: tuple[Path, ...] = (
    *_spanstream_paths(
        "anthropic_",
        ANTHROPIC_CALL,
        _anthropic_events,
        ("MessagesParser", "AnthropicClient", "AsyncAnthropicClient"),
    ),
    Path(
        "anthropic_d_create",
        "(d) anthropic messages.create(stream=True)",
        _anthropic_create,
        expected=_but_last,
        requires="anthropic",
        big_chunkings=("net",),
    ),
    Path(
        "anthropic_d2_stream",
        "(d2) anthropic messages.stream() + get_final_message()",
        _anthropic_stream,
        expected=lambda stream: 2 * stream.n_tokens + apigen.ANTHROPIC_FRAMING_COUNT - 1,
        requires="anthropic",
        big_chunkings=("net",),
    ),
)


@dataclass(frozen=True)
class Api:
    """One API's generated stream and the paths measured on it."""

    key: str
    title: str
    make_stream: Callable[[int], SSEStream]
    paths: tuple[Path, ...]
    prefix: str = ""  # of its paths' keys

    def key_of(self, key: str) -> str:
        """This API's path for the Responses path key ``key`` (FLOOR, SPANSTREAM_SYNC_ON...)."""
        return self.prefix + key


APIS: tuple[Api, ...] = (
    Api("responses", "OpenAI Responses", make_stream, PATHS),
    Api("chat", "OpenAI Chat Completions", apigen.make_chat_stream, CHAT_PATHS, "chat_"),
    Api(
        "anthropic",
        "Anthropic Messages",
        apigen.make_anthropic_stream,
        ANTHROPIC_PATHS,
        "anthropic_",
    ),
)
BY_API = {api.key: api for api in APIS}

BY_KEY = {path.key: path for path in PATHS + BREAKDOWN_PATHS + CHAT_PATHS + ANTHROPIC_PATHS}
