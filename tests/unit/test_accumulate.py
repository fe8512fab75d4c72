"""Tests of :class:`spanstream.accumulate.Accumulator`: how normalized events fold into the
final :class:`~spanstream.events.Response`, and that folding one event costs the same however
long the response already is."""

from __future__ import annotations

import pytest

from spanstream.accumulate import Accumulator
from spanstream.events import (
    MessageDone,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    Response,
    ResponseStarted,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    UsageReported,
)


def accumulate(*events: StreamEvent) -> Accumulator:
    acc = Accumulator()
    for event in events:
        acc.add(event)
    return acc


def test_text_is_joined_across_deltas() -> None:
    acc = accumulate(TextDelta("Hel", "msg_1"), TextDelta("lo", "msg_1"), TextDelta("!", "msg_1"))
    assert acc.snapshot().text == "Hello!"


def test_text_of_two_message_items_is_joined_in_item_order() -> None:
    acc = accumulate(
        TextDelta("First. ", "msg_1"),
        MessageDone("msg_1", "First. "),
        TextDelta("Second.", "msg_2"),
        MessageDone("msg_2", "Second."),
    )
    assert acc.snapshot().text == "First. Second."


def test_message_done_text_overrides_the_deltas_of_that_item_only() -> None:
    acc = accumulate(
        TextDelta("draft", "msg_1"),
        TextDelta(" two", "msg_2"),
        MessageDone("msg_1", "final"),
    )
    assert acc.snapshot().text == "final two"


def test_refusal_is_kept_apart_from_text() -> None:
    acc = accumulate(
        TextDelta("Sure", "msg_1"),
        RefusalDelta("I can't", "msg_2"),
        RefusalDelta(" help.", "msg_2"),
    )
    response = acc.snapshot()
    assert response.text == "Sure"
    assert response.refusal == "I can't help."


def test_no_refusal_is_none() -> None:
    assert accumulate(TextDelta("Hi")).snapshot().refusal is None


def test_tool_calls_are_listed_in_completion_order() -> None:
    acc = accumulate(
        ToolCallStarted("call_a", "first", "fc_a"),
        ToolCallStarted("call_b", "second", "fc_b"),
        ToolCallDone(ToolCall.build("call_b", "second", "{}", "fc_b")),
        ToolCallDone(ToolCall.build("call_a", "first", "{}", "fc_a")),
    )
    assert [c.call_id for c in acc.snapshot().tool_calls] == ["call_b", "call_a"]


def test_pending_tool_call_appears_with_its_partial_arguments() -> None:
    acc = accumulate(
        ToolCallStarted("call_a", "get_weather", "fc_a"),
        ToolCallArgumentsDelta("call_a", '{"city":', "fc_a"),
        ToolCallArgumentsDelta("call_a", ' "Os', "fc_a"),
    )
    (call,) = acc.snapshot().tool_calls
    assert (call.call_id, call.name, call.item_id) == ("call_a", "get_weather", "fc_a")
    assert call.arguments == '{"city": "Os'
    assert call.parsed_arguments is None
    assert acc.has_tool_calls


def test_pending_reasoning_shows_its_summary_so_far() -> None:
    acc = accumulate(ReasoningDelta("Think", "rs_1"), ReasoningDelta("ing", "rs_1"))
    assert acc.snapshot().reasoning == (Reasoning(id="rs_1", summary=("Thinking",)),)


def test_done_reasoning_replaces_the_pending_one() -> None:
    done = Reasoning(id="rs_1", summary=("Thinking hard.",), encrypted_content="gAAAA")
    acc = accumulate(ReasoningDelta("Think", "rs_1"), ReasoningDone(done))
    assert acc.snapshot().reasoning == (done,)


def test_pending_reasoning_keeps_summary_parts_and_raw_text_apart() -> None:
    acc = accumulate(
        ReasoningDelta("One.", "rs_1", "summary", 0),
        ReasoningDelta("Two.", "rs_1", "summary", 1),
        ReasoningDelta("raw", "rs_1", "text", 0),
    )
    assert acc.snapshot().reasoning == (
        Reasoning(id="rs_1", summary=("One.", "Two."), content=("raw",)),
    )


