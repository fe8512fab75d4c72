"""The agent loop on the loopback replay server: turns, tools, spans, failures."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from spanstream import AnthropicClient, AsyncClient, Client, MaxTurnsExceededError, TextDelta
from spanstream.events import ToolResult, TurnStarted
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

FIXTURES = Path(__file__).parent.parent / "fixtures"

RESP = "resp_agent"


def _response(status: str = "completed", usage: tuple[int, int] = (10, 5)) -> dict[str, object]:
    return {
        "id": RESP,
        "model": "gpt-4.1-2025-04-14",
        "status": status,
        "usage": {
            "input_tokens": usage[0],
            "output_tokens": usage[1],
            "total_tokens": sum(usage),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def tool_turn(*calls: tuple[str, str, str], reasoning: str | None = None) -> Reply:
    """A Responses stream whose model asks for the given (call_id, name, arguments) calls."""
    events: list[tuple[str, dict[str, object]]] = [
        ("response.created", {"type": "response.created", "response": _response("in_progress")})
    ]
    index = 0
    if reasoning is not None:
        item = {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "thinking"}],
            "encrypted_content": reasoning,
        }
        events.append(
            (
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": index, "item": item},
            )
        )
        index += 1
    for call_id, name, arguments in calls:
        item = {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        events.append(
            (
                "response.output_item.added",
                {"type": "response.output_item.added", "output_index": index, "item": item},
            )
        )
        events.append(
            (
                "response.function_call_arguments.delta",
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": f"fc_{call_id}",
                    "delta": arguments,
                },
            )
        )
        events.append(
            (
                "response.output_item.done",
                {
                    "type": "response.output_item.done",
                    "output_index": index,
                    "item": {**item, "arguments": arguments},
                },
            )
        )
        index += 1
    events.append(("response.completed", {"type": "response.completed", "response": _response()}))
    return Reply.events(events)


def text_turn(text: str) -> Reply:
    return Reply.events(
        [
            (
                "response.created",
                {"type": "response.created", "response": _response("in_progress")},
            ),
            (
                "response.output_text.delta",
                {"type": "response.output_text.delta", "item_id": "msg_1", "delta": text},
            ),
            ("response.completed", {"type": "response.completed", "response": _response()}),
        ]
    )


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name.
    """
    return f"{city}: sunny, 21C"


def spans_named(telemetry: GenAITelemetry, prefix: str) -> list[ReadableSpan]:
    return [s for s in telemetry.spans if s.name.startswith(prefix)]


