"""A bad field inside a good event is dropped alone and counted; the event and the answer stay.

Issues #5 and #6: a usage field that is a string, a float, a 5,000-digit number or not an object
used to drop the whole terminal event (``response.completed``, the Chat usage chunk, Anthropic's
``message_start`` / ``message_delta``), so a complete answer ended as "stream ended before the
response was complete"; and counts that are negative or beyond int64 reached the response. Each
case here takes a real recording, corrupts one field of it, and checks that the answer is the
recording's, that only the usage fields read from the corrupted one are gone, and that the drop is
counted (``malformed_count``) — or raises ``MalformedEventError`` in strict mode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spanstream.errors import MalformedEventError
from spanstream.events import Response, Usage
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.base import Parser, ParserFactory
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser

from ..recorded import (
    ANTHROPIC_MESSAGES,
    HUGE_MARK,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    decode,
    rewrite_payloads,
    without_usage,
)

# Real recordings with every usage field the APIs have (cache reads included).
RESPONSES = OPENAI_RESPONSES / "gpt-4o-cached-tokens.sse"  # in=1515 (cached 1390) out=8
CHAT = OPENAI_CHAT / "gpt-4.1-cached-tokens.sse"  # prompt=1144 (cached 1024) completion=2
ANTHROPIC = ANTHROPIC_MESSAGES / "claude-sonnet-4-5-cache-read.sse"  # in=3, cache read=1217

NOT_A_COUNT: list[Any] = ["12", "many", 12.5, 12.0, True, [1], {"n": 1}, HUGE_MARK]
INT64_MAX = 2**63 - 1  # OTLP carries counts as int64
OUT_OF_RANGE: list[Any] = [-5, INT64_MAX + 1, 10**30]
NOT_AN_OBJECT: list[Any] = ["usage", 12.5, 7, [1], HUGE_MARK]
NOT_A_STRING: list[Any] = [12.5, [1], {"n": 1}, HUGE_MARK]


@dataclass(frozen=True)
class Case:
    """Corrupt ``path`` in every payload of ``event_type`` of ``recording``; the usage then
    differs from the clean run's by ``changes`` (``None``: no usage at all)."""

    recording: Path
    parser: ParserFactory
    event_types: tuple[str, ...]
    path: tuple[str, ...]
    changes: dict[str, int | None] | None

    @property
    def name(self) -> str:
        return f"{self.recording.stem}:{'.'.join(self.path)}"


def _responses(path: tuple[str, ...], changes: dict[str, int | None] | None) -> Case:
    return Case(RESPONSES, ResponsesParser, ("response.completed",), ("response", *path), changes)


def _chat(path: tuple[str, ...], changes: dict[str, int | None] | None) -> Case:
    return Case(CHAT, ChatCompletionsParser, ("chat.completion.chunk",), path, changes)


def _anthropic(path: tuple[str, ...], changes: dict[str, int | None] | None) -> Case:
    # Anthropic repeats the cumulative usage in message_start and message_delta: corrupt both,
    # or the other one would still report the field.
    return Case(ANTHROPIC, MessagesParser, ("message_start", "message_delta"), path, changes)


COUNT_CASES = [
    _responses(("usage", "input_tokens"), {"input_tokens": None}),
    _responses(("usage", "output_tokens"), {"output_tokens": None}),
    _responses(("usage", "total_tokens"), {"total_tokens": None}),
    _responses(
        ("usage", "input_tokens_details", "cached_tokens"), {"cache_read_input_tokens": None}
    ),
    _responses(
        ("usage", "output_tokens_details", "reasoning_tokens"), {"reasoning_output_tokens": None}
    ),
    _chat(("usage", "prompt_tokens"), {"input_tokens": None}),
    _chat(("usage", "completion_tokens"), {"output_tokens": None}),
    _chat(("usage", "total_tokens"), {"total_tokens": None}),
    _chat(("usage", "prompt_tokens_details", "cached_tokens"), {"cache_read_input_tokens": None}),
    _chat(
        ("usage", "completion_tokens_details", "reasoning_tokens"),
        {"reasoning_output_tokens": None},
    ),
    # Anthropic input_tokens exclude cache reads and writes, which are added in (3 + 1217);
    # the total is that input plus the 4 output tokens.
    _anthropic(("usage", "input_tokens"), {"input_tokens": 1217, "total_tokens": 1221}),
    _anthropic(("usage", "output_tokens"), {"output_tokens": None, "total_tokens": None}),
    _anthropic(
        ("usage", "cache_read_input_tokens"),
        {"input_tokens": 3, "total_tokens": 7, "cache_read_input_tokens": None},
    ),
    _anthropic(("usage", "cache_creation_input_tokens"), {"cache_write_input_tokens": None}),
]

