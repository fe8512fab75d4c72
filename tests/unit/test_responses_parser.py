"""Sans-IO tests of the OpenAI Responses parser and request builder.

Every test builds :class:`ServerSentEvent` objects directly (no network, no recorded fixture
except ``EVENT_TYPES.md``, which lists the event types the API can send) and checks one
behaviour of :class:`ResponsesParser` or :func:`build_request`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from spanstream.accumulate import Accumulator
from spanstream.errors import MalformedEventError
from spanstream.events import (
    CitationAdded,
    ErrorReported,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    Response,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UnknownEvent,
    Usage,
    UsageReported,
)
from spanstream.providers.openai_responses import ResponsesParser, build_request
from spanstream.sse import ServerSentEvent

EVENT_TYPES_MD = (
    Path(__file__).resolve().parents[1] / "fixtures" / "openai-responses" / "EVENT_TYPES.md"
)
LOGGER = "spanstream.providers.openai_responses"
SECRET = "sk-SECRET-canary-7f3a9c"  # must never appear in a log record


# ---------------------------------------------------------------------------------------------
# Helpers


def sse(payload: dict[str, Any], *, named: bool = True) -> ServerSentEvent:
    """The frame for ``payload``: with an ``event:`` line naming its type, or data-only."""
    return ServerSentEvent(event=payload["type"] if named else "message", data=json.dumps(payload))


def feed(parser: ResponsesParser, *payloads: dict[str, Any], named: bool = True) -> list[Any]:
    return [event for p in payloads for event in parser.feed(sse(p, named=named))]


def of_type(events: list[Any], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def response_obj(status: str = "in_progress", **extra: Any) -> dict[str, Any]:
    """A ``response`` object with the fields the SDK requires."""
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": "gpt-4.1-2025-04-14",
        "status": status,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        **extra,
    }


def created() -> dict[str, Any]:
    return {"type": "response.created", "sequence_number": 0, "response": response_obj()}


def completed(**extra: Any) -> dict[str, Any]:
    return {
        "type": "response.completed",
        "sequence_number": 99,
        "response": response_obj("completed", **extra),
    }


def message_item(
    item_id: str = "msg_1", text: str = "", refusal: str | None = None
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": []})
    if refusal is not None:
        content.append({"type": "refusal", "refusal": refusal})
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": "completed",
        "content": content,
    }


def function_item(
    item_id: str = "fc_1", call_id: str = "call_1", name: str = "get_weather", arguments: Any = ""
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def item_added(item: dict[str, Any], output_index: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_item.added",
        "sequence_number": 1,
        "output_index": output_index,
        "item": item,
    }


def item_done(item: dict[str, Any], output_index: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "sequence_number": 5,
        "output_index": output_index,
        "item": item,
    }


def text_delta(delta: str, item_id: str = "msg_1") -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "sequence_number": 3,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
        "logprobs": [],
    }


# ---------------------------------------------------------------------------------------------
# The event types listed in EVENT_TYPES.md, with minimal plausible payloads


def _event_table() -> dict[str, tuple[str, ...]]:
    """``event type -> required fields`` from the first table of EVENT_TYPES.md."""
    text = EVENT_TYPES_MD.read_text(encoding="utf-8")
    declared = re.search(r"^(\d+) event types\.", text, re.MULTILINE)
    assert declared, "EVENT_TYPES.md no longer states how many event types it lists"
    section = text.split("| event type |", 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[str, ...]] = {}
    for line in section.splitlines():
        row = re.match(r"\|\s*`([^`]+)`\s*\|[^|]*\|([^|]*)\|", line)
        if row:
            table[row[1]] = tuple(f.strip() for f in row[2].split(",") if f.strip())
    assert len(table) == int(declared[1]), "could not read every row of the event table"
    return table


EVENT_TABLE = _event_table()

# Recorded from the API but not (yet) members of the SDK's union, so not in EVENT_TYPES.md.
EXTRA_EVENTS: dict[str, tuple[str, ...]] = {
    "response.apply_patch_call_operation_diff.delta": (
        "delta",
        "item_id",
        "output_index",
        "sequence_number",
    ),
    "response.apply_patch_call_operation_diff.done": (
        "item_id",
        "output_index",
        "sequence_number",
    ),
}
ALL_EVENTS = {**EVENT_TABLE, **EXTRA_EVENTS}

_FIELD_VALUES: dict[str, Any] = {
    "sequence_number": 7,
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "summary_index": 0,
    "annotation_index": 0,
    "command_index": 0,
    "partial_image_index": 0,
    "delta": "d",
    "text": "t",
    "code": "print(1)",
    "input": "{}",
    "arguments": "{}",
    "refusal": "no",
    "command": "ls",
    "partial_image_b64": "aGk=",
    "message": "boom",
    "logprobs": [],
    "response": response_obj(),
    "item": message_item(),
    "part": {"type": "output_text", "text": "t", "annotations": []},
    "output": [{"outcome": {"type": "exit", "exit_code": 0}, "stdout": "ok", "stderr": ""}],
}
_FIELD_OVERRIDES: dict[tuple[str, str], Any] = {
    ("response.shell_call_output_content.delta", "delta"): {"stdout": "ok", "stderr": ""},
    ("response.reasoning_summary_part.added", "part"): {"type": "summary_text", "text": "t"},
    ("response.reasoning_summary_part.done", "part"): {"type": "summary_text", "text": "t"},
    ("response.completed", "response"): response_obj("completed"),
    ("response.incomplete", "response"): response_obj(
        "incomplete", incomplete_details={"reason": "max_output_tokens"}
    ),
    ("response.failed", "response"): response_obj(
        "failed", error={"code": "server_error", "message": "boom"}
    ),
}


def minimal_payload(event_type: str) -> dict[str, Any]:
    """``type`` plus every required field, with a plausible value (a string for a field name
    this table does not know yet, so a newly listed event type is still exercised)."""
    payload: dict[str, Any] = {"type": event_type}
    for name in ALL_EVENTS[event_type]:
        payload[name] = _FIELD_OVERRIDES.get((event_type, name), _FIELD_VALUES.get(name, "x"))
    return payload


def test_event_types_table_lists_the_whole_union() -> None:
    # Guards the parsing above: a broken regex would silently shrink the parametrization.
    assert "response.output_text.delta" in EVENT_TABLE
    assert "error" in EVENT_TABLE
    assert EVENT_TABLE["response.output_text.delta"] == (
        "content_index",
        "delta",
        "item_id",
        "logprobs",
        "output_index",
        "sequence_number",
    )


@functools.cache
def _sdk_event_adapter() -> Any:
    responses = pytest.importorskip("openai.types.responses")
    return TypeAdapter(responses.ResponseStreamEvent)


@pytest.mark.parametrize("event_type", sorted(EVENT_TABLE))
def test_minimal_payloads_are_valid_for_the_official_sdk(event_type: str) -> None:
    """The payloads used below are realistic: the SDK's own union accepts them."""
    event = _sdk_event_adapter().validate_python(minimal_payload(event_type))
    assert event.type == event_type


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
@pytest.mark.parametrize("event_type", sorted(ALL_EVENTS))
def test_every_listed_event_type_is_known_to_the_parser(event_type: str, named: bool) -> None:
    parser = ResponsesParser()
    events = feed(parser, minimal_payload(event_type), named=named)
    assert not of_type(events, UnknownEvent)
    assert parser.unknown_count == 0
    assert parser.malformed_count == 0


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
@pytest.mark.parametrize("event_type", sorted(ALL_EVENTS))
def test_event_without_its_required_fields_is_accepted_leniently(
    event_type: str, named: bool
) -> None:
    parser = ResponsesParser(strict=True)  # strict: anything judged malformed would raise
    events = feed(parser, {"type": event_type}, named=named)
    assert not of_type(events, UnknownEvent)
    assert parser.unknown_count == 0
    assert parser.malformed_count == 0


