"""The Chat Completions parser, one behaviour per test, on hand-built chunks.

Real recordings are covered by tests/integration/test_recorded_chat.py; these pin the edge cases
no recording shows, and the mapping tables.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spanstream.errors import MalformedEventError
from spanstream.events import (
    ErrorReported,
    MessageDone,
    ReasoningDelta,
    ReasoningDone,
    ResponseDone,
    ResponseStarted,
    StreamEvent,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UnknownEvent,
    Usage,
    UsageReported,
)
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.sse import ServerSentEvent

DONE = ServerSentEvent("message", "[DONE]")


def chunk(*choices: dict[str, Any], **fields: Any) -> ServerSentEvent:
    payload = {"id": "chatcmpl-1", "model": "gpt-4o", "choices": list(choices), **fields}
    return ServerSentEvent("message", json.dumps(payload))


def choice(index: int = 0, finish_reason: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish_reason}


def call(index: int | None, id: str | None = None, name: str | None = None, args: str = "") -> Any:
    function: dict[str, Any] = {"arguments": args}
    if name is not None:
        function["name"] = name
    entry: dict[str, Any] = {"function": function}
    if index is not None:
        entry["index"] = index
    if id is not None:
        entry["id"] = id
    return entry


def feed(parser: ChatCompletionsParser, *events: ServerSentEvent) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    for event in events:
        out += parser.feed(event)
    return out


def test_first_chunk_starts_the_response_and_text_carries_the_choice() -> None:
    events = feed(ChatCompletionsParser(), chunk(choice(role="assistant", content="Hi")))
    assert events == [ResponseStarted("chatcmpl-1", "gpt-4o"), TextDelta("Hi", "choice-0")]


def test_empty_content_is_not_a_text_delta() -> None:
    assert feed(ChatCompletionsParser(), chunk(choice(content="")))[1:] == []


def test_done_sentinel_ends_the_response_after_the_usage_chunk() -> None:
    parser = ChatCompletionsParser()
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    events = feed(
        parser,
        chunk(choice(content="Hi")),
        chunk(choice(finish_reason="stop")),
        chunk(usage=usage),
        DONE,
    )
    assert isinstance(events[-1], ResponseDone)
    response = events[-1].response
    assert (response.status, response.finish_reason, response.text) == ("completed", "stop", "Hi")
    assert response.usage == Usage(10, 2, 12)
    assert parser.done
    assert parser.feed(chunk(choice(content="late"))) == []


def test_message_done_comes_with_the_finish_reason() -> None:
    parser = ChatCompletionsParser()
    events = feed(parser, chunk(choice(content="Hi")), chunk(choice(finish_reason="stop")))
    assert events[-1] == MessageDone("choice-0", "Hi", None)


@pytest.mark.parametrize(
    ("raw", "finish_reason", "status"),
    [
        ("stop", "stop", "completed"),
        ("tool_calls", "tool_call", "completed"),
        ("function_call", "tool_call", "completed"),
        ("length", "length", "incomplete"),
        ("content_filter", "content_filter", "incomplete"),
        ("eos", "eos", "completed"),  # unknown values pass through
    ],
)
def test_finish_reason_mapping(raw: str, finish_reason: str, status: str) -> None:
    events = feed(
        ChatCompletionsParser(), chunk(choice(content="x")), chunk(choice(finish_reason=raw)), DONE
    )
    response = events[-1].response  # type: ignore[union-attr]
    assert (response.finish_reason, response.status) == (finish_reason, status)
    assert response.incomplete_reason == (raw if status == "incomplete" else None)


def test_tool_call_deltas_are_keyed_by_index() -> None:
    parser = ChatCompletionsParser()
    events = feed(
        parser,
        chunk(choice(tool_calls=[call(0, "call_a", "get", '{"a"')])),
        chunk(choice(tool_calls=[call(0, args=": 1}")])),
        chunk(choice(tool_calls=[call(1, "call_b", "put", "{}")])),
        chunk(choice(finish_reason="tool_calls")),
    )
    assert [type(e) for e in events[1:]] == [
        ToolCallStarted,
        ToolCallArgumentsDelta,
        ToolCallArgumentsDelta,
        ToolCallDone,  # call_a: done as soon as the next call starts
        ToolCallStarted,
        ToolCallArgumentsDelta,
        ToolCallDone,  # call_b: done with the finish reason
    ]
    first, second = parser.response.tool_calls
    assert (first.call_id, first.name, first.arguments) == ("call_a", "get", '{"a": 1}')
    assert first.parsed_arguments == {"a": 1}
    assert (second.call_id, second.name, second.item_id) == ("call_b", "put", "choice-0")


def test_tool_call_without_id_gets_one_from_its_choice_and_index() -> None:
    events = feed(ChatCompletionsParser(), chunk(choice(tool_calls=[call(0, name="f")])))
    assert events[1] == ToolCallStarted("choice-0-call-0", "f", "choice-0")


def test_legacy_function_call_deltas_are_a_tool_call() -> None:
    # The deprecated `functions` API streams `delta.function_call` (no id, no index) and
    # finishes with "function_call"; some compatible servers still speak it.
    parser = ChatCompletionsParser()
    events = feed(
        parser,
        chunk(
            choice(role="assistant", content=None, function_call={"name": "get", "arguments": ""})
        ),
        chunk(choice(function_call={"arguments": '{"city"'})),
        chunk(choice(function_call={"arguments": ': "Paris"}'})),
        chunk(choice(finish_reason="function_call")),
        DONE,
    )
    assert events[1] == ToolCallStarted("choice-0-call-0", "get", "choice-0")
    (done,) = [e for e in events if isinstance(e, ToolCallDone)]
    assert done.tool_call.parsed_arguments == {"city": "Paris"}
    response = parser.response
    assert [(c.call_id, c.name) for c in response.tool_calls] == [("choice-0-call-0", "get")]
    assert response.finish_reason == "tool_call"


def test_delta_for_a_call_already_done_is_skipped_as_malformed() -> None:
    parser = ChatCompletionsParser()
    feed(
        parser,
        chunk(choice(tool_calls=[call(0, "call_a", "f")])),
        chunk(choice(tool_calls=[call(1, "call_b", "g")])),
    )
    assert parser.feed(chunk(choice(tool_calls=[call(0, args="{}")]))) == []
    assert parser.malformed_count == 1
    strict = ChatCompletionsParser(strict=True)
    feed(
        strict,
        chunk(choice(tool_calls=[call(0, "call_a", "f")])),
        chunk(choice(tool_calls=[call(1, "call_b", "g")])),
    )
    with pytest.raises(MalformedEventError):
        strict.feed(chunk(choice(tool_calls=[call(0, args="{}")])))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_fields_are_reasoning_text_done_with_the_choice(field: str) -> None:
    parser = ChatCompletionsParser()
    events = feed(
        parser,
        chunk(choice(**{field: "Let me think"})),
        chunk(choice(content="4")),
        chunk(choice(finish_reason="stop")),
    )
    assert events[1] == ReasoningDelta("Let me think", "choice-0", "text")
    assert isinstance(events[3], ReasoningDone)
    assert events[3].reasoning.content == ("Let me think",)
    assert parser.response.text == "4"


def test_mistral_content_parts_split_into_reasoning_and_text() -> None:
    parts = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "Hi"},
    ]
    events = feed(ChatCompletionsParser(), chunk(choice(content=parts)))
    assert events[1:] == [ReasoningDelta("hmm", "choice-0", "text"), TextDelta("Hi", "choice-0")]


def test_other_choices_stream_events_but_the_response_is_choice_zero() -> None:
    parser = ChatCompletionsParser()
    events = feed(
        parser,
        chunk(choice(0, content="A"), choice(1, content="B")),
        chunk(choice(0, finish_reason="stop"), choice(1, finish_reason="length")),
        DONE,
    )
    assert TextDelta("B", "choice-1") in events
    assert MessageDone("choice-1", "B", None) in events
    response = parser.response
    assert (response.text, response.finish_reasons, response.status) == (
        "A",
        ("stop", "length"),
        "completed",
    )


def test_a_choice_without_finish_reason_reports_error_in_its_position() -> None:
    parser = ChatCompletionsParser()
    feed(parser, chunk(choice(0, content="A"), choice(1, content="B")), chunk(choice(0, "stop")))
    feed(parser, DONE)
    assert parser.response.finish_reasons == ("stop", "error")


def test_end_of_body_completes_only_when_every_choice_finished() -> None:
    unfinished = ChatCompletionsParser()
    feed(unfinished, chunk(choice(0, "stop"), choice(1, content="B")))
    assert unfinished.close() == []
    finished = ChatCompletionsParser()
    feed(finished, chunk(choice(0, "stop"), choice(1, "stop")))
    (done,) = finished.close()
    assert isinstance(done, ResponseDone)
    assert done.response.finish_reasons == ("stop", "stop")


@pytest.mark.parametrize(
    "payload",
    [
        {"error": {"message": "boom", "type": "server_error", "code": "tool_use_failed"}},
        {"type": "error", "code": "tool_use_failed", "message": "boom"},
    ],
    ids=["nested", "top_level"],
)
def test_error_event_fails_the_response_at_the_end(payload: dict[str, Any]) -> None:
    parser = ChatCompletionsParser()
    feed(parser, chunk(choice(content="x")))
    (reported,) = parser.feed(ServerSentEvent("error", json.dumps(payload)))
    assert isinstance(reported, ErrorReported)
    assert (reported.error.code, reported.error.message) == ("tool_use_failed", "boom")
    assert parser.error == reported.error
    (done,) = parser.close()
    assert isinstance(done, ResponseDone)
    assert (done.response.status, done.response.finish_reason) == ("failed", "error")
    assert done.response.text == "x"


def test_error_without_code_uses_its_type_as_code() -> None:
    parser = ChatCompletionsParser()
    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    (reported,) = parser.feed(ServerSentEvent("error", json.dumps(error)))
    assert isinstance(reported, ErrorReported)
    assert reported.error.code == "server_error"


def test_error_inside_a_chunk_is_reported() -> None:
    parser = ChatCompletionsParser()
    events = feed(parser, chunk(choice(finish_reason="error"), error={"message": "upstream"}))
    assert isinstance(events[-1], ErrorReported)
    assert feed(parser, DONE)[-1].response.status == "failed"  # type: ignore[union-attr]


def test_usage_with_details_is_normalized() -> None:
    usage = {
        "prompt_tokens": 1144,
        "completion_tokens": 20,
        "total_tokens": 1164,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 12},
    }
    (event,) = ChatCompletionsParser().feed(chunk(usage=usage))[1:]
    assert event == UsageReported(Usage(1144, 20, 1164, 1024, None, 12))


def test_groq_usage_in_x_groq_is_read() -> None:
    x_groq = {
        "id": "req_1",
        "usage": {"prompt_tokens": 18, "completion_tokens": 73, "total_tokens": 91},
    }
    (event,) = ChatCompletionsParser().feed(chunk(x_groq=x_groq))[1:]
    assert event == UsageReported(Usage(18, 73, 91))


def test_invalid_json_is_skipped_and_counted_or_raised_when_strict() -> None:
    parser = ChatCompletionsParser()
    assert parser.feed(ServerSentEvent("message", '{"choices": [')) == []
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError):
        ChatCompletionsParser(strict=True).feed(ServerSentEvent("message", "{nope"))


def test_unknown_event_name_is_passed_through() -> None:
    parser = ChatCompletionsParser()
    assert parser.feed(ServerSentEvent("keepalive", "{}")) == [UnknownEvent("keepalive", "{}")]
    assert parser.unknown_count == 1


def test_done_without_any_finish_reason_completes_with_no_finish_reason() -> None:
    # Issue #22 (Snowflake's server sends none): complete at [DONE], reason unknown, none
    # invented, as the openai SDK leaves it None.
    parser = ChatCompletionsParser()
    feed(parser, chunk(choice(0, content="A")), DONE)
    response = parser.response
    assert (response.status, response.finish_reason, response.finish_reasons) == (
        "completed",
        None,
        (),
    )
