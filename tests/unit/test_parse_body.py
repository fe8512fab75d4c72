"""The inference parsers' ``feed_body``, sans-IO: a reply that was not streamed, read once into
the same accumulator as a stream, through the stream's handlers; lenient where a stream is,
and a reply that cannot be read is ``MalformedEventError`` without its payload."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spanstream.errors import MalformedEventError
from spanstream.events import (
    Citation,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDone,
    ResponseDone,
    ResponseStarted,
    ToolCall,
    ToolCallDone,
    Usage,
)
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser

PARSERS = [ResponsesParser, ChatCompletionsParser, MessagesParser]
SECRET = "the user's secret prompt"


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


# -- every parser -----------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("parser_type", PARSERS)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(f'{{"id": "{SECRET}'.encode(), "Invalid JSON", id="truncated"),
        pytest.param(_body([SECRET]), "payload: Input should be", id="array"),
        pytest.param(_body({"id": "x", "note": SECRET}), "the reply has no", id="no-answer"),
        pytest.param(b"", "Invalid JSON", id="empty"),
    ],
)
def test_a_reply_that_cannot_be_read_raises_without_its_payload(
    parser_type: Any, strict: bool, data: bytes, reason: str
) -> None:
    parser = parser_type(strict=strict)
    with pytest.raises(MalformedEventError) as caught:
        parser.feed_body(data)
    message = str(caught.value)
    assert message.startswith(f"malformed {parser.api} reply: ")
    assert reason in message
    assert SECRET not in message
    assert caught.value.__cause__ is None
    assert parser.done is False


# -- Responses --------------------------------------------------------------------------------

MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [
        {
            "type": "output_text",
            "text": "Paris.",
            "annotations": [
                {
                    "type": "url_citation",
                    "url": "https://example.org",
                    "title": "Ex",
                    "start_index": 0,
                    "end_index": 6,
                }
            ],
        }
    ],
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}
REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "Thinking."}],
    "encrypted_content": "opaque",
}
SEARCH = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
USAGE = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 5},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 3},
    "total_tokens": 27,
}


def _response(**fields: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-2025-04-14",
        "output": [],
        "usage": None,
        "error": None,
        **fields,
    }


def test_a_response_is_read_item_by_item_as_its_done_events_would_be() -> None:
    parser = ResponsesParser()
    events = parser.feed_body(
        _body(
            _response(
                output=[REASONING, SEARCH, MESSAGE, CALL], usage=USAGE, service_tier="default"
            )
        )
    )

    assert [type(event).__name__ for event in events] == [
        "ResponseStarted", "ReasoningDone", "ItemDone", "CitationAdded", "MessageDone",
        "ToolCallDone", "UsageReported", "ResponseDone",
    ]  # fmt: skip
    assert events[0] == ResponseStarted("resp_1", "gpt-4.1-2025-04-14")
    assert events[2] == ItemDone("web_search_call", "ws_1", SEARCH)
    response = parser.response
    assert events[-1] == ResponseDone(response)
    assert parser.done
    assert (response.status, response.finish_reason, response.finish_reasons) == (
        "completed",
        "tool_call",
        ("tool_call",),
    )
    assert response.text == "Paris."
    assert response.tool_calls == (ToolCall("call_1", "get_weather", '{"city":"Paris"}', "fc_1"),)
    assert response.reasoning == (Reasoning("rs_1", ("Thinking.",), (), "opaque"),)
    assert response.citations == (
        Citation.from_raw(MESSAGE["content"][0]["annotations"][0], "msg_1"),  # type: ignore[index]
    )
    assert response.usage == Usage(20, 7, 27, 5, None, 3)
    assert response.service_tier == "default"
    assert (parser.malformed_count, parser.unknown_count) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "status", "finish_reason", "reason"),
    [
        ({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
         "incomplete", "length", "max_output_tokens"),
        ({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}},
         "incomplete", "content_filter", "content_filter"),
        ({"status": None}, "completed", "stop", None),  # a server that sends no status
        ({"status": "queued"}, "in_progress", None, None),  # background=True
        ({"status": "in_progress"}, "in_progress", None, None),
    ],
)  # fmt: skip
def test_the_status_ends_the_response_as_its_terminal_event_would(
    fields: dict[str, Any], status: str, finish_reason: str | None, reason: str | None
) -> None:
    parser = ResponsesParser()
    parser.feed_body(_body(_response(output=[MESSAGE], **fields)))
    response = parser.response
    assert (response.status, response.finish_reason, response.incomplete_reason) == (
        status,
        finish_reason,
        reason,
    )
    assert parser.done


def test_a_failed_response_carries_its_error() -> None:
    error = {"code": "server_error", "message": "boom", "type": None, "param": None}
    parser = ResponsesParser()
    parser.feed_body(_body(_response(status="failed", error=error)))
    response = parser.response
    assert (response.status, response.finish_reason) == ("failed", "error")
    assert response.error == ProviderError("boom", "server_error")
    # Without a status, an error is a failure too; without an error, a failure still says so.
    assert _read({"error": error}).error == ProviderError("boom", "server_error")
    assert _read(_response(status="failed")).error == ProviderError(
        "the response failed without an error"
    )


def _read(body: dict[str, Any]) -> Any:
    parser = ResponsesParser()
    parser.feed_body(_body(body))
    return parser.response


def test_a_stream_whose_response_failed_without_an_error_gets_one() -> None:
    # The same end serves the stream: settle() raises ResponseFailedError with this error.
    parser = ResponsesParser()
    parser.feed_raw(
        "response.failed",
        _body({"type": "response.failed", "response": _response(status="failed")}),
    )
    assert parser.response.error == ProviderError("the response failed without an error")


@pytest.mark.parametrize("strict", [False, True])
def test_an_unknown_status_is_malformed(strict: bool) -> None:
    with pytest.raises(MalformedEventError, match="status: not a status a response has"):
        ResponsesParser(strict=strict).feed_body(_body(_response(status="done?")))


def test_a_bad_droppable_field_is_dropped_and_counted_strict_raises() -> None:
    body = _body(_response(output=[MESSAGE], usage={"input_tokens": "many"}, model=7))
    parser = ResponsesParser()
    parser.feed_body(body)
    assert parser.response.text == "Paris."
    # The usage was dropped: no count is recorded as if received, the output is estimated.
    usage = parser.response.usage
    assert usage is not None
    assert usage.estimated
    assert usage.input_tokens is None
    assert parser.response.model is None
    assert parser.malformed_count == 2
    with pytest.raises(MalformedEventError, match=r"malformed Responses event response"):
        ResponsesParser(strict=True).feed_body(body)


def test_a_huge_number_is_mended_not_fatal() -> None:
    body = _body(_response(output=[MESSAGE], usage={"input_tokens": "HUGE"}))
    body = body.replace(b'"HUGE"', b"9" * 5000)
    parser = ResponsesParser()
    parser.feed_body(body)
    assert parser.response.text == "Paris."
    assert parser.malformed_count == 1


def test_an_unreadable_item_is_counted_and_kept_as_an_item() -> None:
    bad = {**MESSAGE, "content": "not a list"}
    parser = ResponsesParser()
    events = parser.feed_body(_body(_response(output=[bad, CALL])))
    assert ItemDone("message", "msg_1", bad) in events
    assert parser.response.tool_calls[0].call_id == "call_1"
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError, match="message item"):
        ResponsesParser(strict=True).feed_body(_body(_response(output=[bad])))


# -- Chat Completions -------------------------------------------------------------------------


def _completion(*choices: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": list(choices),
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 9,
            "total_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
        "system_fingerprint": "fp_1",
        "service_tier": "default",
        **fields,
    }


def _choice(index: int, finish_reason: str | None, **message: Any) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": None, "refusal": None, **message},
        "finish_reason": finish_reason,
        "logprobs": None,
    }


def test_a_completion_is_read_as_the_one_chunk_it_amounts_to() -> None:
    calls = [
        {"id": "call_a", "type": "function",
         "function": {"name": "a", "arguments": '{"x": 1}'}},
        {"id": "call_b", "type": "function",
         "function": {"name": "b", "arguments": "{}"}},
    ]  # fmt: skip
    parser = ChatCompletionsParser()
    events = parser.feed_body(
        _body(
            _completion(
                _choice(0, "tool_calls", content="Let me look.", tool_calls=calls,
                        reasoning_content="Two calls."),
                _choice(1, "length", content="Other"),
            )
        )
    )  # fmt: skip
    response = parser.response
    assert isinstance(events[0], ResponseStarted)
    assert events[-1] == ResponseDone(response)
    assert parser.done
    assert (response.id, response.model) == ("chatcmpl-1", "gpt-4o-2024-08-06")
    assert response.text == "Let me look."
    assert response.tool_calls == (
        ToolCall("call_a", "a", '{"x": 1}', "choice-0"),
        ToolCall("call_b", "b", "{}", "choice-0"),
    )
    assert response.reasoning == (Reasoning("choice-0", (), ("Two calls.",)),)
    assert (response.status, response.finish_reason) == ("completed", "tool_call")
    assert response.finish_reasons == ("tool_call", "length")
    assert response.usage == Usage(11, 9, 20, 4, None, 2)
    assert (response.system_fingerprint, response.service_tier) == ("fp_1", "default")
    assert [type(e) for e in events].count(ToolCallDone) == 2
    assert MessageDone("choice-1", "Other", None) in events


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"refusal": "I can't."}, {"refusal": "I can't."}),
        # The deprecated functions API: the choice's one call.
        ({"function_call": {"name": "f", "arguments": "{}"}},
         {"tool_calls": (ToolCall("choice-0-call-0", "f", "{}", "choice-0"),)}),
        # Mistral: content parts, thinking among them.
        ({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Hm."}]},
                      {"type": "text", "text": "Yes."}]},
         {"text": "Yes.", "reasoning": (Reasoning("choice-0", (), ("Hm.",)),)}),
        ({"content": "Hi", "reasoning": "OpenRouter's reasoning"},
         {"text": "Hi", "reasoning": (Reasoning("choice-0", (), ("OpenRouter's reasoning",)),)}),
    ],
)  # fmt: skip
def test_a_message_has_the_fields_a_delta_has(
    message: dict[str, Any], expected: dict[str, Any]
) -> None:
    parser = ChatCompletionsParser()
    parser.feed_body(_body(_completion(_choice(0, "stop", **message))))
    response = parser.response
    assert {name: getattr(response, name) for name in expected} == expected


def test_a_choice_without_a_finish_reason_completes_with_none() -> None:
    parser = ChatCompletionsParser()
    parser.feed_body(_body(_completion(_choice(0, None, content="Hi"))))
    response = parser.response
    assert (response.status, response.finish_reason, response.finish_reasons) == (
        "completed",
        None,
        (),
    )


def test_finish_reason_length_is_incomplete() -> None:
    parser = ChatCompletionsParser()
    parser.feed_body(_body(_completion(_choice(0, "length", content="Hi"))))
    assert (parser.response.status, parser.response.incomplete_reason) == ("incomplete", "length")


def test_an_error_with_a_success_status_is_a_failed_response() -> None:
    parser = ChatCompletionsParser()
    parser.feed_body(_body({"error": {"message": "boom", "type": "server_error"}}))
    response = parser.response
    assert (response.status, response.finish_reason) == ("failed", "error")
    assert response.error == ProviderError("boom", "server_error", "server_error")


def test_a_chat_bad_usage_is_dropped_and_counted_strict_raises() -> None:
    body = _body(_completion(_choice(0, "stop", content="Hi"), usage="lots"))
    parser = ChatCompletionsParser()
    parser.feed_body(body)
    assert parser.response.text == "Hi"
    # No count was received: the output is estimated and says so, nothing else is made up.
    assert parser.response.usage == Usage(output_tokens=1, estimated=True)
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError, match=r"Chat Completions event chat\.completion:"):
        ChatCompletionsParser(strict=True).feed_body(body)


# -- Anthropic Messages -----------------------------------------------------------------------


def _message(*content: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": list(content),
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 1000,
            "output_tokens": 5,
            "service_tier": "standard",
        },
        **fields,
    }


CITATION = {"type": "web_search_result_location", "url": "https://example.org", "title": "Ex",
            "cited_text": "Paris is the capital."}  # fmt: skip
SERVER_TOOL = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
               "input": {"query": "capital of France"}}  # fmt: skip
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "url": "https://example.org"}],
}


def test_a_message_is_read_as_the_events_of_its_stream() -> None:
    parser = MessagesParser()
    events = parser.feed_body(
        _body(
            _message(
                {"type": "thinking", "thinking": "Hm.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                SERVER_TOOL,
                SEARCH_RESULT,
                {"type": "text", "text": "Paris.", "citations": [CITATION]},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup",
                 "input": {"city": "Paris", "note": "Île"}},
                {"type": "tool_use", "id": "toolu_2", "name": "ping", "input": {}},
                stop_reason="tool_use",
            )
        )
    )  # fmt: skip
    response = parser.response
    assert events[-1] == ResponseDone(response)
    assert parser.done
    assert (response.id, response.model, response.service_tier) == (
        "msg_1",
        "claude-sonnet-4-5-20250929",
        "standard",
    )
    assert response.text == "Paris."
    assert response.citations == (Citation.from_raw(CITATION, "block-4"),)
    assert response.reasoning == (
        Reasoning("block-0", (), ("Hm.",), signature="sig"),
        Reasoning("block-1", encrypted_content="opaque", redacted=True),
    )
    # A tool_use input is the arguments' JSON text, as input_json_delta would stream it.
    assert response.tool_calls == (
        ToolCall("toolu_1", "lookup", '{"city": "Paris", "note": "Île"}', "block-5"),
        ToolCall("toolu_2", "ping", "{}", "block-6"),
    )
    assert response.tool_calls[0].parsed_arguments == {"city": "Paris", "note": "Île"}
    # Server tool blocks pass as they came.
    items = [event for event in events if isinstance(event, ItemDone)]
    assert items == [
        ItemDone("server_tool_use", "srvtoolu_1", SERVER_TOOL),
        ItemDone("web_search_tool_result", "block-3", SEARCH_RESULT),
    ]
    assert (response.status, response.finish_reason) == ("completed", "tool_call")
    # Normalized once, as a stream's: input includes the cache reads and writes.
    assert response.usage == Usage(1110, 5, 1115, 100, 1000)
    assert isinstance(events[0], ResponseStarted)
    assert next(e for e in events if isinstance(e, ReasoningDone)).reasoning.signature == "sig"


@pytest.mark.parametrize(
    ("stop_reason", "status", "finish_reason"),
    [
        ("max_tokens", "incomplete", "length"),
        ("refusal", "incomplete", "content_filter"),
        ("stop_sequence", "completed", "stop"),
        (None, "completed", None),
    ],
)
def test_the_stop_reason_ends_the_message_as_in_a_stream(
    stop_reason: str | None, status: str, finish_reason: str | None
) -> None:
    parser = MessagesParser()
    parser.feed_body(_body(_message({"type": "text", "text": "Hi"}, stop_reason=stop_reason)))
    assert (parser.response.status, parser.response.finish_reason) == (status, finish_reason)


def test_an_anthropic_error_with_a_success_status_is_a_failed_response() -> None:
    parser = MessagesParser()
    parser.feed_body(
        _body({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    )
    response = parser.response
    assert (response.status, response.finish_reason) == ("failed", "error")
    assert response.error == ProviderError("Overloaded", "overloaded_error", "overloaded_error")


def test_an_anthropic_bad_usage_is_dropped_and_counted_strict_raises() -> None:
    body = _body(_message({"type": "text", "text": "Hi"}, usage=[1, 2]))
    parser = MessagesParser()
    parser.feed_body(body)
    assert parser.response.text == "Hi"
    # No count was received: the output is estimated and says so, nothing else is made up.
    assert parser.response.usage == Usage(output_tokens=1, estimated=True)
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError, match="malformed Anthropic Messages event message"):
        MessagesParser(strict=True).feed_body(body)