# ---------------------------------------------------------------------------------------------
# Normalized mapping


def test_output_text_delta_becomes_text_delta() -> None:
    assert feed(ResponsesParser(), text_delta("Hel", "msg_9")) == [TextDelta("Hel", "msg_9")]


def test_refusal_delta_becomes_refusal_delta_and_never_text() -> None:
    parser = ResponsesParser()
    refusal = {
        "type": "response.refusal.delta",
        "sequence_number": 4,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "I can't help with that.",
    }
    assert feed(parser, refusal) == [RefusalDelta("I can't help with that.", "msg_1")]
    assert parser.response.text == ""
    assert parser.response.refusal == "I can't help with that."


def test_reasoning_summary_delta_is_summary_kind_numbered_by_summary_index() -> None:
    payload = {
        "type": "response.reasoning_summary_text.delta",
        "sequence_number": 4,
        "item_id": "rs_1",
        "output_index": 0,
        "summary_index": 2,
        "delta": "Thinking",
    }
    assert feed(ResponsesParser(), payload) == [ReasoningDelta("Thinking", "rs_1", "summary", 2)]


def test_reasoning_text_delta_is_text_kind() -> None:
    payload = {
        "type": "response.reasoning_text.delta",
        "sequence_number": 4,
        "item_id": "rs_1",
        "output_index": 0,
        "content_index": 1,
        "delta": "raw",
    }
    (event,) = feed(ResponsesParser(), payload)
    assert isinstance(event, ReasoningDelta)
    assert (event.text, event.item_id, event.kind) == ("raw", "rs_1", "text")