OBJECT_CASES = [
    _responses(("usage",), None),
    _responses(("usage", "input_tokens_details"), {"cache_read_input_tokens": None}),
    _responses(("usage", "output_tokens_details"), {"reasoning_output_tokens": None}),
    _responses(("incomplete_details",), {}),
    _responses(("error",), {}),
    _chat(("usage",), None),
    _chat(("usage", "prompt_tokens_details"), {"cache_read_input_tokens": None}),
    _chat(("usage", "completion_tokens_details"), {"reasoning_output_tokens": None}),
    _anthropic(("usage",), None),
]

STRING_CASES = [
    _responses(("id",), {}),
    _responses(("model",), {}),
    _responses(("service_tier",), {}),
    _responses(("status",), {}),
    _chat(("system_fingerprint",), {}),
    _chat(("service_tier",), {}),
]


def _set(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Set ``path`` of ``payload`` to ``value`` if its parent exists (with the field, or the
    field's own parent for a top-level field); whether it did."""
    *parents, last = path
    node: Any = payload
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or (parents and last not in node):
        return False
    node[last] = value
    return True


def _corrupt(case: Case, value: Any) -> bytes:
    def edit(payload: dict[str, Any]) -> bool:
        kind = payload.get("type", "chat.completion.chunk")
        if kind not in case.event_types:
            return False
        path = case.path
        if kind == "message_start":
            path = ("message", *path)
        elif kind == "chat.completion.chunk" and not payload.get("usage"):
            return False  # the usage chunk only: the last one, after the finish reason
        return _set(payload, path, value)

    raw = case.recording.read_bytes()
    corrupted = rewrite_payloads(raw, edit)
    assert corrupted != raw, "the case corrupted nothing"
    return corrupted


def _clean(case: Case) -> Response:
    response = decode(case.recording.read_bytes(), case.parser).parser.response
    assert response.status == "completed"
    assert response.usage is not None
    return response


def _expected_usage(case: Case) -> Usage | None:
    clean = _clean(case).usage
    assert clean is not None
    # Without the output count, the response carries the estimate (the same as with no usage).
    raw = case.recording.read_bytes()
    estimate = decode(without_usage(raw), case.parser).parser.response.usage
    assert estimate is not None
    assert estimate.estimated
    if case.changes is None:
        return estimate
    usage = dataclasses.replace(clean, **case.changes)
    if usage.output_tokens is not None:
        return usage
    inputs, output = usage.input_tokens, estimate.output_tokens
    total = inputs + output if inputs is not None and output is not None else None
    return dataclasses.replace(usage, output_tokens=output, total_tokens=total, estimated=True)


def _params(cases: list[Case], values: list[Any]) -> list[Any]:
    return [
        pytest.param(case, value, id=f"{case.name}={str(value)[:12]}")
        for case in cases
        for value in values
    ]


@pytest.mark.parametrize(
    ("case", "value"),
    _params(COUNT_CASES, NOT_A_COUNT + OUT_OF_RANGE)
    + _params(OBJECT_CASES, NOT_AN_OBJECT)
    + _params(STRING_CASES, NOT_A_STRING),
)
def test_a_bad_field_is_dropped_alone_and_counted(case: Case, value: Any) -> None:
    corrupted = _corrupt(case, value)
    decoded = decode(corrupted, case.parser)
    response = decoded.parser.response
    clean = _clean(case)
    assert (response.status, response.finish_reason, response.text) == (
        "completed",
        clean.finish_reason,
        clean.text,
    )
    assert response.usage == _expected_usage(case)
    assert response.id == clean.id
    assert response.model == clean.model
    # One drop per corrupted payload (Anthropic: message_start and message_delta).
    assert decoded.parser.malformed_count == len(case.event_types)


@pytest.mark.parametrize(
    "case",
    [COUNT_CASES[3], COUNT_CASES[8], COUNT_CASES[12]],
    ids=lambda case: case.name,
)
@pytest.mark.parametrize("value", [10**30, HUGE_MARK, "many"], ids=str)
def test_strict_mode_raises_on_the_bad_field(case: Case, value: Any) -> None:
    corrupted = _corrupt(case, value)

    def strict_parser(*, strict: bool) -> Parser:
        return case.parser(strict=True)

    with pytest.raises(MalformedEventError) as raised:
        decode(corrupted, strict_parser)
    assert case.path[-1] in str(raised.value)
    assert "99999" not in str(raised.value)  # the value is never echoed
