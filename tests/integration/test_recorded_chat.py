"""The Chat Completions parser on real recorded streams (tests/fixtures/openai-chat).

Three layers, as for the Responses API:

* every recording decodes cleanly, ends with exactly one ``ResponseDone``, and gives the same
  events whatever the chunking of the body;
* a differential check against the official ``openai`` SDK's own types on the same bytes: its
  ``ChatCompletionChunk`` (built as the SDK builds live chunks, ``construct_type``) accumulated by
  its ``ChatCompletionStreamState`` gives the expected text, tool calls, finish reasons; the
  chunks' ``usage`` gives the expected usage;
* targeted behaviours, each pinned to the recording that exhibits it.

Expected values come from the recordings (read through the SDK), never from our parser.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from openai._models import construct_type

# `tests/` is not a package: make the shared helper module importable from this sub-folder.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import (  # noqa: E402
    CHAT_ERROR_RECORDINGS,
    CHAT_SDK_CANNOT_READ,
    MISTRAL_TOOL_CALLS,
    OPENAI_CHAT,
    decode,
    decode_chat,
    recording,
    recordings,
    sdk_chat_chunks,
    sdk_chat_completion,
    sdk_payloads,
)
from spanstream.events import (  # noqa: E402
    ErrorReported,
    MessageDone,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)
from spanstream.providers.openai_chat import ChatCompletionsParser  # noqa: E402
from spanstream.providers.openai_chat.parser import FINISH_REASONS  # noqa: E402

FIXTURES = recordings(OPENAI_CHAT)


def _params(paths: list[Path], limits: dict[str, str] | None = None) -> list[Any]:
    limits = limits or {}
    return [
        pytest.param(
            path,
            id=path.name,
            marks=[pytest.mark.xfail(strict=True, raises=TypeError, reason=limits[path.name])]
            if path.name in limits
            else [],
        )
        for path in paths
    ]


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 140, "tests/fixtures/openai-chat lost its recordings"


# --------------------------------------------------------------------------------------------
# (a) every recording: clean decode, one terminal event, chunking-invariant
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _params(FIXTURES))
def test_decodes_without_malformed_or_unknown_events(path: Path) -> None:
    decoded = decode_chat(path)
    assert decoded.sse_count > 0
    assert decoded.parser.malformed_count == 0
    assert decoded.parser.unknown_count == 0


@pytest.mark.parametrize("path", _params(FIXTURES))
def test_ends_with_exactly_one_response_done(path: Path) -> None:
    decoded = decode_chat(path)
    done = decoded.of_type(ResponseDone)
    assert len(done) == 1
    assert decoded.events[-1] is done[0]
    assert decoded.parser.response == done[0].response
    expected = "failed" if path.name in CHAT_ERROR_RECORDINGS else ("completed", "incomplete")
    assert done[0].response.status in expected


@pytest.mark.parametrize("chunk_size", [1, 7])
@pytest.mark.parametrize("path", _params(FIXTURES))
def test_chunking_does_not_change_events(path: Path, chunk_size: int) -> None:
    whole = decode_chat(path)
    split = decode(path.read_bytes(), ChatCompletionsParser, chunk_size=chunk_size)
    assert split.sse_count == whole.sse_count
    assert split.events == whole.events
    assert split.parser.response == whole.parser.response


# --------------------------------------------------------------------------------------------
# (b) differential: our Response versus the openai SDK's reading of the same bytes
# --------------------------------------------------------------------------------------------


def _sdk_usage(path: Path) -> Usage | None:
    """The last usage any chunk reported. Groq, before ``stream_options``, put it in
    ``x_groq.usage`` (outside the SDK's types, read from the chunk's extra fields): spanstream
    reads it there on purpose."""
    usage = None
    for chunk in sdk_chat_chunks(path):
        groq = getattr(chunk, "x_groq", None)
        if chunk.usage is not None:
            usage = chunk.usage
        elif isinstance(groq, dict) and groq.get("usage"):
            usage = construct_type(
                type_=type(chunk).model_fields["usage"].annotation, value=groq["usage"]
            )
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cache_read_input_tokens=prompt.cached_tokens if prompt else None,
        reasoning_output_tokens=completion.reasoning_tokens if completion else None,
    )


DIFFERENTIAL = [p for p in FIXTURES if p.name not in CHAT_ERROR_RECORDINGS]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Mistral's list content in a str field
@pytest.mark.parametrize("path", _params(DIFFERENTIAL, CHAT_SDK_CANNOT_READ))
def test_text_and_refusal_match_sdk_message(path: Path) -> None:
    message = sdk_chat_completion(path).choices[0].message
    response = decode_chat(path).parser.response
    assert response.text == (message.content or "")
    assert response.refusal == (message.refusal or None)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", _params(DIFFERENTIAL, CHAT_SDK_CANNOT_READ))
def test_tool_calls_match_sdk_message(path: Path) -> None:
    message = sdk_chat_completion(path).choices[0].message
    expected = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()]
    got = [(c.call_id, c.name, c.arguments) for c in decode_chat(path).parser.response.tool_calls]
    assert got == expected


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", _params(DIFFERENTIAL))  # chunks, not the SDK's accumulation
def test_system_fingerprint_matches_thesdk_chat_chunks(path: Path) -> None:
    # The last one a chunk carried (servers repeat the same one on every chunk).
    fingerprints = [c.system_fingerprint for c in sdk_chat_chunks(path) if c.system_fingerprint]
    expected = fingerprints[-1] if fingerprints else None
    assert decode_chat(path).parser.response.system_fingerprint == expected


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", _params(DIFFERENTIAL, CHAT_SDK_CANNOT_READ))
def test_finish_reasons_match_sdk_choices(path: Path) -> None:
    choices = sorted(sdk_chat_completion(path).choices, key=lambda c: c.index)
    given = [FINISH_REASONS.get(c.finish_reason, c.finish_reason) for c in choices]
    response = decode_chat(path).parser.response
    # No finish reason at all (Snowflake sends none): none, as the SDK leaves None (#22). Some
    # choices without one: "error" in their positions, as the conventions ask.
    assert response.finish_reasons == (tuple(r or "error" for r in given) if any(given) else ())
    assert response.finish_reason == given[0]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("path", _params(FIXTURES))
def test_usage_matches_sdk_chunk_usage(path: Path) -> None:
    usage = decode_chat(path).parser.response.usage
    expected = _sdk_usage(path)
    if expected is None and usage is not None:
        # No usage chunk: only an output estimate, marked (test_usage_estimate.py).
        assert usage == Usage(output_tokens=usage.output_tokens, estimated=True)
        return
    assert usage == expected


# --------------------------------------------------------------------------------------------
# (c) targeted behaviours on real recordings
# --------------------------------------------------------------------------------------------


def _chat(name: str) -> Path:
    return recording(OPENAI_CHAT, name)


def _deltas(path: Path, key: str) -> str:
    """The concatenated ``delta[key]`` strings of choice 0, read from the raw payloads."""
    parts = []
    for payload in sdk_payloads(path.read_bytes()):
        for choice in payload.get("choices") or ():
            value = (choice.get("delta") or {}).get(key)
            if choice.get("index", 0) == 0 and isinstance(value, str):
                parts.append(value)
    return "".join(parts)


def test_refusal_deltas_are_kept_apart_from_text() -> None:
    path = _chat("gpt-4o-refusal-delta.sse")
    decoded = decode_chat(path)
    expected = _deltas(path, "refusal")
    assert expected
    assert decoded.parser.response.refusal == expected
    assert decoded.parser.response.text == ""
    assert "".join(e.text for e in decoded.of_type(RefusalDelta)) == expected
    assert [e.refusal for e in decoded.of_type(MessageDone)] == [expected]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("deepseek-reasoning-content.sse", "reasoning_content"),
        ("openrouter-gemini-reasoning.sse", "reasoning"),
    ],
)
def test_reasoning_fields_of_compatible_servers_become_reasoning_text(name: str, key: str) -> None:
    path = _chat(name)
    decoded = decode_chat(path)
    expected = _deltas(path, key)
    assert expected
    deltas = decoded.of_type(ReasoningDelta)
    assert {(e.kind, e.item_id) for e in deltas} == {("text", "choice-0")}
    assert "".join(e.text for e in deltas) == expected
    (reasoning,) = decoded.parser.response.reasoning
    assert reasoning.content == (expected,)
    assert [e.reasoning for e in decoded.of_type(ReasoningDone)] == [reasoning]
    # Reasoning is done before the response, with its choice.
    assert decoded.events.index(decoded.of_type(ReasoningDone)[0]) < len(decoded.events) - 1


def test_deepseek_reasoning_tokens_are_part_of_output_tokens() -> None:
    usage = decode_chat(_chat("deepseek-reasoning-content.sse")).parser.response.usage
    assert usage == Usage(64 - 47, 47, 64, 0, None, 34)


def test_parallel_tool_calls_are_each_done_as_soon_as_the_next_starts() -> None:
    decoded = decode_chat(_chat("gpt-4o-mini-parallel-tool-calls-no-usage.sse"))
    events = decoded.events
    first, second = decoded.of_type(ToolCallStarted)
    done = decoded.of_type(ToolCallDone)
    assert [d.tool_call.call_id for d in done] == [first.call_id, second.call_id]
    # The first call is announced done before anything of the second one streams...
    assert events.index(done[0]) < events.index(second)
    # ...and both before the response is.
    assert events.index(done[1]) < events.index(decoded.of_type(ResponseDone)[0])
    assert [d.tool_call.parsed_arguments for d in done] == [
        {"location": "New York City"},
        {"location": "London"},
    ]
    assert decoded.parser.response.finish_reason == "tool_call"
    usage = decoded.parser.response.usage  # recorded without include_usage: an estimate
    assert usage is not None
    assert usage.estimated


def test_finish_reason_after_each_tool_call_closes_each_call_once() -> None:
    # Together sends finish_reason=tool_calls after the first call, then streams the second.
    path = _chat("together-llama-parallel-tool-calls-har.sse")
    assert path.read_bytes().count(b'"finish_reason":"tool_calls"') == 2
    decoded = decode_chat(path)
    done = decoded.of_type(ToolCallDone)
    assert [d.tool_call.name for d in done] == ["get_current_weather", "get_tomorrow_weather"]
    assert decoded.parser.response.tool_calls == tuple(d.tool_call for d in done)
    assert decoded.parser.response.finish_reasons == ("tool_call",)


def test_tool_calls_without_index_are_told_apart_by_id() -> None:
    # Mistral sends every call whole, in one delta, without an index.
    path = _chat(MISTRAL_TOOL_CALLS)
    expected = []
    for payload in sdk_payloads(path.read_bytes()):
        for choice in payload.get("choices") or ():
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                assert "index" not in call
                expected.append(
                    (call["id"], call["function"]["name"], call["function"]["arguments"])
                )
    assert expected
    calls = decode_chat(path).parser.response.tool_calls
    assert [(c.call_id, c.name, c.arguments) for c in calls] == expected


def test_several_choices_final_response_holds_choice_zero() -> None:
    path = _chat("gpt-3.5-turbo-n2-choices-usage.sse")
    decoded = decode_chat(path)
    by_choice: dict[str | None, str] = {}
    for event in decoded.of_type(TextDelta):
        by_choice[event.item_id] = by_choice.get(event.item_id, "") + event.text
    assert set(by_choice) == {"choice-0", "choice-1"}
    snapshot = sdk_chat_completion(path)
    assert by_choice["choice-1"] == snapshot.choices[1].message.content
    response = decoded.parser.response
    assert response.text == by_choice["choice-0"] == snapshot.choices[0].message.content
    assert response.finish_reasons == ("stop", "stop")
    assert [e.id for e in decoded.of_type(MessageDone)] == ["choice-0", "choice-1"]
    # Usage covers the whole completion (both choices).
    assert response.usage is not None
    assert response.usage.output_tokens == 43


def test_azure_prompt_filter_chunk_without_id_does_not_start_the_response() -> None:
    path = _chat("azure-gpt-5.2-content-filter-results.sse")
    decoded = decode_chat(path)
    (started,) = decoded.of_type(ResponseStarted)
    assert started.id == "chatcmpl-DmfZu2BjJmBGSSHpj9hWtFQYBUxYn"
    assert started.model == "gpt-5.2-2025-12-11"
    assert decoded.parser.response.service_tier == "default"


@pytest.mark.parametrize(
    ("name", "cached"),
    [("gpt-4.1-cached-tokens.sse", 1024), ("gpt-4o-cached-tokens-finish-length.sse", 1280)],
)
def test_prompt_tokens_include_cached_tokens(name: str, cached: int) -> None:
    usage = decode_chat(_chat(name)).parser.response.usage
    assert usage is not None
    assert usage.cache_read_input_tokens == cached
    assert usage.input_tokens is not None
    assert usage.input_tokens > cached


def test_finish_reason_length_is_incomplete() -> None:
    (done,) = decode_chat(_chat("gpt-5-mini-finish-length-reasoning-tokens.sse")).of_type(
        ResponseDone
    )
    response = done.response
    assert (response.status, response.finish_reason) == ("incomplete", "length")
    assert response.incomplete_reason == "length"
    assert response.text == ""
    assert response.usage is not None
    assert response.usage.reasoning_output_tokens == 50


def test_groq_error_object_ends_the_stream_as_failed() -> None:
    decoded = decode_chat(_chat("pydantic-ai__test_tool_use_failed_error_streaming.sse"))
    (reported,) = decoded.of_type(ErrorReported)
    assert reported.error.code == "tool_use_failed"
    assert reported.error.type == "invalid_request_error"
    (done,) = decoded.of_type(ResponseDone)
    assert done.response.status == "failed"
    assert done.response.finish_reason == "error"
    assert done.response.error == reported.error
    assert decoded.of_type(ReasoningDelta)  # what came before the error is kept


def _without_done(raw: bytes) -> bytes:
    cut = raw.rindex(b"data: [DONE]")
    assert raw[cut:].strip() == b"data: [DONE]"
    return raw[:cut]


def test_stream_without_done_sentinel_completes_when_every_choice_finished() -> None:
    path = _chat("gpt-3.5-turbo-n2-choices-usage.sse")
    decoded = decode(_without_done(path.read_bytes()), ChatCompletionsParser)
    (done,) = decoded.of_type(ResponseDone)
    assert done.response == decode_chat(path).parser.response
    assert done.response.status == "completed"


def test_stream_cut_before_a_finish_reason_is_not_complete() -> None:
    raw = _chat("gpt-4o-mini-include-usage.sse").read_bytes()
    cut = raw.index(b'"finish_reason":"stop"')
    decoded = decode(raw[: raw.rindex(b"\n\n", 0, cut) + 2], ChatCompletionsParser)
    assert decoded.of_type(ResponseDone) == []
    assert decoded.parser.done is False
    assert decoded.of_type(TextDelta)


def test_tool_call_argument_deltas_rebuild_the_arguments() -> None:
    decoded = decode_chat(_chat("gpt-3.5-turbo-single-tool-call-usage.sse"))
    (call,) = decoded.parser.response.tool_calls
    deltas = decoded.of_type(ToolCallArgumentsDelta)
    assert {d.call_id for d in deltas} == {call.call_id}
    assert "".join(d.delta for d in deltas) == call.arguments
    assert call.parsed_arguments is not None