def test_function_call_item_added_becomes_tool_call_started() -> None:
    events = feed(ResponsesParser(), item_added(function_item("fc_1", "call_A", "get_weather")))
    assert events == [ToolCallStarted("call_A", "get_weather", "fc_1")]


def test_arguments_delta_carries_the_call_id_looked_up_from_the_item_id() -> None:
    parser = ResponsesParser()
    feed(parser, item_added(function_item("fc_1", "call_A")))
    delta = {
        "type": "response.function_call_arguments.delta",
        "sequence_number": 2,
        "item_id": "fc_1",
        "output_index": 0,
        "delta": '{"city":',
    }
    assert feed(parser, delta) == [ToolCallArgumentsDelta("call_A", '{"city":', "fc_1")]


def test_function_call_item_done_emits_tool_call_done_before_any_terminal_event() -> None:
    parser = ResponsesParser()
    feed(parser, created(), item_added(function_item("fc_1", "call_A")))
    events = feed(parser, item_done(function_item("fc_1", "call_A", arguments='{"city":"Oslo"}')))
    assert events == [ToolCallDone(ToolCall("call_A", "get_weather", '{"city":"Oslo"}', "fc_1"))]
    call = events[0].tool_call
    assert call.arguments == '{"city":"Oslo"}'
    assert call.parsed_arguments == {"city": "Oslo"}
    assert parser.done is False


def test_message_item_done_becomes_message_done_with_text_and_refusal() -> None:
    events = feed(ResponsesParser(), item_done(message_item("msg_1", "Hi", refusal="No")))
    assert events == [MessageDone("msg_1", "Hi", "No")]


def test_reasoning_item_done_carries_summary_parts_and_encrypted_content() -> None:
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [
            {"type": "summary_text", "text": "First."},
            {"type": "summary_text", "text": "Second."},
        ],
        "encrypted_content": "gAAAA-opaque",
    }
    events = feed(ResponsesParser(), item_done(item))
    assert events == [
        ReasoningDone(
            Reasoning(id="rs_1", summary=("First.", "Second."), encrypted_content="gAAAA-opaque")
        )
    ]


def test_other_item_type_done_becomes_item_done_with_the_raw_item() -> None:
    item: dict[str, object] = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "weather"},
    }
    assert feed(ResponsesParser(), item_done(item)) == [ItemDone("web_search_call", "ws_1", item)]


def test_response_created_emits_response_started_once() -> None:
    parser = ResponsesParser()
    in_progress = {**created(), "type": "response.in_progress", "sequence_number": 1}
    assert feed(parser, created()) == [ResponseStarted("resp_1", "gpt-4.1-2025-04-14")]
    assert feed(parser, in_progress) == []


# ---------------------------------------------------------------------------------------------
# Outcomes


def test_completed_reports_usage_then_done_with_finish_reason_stop() -> None:
    parser = ResponsesParser()
    feed(parser, created(), text_delta("Hi"))
    usage = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    events = feed(parser, completed(usage=usage))
    assert [type(e) for e in events] == [UsageReported, ResponseDone]
    response = events[-1].response
    assert (response.status, response.finish_reason, response.text) == ("completed", "stop", "Hi")
    assert parser.done is True


def test_completed_after_a_function_call_has_finish_reason_tool_call() -> None:
    parser = ResponsesParser()
    feed(parser, created(), item_added(function_item()), item_done(function_item(arguments="{}")))
    (done,) = of_type(feed(parser, completed()), ResponseDone)
    assert done.response.finish_reason == "tool_call"