def test_snapshot_is_non_destructive() -> None:
    acc = accumulate(
        ResponseStarted("resp_1", "gpt-4.1"),
        TextDelta("Hi", "msg_1"),
        ToolCallStarted("call_a", "f", "fc_a"),
        ToolCallArgumentsDelta("call_a", "{", "fc_a"),
        ReasoningDelta("hm", "rs_1"),
    )
    first = acc.snapshot()
    assert acc.snapshot() == first
    acc.add(TextDelta(" there", "msg_1"))
    assert acc.snapshot().text == "Hi there"


def test_last_usage_wins() -> None:
    acc = accumulate(UsageReported(Usage(1, 2, 3)), UsageReported(Usage(10, 20, 30)))
    assert acc.snapshot().usage == Usage(10, 20, 30)


# ---------------------------------------------------------------------------------------------
# Per-event cost
#
# No clock: timings are flaky and a quadratic slowdown hides at small sizes. Instead these tests
# pin down the two things that make ``add`` O(1) and fail if either is lost:
#
# * a delta is stored as is, appended to a list: never concatenated onto the text so far
#   (``text += delta`` copies the whole text each time, O(n) per event, O(n^2) per stream);
# * ``add`` never builds a snapshot (which joins every delta so far, again O(n) per event).
#
# ``_NoConcat`` is a ``str`` whose ``+`` fails: ``text += delta`` with ``text`` a ``str`` tries
# the subclass's ``__radd__`` first, so any concatenation of a delta raises here, while
# ``"".join`` (one pass, done once per snapshot) does not use ``+`` at all.


class _NoConcat(str):
    __slots__ = ()

    def __add__(self, other: object) -> str:
        raise AssertionError("a delta was concatenated: O(n) per event")

    def __radd__(self, other: object) -> str:
        raise AssertionError("a delta was concatenated: O(n) per event")


N = 100_000


def test_text_deltas_are_stored_as_a_list_not_a_growing_string() -> None:
    acc = Accumulator()
    deltas = [_NoConcat("x") for _ in range(N)]
    for delta in deltas:
        acc.add(TextDelta(delta, "msg_1"))
    stored = acc._messages["msg_1"].text
    assert isinstance(stored, list)
    assert len(stored) == N
    # The very objects received: nothing was copied or merged on the way in.
    assert all(kept is delta for kept, delta in zip(stored, deltas, strict=True))
    assert acc.snapshot().text == "x" * N


def test_argument_and_reasoning_deltas_are_not_concatenated_either() -> None:
    acc = accumulate(ToolCallStarted("call_a", "f", "fc_a"))
    for _ in range(1000):
        acc.add(ToolCallArgumentsDelta("call_a", _NoConcat("1"), "fc_a"))
        acc.add(RefusalDelta(_NoConcat("r"), "msg_1"))
        acc.add(ReasoningDelta(_NoConcat("t"), "rs_1"))
    response = acc.snapshot()
    assert response.tool_calls[0].arguments == "1" * 1000
    assert response.refusal == "r" * 1000
    assert response.reasoning[0].summary == ("t" * 1000,)


def test_add_never_builds_a_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshots = 0
    real_snapshot = Accumulator.snapshot

    def counting_snapshot(self: Accumulator) -> Response:
        nonlocal snapshots
        snapshots += 1
        return real_snapshot(self)

    monkeypatch.setattr(Accumulator, "snapshot", counting_snapshot)
    acc = accumulate(ToolCallStarted("call_a", "f", "fc_a"))
    for _ in range(N):
        acc.add(TextDelta("x", "msg_1"))
    for _ in range(1000):
        acc.add(ToolCallArgumentsDelta("call_a", "1", "fc_a"))
        acc.add(ReasoningDelta("t", "rs_1"))
        acc.add(RefusalDelta("r", "msg_1"))
    acc.add(MessageDone("msg_1", "done"))
    acc.add(UsageReported(Usage(1, 2, 3)))
    assert snapshots == 0
    acc.snapshot()
    assert snapshots == 1  # the spy works


