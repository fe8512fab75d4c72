"""An agent turn cut by a token limit (#19): the run is never reported ``completed``, and tool
calls whose arguments were cut short (``'{"city":'``) are never run, on each API, sync and
async. The turns are built here as each API streams them when its limit is hit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from spanstream import (
    AgentRunError,
    AnthropicClient,
    AsyncAnthropicClient,
    AsyncClient,
    Client,
    IncompleteToolCallsError,
    Response,
)
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

CUT_ARGUMENTS = '{"city":'
CUT_TEXT = "Paris is sunny and"


def _usage() -> dict[str, object]:
    return {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}


def _responses_turn(*, tool: bool) -> Reply:
    """A Responses stream ended by ``response.incomplete`` (``max_output_tokens``)."""
    base = {"id": "resp_1", "model": "gpt-4.1", "status": "in_progress", "usage": None}
    if tool:
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather"}
        body = [
            ("response.output_item.added", {"output_index": 0, "item": {**item, "arguments": ""}}),
            (
                "response.function_call_arguments.delta",
                {"item_id": "fc_1", "output_index": 0, "delta": CUT_ARGUMENTS},
            ),
            (
                "response.output_item.done",
                {
                    "output_index": 0,
                    "item": {**item, "arguments": CUT_ARGUMENTS, "status": "incomplete"},
                },
            ),
        ]
    else:
        body = [("response.output_text.delta", {"item_id": "msg_1", "delta": CUT_TEXT})]
    end = {
        **base,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "usage": _usage(),
    }
    events = [
        ("response.created", {"response": base}),
        *body,
        ("response.incomplete", {"response": end}),
    ]
    return Reply.events([(name, {"type": name, **data}) for name, data in events])


def _chat_turn(*, tool: bool) -> Reply:
    """A Chat Completions stream ended by ``finish_reason: length``."""

    def chunk(delta: dict[str, object], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return json.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": [choice]})

    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": CUT_ARGUMENTS},
    }
    delta: dict[str, object] = {"tool_calls": [call]} if tool else {"content": CUT_TEXT}
    return Reply.events(
        [
            (None, chunk({"role": "assistant", **delta})),
            (None, chunk({}, "length")),
            (None, "[DONE]"),
        ]
    )


def _anthropic_turn(*, tool: bool) -> Reply:
    """An Anthropic Messages stream ended by ``stop_reason: max_tokens``."""
    if tool:
        block = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        delta = {"type": "input_json_delta", "partial_json": CUT_ARGUMENTS}
    else:
        block, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": CUT_TEXT}
    message = {"id": "msg_1", "model": "claude", "role": "assistant", "content": []}
    events = [
        ("message_start", {"message": {**message, "usage": {"input_tokens": 10}}}),
        ("content_block_start", {"index": 0, "content_block": block}),
        ("content_block_delta", {"index": 0, "delta": delta}),
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 4}}),
        ("message_stop", {}),
    ]
    return Reply.events([(name, {"type": name, **data}) for name, data in events])


@dataclass(frozen=True)
class Api:
    name: str
    turn: Callable[..., Reply]
    reason: str
    """The provider's name for the limit (``Response.incomplete_reason``)."""

    def client(self, kind: str, telemetry: GenAITelemetry, server: ReplayServer) -> Any:
        options: dict[str, Any] = {
            "api_key": "sk-test",
            "base_url": server.base_url,
            "tracer_provider": telemetry.tracer_provider,
            "meter_provider": telemetry.meter_provider,
        }
        if self.name == "anthropic":
            return (AnthropicClient if kind == "sync" else AsyncAnthropicClient)(**options)
        return (Client if kind == "sync" else AsyncClient)(**options)

    def agent(self, client: Any, tool: Callable[..., object]) -> Any:
        if self.name == "anthropic":
            return client.agent(model="claude", tools=[tool])
        return client.agent(model="gpt-4.1", tools=[tool], api=self.name)


APIS = [
    Api("responses", _responses_turn, "max_output_tokens"),
    Api("chat", _chat_turn, "length"),
    Api("anthropic", _anthropic_turn, "max_tokens"),
]
KINDS = ["sync", "async"]


def _run(
    api: Api,
    kind: str,
    telemetry: GenAITelemetry,
    server: ReplayServer,
    tool: Callable[..., object],
) -> Response | Exception:
    """Run an agent of ``api`` to its end: the final response, or the error that ended it."""
    client = api.client(kind, telemetry, server)
    if kind == "sync":
        with client:
            try:
                with api.agent(client, tool).stream("Weather in Paris?") as run:
                    return run.final_response()  # type: ignore[no-any-return]
            except AgentRunError as exc:
                return exc

    async def main() -> Response | Exception:
        async with client:
            try:
                async with api.agent(client, tool).stream("Weather in Paris?") as run:
                    return await run.final_response()  # type: ignore[no-any-return]
            except AgentRunError as exc:
                return exc

    return asyncio.run(main())


def _agent_span_attributes(telemetry: GenAITelemetry) -> dict[str, Any]:
    (span,) = [s for s in telemetry.spans if s.name.startswith("invoke_agent")]
    return {**(span.attributes or {}), "status": span.status.status_code}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
def test_tool_calls_of_a_cut_turn_are_not_run(
    api: Api, kind: str, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    calls: list[str] = []

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return "sunny"

    # Before the fix the truncated call ran (its argument error went back to the model) and
    # the run went on to this second turn, then reported ``completed``.
    sse_replay_server.enqueue(api.turn(tool=True), api.turn(tool=False))
    error = _run(api, kind, genai_telemetry, sse_replay_server, get_weather)

    assert isinstance(error, IncompleteToolCallsError), error
    assert calls == []
    assert len(sse_replay_server.requests) == 1
    assert error.reason == api.reason
    assert [(c.name, c.arguments) for c in error.tool_calls] == [("get_weather", CUT_ARGUMENTS)]
    assert [r.status for r in error.responses] == ["incomplete"]
    # The history stops before the cut turn: what was sent, ready to send again.
    sent = sse_replay_server.requests[0].json()
    assert error.history == sent["input" if api.name == "responses" else "messages"]
    attributes = _agent_span_attributes(genai_telemetry)
    assert attributes["spanstream.outcome"] == "error"
    assert attributes["error.type"] == "IncompleteToolCallsError"
    assert attributes["status"] is StatusCode.ERROR
    assert not [s for s in genai_telemetry.spans if s.name.startswith("execute_tool")]
    genai_telemetry.assert_all_spans_ended()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
def test_a_run_whose_last_turn_was_cut_is_incomplete(
    api: Api, kind: str, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    sse_replay_server.enqueue(api.turn(tool=False))
    response = _run(api, kind, genai_telemetry, sse_replay_server, get_weather)

    assert isinstance(response, Response), response
    assert (response.text, response.status) == (CUT_TEXT, "incomplete")
    assert response.incomplete_reason == api.reason
    attributes = _agent_span_attributes(genai_telemetry)
    # Before the fix: "completed".
    assert attributes["spanstream.outcome"] == "incomplete"
    assert attributes["status"] is StatusCode.UNSET
    assert "error.type" not in attributes
    genai_telemetry.assert_all_spans_ended()