@pytest.mark.parametrize(
    ("reason", "finish_reason"),
    [("max_output_tokens", "length"), ("content_filter", "content_filter")],
)
def test_incomplete_maps_its_reason_to_a_finish_reason(reason: str, finish_reason: str) -> None:
    parser = ResponsesParser()
    incomplete = {
        "type": "response.incomplete",
        "sequence_number": 9,
        "response": response_obj("incomplete", incomplete_details={"reason": reason}),
    }
    (done,) = of_type(feed(parser, created(), incomplete), ResponseDone)
    assert done.response.status == "incomplete"
    assert done.response.finish_reason == finish_reason
    assert done.response.incomplete_reason == reason


def test_failed_has_status_failed_finish_reason_error_and_the_response_error() -> None:
    parser = ResponsesParser()
    failed = {
        "type": "response.failed",
        "sequence_number": 9,
        "response": response_obj(
            "failed", error={"code": "server_error", "message": "The server had an error"}
        ),
    }
    (done,) = of_type(feed(parser, created(), failed), ResponseDone)
    response = done.response
    assert (response.status, response.finish_reason) == ("failed", "error")
    assert response.error is not None
    assert (response.error.code, response.error.message) == (
        "server_error",
        "The server had an error",
    )


def test_error_event_with_top_level_fields_is_reported() -> None:
    payload = {
        "type": "error",
        "sequence_number": 3,
        "code": "rate_limit_exceeded",
        "message": "Slow down",
        "param": None,
    }
    events = feed(ResponsesParser(), payload)
    # The top-level ``type`` is the event type ("error"), not an error type: there is none.
    assert events == [ErrorReported(ProviderError("Slow down", "rate_limit_exceeded", None), 3)]


def test_error_event_with_nested_error_object_is_reported() -> None:
    payload = {
        "type": "error",
        "sequence_number": 2,
        "error": {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "Too long",
            "param": "input",
        },
    }
    events = feed(ResponsesParser(), payload)
    assert events == [
        ErrorReported(
            ProviderError("Too long", "context_length_exceeded", "invalid_request_error", "input"),
            2,
        )
    ]


def test_error_event_without_terminal_event_ends_as_failed_on_close() -> None:
    parser = ResponsesParser()
    feed(parser, created(), {"type": "error", "code": "server_error", "message": "Oops"})
    (done,) = parser.close()
    assert isinstance(done, ResponseDone)
    response = done.response
    assert (response.status, response.finish_reason) == ("failed", "error")
    assert response.error == ProviderError("Oops", "server_error")
    assert parser.done is True


def test_close_without_terminal_or_error_emits_nothing_and_is_not_done() -> None:
    parser = ResponsesParser()
    feed(parser, created(), text_delta("partial"))
    assert parser.close() == []
    assert parser.done is False


# ---------------------------------------------------------------------------------------------
# Usage mapping


def _usage_of(usage: dict[str, Any]) -> Usage:
    parser = ResponsesParser()
    (reported,) = of_type(feed(parser, created(), completed(usage=usage)), UsageReported)
    assert isinstance(reported, UsageReported)
    assert parser.response.usage == reported.usage
    return reported.usage


def test_usage_maps_totals_and_details() -> None:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30},
        "total_tokens": 150,
    }
    assert _usage_of(usage) == Usage(
        input_tokens=100,
        output_tokens=50,
        total_tokens=150,
        cache_read_input_tokens=60,
        cache_write_input_tokens=20,
        reasoning_output_tokens=30,
    )


