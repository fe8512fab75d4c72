"""The Accumulator's done events, for APIs that close items without restating them (Chat
Completions, Anthropic Messages), and its per-choice finish reasons."""

from __future__ import annotations

from spanstream.accumulate import Accumulator
from spanstream.events import (
    MessageDone,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
)


def test_message_done_is_built_from_the_deltas_once() -> None:
    acc = Accumulator()
    acc.add(TextDelta("Hel", "m"))
    acc.add(TextDelta("lo", "m"))
    acc.add(RefusalDelta("no", "m"))
    assert acc.message_done("m") == MessageDone("m", "Hello", "no")
    assert acc.message_done("m") is None
    assert acc.message_done("other") is None
    assert acc.snapshot().text == "Hello"


def test_tool_call_done_closes_a_started_call() -> None:
    acc = Accumulator()
    acc.add(ToolCallStarted("c1", "get", "i1"))
    acc.add(ToolCallArgumentsDelta("c1", '{"a":'))
    acc.add(ToolCallArgumentsDelta("c1", " 1}"))
    done = acc.tool_call_done("c1")
    assert done is not None
    assert (done.tool_call.arguments, done.tool_call.parsed_arguments) == ('{"a": 1}', {"a": 1})
    assert acc.tool_call_done("c1") is None
    assert acc.snapshot().tool_calls == (done.tool_call,)


def test_reasoning_done_carries_the_signature() -> None:
    acc = Accumulator()
    acc.add(ReasoningDelta("think", "r", "text"))
    done = acc.reasoning_done("r", signature="sig")
    assert done == ReasoningDone(Reasoning("r", content=("think",), signature="sig"))
    assert acc.reasoning_done("r") is None
    assert acc.snapshot().reasoning == (done.reasoning,)


def test_finish_reasons_default_to_the_finish_reason() -> None:
    assert Accumulator().finish("completed", "stop").finish_reasons == ("stop",)
    assert Accumulator().finish("completed", None).finish_reasons == ()
    several = Accumulator().finish("completed", "stop", finish_reasons=("stop", "length"))
    assert several.finish_reasons == ("stop", "length")
