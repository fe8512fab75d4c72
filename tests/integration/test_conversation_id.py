"""``gen_ai.conversation.id``: from the Responses ``conversation`` parameter, or from the
``conversation_id`` the caller passes (never sent), for every API; never invented."""

from __future__ import annotations

import pytest

from spanstream import AnthropicClient, AsyncAnthropicClient
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

from ..conftest import FIXTURES, RESPONSES
from .test_agent import spans_named, text_turn, tool_turn

PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
CHAT = FIXTURES / "openai-chat" / "gpt-4o-mini-include-usage.sse"
ANTHROPIC = FIXTURES / "anthropic-messages" / "claude-haiku-4-5-text.sse"
MESSAGES = [{"role": "user", "content": "hi"}]
CONVERSATION = "gen_ai.conversation.id"


def _conversation(telemetry: GenAITelemetry) -> object:
    return (telemetry.inference_span().attributes or {}).get(CONVERSATION)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"conversation": "conv_68d"}, "conv_68d"),
        ({"conversation": {"id": "conv_obj"}}, "conv_obj"),
        ({"conversation_id": "mine-42"}, "mine-42"),
        ({"conversation": "conv_68d", "conversation_id": "mine-42"}, "mine-42"),
        ({}, None),
    ],
    ids=["parameter", "parameter-object", "caller", "caller-wins", "none"],
)
def test_responses_span_names_the_conversation(
    options: dict[str, object],
    expected: str | None,
    sse_replay_server: ReplayServer,
    genai_telemetry: GenAITelemetry,
) -> None:
    sse_replay_server.enqueue(Reply.from_file(PLAIN))
    client = genai_telemetry.client(sse_replay_server)
    with client.responses.stream(model="gpt-4.1", input="hi", **options) as stream:  # type: ignore[arg-type]
        stream.final_response()
    assert _conversation(genai_telemetry) == expected
    body = sse_replay_server.requests[0].json()
    assert "conversation_id" not in body, "the caller's id is telemetry only"
    assert body.get("conversation") == options.get("conversation")


def test_chat_and_anthropic_spans_name_the_callers_conversation(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.from_file(CHAT), Reply.from_file(ANTHROPIC))
    client = genai_telemetry.client(sse_replay_server)
    client.chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, conversation_id="chat-7"
    ).final_response()
    anthropic = AnthropicClient(
        api_key="sk-ant-test",
        base_url=sse_replay_server.base_url,
        tracer_provider=genai_telemetry.tracer_provider,
    )
    anthropic.messages.stream(
        model="claude-haiku-4-5", messages=MESSAGES, max_tokens=8, conversation_id="claude-7"
    ).final_response()
    anthropic.close()
    chat, claude = genai_telemetry.inference_spans
    assert (chat.attributes or {})[CONVERSATION] == "chat-7"
    assert (claude.attributes or {})[CONVERSATION] == "claude-7"
    for request in sse_replay_server.requests:
        assert "conversation_id" not in request.json()


async def test_async_clients_name_the_callers_conversation(
    sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(
        Reply.from_file(PLAIN), Reply.from_file(CHAT), Reply.from_file(ANTHROPIC)
    )
    async with genai_telemetry.async_client(sse_replay_server) as client:
        stream = client.responses.stream(model="gpt-4.1", input="hi", conversation="conv_a")
        async with stream:
            await stream.final_response()
        chat = client.chat.completions.stream(
            model="gpt-4o-mini", messages=MESSAGES, conversation_id="chat-a"
        )
        async with chat:
            await chat.final_response()
    async with AsyncAnthropicClient(
        api_key="sk-ant-test",
        base_url=sse_replay_server.base_url,
        tracer_provider=genai_telemetry.tracer_provider,
    ) as anthropic:
        message = anthropic.messages.stream(
            model="claude-haiku-4-5", messages=MESSAGES, max_tokens=8, conversation_id="claude-a"
        )
        async with message:
            await message.final_response()
    ids = [(s.attributes or {}).get(CONVERSATION) for s in genai_telemetry.inference_spans]
    assert ids == ["conv_a", "chat-a", "claude-a"]


@pytest.mark.parametrize("bad", ["", 42])
def test_a_conversation_id_that_is_not_a_string_is_refused(
    bad: object, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    client = genai_telemetry.client(sse_replay_server)
    with pytest.raises(ValueError, match="conversation_id"):
        client.responses.stream(model="gpt-4.1", input="hi", conversation_id=bad)  # type: ignore[arg-type]
    assert sse_replay_server.requests == []


@pytest.mark.parametrize(
    "options",
    [{"conversation_id": "run-1"}, {"conversation": "run-1"}],
    ids=["caller", "responses-conversation"],
)
def test_an_agent_run_and_its_turns_name_the_conversation(
    options: dict[str, object], sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(tool_turn(("c1", "echo", '{"text": "a"}')), text_turn("done"))

    def echo(text: str) -> str:
        return text

    client = genai_telemetry.client(sse_replay_server)
    client.agent(model="gpt-4.1", tools=[echo], **options).stream("go").final_response()  # type: ignore[arg-type]
    (agent,) = spans_named(genai_telemetry, "invoke_agent")
    assert (agent.attributes or {})[CONVERSATION] == "run-1"
    turns = genai_telemetry.inference_spans
    assert len(turns) == 2
    assert all((turn.attributes or {})[CONVERSATION] == "run-1" for turn in turns)