def test_usage_without_details_leaves_them_none() -> None:
    assert _usage_of({"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}) == Usage(1, 2, 3)


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
def test_unknown_event_type_passes_through_as_unknown_event(named: bool) -> None:
    parser = ResponsesParser()
    frame = sse({"type": "response.brand_new_thing", "sequence_number": 4, "x": 1}, named=named)
    assert parser.feed(frame) == [UnknownEvent("response.brand_new_thing", frame.data)]
    assert parser.unknown_count == 1
    assert parser.malformed_count == 0


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
def test_invalid_json_is_skipped_counted_and_logged_without_content(
    named: bool, caplog: pytest.LogCaptureFixture
) -> None:
    parser = ResponsesParser()
    truncated = f'{{"type":"response.output_text.delta","sequence_number":42,"delta":"{SECRET}'
    event = "response.output_text.delta" if named else "message"
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert parser.feed(ServerSentEvent(event, truncated)) == []
    assert parser.malformed_count == 1
    assert parser.unknown_count == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "42" in warnings[0].getMessage()
    assert SECRET not in caplog.text
    assert all(SECRET not in repr(r.args) for r in caplog.records)


def test_wrong_field_type_is_malformed() -> None:
    parser = ResponsesParser()
    payload = {**text_delta("x"), "delta": 5}
    assert feed(parser, payload) == []
    assert parser.malformed_count == 1


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
def test_strict_parser_raises_malformed_event_with_sequence_number_and_type(named: bool) -> None:
    parser = ResponsesParser(strict=True)
    payload = {**text_delta("x"), "sequence_number": 17, "delta": 5}
    with pytest.raises(MalformedEventError) as caught:
        feed(parser, payload, named=named)
    assert caught.value.sequence_number == 17
    assert caught.value.event_type == "response.output_text.delta"


def test_done_sentinel_is_ignored_and_not_malformed() -> None:
    parser = ResponsesParser(strict=True)
    assert parser.feed(ServerSentEvent("message", "[DONE]")) == []
    assert (parser.malformed_count, parser.unknown_count) == (0, 0)


def test_function_call_item_with_non_string_arguments_is_malformed_not_fatal() -> None:
    parser = ResponsesParser()
    events = feed(parser, created(), item_done(function_item(arguments={"city": "Oslo"})))
    assert not of_type(events, ToolCallDone)
    assert parser.malformed_count == 1
    # The stream goes on.
    assert of_type(feed(parser, completed()), ResponseDone)


@pytest.mark.parametrize("named", [True, False], ids=["named", "data-only"])
def test_deeply_nested_payload_is_malformed_not_a_crash(named: bool) -> None:
    parser = ResponsesParser()
    event = "response.output_text.delta" if named else "message"
    assert parser.feed(ServerSentEvent(event, "[" * 100_000)) == []
    assert parser.malformed_count == 1


def test_malformed_payload_with_huge_sequence_number_is_not_a_crash() -> None:
    parser = ResponsesParser()
    data = '{"type":"response.output_text.delta","sequence_number":' + "9" * 5000 + ',"delta":5}'
    assert parser.feed(ServerSentEvent("response.output_text.delta", data)) == []
    assert parser.malformed_count == 1


@pytest.mark.parametrize("event", ["response.output_text.delta", "response.refusal.delta"])
def test_a_delta_with_a_huge_number_in_a_field_it_ignores_keeps_its_text(event: str) -> None:
    # The JSON parser refuses a number of thousands of digits; the field is none the parser
    # reads, so the delta is mended as every other event is (one decode-and-report path; the
    # text delta's fast path used to skip it).
    parser = ResponsesParser()
    huge = "9" * 5000
    data = f'{{"type":"{event}","sequence_number":{huge},"item_id":"m","delta":"Hi"}}'
    (delta,) = parser.feed(ServerSentEvent(event, data))
    assert (type(delta).__name__, delta.text) in {("TextDelta", "Hi"), ("RefusalDelta", "Hi")}
    assert (parser.malformed_count, parser.unknown_count) == (0, 0)


def test_function_call_with_deeply_nested_arguments_is_not_a_crash() -> None:
    parser = ResponsesParser()
    (event,) = feed(parser, item_done(function_item(arguments="[" * 100_000)))
    assert isinstance(event, ToolCallDone)
    assert event.tool_call.parsed_arguments is None


def test_terminal_output_item_with_unhashable_type_is_not_a_crash() -> None:
    parser = ResponsesParser()
    events = feed(parser, completed(output=[{"id": "x_1", "type": ["message"]}]))
    assert of_type(events, ResponseDone)


def test_malformed_data_only_event_is_not_classified_by_a_nested_type() -> None:
    parser = ResponsesParser()
    # Valid JSON, a known event type, a wrongly typed field; the nested item comes first.
    data = json.dumps(
        {"item": message_item(), "type": "response.output_item.done", "output_index": "zero"}
    )
    assert parser.feed(ServerSentEvent("message", data)) == []
    assert (parser.malformed_count, parser.unknown_count) == (1, 0)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_type_names = st.sampled_from(sorted(ALL_EVENTS)) | st.text(max_size=12)
_payloads = st.dictionaries(
    st.sampled_from(sorted({f for fields in ALL_EVENTS.values() for f in fields}))
    | st.text(max_size=8),
    _json_values,
    max_size=6,
).flatmap(lambda d: _type_names.map(lambda t: json.dumps({"type": t, **d})))
_data = st.one_of(
    st.text(max_size=40),
    _json_values.map(json.dumps),
    _payloads,
    _payloads.map(lambda s: s[: len(s) // 2]),  # truncated JSON
)
_names = st.sampled_from([*sorted(ALL_EVENTS), "message"]) | st.text(max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.tuples(_names, _data), max_size=8))
def test_random_input_never_raises_in_lenient_mode(frames: list[tuple[str, str]]) -> None:
    parser = ResponsesParser()
    for name, data in frames:
        parser.feed(ServerSentEvent(name, data))
    parser.close()
    parser.response  # noqa: B018 - the snapshot must be buildable too


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.tuples(_names, _data), max_size=8))
def test_random_input_raises_only_malformed_event_in_strict_mode(
    frames: list[tuple[str, str]],
) -> None:
    parser = ResponsesParser(strict=True)
    try:
        for name, data in frames:
            parser.feed(ServerSentEvent(name, data))
        parser.close()
    except MalformedEventError:
        pass


def test_feeding_text_deltas_never_snapshots_the_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Per-event cost: building a snapshot joins every delta so far, so doing it per delta
    # would make a stream quadratic. The parser must only fold deltas in.
    snapshots = 0
    real_snapshot = Accumulator.snapshot

    def counting_snapshot(self: Accumulator) -> Response:
        nonlocal snapshots
        snapshots += 1
        return real_snapshot(self)

    monkeypatch.setattr(Accumulator, "snapshot", counting_snapshot)
    parser = ResponsesParser()
    feed(parser, created(), *(text_delta("x") for _ in range(1000)))
    assert snapshots == 0
    assert parser.response.text == "x" * 1000
    assert snapshots == 1  # the spy works


# ---------------------------------------------------------------------------------------------
# Resumed stream


def test_resumed_stream_backfills_text_and_tool_calls_from_the_terminal_output() -> None:
    parser = ResponsesParser()
    output = [
        message_item("msg_1", "Let me check."),
        function_item("fc_1", "call_A", "get_weather", '{"city":"Oslo"}'),
    ]
    events = feed(parser, completed(output=output))
    assert of_type(events, ResponseStarted) == [ResponseStarted("resp_1", "gpt-4.1-2025-04-14")]
    (done,) = of_type(events, ResponseDone)
    response = done.response
    assert response.text == "Let me check."
    assert response.tool_calls == (ToolCall("call_A", "get_weather", '{"city":"Oslo"}', "fc_1"),)
    assert response.tool_calls[0].parsed_arguments == {"city": "Oslo"}
    assert response.finish_reason == "tool_call"


def test_resumed_stream_backfills_a_message_s_citations_and_skips_unreadable_ones() -> None:
    parser = ResponsesParser()
    item = message_item("msg_1", "See Oslo.")
    item["content"][0]["annotations"] = [
        {"type": "url_citation", "url": "https://oslo.example", "title": "Oslo", "start_index": 4},
        "not an object",
        {"type": "file_citation", "filename": "notes.pdf", "file_id": "file_1"},
    ]
    item["content"].append({"type": "output_text", "text": "", "annotations": None})
    events = feed(parser, completed(output=[item]))
    citations = [event.citation for event in of_type(events, CitationAdded)]
    assert [(c.kind, c.item_id, c.url, c.title, c.start_index) for c in citations] == [
        ("url_citation", "msg_1", "https://oslo.example", "Oslo", 4),
        ("file_citation", "msg_1", None, "notes.pdf", None),
    ]
    # Reported before the message they belong to, as a live stream reports them.
    assert events.index(of_type(events, MessageDone)[0]) > events.index(
        of_type(events, CitationAdded)[-1]
    )
    assert parser.response.citations == tuple(citations)


def test_items_finished_in_the_stream_are_not_backfilled_again() -> None:
    parser = ResponsesParser()
    item = message_item("msg_1", "Hi")
    feed(parser, created(), text_delta("Hi"), item_done(item))
    events = feed(parser, completed(output=[item]))
    assert not of_type(events, MessageDone)
    assert events[-1].response.text == "Hi"


# ---------------------------------------------------------------------------------------------
# Request building


def test_request_has_only_model_input_and_stream_when_nothing_else_is_given() -> None:
    request = build_request(model="gpt-4.1", input="Hi")
    assert request.path == "/responses"
    assert request.body == {"model": "gpt-4.1", "input": "Hi", "stream": True}


def test_request_sends_given_fields_including_falsy_ones() -> None:
    request = build_request(
        model="gpt-4.1",
        input="Hi",
        instructions="Be brief",
        tools=[{"type": "function", "name": "f"}],
        temperature=0.0,
        top_p=1.0,
        max_output_tokens=64,
    )
    assert request.body == {
        "model": "gpt-4.1",
        "input": "Hi",
        "stream": True,
        "instructions": "Be brief",
        "tools": [{"type": "function", "name": "f"}],
        "temperature": 0.0,
        "top_p": 1.0,
        "max_output_tokens": 64,
    }


def test_extra_body_is_merged_last_and_overrides() -> None:
    request = build_request(
        model="gpt-4.1",
        input="Hi",
        temperature=0.2,
        extra_body={"temperature": 0.9, "store": False},
    )
    assert request.body["temperature"] == 0.9
    assert request.body["store"] is False
    assert request.info.temperature == 0.9  # the info describes what is actually sent


def test_request_info_identifies_openai_responses_chat() -> None:
    info = build_request(model="gpt-4.1", input="Hi").info
    assert (info.provider, info.operation, info.model) == ("openai", "chat", "gpt-4.1")
    assert info.request_attributes() == {"openai.api.type": "responses"}


def test_request_info_reads_max_tokens_reasoning_level_and_previous_response() -> None:
    info = build_request(
        model="o4-mini",
        input="Hi",
        max_output_tokens=256,
        reasoning={"effort": "high", "summary": "auto"},
        previous_response_id="resp_prev",
    ).info
    assert info.max_tokens == 256
    assert info.reasoning_level == "high"
    assert info.previous_response_id == "resp_prev"


def test_request_info_output_type_is_json_for_a_json_schema_format() -> None:
    text = {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}
    assert build_request(model="gpt-4.1", input="Hi", text=text).info.output_type == "json"


@pytest.mark.parametrize(("tier", "recorded"), [("flex", "flex"), ("auto", None), (None, None)])
def test_request_info_records_service_tier_unless_auto(
    tier: str | None, recorded: str | None
) -> None:
    request = build_request(model="gpt-4.1", input="Hi", service_tier=tier)
    assert request.info.request_attributes().get("openai.request.service_tier") == recorded
    assert ("service_tier" in request.body) == (tier is not None)


def test_error_event_with_numeric_code_keeps_the_provider_error() -> None:
    parser = ResponsesParser()
    data = json.dumps({"type": "error", "code": 500, "message": "upstream failed"})
    (event,) = parser.feed(ServerSentEvent("error", data))
    assert isinstance(event, ErrorReported)
    assert (event.error.code, event.error.message) == ("500", "upstream failed")
    assert parser.malformed_count == 0


# ---------------------------------------------------------------------------------------------
# Items are their output_index, whatever ids a server gives (issue #21)


def _text_delta(item_id: str, delta: str, index: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": item_id,
        "output_index": index,
        "content_index": 0,
        "delta": delta,
    }


def _message(item_id: str, text: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {"type": "message", "id": item_id, "role": "assistant", "content": [part]}


def test_deltas_with_their_own_ids_make_one_message_named_by_its_first_id() -> None:
    parser = ResponsesParser()
    events = feed(parser, created(), _text_delta("a", "Hel"), _text_delta("b", "lo"))
    assert [e.item_id for e in of_type(events, TextDelta)] == ["a", "a"]
    assert parser.response.text == "Hello"


def test_a_message_never_done_is_backfilled_once_by_its_output_index() -> None:
    # A resumed stream: deltas, no output_item.done, and the terminal output under another id.
    parser = ResponsesParser()
    events = feed(
        parser,
        _text_delta("a", "Hel"),
        _text_delta("b", "lo"),
        completed(output=[_message("c", "Hello")]),
    )
    assert of_type(events, MessageDone) == [MessageDone("a", "Hello")]
    assert parser.response.text == "Hello"


def test_a_done_item_under_another_id_is_not_backfilled_again() -> None:
    parser = ResponsesParser()
    feed(
        parser,
        {"type": "response.output_item.added", "output_index": 0, "item": _message("a", "")},
        _text_delta("b", "Hi"),
        {"type": "response.output_item.done", "output_index": 0, "item": _message("c", "Hi")},
        completed(output=[_message("d", "Hi")]),
    )
    assert parser.response.text == "Hi"
