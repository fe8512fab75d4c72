"""Anthropic content block deltas, read as typed dicts (wire.py), named or in data-only frames.

A relay that drops the ``event:`` lines sends data-only frames, which the parser reads through
the union of every event type; a delta must give the same events either way, bad ones included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.sse import ServerSentEvent

_STARTS = [
    {"type": "text", "text": ""},
    {"type": "tool_use", "id": "toolu_1", "name": "lookup"},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"},
]
_DELTAS: list[Any] = [
    {"type": "text_delta", "text": "Hi"},
    {"type": "text_delta", "text": ""},
    {"type": "thinking_delta", "thinking": "hm"},
    {"type": "input_json_delta", "partial_json": '{"q": 1'},
    {"type": "signature_delta", "signature": "sig"},
    {"type": "compaction_delta", "content": "c"},
    {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "x"}},
    {"type": "future_delta"},
    {"text": "no type"},
    {"type": "text_delta", "text": 5},
    None,
    "text",
]


def _events(frames: list[dict[str, Any]], named: bool) -> tuple[list[object], int, int]:
    parser = MessagesParser()
    out: list[object] = []
    for frame in frames:
        data = json.dumps(frame)
        out += parser.feed(ServerSentEvent(frame["type"] if named else "message", data))
    return out, parser.malformed_count, parser.unknown_count


@pytest.mark.parametrize("delta", _DELTAS)
@pytest.mark.parametrize("index", [0, 1, 2, 7, None])
def test_a_delta_gives_the_same_events_named_or_data_only(delta: Any, index: Any) -> None:
    frames: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": i, "content_block": block}
        for i, block in enumerate(_STARTS)
    ]
    event: dict[str, Any] = {"type": "content_block_delta", "delta": delta}
    if index is not None:
        event["index"] = index
    frames.append(event)
    frames += [{"type": "content_block_stop", "index": i} for i in range(len(_STARTS))]
    named = _events(frames, named=True)
    assert named == _events(frames, named=False)
    if isinstance(delta, dict) and delta.get("text") == "Hi" and index in (0, None):
        assert "Hi" in repr(named[0])
