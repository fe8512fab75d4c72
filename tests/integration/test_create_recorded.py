"""``create()`` against every recording: the non-streamed reply of each recorded answer, served
over loopback, gives the ``Response`` its stream gives.

Where the non-streamed reply comes from, so that it is never our own reading of the stream:

* Responses: the terminal event restates the response (``response.completed`` /
  ``incomplete`` / ``failed`` carry the response object a request without ``stream`` gets), so
  its ``response`` is the reply;
* Chat Completions: the completion the official ``openai`` SDK accumulates from the recording
  (``ChatCompletionStreamState``, behind ``client.chat.completions.stream``), as JSON;
* Anthropic Messages: the message the official ``anthropic`` SDK accumulates (``MessageStream``'s
  ``get_final_message()``), as JSON.

Where the recording or the SDK's accumulation says a thing otherwise than the stream did, the
difference is read off the recording (never assumed) and that field alone is compared as the
reply states it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spanstream import AnthropicClient, Client, ResponseFailedError
from spanstream.events import Reasoning, Response, ToolCall
from spanstream.testing import ReplayServer

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import (  # noqa: E402
    ANTHROPIC_MESSAGES,
    CHAT_ERROR_RECORDINGS,
    CHAT_SDK_CANNOT_READ,
    OPENAI_CHAT,
    decode_anthropic,
    decode_chat,
    decode_fixture,
    recordings,
    responses_fixtures,
    sdk_anthropic_message,
    sdk_chat_completion,
    sdk_fixture_payloads,
    sdk_payloads,
    sdk_terminal_payload,
)


@pytest.fixture
def client(server: ReplayServer) -> Iterator[Client]:
    with Client(api_key="sk-test", base_url=server.base_url) as client:
        yield client


def _create(call: Any, **params: Any) -> Response:
    """What ``create()`` gives: its response, or the failed response it raised with."""
    try:
        return call(**params)  # type: ignore[no-any-return]
    except ResponseFailedError as exc:
        return exc.response


# --------------------------------------------------------------------------------------------
# Responses: the terminal event's response is the reply
# --------------------------------------------------------------------------------------------


def _restated(path: Path) -> bool:
    terminal = sdk_terminal_payload(path)
    response = terminal.get("response") if terminal else None
    return isinstance(response, dict) and isinstance(response.get("output"), list)


RESTATED = [path for path in responses_fixtures() if _restated(path)]


def test_every_responses_recording_restates_its_response() -> None:
    # None is left out unsaid: every recording ends with a terminal event restating it.
    assert len(RESTATED) == len(responses_fixtures()) >= 90


def _restated_otherwise(path: Path, field: str) -> bool:
    """Whether the terminal event restates some reasoning item's ``field`` otherwise than the
    item's ``response.output_item.done`` gave it: OpenAI encrypts a reasoning item's content
    anew for the restatement; OpenRouter gives a reasoning item a new temporary id."""
    done = {
        payload.get("output_index"): payload.get("item") or {}
        for payload in sdk_fixture_payloads(path)
        if payload.get("type") == "response.output_item.done"
    }
    terminal = sdk_terminal_payload(path)
    assert terminal is not None
    return any(
        item.get("type") == "reasoning"
        and index in done
        and done[index].get(field) != item.get(field)
        for index, item in enumerate(terminal["response"]["output"])
    )


def _reasoning_as_restated(response: Response, path: Path) -> Response:
    """``response`` with what the recording restates otherwise (see :func:`_restated_otherwise`)
    left out of the reasoning: the encrypted content but for its presence, the item id."""
    encrypted = _restated_otherwise(path, "encrypted_content")
    ids = _restated_otherwise(path, "id")

    def same(reasoning: Reasoning) -> Reasoning:
        return dataclasses.replace(
            reasoning,
            id=None if ids else reasoning.id,
            encrypted_content="<present>"
            if encrypted and reasoning.encrypted_content is not None
            else reasoning.encrypted_content,
        )

    return dataclasses.replace(response, reasoning=tuple(map(same, response.reasoning)))


@pytest.mark.parametrize("path", RESTATED, ids=[path.name for path in RESTATED])
def test_responses_create_gives_the_streamed_response(
    path: Path, server: ReplayServer, client: Client
) -> None:
    terminal = sdk_terminal_payload(path)
    assert terminal is not None
    server.reply_with_json(json.dumps(terminal["response"]))

    response = _create(client.responses.create, model="gpt-4.1", input="hi")

    streamed = decode_fixture(path).parser.response
    assert response.status == streamed.status
    assert _reasoning_as_restated(response, path) == _reasoning_as_restated(streamed, path)


def test_the_restatements_that_differ_are_read_off_the_recordings() -> None:
    # The exceptions above are the recordings' own, and few: a fresh ciphertext in every
    # OpenAI reasoning restatement, a fresh temporary id at OpenRouter.
    encrypted = [path.name for path in RESTATED if _restated_otherwise(path, "encrypted_content")]
    ids = [path.name for path in RESTATED if _restated_otherwise(path, "id")]
    assert ids == ["openrouter-gpt-oss-reasoning-text-done-sentinel.sse"]
    assert 0 < len(encrypted) <= 12


# --------------------------------------------------------------------------------------------
# Chat Completions: the openai SDK's accumulated completion is the reply
# --------------------------------------------------------------------------------------------

CHAT_SKIPPED = {
    **CHAT_SDK_CANNOT_READ,
    **dict.fromkeys(
        CHAT_ERROR_RECORDINGS, "ends in an in-stream error, which the SDK raises: no completion"
    ),
}
MISTRAL_THINKING = {
    "pydantic-ai__test_mistral_model_thinking_part_iter.sse",
}


def _chat_params() -> list[Any]:
    return [
        pytest.param(
            path,
            id=path.name,
            marks=[pytest.mark.skip(reason=CHAT_SKIPPED[path.name])]
            if path.name in CHAT_SKIPPED
            else [],
        )
        for path in recordings(OPENAI_CHAT)
    ]


def _sdk_left_out(path: Path, completion: Any) -> set[str]:
    """The fields of the answer the SDK's completion leaves out, read off the recording: the
    usage (it keeps the last chunk's ``usage``, ``None`` after a later chunk without one, and
    never Groq's ``x_groq.usage``), the reasoning of Mistral's ``thinking`` content parts (it
    keeps their text only)."""
    left_out = set()
    chunks = sdk_payloads(path.read_bytes())
    if completion.usage is None and any(
        chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage") for chunk in chunks
    ):
        left_out.add("usage")
    if path.name in MISTRAL_THINKING:
        left_out.add("reasoning")
    return left_out


@pytest.mark.filterwarnings("ignore::UserWarning")  # Mistral's list content in a str field
@pytest.mark.parametrize("path", _chat_params())
def test_chat_create_gives_the_streamed_response(
    path: Path, server: ReplayServer, client: Client
) -> None:
    completion = sdk_chat_completion(path)
    server.reply_with_json(completion.model_dump_json())

    response = _create(
        client.chat.completions.create,
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
    )

    streamed = decode_chat(path).parser.response
    left_out = _sdk_left_out(path, completion)
    # What the reply leaves out is not in the response either (a usage it lacks is estimated,
    # and says so)...
    if "reasoning" in left_out:
        assert response.reasoning == ()
        assert streamed.reasoning != ()
    if completion.usage is None:
        assert response.usage is not None
        assert response.usage.estimated
        left_out.add("usage")  # an estimate from the whole text, not from the stream's chunks
    if "usage" in left_out and streamed.usage is not None and not streamed.usage.estimated:
        assert streamed.usage.output_tokens is not None  # the stream had the count
    # ...everything else is the stream's.
    assert response == dataclasses.replace(
        streamed, **{name: getattr(response, name) for name in left_out}
    )


# --------------------------------------------------------------------------------------------
# Anthropic Messages: the anthropic SDK's final message is the reply
# --------------------------------------------------------------------------------------------


def _with_parsed_arguments(response: Response) -> Response:
    """``response`` with each tool call's arguments as their decoded object: a message that
    was not streamed gives a ``tool_use`` block's ``input`` as an object (spanstream writes it
    as JSON text), a stream its text as the model wrote it (``""`` for no input)."""

    def decoded(call: ToolCall) -> ToolCall:
        return dataclasses.replace(call, arguments=json.dumps(call.parsed_arguments))

    return dataclasses.replace(response, tool_calls=tuple(map(decoded, response.tool_calls)))


ANTHROPIC = recordings(ANTHROPIC_MESSAGES)


# The SDK's models serialize block types newer than its union (advisor, tool search) with a
# warning, and as they came.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
@pytest.mark.parametrize("path", ANTHROPIC, ids=[path.name for path in ANTHROPIC])
def test_anthropic_create_gives_the_streamed_response(path: Path, server: ReplayServer) -> None:
    server.reply_with_json(sdk_anthropic_message(path).model_dump_json())

    with AnthropicClient(api_key="sk-ant-test", base_url=server.base_url) as client:
        response = _create(
            client.messages.create,
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=1024,
        )

    streamed = decode_anthropic(path).parser.response
    assert _with_parsed_arguments(response) == _with_parsed_arguments(streamed)
    # The arguments are JSON text as the model's tool_use input states them.
    for call, expected in zip(response.tool_calls, streamed.tool_calls, strict=True):
        assert call.parsed_arguments == expected.parsed_arguments
        assert json.loads(call.arguments) == (expected.parsed_arguments or {})
