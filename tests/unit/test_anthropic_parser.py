"""The Anthropic Messages parser, one behaviour per test, on hand-built events.

Real recordings are covered by tests/integration/test_recorded_anthropic.py; these pin the edge
cases no public recording shows (``redacted_thinking``, ``error``, ``refusal``...) and the
mapping tables.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spanstream.errors import MalformedEventError
from spanstream.events import (
    TOKEN_COUNT_MAX,
    ErrorReported,
    ItemDone,
    MessageDone,
    Reasoning,
    ReasoningDone,
    ResponseDone,
    StreamEvent,
    TextDelta,
    ToolCallDone,
    UnknownEvent,
    Usage,
    UsageReported,
)
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.sse import ServerSentEvent


def event(type_: str, name: str | None = None, **fields: Any) -> ServerSentEvent:
    return ServerSentEvent(name or type_, json.dumps({"type": type_, **fields}))


def start(**usage: int) -> ServerSentEvent:
    message = {"id": "msg_1", "model": "claude", "usage": usage or {"input_tokens": 5}}
    return event("message_start", message=message)


def block_start(index: int, **block: Any) -> ServerSentEvent:
    return event("content_block_start", index=index, content_block=block)


def delta(index: int, **body: Any) -> ServerSentEvent:
    return event("content_block_delta", index=index, delta=body)


def block_stop(index: int) -> ServerSentEvent:
    return event("content_block_stop", index=index)


def message_delta(stop_reason: str | None = "end_turn", **usage: int) -> ServerSentEvent:
    return event("message_delta", delta={"stop_reason": stop_reason}, usage=usage or None)


STOP = event("message_stop")


def feed(parser: MessagesParser, *events: ServerSentEvent) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    for sse in events:
        out += parser.feed(sse)
    return out


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason", "status"),
    [
        ("end_turn", "stop", "completed"),
        ("stop_sequence", "stop", "completed"),
        ("tool_use", "tool_call", "completed"),
        ("max_tokens", "length", "incomplete"),
        ("model_context_window_exceeded", "length", "incomplete"),
        ("refusal", "content_filter", "incomplete"),
        ("pause_turn", "pause_turn", "incomplete"),
        ("new_reason", "new_reason", "completed"),  # unknown values pass through
    ],
)
def test_stop_reason_mapping(stop_reason: str, finish_reason: str, status: str) -> None:
    events = feed(MessagesParser(), start(), message_delta(stop_reason, output_tokens=1), STOP)
    response = events[-1].response  # type: ignore[union-attr]
    assert (response.finish_reason, response.status) == (finish_reason, status)
    assert response.incomplete_reason == (stop_reason if status == "incomplete" else None)


def test_usage_is_normalized_with_cache_tokens_added_to_input() -> None:
    parser = MessagesParser()
    events = feed(
        parser,
        start(input_tokens=3, cache_read_input_tokens=100, cache_creation_input_tokens=20),
        message_delta(output_tokens=7),
    )
    usages = [e.usage for e in events if isinstance(e, UsageReported)]
    assert usages == [Usage(123, None, None, 100, 20), Usage(123, 7, 130, 100, 20)]


def test_message_delta_usage_replaces_start_values_without_adding() -> None:
    parser = MessagesParser()
    feed(
        parser,
        start(input_tokens=3, cache_read_input_tokens=0, cache_creation_input_tokens=2399),
        message_delta(
            input_tokens=17,
            cache_read_input_tokens=16242,
            cache_creation_input_tokens=23258,
            output_tokens=515,
        ),
        STOP,
    )
    assert parser.response.usage == Usage(
        17 + 16242 + 23258, 515, 17 + 16242 + 23258 + 515, 16242, 23258
    )


def test_usage_only_in_message_delta_is_reported() -> None:
    # Some relays send input and cache usage only on message_delta (api7/aisix #712).
    parser = MessagesParser()
    feed(
        parser,
        event("message_start", message={"id": "msg_1", "model": "claude"}),
        message_delta(input_tokens=10, cache_read_input_tokens=5, output_tokens=2),
        STOP,
    )
    assert parser.response.usage == Usage(15, 2, 17, 5, None)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # Each part a count, the total not: no total, the parts stand.
        ({"input_tokens": TOKEN_COUNT_MAX}, Usage(TOKEN_COUNT_MAX, 1, None)),
        # The input with its cache reads is no count: neither it nor the total is reported.
        (
            {"input_tokens": TOKEN_COUNT_MAX, "cache_read_input_tokens": 1},
            Usage(None, 1, None, 1, None),
        ),
    ],
    ids=["total-overflows", "input-overflows"],
)
def test_a_total_that_is_no_token_count_is_not_reported(
    usage: dict[str, int], expected: Usage
) -> None:
    parser = MessagesParser()
    feed(parser, start(**usage), message_delta(output_tokens=1), STOP)
    assert parser.response.usage == expected


def test_thinking_tokens_are_reasoning_output_tokens() -> None:
    parser = MessagesParser()
    details = {"thinking_tokens": 53}
    feed(
        parser,
        start(),
        event(
            "message_delta", delta={}, usage={"output_tokens": 92, "output_tokens_details": details}
        ),
    )
    assert parser.response.usage == Usage(5, 92, 97, None, None, 53)


def test_redacted_thinking_is_reasoning_with_its_opaque_data() -> None:
    parser = MessagesParser()
    events = feed(parser, block_start(0, type="redacted_thinking", data="EmwKAhgB"), block_stop(0))
    assert events == [
        ReasoningDone(Reasoning("block-0", encrypted_content="EmwKAhgB", redacted=True))
    ]
    assert parser.response.reasoning == (events[0].reasoning,)  # type: ignore[union-attr]


def test_signature_delta_is_kept_on_the_reasoning() -> None:
    parser = MessagesParser()
    events = feed(
        parser,
        block_start(0, type="thinking", thinking="", signature=""),
        delta(0, type="thinking_delta", thinking="hmm"),
        delta(0, type="signature_delta", signature="sig=="),
        block_stop(0),
    )
    assert events[-1] == ReasoningDone(Reasoning("block-0", content=("hmm",), signature="sig=="))


def test_tool_use_without_input_deltas_has_empty_arguments() -> None:
    events = feed(
        MessagesParser(),
        block_start(1, type="tool_use", id="toolu_1", name="now", input={}),
        delta(1, type="input_json_delta", partial_json=""),
        block_stop(1),
    )
    done = events[-1]
    assert isinstance(done, ToolCallDone)
    assert (done.tool_call.call_id, done.tool_call.arguments) == ("toolu_1", "")
    assert done.tool_call.parsed_arguments == {}


def test_server_tool_block_is_an_item_with_its_streamed_input() -> None:
    events = feed(
        MessagesParser(),
        block_start(0, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
        delta(0, type="input_json_delta", partial_json='{"query": '),
        delta(0, type="input_json_delta", partial_json='"otel"}'),
        block_stop(0),
    )
    (item,) = events
    assert isinstance(item, ItemDone)
    assert (item.type, item.id) == ("server_tool_use", "srvtoolu_1")
    assert item.data["input"] == {"query": "otel"}


def test_blocks_left_open_are_closed_at_message_stop() -> None:
    parser = MessagesParser()
    events = feed(parser, block_start(0, type="text", text="Hi"), message_delta(), STOP)
    assert events[0] == TextDelta("Hi", "block-0")
    assert [type(e) for e in events[1:]] == [MessageDone, ResponseDone]
    assert parser.response.text == "Hi"


def test_error_event_fails_the_response_with_its_type_as_code() -> None:
    parser = MessagesParser()
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    feed(
        parser,
        start(),
        block_start(0, type="text", text=""),
        delta(0, type="text_delta", text="Hi"),
    )
    (reported,) = parser.feed(event("error", error=overloaded))
    assert isinstance(reported, ErrorReported)
    assert (reported.error.code, reported.error.type) == ("overloaded_error", "overloaded_error")
    assert reported.error.message == "Overloaded"
    (done,) = parser.close()
    assert isinstance(done, ResponseDone)
    assert (done.response.status, done.response.finish_reason) == ("failed", "error")
    assert done.response.text == "Hi"


def test_data_only_frames_are_read_by_their_type() -> None:
    parser = MessagesParser()
    frame = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": "A"},
    }
    assert parser.feed(ServerSentEvent("message", json.dumps(frame))) == [TextDelta("A", "block-0")]


def test_unknown_event_types_are_passed_through() -> None:
    parser = MessagesParser()
    assert parser.feed(ServerSentEvent("future_event", "{}")) == [
        UnknownEvent("future_event", "{}")
    ]
    data = '{"type": "future_event"}'
    assert parser.feed(ServerSentEvent("message", data)) == [UnknownEvent("future_event", data)]
    assert parser.unknown_count == 2


def test_unknown_delta_type_is_passed_through() -> None:
    parser = MessagesParser()
    feed(parser, block_start(0, type="text", text=""))
    sse = delta(0, type="future_delta", value=1)
    assert parser.feed(sse) == [UnknownEvent("content_block_delta.future_delta", sse.data)]


def test_ping_says_nothing() -> None:
    assert MessagesParser().feed(event("ping")) == []


@pytest.mark.parametrize(
    "sse",
    [
        ServerSentEvent("content_block_delta", "{not json"),
        delta(3, type="text_delta", text="block 3 never started"),
    ],
    ids=["invalid_json", "unknown_block"],
)
def test_malformed_events_are_skipped_or_raised_when_strict(sse: ServerSentEvent) -> None:
    parser = MessagesParser()
    assert parser.feed(sse) == []
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError):
        MessagesParser(strict=True).feed(sse)


def test_end_of_body_before_a_stop_reason_is_not_complete() -> None:
    parser = MessagesParser()
    feed(parser, start(), block_start(0, type="text", text="Hi"))
    assert parser.close() == []
    assert not parser.done


def test_message_stop_without_a_stop_reason_completes_with_no_finish_reason() -> None:
    # Issue #22: complete (the server said so), reason unknown, none invented.
    parser = MessagesParser()
    feed(parser, start(input_tokens=1), message_delta(None, output_tokens=2), STOP)
    response = parser.response
    assert (response.status, response.finish_reason, response.finish_reasons) == (
        "completed",
        None,
        (),
    )


def test_a_server_tool_input_with_a_huge_integer_stays_valid_json() -> None:
    # Only revalidating a failed event reads an over-long integer as a placeholder; a tool's
    # streamed input is decoded as json.loads does, so nothing becomes Infinity in its data.
    huge = "1" * 5000
    events = feed(
        MessagesParser(),
        block_start(0, type="server_tool_use", id="srvtoolu_1", name="web_search", input={}),
        delta(0, type="input_json_delta", partial_json='{"n": ' + huge + "}"),
        block_stop(0),
    )
    (item,) = events
    assert isinstance(item, ItemDone)
    assert json.loads(json.dumps(item.data)) == item.data  # no inf
    assert "inf" not in repr(item.data).lower()
