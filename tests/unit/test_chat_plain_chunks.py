"""The Chat Completions parser's path for plain text chunks gives what the models' path gives.

Most chunks of a stream are one choice's text and nothing else; the parser reads those through a
small typed dict (``wire.PlainChunk``) and every other chunk through the models. These tests
feed the same chunks, valid, odd and broken, to a parser and to one whose plain path is off, and
compare every event, the final response and the counts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanstream.errors import MalformedEventError
from spanstream.events import StreamEvent, TextDelta
from spanstream.providers.openai_chat import ChatCompletionsParser

_MISSING = object()

_text = st.sampled_from(["Hi", "", " caf\u00e9", "\U0001f600", "x" * 40])
_odd = st.sampled_from([0, 1, -1, 1.5, True, None, [], {}, "0", [{"type": "text", "text": "p"}]])
_value = _text | _odd
_maybe = st.one_of(st.just(_MISSING), st.none(), _value)


def _fields(**strategies: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with each field drawn from its strategy, left out when it draws ``_MISSING``."""
    return st.fixed_dictionaries(strategies).map(
        lambda drawn: {k: v for k, v in drawn.items() if v is not _MISSING}
    )


_tool_call = _fields(
    index=st.sampled_from([_MISSING, 0, 1, None, "0"]),
    id=st.sampled_from([_MISSING, "call_1", None]),
    function=_fields(name=st.sampled_from([_MISSING, "f", None]), arguments=_maybe),
)
_delta = _fields(
    role=st.sampled_from([_MISSING, "assistant"]),
    content=st.one_of(_text, _text, _maybe),
    refusal=st.one_of(st.just(_MISSING), st.just(_MISSING), _maybe),
    reasoning_content=st.one_of(st.just(_MISSING), st.just(_MISSING), _maybe),
    reasoning=st.one_of(st.just(_MISSING), st.just(_MISSING), _maybe),
    tool_calls=st.one_of(st.just(_MISSING), st.just(_MISSING), st.lists(_tool_call, max_size=2)),
    function_call=st.one_of(st.just(_MISSING), st.just(_MISSING), _maybe),
)
_choice = _fields(
    index=st.sampled_from([_MISSING, 0, 0, 1, None, "1", -1]),
    delta=st.one_of(_delta, _delta, _maybe),
    finish_reason=st.sampled_from([_MISSING, None, None, "stop", "length", "", 3]),
    logprobs=st.sampled_from([_MISSING, None]),
)
_chunk = _fields(
    id=st.sampled_from(["chatcmpl-1", "", None, 5, _MISSING]),
    model=st.sampled_from(["gpt-4o", "", None, _MISSING]),
    choices=st.one_of(st.lists(_choice, min_size=1, max_size=1), st.lists(_choice, max_size=3)),
    usage=st.sampled_from(
        [None, None, _MISSING, {"prompt_tokens": 3, "completion_tokens": 2}, "bad", {"x": 1}]
    ),
    service_tier=st.sampled_from([_MISSING, "default", "", None, 7]),
    system_fingerprint=st.sampled_from([_MISSING, "fp_1", None, []]),
    x_groq=st.sampled_from([_MISSING, _MISSING, {"id": "req"}, None, 1]),
    error=st.sampled_from([_MISSING, _MISSING, None, {"message": "boom"}]),
    obfuscation=st.sampled_from([_MISSING, "abc"]),
)
_frame = st.one_of(
    _chunk.map(lambda chunk: json.dumps(chunk).encode()),
    st.sampled_from([b"{", b"[]", b"null", b'"text"', b'{"choices": 5}', b"[DONE]"]),
)


def _run(frames: list[bytes], *, plain: bool, strict: bool = False) -> tuple[object, ...]:
    parser = ChatCompletionsParser(strict=strict)
    if not plain:
        parser._on_plain = lambda chunk: None  # type: ignore[method-assign]
    out: list[object] = []
    for frame in frames:
        try:
            out.extend(parser.feed_raw("message", frame))
        except MalformedEventError as exc:
            out.append(("malformed", str(exc)))
    out.extend(parser.close())
    return out, parser.response, parser.malformed_count, parser.unknown_count, parser.done


@settings(max_examples=400, deadline=None)
@given(st.lists(_frame, max_size=8), st.booleans())
def test_any_chunks_give_the_same_events_with_and_without_the_plain_path(
    frames: list[bytes], strict: bool
) -> None:
    assert _run(frames, plain=True, strict=strict) == _run(frames, plain=False, strict=strict)


def _stream(*deltas: dict[str, Any], **first: Any) -> list[bytes]:
    head = {"id": "chatcmpl-1", "model": "gpt-4o", "service_tier": "default"}
    chunks = [{**head, **first, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    chunks += [{**head, "choices": [{"index": 0, "delta": delta}]} for delta in deltas]
    return [json.dumps(chunk).encode() for chunk in chunks]


@pytest.mark.parametrize(
    "delta",
    [
        {"content": "Hi", "refusal": "no"},
        {"content": "Hi", "reasoning_content": "think"},
        {"content": "Hi", "reasoning": "think"},
        {"content": "Hi", "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]},
        {"content": "Hi", "function_call": {"name": "f", "arguments": "{}"}},
        {"content": [{"type": "text", "text": "Hi"}]},
    ],
)
def test_a_delta_with_more_than_text_keeps_all_of_it(delta: dict[str, Any]) -> None:
    events, *_ = _run(_stream({"content": "a"}, delta), plain=True)
    assert events == _run(_stream({"content": "a"}, delta), plain=False)[0]
    assert len(events) > 2  # type: ignore[arg-type]  # started, "a", and what the delta adds


def test_plain_chunks_are_text_deltas_and_keep_the_latest_service_tier() -> None:
    frames = _stream({"content": "a"}, {"content": "b"})
    frames.append(
        json.dumps(
            {"service_tier": "flex", "choices": [{"index": 0, "delta": {"content": "c"}}]}
        ).encode()
    )
    events, response, *_ = _run(frames, plain=True)
    deltas: list[StreamEvent] = [e for e in events if isinstance(e, TextDelta)]  # type: ignore[attr-defined]
    assert [e.text for e in deltas] == ["a", "b", "c"]  # type: ignore[attr-defined]
    assert response.service_tier == "flex"  # type: ignore[attr-defined]


@pytest.mark.parametrize("finish_reason", ["stop", "length", "tool_calls"])
def test_text_with_a_finish_reason_finishes_the_choice(finish_reason: str) -> None:
    frames = _stream({"content": "a"})
    frames.append(
        json.dumps(
            {"choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": finish_reason}]}
        ).encode()
    )
    plain, off = _run(frames, plain=True), _run(frames, plain=False)
    assert plain == off
    assert plain[1].text == "ab"  # type: ignore[attr-defined]
    assert plain[1].finish_reason is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "field", [{"id": 5}, {"model": []}, {"service_tier": 7}, {"system_fingerprint": {}}]
)
def test_a_bad_field_of_a_text_chunk_is_reported_as_the_models_path_reports_it(
    field: dict[str, Any],
) -> None:
    frames = _stream({"content": "a"})
    frames.append(json.dumps({**field, "choices": [{"delta": {"content": "b"}}]}).encode())
    plain = _run(frames, plain=True)
    assert plain == _run(frames, plain=False)
    assert plain[2] == 1  # malformed: the field dropped, the text kept
    assert plain[1].text == "ab"  # type: ignore[attr-defined]
