"""Request builders of Chat Completions and Anthropic Messages: body, RequestInfo, content."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.anthropic_messages import build_request as anthropic_request
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_chat import build_request as chat_request
from spanstream.providers.openai_embeddings import build_request as embeddings_request
from spanstream.providers.openai_responses import build_request as responses_request
from spanstream.providers.services import ANTHROPIC, OPENAI

MESSAGES = [{"role": "user", "content": "hi"}]


# -- Chat Completions --------------------------------------------------------------------------


def test_chat_request_streams_with_usage_by_default() -> None:
    prepared = chat_request(model="gpt-4o", messages=MESSAGES)
    assert prepared.path == "/chat/completions"
    assert type(prepared.parser(strict=True)) is ChatCompletionsParser
    assert prepared.body == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_chat_usage_request_can_be_switched_off() -> None:
    body = chat_request(model="m", messages=MESSAGES, include_usage=False).body
    assert "stream_options" not in body


def test_chat_stream_options_given_win_over_the_default() -> None:
    options = {"include_usage": False, "include_obfuscation": False}
    body = chat_request(model="m", messages=MESSAGES, stream_options=options).body
    assert body["stream_options"] == options


def test_chat_request_info_maps_the_conventions_fields() -> None:
    info = chat_request(
        model="gpt-4o",
        messages=MESSAGES,
        max_completion_tokens=100,
        max_tokens=50,
        temperature=0.5,
        top_p=0.9,
        seed=7,
        stop="END",
        n=2,
        response_format={"type": "json_schema", "json_schema": {"name": "x"}},
        reasoning_effort="low",
        extra_body={"frequency_penalty": 0.1, "presence_penalty": 0.2, "service_tier": "flex"},
    ).info
    assert (info.provider, info.operation) == ("openai", "chat")
    assert (info.max_tokens, info.temperature, info.top_p, info.seed) == (100, 0.5, 0.9, 7)
    assert info.stop_sequences == ("END",)
    assert (info.choice_count, info.output_type, info.reasoning_level) == (2, "json", "low")
    assert (info.frequency_penalty, info.presence_penalty) == (0.1, 0.2)
    assert info.request_attributes() == {
        "openai.api.type": "chat_completions",
        "openai.request.service_tier": "flex",
    }


def test_chat_extra_body_is_sent_last_and_read_by_request_info() -> None:
    prepared = chat_request(model="m", messages=MESSAGES, extra_body={"max_tokens": 9, "top_k": 3})
    assert prepared.body["top_k"] == 3
    assert prepared.info.max_tokens == 9
    assert prepared.info.top_k is None  # OpenAI has no top_k in the conventions' sense


def test_chat_request_content_in_the_conventions_shapes() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
    ]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    info = chat_request(model="m", messages=messages, tools=tools).info
    assert info.content is not None
    content = info.content()
    assert content.input_messages == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": {"ok": True}}],
        },
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "look"},
                {"type": "uri", "modality": "image", "uri": "https://x/y.png"},
            ],
        },
    ]
    assert content.system_instructions is None  # in-history system messages stay in history
    assert content.tool_definitions == [
        {"type": "function", "name": "f", "parameters": {"type": "object"}}
    ]


# -- Anthropic Messages ------------------------------------------------------------------------


def test_anthropic_request_body() -> None:
    prepared = anthropic_request(
        model="claude-sonnet-4-5",
        messages=MESSAGES,
        max_tokens=256,
        system="be brief",
        thinking={"type": "enabled", "budget_tokens": 1024},
        stop_sequences=["END"],
    )
    assert prepared.path == "/messages"
    assert type(prepared.parser(strict=True)) is MessagesParser
    assert prepared.body == {
        "model": "claude-sonnet-4-5",
        "messages": MESSAGES,
        "max_tokens": 256,
        "stream": True,
        "system": "be brief",
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stop_sequences": ["END"],
    }


def test_anthropic_request_info() -> None:
    info = anthropic_request(
        model="claude",
        messages=MESSAGES,
        max_tokens=256,
        temperature=0.2,
        top_k=40,
        top_p=0.8,
        stop_sequences=["A", "B"],
        extra_body={"output_config": {"effort": "high"}},
    ).info
    assert (info.provider, info.operation) == ("anthropic", "chat")
    assert info.provider_attributes is None
    assert info.request_attributes() == {}
    assert (info.max_tokens, info.temperature, info.top_k, info.top_p) == (256, 0.2, 40, 0.8)
    assert info.stop_sequences == ("A", "B")
    assert info.reasoning_level == "high"


def test_anthropic_request_content_keeps_system_apart() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "use the tool", "signature": "s"},
                {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy"}],
        },
    ]
    tools = [{"name": "get", "description": "weather", "input_schema": {"type": "object"}}]
    info = anthropic_request(
        model="c",
        messages=messages,
        max_tokens=9,
        system=[{"type": "text", "text": "be brief"}],
        tools=tools,
    ).info
    assert info.content is not None
    content = info.content()
    assert content.system_instructions == [{"type": "text", "content": "be brief"}]
    assert content.input_messages[1:] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "use the tool"},
                {
                    "type": "tool_call",
                    "id": "toolu_1",
                    "name": "get",
                    "arguments": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "rainy"}],
        },
    ]
    assert content.tool_definitions == [
        {
            "type": "function",
            "name": "get",
            "description": "weather",
            "parameters": {"type": "object"},
        }
    ]


# -- provider descriptions ---------------------------------------------------------------------


def test_provider_auth_headers() -> None:
    assert OPENAI.auth_headers("sk-1") == {"Authorization": "Bearer sk-1"}
    assert ANTHROPIC.auth_headers("sk-ant-1") == {
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-1",
    }


# -- every API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "given", "missing"),
    [
        (chat_request, {"messages": MESSAGES}, "model"),
        (responses_request, {"model": "m"}, "input"),
        (anthropic_request, {"model": "m", "messages": MESSAGES}, "max_tokens"),
        (embeddings_request, {"input": "x"}, "model"),
    ],
)
def test_a_missing_required_argument_is_a_type_error_naming_it(
    build: Callable[..., object], given: dict[str, object], missing: str
) -> None:
    # The parameter TypedDicts' __required_keys__ is empty under postponed annotations, which
    # let a missing model through to a KeyError (or to the server).
    with pytest.raises(TypeError, match=f"missing required keyword argument.*{missing}"):
        build(**given)