# -- the output estimate when the server sends no count (issue 16 item 3) ----------------------


def _estimated(output: int, **reported: int) -> Usage:
    return Usage(output_tokens=output, estimated=True, **reported)


def test_without_usage_each_delta_counts_a_token_even_after_the_message_closed() -> None:
    deltas = [TextDelta("ab", "m") for _ in range(5)]
    acc = accumulate(*deltas)
    assert acc.snapshot().usage == _estimated(5)
    acc.message_done("m")  # the delta list is dropped; its count stays
    assert acc.snapshot().usage == _estimated(5)


def test_long_deltas_count_four_characters_a_token() -> None:
    acc = accumulate(TextDelta("x" * 41, "m"), RefusalDelta("y" * 40, "m"))
    assert acc.snapshot().usage == _estimated(21)  # ceil(81 / 4): more than 2 deltas


def test_a_tool_call_adds_its_framing() -> None:
    acc = accumulate(
        ToolCallStarted("call_1", "get_weather", "fc_1"),
        ToolCallArgumentsDelta("call_1", '{"city":', "fc_1"),
        ToolCallArgumentsDelta("call_1", '"Paris"}', "fc_1"),
    )
    assert acc.snapshot().usage == _estimated(4 + 10)  # ceil(16 / 4), + 10 per call
    acc.tool_call_done("call_1")
    assert acc.snapshot().usage == _estimated(4 + 10)


def test_reasoning_deltas_count_before_and_after_the_item_closed() -> None:
    acc = accumulate(*[ReasoningDelta("hm", "rs", "text") for _ in range(3)])
    assert acc.snapshot().usage == _estimated(3)
    acc.reasoning_done("rs")
    assert acc.snapshot().usage == _estimated(3)


def test_another_choice_counts_in_the_first_ones_estimate() -> None:
    acc = accumulate(TextDelta("a", "choice-0"))
    other = acc.another_choice()
    for _ in range(4):
        other.add(TextDelta("b", "choice-1"))
    assert acc.snapshot().usage == _estimated(5)
    assert acc.snapshot().text == "a"  # its text stays the other choice's


def test_nothing_received_nothing_estimated() -> None:
    assert Accumulator().snapshot().usage is None
    acc = accumulate(UsageReported(Usage(input_tokens=3)))
    assert acc.snapshot().usage == Usage(input_tokens=3)


def test_a_count_reported_after_the_output_stands_even_if_the_stream_never_finished() -> None:
    # Chat's usage chunk comes last: a connection lost before [DONE] keeps its exact count.
    deltas = [TextDelta("word", "m") for _ in range(4)]
    acc = accumulate(*deltas, UsageReported(Usage(10, 3, 13)))
    assert acc.snapshot().usage == Usage(10, 3, 13)


def test_a_count_reported_before_any_output_is_replaced_by_a_larger_estimate() -> None:
    # Anthropic's message_start: input 17 and an output count of 1, sent before the text; a
    # stream cut before message_delta has no other count.
    start = UsageReported(Usage(input_tokens=17, output_tokens=1, total_tokens=18))
    acc = accumulate(start, *[TextDelta("word", "m") for _ in range(30)])
    assert acc.snapshot().usage == _estimated(30, input_tokens=17, total_tokens=47)
    acc.add(UsageReported(Usage(input_tokens=17, output_tokens=33, total_tokens=50)))
    assert acc.snapshot().usage == Usage(input_tokens=17, output_tokens=33, total_tokens=50)


def test_a_reported_count_without_output_tokens_gets_the_estimate() -> None:
    acc = accumulate(TextDelta("hi", "m"), UsageReported(Usage(input_tokens=5)))
    assert acc.snapshot().usage == _estimated(1, input_tokens=5, total_tokens=6)
