"""A response that ends complete but without a finish reason records none (issue #22).

A Chat Completions stream ended by ``[DONE]`` whose server never sent a ``finish_reason`` (a real
Snowflake recording), and an Anthropic stream whose ``message_stop`` came with no stop reason
before it, are ``completed``: the server said the response is whole. What made it stop is
unknown, and nothing is invented: ``finish_reason`` is ``None``, ``finish_reasons`` is empty and
the span has no ``gen_ai.response.finish_reasons`` (it used to say ``["error"]`` next to outcome
``completed``). A stream that does not finish still reports ``["error"]``, as the conventions ask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spanstream import (
    AnthropicClient,
    APIConnectionError,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    RetryPolicy,
)
from spanstream.events import Response
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..recorded import ANTHROPIC_MESSAGES, OPENAI_CHAT, rewrite_payloads

MESSAGES = [{"role": "user", "content": "hi"}]
SNOWFLAKE = OPENAI_CHAT / "pydantic-ai__test_snowflake_model_streaming.sse"  # no finish_reason
ANTHROPIC = ANTHROPIC_MESSAGES / "claude-haiku-4-5-text.sse"


def _without_stop_reason(path: Path) -> bytes:
    """A real Anthropic stream whose message_delta lost its stop reason (``null``, as in
    message_start)."""

    def edit(payload: dict[str, Any]) -> bool:
        if payload.get("type") != "message_delta":
            return False
        payload["delta"]["stop_reason"] = None
        return True

    return rewrite_payloads(path.read_bytes(), edit)


def _options(server: ReplayServer, telemetry: GenAITelemetry) -> dict[str, Any]:
    return {
        "api_key": "sk-test",
        "base_url": server.base_url,
        "tracer_provider": telemetry.tracer_provider,
        "retry": RetryPolicy(max_retries=0),
    }


def _open(client: Any) -> Any:
    if isinstance(client, (AnthropicClient, AsyncAnthropicClient)):
        return client.messages.stream(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=64)
    return client.chat.completions.stream(model="claude-sonnet-4-6", messages=MESSAGES)


def _check(response: Response, telemetry: GenAITelemetry) -> None:
    assert response.text
    assert (response.status, response.finish_reason, response.finish_reasons) == (
        "completed",
        None,
        (),
    )
    span = telemetry.inference_span()
    assert_inference_span(span, outcome="completed", status="unset", finish_reasons=None)


CASES = [
    pytest.param(Client, AsyncClient, lambda: Reply.from_file(SNOWFLAKE), id="chat-done"),
    pytest.param(
        AnthropicClient,
        AsyncAnthropicClient,
        lambda: Reply.sse(_without_stop_reason(ANTHROPIC)),
        id="anthropic-message-stop",
    ),
]


@pytest.mark.parametrize(("sync_client", "async_client", "reply"), CASES)
def test_sync_complete_stream_without_a_finish_reason_records_none(
    sync_client: Any,
    async_client: Any,
    reply: Any,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    sse_replay_server.enqueue(reply())
    with sync_client(**_options(sse_replay_server, genai_telemetry)) as client, _open(client) as s:
        response = s.final_response()
    _check(response, genai_telemetry)


@pytest.mark.parametrize(("sync_client", "async_client", "reply"), CASES)
async def test_async_complete_stream_without_a_finish_reason_records_none(
    sync_client: Any,
    async_client: Any,
    reply: Any,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    sse_replay_server.enqueue(reply())
    async with (
        async_client(**_options(sse_replay_server, genai_telemetry)) as client,
        _open(client) as stream,
    ):
        response = await stream.final_response()
    _check(response, genai_telemetry)


def test_a_stream_cut_before_its_end_still_reports_error(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    # The same recording without [DONE]: the response never finished.
    raw = SNOWFLAKE.read_bytes()
    sse_replay_server.enqueue(Reply.sse(raw[: raw.rindex(b"data: [DONE]")], cut_after_events=2))
    with (
        Client(**_options(sse_replay_server, genai_telemetry)) as client,
        pytest.raises(APIConnectionError),
        _open(client) as stream,
    ):
        stream.final_response()
    assert_inference_span(
        genai_telemetry.inference_span(), outcome="error", finish_reasons=["error"]
    )