def attrs(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


@pytest.fixture
def client(sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry) -> Iterator[Client]:
    return genai_telemetry.client(sse_replay_server)


def test_two_turn_tool_call_streams_every_turn_and_feeds_the_result_back(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    sse_replay_server.enqueue(
        tool_turn(("call_1", "get_weather", '{"city": "Paris"}')), text_turn("Sunny in Paris.")
    )
    agent = client.agent(model="gpt-4.1", tools=[get_weather], instructions="Be brief.", name="wx")
    with agent.stream("Weather in Paris?") as run:
        events = list(run)
    assert [e.turn for e in events if isinstance(e, TurnStarted)] == [1, 2]
    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert (result.output, result.error) == ("Paris: sunny, 21C", None)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Sunny in Paris."
    assert run.final_response().text == "Sunny in Paris."
    assert run.usage.input_tokens == 20

    first, second = (r.json() for r in sse_replay_server.requests)
    assert first["tools"][0]["name"] == "get_weather"
    assert first["instructions"] == "Be brief."
    assert second["input"][-2:] == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Paris: sunny, 21C"},
    ]

    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    assert agent_span.name == "invoke_agent wx"
    assert agent_span.kind is SpanKind.INTERNAL
    a = attrs(agent_span)
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.agent.name"] == "wx"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (20, 10)
    assert (a["spanstream.outcome"], a["spanstream.agent.turns"]) == ("completed", 2)
    chats = genai_telemetry.inference_spans
    assert len(chats) == 2
    assert all(c.parent and c.parent.span_id == agent_span.context.span_id for c in chats)
    (tool_span,) = spans_named(genai_telemetry, "execute_tool")
    assert tool_span.name == "execute_tool get_weather"
    assert tool_span.parent
    assert tool_span.parent.span_id == agent_span.context.span_id
    t = attrs(tool_span)
    assert t["gen_ai.tool.name"] == "get_weather"
    assert t["gen_ai.tool.call.id"] == "call_1"
    assert t["gen_ai.tool.type"] == "function"
    assert "gen_ai.tool.call.arguments" not in t, "arguments only under content capture"
    genai_telemetry.assert_all_spans_ended()


def test_parallel_calls_run_concurrently(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    barrier = threading.Barrier(2, timeout=10)

    def meet(city: str) -> str:
        barrier.wait()  # both calls must be running at once to pass
        return city

    sse_replay_server.enqueue(
        tool_turn(("c1", "meet", '{"city": "A"}'), ("c2", "meet", '{"city": "B"}')),
        text_turn("done"),
    )
    run = client.agent(model="gpt-4.1", tools=[meet]).stream("go")
    results = [e for e in run if isinstance(e, ToolResult)]
    assert [(r.tool_call.call_id, r.output) for r in results] == [("c1", "A"), ("c2", "B")]
    assert len(spans_named(genai_telemetry, "execute_tool")) == 2


def test_a_failing_tool_sends_the_error_back_and_the_loop_goes_on(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    def broken(city: str) -> str:
        raise RuntimeError("weather service down")

    sse_replay_server.enqueue(tool_turn(("c1", "broken", '{"city": "X"}')), text_turn("Sorry."))
    run = client.agent(model="gpt-4.1", tools=[broken]).stream("go")
    (result,) = [e for e in run if isinstance(e, ToolResult)]
    assert result.error == "RuntimeError"
    assert result.output == "Error: RuntimeError: weather service down"
    assert run.final_response().text == "Sorry."
    second = sse_replay_server.requests[1].json()
    assert second["input"][-1]["output"] == "Error: RuntimeError: weather service down"
    (tool_span,) = spans_named(genai_telemetry, "execute_tool")
    assert attrs(tool_span)["error.type"] == "RuntimeError"
    assert tool_span.status.status_code is StatusCode.ERROR
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    assert attrs(agent_span)["spanstream.outcome"] == "completed"


def test_invalid_arguments_are_reported_without_calling_the_tool(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    calls: list[str] = []

    def record(city: str) -> str:
        calls.append(city)
        return city

    sse_replay_server.enqueue(tool_turn(("c1", "record", '{"town": "X"}')), text_turn("ok"))
    run = client.agent(model="gpt-4.1", tools=[record]).stream("go")
    (result,) = [e for e in run if isinstance(e, ToolResult)]
    assert calls == []
    assert result.error == "ToolArgumentsError"
    assert "city: Field required" in result.output
    (tool_span,) = spans_named(genai_telemetry, "execute_tool")
    assert attrs(tool_span)["error.type"] == "ToolArgumentsError"


def test_unknown_tool_is_an_error_result(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    sse_replay_server.enqueue(tool_turn(("c1", "nope", "{}")), text_turn("ok"))
    run = client.agent(model="gpt-4.1", tools=[get_weather]).stream("go")
    (result,) = [e for e in run if isinstance(e, ToolResult)]
    assert result.error == "UnknownToolError"
    assert "no tool named 'nope'" in result.output


def test_max_turns_exceeded_carries_the_history(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    sse_replay_server.enqueue(
        tool_turn(("c1", "get_weather", '{"city": "A"}')),
        tool_turn(("c2", "get_weather", '{"city": "B"}')),
    )
    run = client.agent(model="gpt-4.1", tools=[get_weather]).stream("loop", max_turns=2)
    with pytest.raises(MaxTurnsExceededError) as raised:
        list(run)
    error = raised.value
    assert error.max_turns == 2
    assert len(error.responses) == 2
    assert [i.get("call_id") for i in error.history if i.get("type") == "function_call_output"] == [
        "c1",
        "c2",
    ]
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    a = attrs(agent_span)
    assert (a["spanstream.outcome"], a["error.type"]) == ("error", "MaxTurnsExceededError")
    genai_telemetry.assert_all_spans_ended()


def test_reasoning_items_are_carried_to_the_next_turn(
    sse_replay_server: ReplayServer, client: Client
) -> None:
    sse_replay_server.enqueue(
        tool_turn(("c1", "get_weather", '{"city": "A"}'), reasoning="gAAAA-opaque"),
        text_turn("ok"),
    )
    client.agent(model="o4-mini", tools=[get_weather]).stream("go").final_response()
    second = sse_replay_server.requests[1].json()
    (reasoning,) = [i for i in second["input"] if i.get("type") == "reasoning"]
    assert reasoning["encrypted_content"] == "gAAAA-opaque"
    assert reasoning["id"] == "rs_1"


def test_closing_a_run_early_ends_every_span(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    sse_replay_server.enqueue(tool_turn(("c1", "get_weather", '{"city": "A"}')), text_turn("ok"))
    with client.agent(model="gpt-4.1", tools=[get_weather]).stream("go") as run:
        for event in run:
            if isinstance(event, ToolResult):
                break
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    assert attrs(agent_span)["spanstream.outcome"] == "abandoned"
    genai_telemetry.assert_all_spans_ended()


def test_content_capture_records_tool_arguments_and_results(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    client = genai_telemetry.client(sse_replay_server, capture_content="span_only")
    sse_replay_server.enqueue(tool_turn(("c1", "get_weather", '{"city": "A"}')), text_turn("ok"))
    client.agent(model="gpt-4.1", tools=[get_weather]).stream("go").final_response()
    (tool_span,) = spans_named(genai_telemetry, "execute_tool")
    t = attrs(tool_span)
    assert t["gen_ai.tool.call.arguments"] == '{"city": "A"}'
    assert t["gen_ai.tool.call.result"] == "A: sunny, 21C"


async def test_async_agent_runs_tools_concurrently_and_sums_usage(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    both = asyncio.Event()
    started: list[str] = []

    async def meet(city: str) -> str:
        started.append(city)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)
        return city

    sse_replay_server.enqueue(
        tool_turn(("c1", "meet", '{"city": "A"}'), ("c2", "meet", '{"city": "B"}')),
        text_turn("done"),
    )
    client = genai_telemetry.async_client(sse_replay_server)
    async with client.agent(model="gpt-4.1", tools=[meet]).stream("go") as run:
        results = [e async for e in run if isinstance(e, ToolResult)]
    assert [r.output for r in results] == ["A", "B"]
    assert run.usage.output_tokens == 10
    genai_telemetry.assert_all_spans_ended()
    await client.aclose()


async def test_cancellation_in_the_middle_of_a_tool_call_ends_every_span(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    in_tool = asyncio.Event()

    async def slow(city: str) -> str:
        in_tool.set()
        await asyncio.Event().wait()  # until cancelled
        return city

    sse_replay_server.enqueue(tool_turn(("c1", "slow", '{"city": "A"}')))
    client = genai_telemetry.async_client(sse_replay_server)

    async def consume() -> None:
        async with client.agent(model="gpt-4.1", tools=[slow]).stream("go") as run:
            async for _ in run:
                pass

    task = asyncio.create_task(consume())
    await in_tool.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    (tool_span,) = spans_named(genai_telemetry, "execute_tool")
    assert attrs(agent_span)["spanstream.outcome"] == "cancelled"
    assert attrs(tool_span)["spanstream.outcome"] == "cancelled"
    assert attrs(genai_telemetry.inference_span())["spanstream.outcome"] == "completed"
    genai_telemetry.assert_all_spans_ended()
    await client.aclose()


def test_chat_api_feeds_tool_messages_back(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry, client: Client
) -> None:
    def chunk(delta: dict[str, object], finish: str | None = None) -> str:
        return json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": "gpt-4o",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    call = {
        "index": 0,
        "id": "call_9",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
    }
    sse_replay_server.enqueue(
        Reply.events(
            [
                (None, chunk({"role": "assistant", "tool_calls": [call]})),
                (None, chunk({}, "tool_calls")),
                (None, "[DONE]"),
            ]
        ),
        Reply.events(
            [(None, chunk({"content": "Sunny."})), (None, chunk({}, "stop")), (None, "[DONE]")]
        ),
    )
    agent = client.agent(model="gpt-4o", tools=[get_weather], instructions="Brief.", api="chat")
    assert agent.stream("Rome?").final_response().text == "Sunny."
    second = sse_replay_server.requests[1].json()
    assert second["messages"][0] == {"role": "system", "content": "Brief."}
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_9"
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": "Rome: sunny, 21C",
    }
    assert second["tools"][0]["function"]["name"] == "get_weather"


def test_anthropic_agent_feeds_tool_results_back(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    def message(
        stop: str, blocks: list[tuple[dict[str, object], list[dict[str, object]]]]
    ) -> Reply:
        events: list[tuple[str, dict[str, object]]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "model": "claude-sonnet-4-5",
                        "role": "assistant",
                        "content": [],
                        "usage": {"input_tokens": 10, "output_tokens": 1},
                    },
                },
            )
        ]
        for index, (block, deltas) in enumerate(blocks):
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
            for delta in deltas:
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop},
                    "usage": {"output_tokens": 7},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return Reply.events(events)

    sse_replay_server.enqueue(
        message(
            "tool_use",
            [
                (
                    {"type": "thinking", "thinking": ""},
                    [
                        {"type": "thinking_delta", "thinking": "Need weather."},
                        {"type": "signature_delta", "signature": "sig-123"},
                    ],
                ),
                (
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
                    [{"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}],
                ),
            ],
        ),
        message(
            "end_turn", [({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Sunny."}])]
        ),
    )
    client = AnthropicClient(
        api_key="sk-ant-test",
        base_url=sse_replay_server.base_url,
        tracer_provider=genai_telemetry.tracer_provider,
        meter_provider=genai_telemetry.meter_provider,
    )
    agent = client.agent(model="claude-sonnet-4-5", tools=[get_weather], instructions="Brief.")
    assert agent.stream("Oslo?").final_response().text == "Sunny."
    second = sse_replay_server.requests[1].json()
    assert second["system"] == "Brief."
    assert second["tools"][0]["input_schema"]["required"] == ["city"]
    assistant, results = second["messages"][-2:]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "Need weather.",
        "signature": "sig-123",
    }
    assert assistant["content"][1]["input"] == {"city": "Oslo"}
    assert results["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "Oslo: sunny, 21C",
            "is_error": False,
        }
    ]
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    assert attrs(agent_span)["gen_ai.provider.name"] == "anthropic"
    # Anthropic requires max_tokens: every turn gets 4096 unless the caller says otherwise.
    assert [r.json()["max_tokens"] for r in sse_replay_server.requests] == [4096, 4096]
    client.close()


@pytest.mark.parametrize(
    ("make", "offered", "wrong"),
    [
        (lambda: AnthropicClient(api_key="sk-ant-test"), ["anthropic"], "chat"),
        (lambda: Client(api_key="sk-test"), ["responses", "chat"], "anthropic"),
        (lambda: AsyncClient(api_key="sk-test"), ["responses", "chat"], "messages"),
    ],
    ids=["anthropic", "openai", "openai-async"],
)
def test_agent_refuses_an_api_its_client_does_not_speak(
    make: Callable[[], Any], offered: list[str], wrong: str
) -> None:
    """An agent's api is one of its client's: asking an OpenAI client for Anthropic turns (or the
    reverse) fails at once rather than streaming another API's requests."""
    client = make()
    with pytest.raises(
        ValueError,
        match=re.escape(f"api must be one of {offered!r} for this client, got {wrong!r}"),
    ):
        client.agent(model="m", api=wrong)
    assert client.agent(model="m").api == offered[0]


def test_anthropic_agent_turns_send_the_callers_max_tokens(
    sse_replay_server: ReplayServer,
) -> None:
    sse_replay_server.reply_with_file(FIXTURES / "anthropic-messages" / "claude-haiku-4-5-text.sse")
    client = AnthropicClient(api_key="sk-ant-test", base_url=sse_replay_server.base_url)
    assert client.agent(model="claude", max_tokens=64).stream("hi").final_response().text
    assert sse_replay_server.requests[0].json()["max_tokens"] == 64
    client.close()


def test_async_client_agent_is_async(sse_replay_server: ReplayServer) -> None:
    client = AsyncClient(api_key="sk-test", base_url=sse_replay_server.base_url)
    run = client.agent(model="gpt-4.1", tools=[get_weather]).stream("go")
    assert hasattr(run, "__aiter__")


@pytest.mark.parametrize("latest", [False, True], ids=["released", "latest"])
def test_agent_span_attributes_follow_the_naming_set(
    latest: bool,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Core v1.41 requires gen_ai.provider.name on invoke_agent; the latest conventions' in-process
    span lists neither it nor cache counts (semantic-conventions-genai #571, #469)."""
    if latest:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    else:
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    sse_replay_server.enqueue(text_turn("hi"))
    client = genai_telemetry.client(sse_replay_server)
    client.agent(model="gpt-4.1", tools=[get_weather], name="wx").stream("go").final_response()
    (agent_span,) = spans_named(genai_telemetry, "invoke_agent")
    a = attrs(agent_span)
    assert agent_span.kind is SpanKind.INTERNAL
    assert (a["gen_ai.operation.name"], a["gen_ai.agent.name"]) == ("invoke_agent", "wx")
    assert a["gen_ai.request.model"] == "gpt-4.1"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (10, 5)
    assert ("gen_ai.provider.name" in a) is not latest
    assert ("gen_ai.usage.cache_read.input_tokens" in a) is not latest
    assert ("gen_ai.usage.reasoning.output_tokens" in a) is not latest
    # The turn's own inference span keeps its provider under both sets.
    (turn,) = genai_telemetry.inference_spans
    assert attrs(turn)["gen_ai.provider.name"] == "openai"
