"""The OpenAI Responses parser on real recorded streams (tests/fixtures/openai-responses).

Three layers:

* every recording decodes cleanly, reaches its terminal event, and gives the same events
  whatever the chunking of the body;
* a differential check against the official ``openai`` SDK's own types on the same bytes
  (text, function calls, usage, streamed text deltas);
* targeted behaviours, each pinned to the recording that exhibits it.

Expected values come from the recordings (read through the SDK), never from our parser.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseTextDeltaEvent

# `tests/` is not a package: make the shared helper module importable from this sub-folder.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import (  # noqa: E402
    OPENAI_RESPONSES,
    decode_fixture,
    decode_responses,
    responses_fixture,
    responses_fixtures,
    sdk_fixture_payloads,
    sdk_terminal_payload,
    terminal_types,
)
from spanstream.events import (  # noqa: E402
    CitationAdded,
    ErrorReported,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    ResponseDone,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UnknownEvent,
    Usage,
)

FIXTURES = responses_fixtures()
STATUS_OF_TERMINAL = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}


def _params(paths: list[Path], defects: dict[str, str] | None = None) -> list[Any]:
    """One pytest.param per file, id = file name; files with a known defect *in the recording*
    (not in our code) are strict xfails with the defect as reason."""
    defects = defects or {}
    return [
        pytest.param(
            path,
            id=path.name,
            marks=[pytest.mark.xfail(strict=True, reason=defects[path.name])]
            if path.name in defects
            else [],
        )
        for path in paths
    ]


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 90, "tests/fixtures/openai-responses lost its recordings"


# --------------------------------------------------------------------------------------------
# (a) every recording: clean decode, terminal event, chunking-invariant
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _params(FIXTURES))
def test_decodes_without_malformed_events(path: Path) -> None:
    decoded = decode_fixture(path)
    assert decoded.sse_count > 0
    assert decoded.parser.malformed_count == 0


@pytest.mark.parametrize("path", _params(FIXTURES))
def test_reaches_terminal_event_when_recorded(path: Path) -> None:
    raw = path.read_bytes()
    recorded_terminals = terminal_types(raw)
    decoded = decode_fixture(path)
    done = decoded.of_type(ResponseDone)
    if not recorded_terminals:
        # A cut-off recording: nothing says how it ended. Whatever close() reports, it must
        # not claim a completed response. (No current recording lacks a terminal event.)
        assert all(event.response.status != "completed" for event in done)
        return
    assert len(recorded_terminals) == 1, recorded_terminals
    (terminal,) = recorded_terminals
    assert len(done) == 1, f"expected one ResponseDone, got {len(done)}"
    assert done[0].response.status == STATUS_OF_TERMINAL[terminal]
    assert decoded.parser.response == done[0].response


@pytest.mark.parametrize("chunk_size", [1, 7])
@pytest.mark.parametrize("path", _params(FIXTURES))
def test_chunking_does_not_change_events(path: Path, chunk_size: int) -> None:
    whole = decode_fixture(path)
    split = decode_responses(path.read_bytes(), chunk_size=chunk_size)
    assert split.sse_count == whole.sse_count
    assert split.events == whole.events
    assert split.parser.response == whole.parser.response
    assert split.parser.unknown_count == whole.parser.unknown_count
    assert split.parser.malformed_count == whole.parser.malformed_count


# --------------------------------------------------------------------------------------------
# (b) differential: our Response versus the openai SDK's reading of the same bytes
# --------------------------------------------------------------------------------------------


def _sdk_response(path: Path) -> SDKResponse:
    """The SDK's ``Response`` for the terminal completed/incomplete payload of ``path``.

    ``model_construct``, not ``model_validate``: strict validation with openai 3.57.0 fails on
    85 of the 91 recordings, because that version requires
    ``usage.input_tokens_details.cache_write_tokens``, which no recording made before the field
    existed carries (and one pydantic-ai web-search recording has an ``action.sources`` entry
    of type ``api`` outside the SDK's literal). The openai SDK's own ``model_construct`` (an
    override of pydantic's) builds nested models recursively without validation, which is
    precisely how the SDK itself loads every live response and stream event when
    ``_strict_response_validation`` is off (the default): ``construct_type``. Nothing is filled
    in; absent fields stay absent, and we only read fields every recording has.
    """
    terminal = sdk_terminal_payload(path)
    assert terminal is not None
    return SDKResponse.model_construct(**terminal["response"])


def _sdk_usage(response: SDKResponse) -> Usage | None:
    usage = response.usage
    if usage is None:
        return None
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        cache_read_input_tokens=getattr(input_details, "cached_tokens", None),
        reasoning_output_tokens=getattr(output_details, "reasoning_tokens", None),
    )


def _usage_key(usage: Usage | None) -> tuple[int | None, ...] | None:
    if usage is None:
        return None
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.total_tokens,
        usage.cache_read_input_tokens,
        usage.reasoning_output_tokens,
    )


DIFFERENTIAL_FIXTURES = [
    path
    for path in FIXTURES
    if terminal_types(path.read_bytes()) & {"response.completed", "response.incomplete"}
]

# Recordings whose own terminal payload contradicts their stream (a defect in the recording,
# not in our parser): none found. Add `file name: reason` here, never edit the recording.
RECORDING_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize("path", _params(DIFFERENTIAL_FIXTURES, RECORDING_DEFECTS))
def test_text_matches_sdk_output_text(path: Path) -> None:
    expected = _sdk_response(path).output_text
    assert decode_fixture(path).parser.response.text == expected


@pytest.mark.parametrize("path", _params(DIFFERENTIAL_FIXTURES, RECORDING_DEFECTS))
def test_tool_calls_match_sdk_function_call_items(path: Path) -> None:
    expected = [
        (item.call_id, item.name, item.arguments)
        for item in _sdk_response(path).output
        if item.type == "function_call"
    ]
    got = [
        (call.call_id, call.name, call.arguments)
        for call in decode_fixture(path).parser.response.tool_calls
    ]
    assert got == expected


@pytest.mark.parametrize("path", _params(DIFFERENTIAL_FIXTURES, RECORDING_DEFECTS))
def test_usage_matches_sdk_usage(path: Path) -> None:
    expected = _usage_key(_sdk_usage(_sdk_response(path)))
    got = _usage_key(decode_fixture(path).parser.response.usage)
    assert got == expected, "(input, output, total, cached input, reasoning output)"


@pytest.mark.parametrize("path", _params(DIFFERENTIAL_FIXTURES, RECORDING_DEFECTS))
def test_citations_match_sdk_output_text_annotations(path: Path) -> None:
    expected = [
        (
            annotation.type,
            item.id,
            getattr(annotation, "url", None),
            getattr(annotation, "title", None) or getattr(annotation, "filename", None),
            getattr(annotation, "start_index", None),
            getattr(annotation, "end_index", None),
        )
        for item in _sdk_response(path).output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
        for annotation in (part.annotations or ())
    ]
    citations = decode_fixture(path).parser.response.citations
    got = [(c.kind, c.item_id, c.url, c.title, c.start_index, c.end_index) for c in citations]
    assert got == expected


def test_url_citations_are_streamed_with_their_pages() -> None:
    # Pinned to a recording with citations: the test above must not pass on nothing.
    path = responses_fixture("gpt-4o-web-search-url-citation-annotations.sse")
    decoded = decode_fixture(path)
    citations = decoded.parser.response.citations
    assert len(citations) == len(_payloads_of(path, "response.output_text.annotation.added"))
    assert len(citations) == 3
    assert all(c.kind == "url_citation" and c.url and c.title for c in citations)
    assert [e.citation for e in decoded.of_type(CitationAdded)] == list(citations)


@pytest.mark.parametrize("path", _params(DIFFERENTIAL_FIXTURES, RECORDING_DEFECTS))
def test_text_deltas_match_sdk_text_delta_events(path: Path) -> None:
    # Same leniency as _sdk_response: recordings from early 2025 have no sequence_number and
    # most have no logprobs, both required by ResponseTextDeltaEvent in openai 3.57.0.
    sdk_deltas = [
        ResponseTextDeltaEvent.model_construct(**payload)
        for payload in sdk_fixture_payloads(path)
        if payload.get("type") == "response.output_text.delta"
    ]
    expected = "".join(event.delta for event in sdk_deltas)
    got = "".join(event.text for event in decode_fixture(path).of_type(TextDelta))
    assert got == expected


# --------------------------------------------------------------------------------------------
# (c) targeted behaviours on real recordings
# --------------------------------------------------------------------------------------------


CITING_FIXTURES = [
    path
    for path in DIFFERENTIAL_FIXTURES
    if b"response.output_text.annotation.added" in path.read_bytes()
]


def _terminal_frames_only(raw: bytes) -> bytes:
    """The recording as a stream resumed after its last item finished: only the terminal
    event's frame is left, so every item comes from that event's ``output``."""
    frames = raw.replace(b"\r\n", b"\n").split(b"\n\n")
    return b"".join(frame + b"\n\n" for frame in frames if _TERMINAL_FRAME.search(frame))


_TERMINAL_FRAME = re.compile(rb'"type":\s*"response\.(?:completed|incomplete)"')


@pytest.mark.parametrize("path", _params(CITING_FIXTURES))
def test_resumed_stream_backfills_citations_with_its_messages(path: Path) -> None:
    streamed = decode_fixture(path).parser.response
    resumed = decode_responses(_terminal_frames_only(path.read_bytes()))
    assert resumed.of_type(TextDelta) == []  # nothing came as a delta: all back-filled
    assert resumed.parser.response.text == streamed.text
    assert resumed.parser.response.citations == streamed.citations
    assert [e.citation for e in resumed.of_type(CitationAdded)] == list(streamed.citations)


def test_citing_recordings_are_found() -> None:
    assert len(CITING_FIXTURES) >= 5


def _payloads_of(path: Path, type_: str) -> list[dict[str, Any]]:
    return [p for p in sdk_fixture_payloads(path) if p.get("type") == type_]


def test_refusal_is_kept_apart_from_text() -> None:
    path = responses_fixture("gpt-4o-refusal.sse")
    (refusal_done,) = _payloads_of(path, "response.refusal.done")
    expected_refusal = refusal_done["refusal"]
    decoded = decode_fixture(path)

    assert decoded.parser.response.refusal == expected_refusal
    assert decoded.parser.response.text == ""
    assert decoded.of_type(TextDelta) == []
    assert "".join(e.text for e in decoded.of_type(RefusalDelta)) == expected_refusal


def test_parallel_function_calls_are_each_done_before_response_done_in_order() -> None:
    path = responses_fixture("gpt-4o-two-parallel-function-calls.sse")
    expected = [item for item in _sdk_response(path).output if item.type == "function_call"]
    assert len(expected) == 2
    decoded = decode_fixture(path)
    events = decoded.events
    done_positions = [i for i, e in enumerate(events) if isinstance(e, ToolCallDone)]
    (response_done_position,) = [i for i, e in enumerate(events) if isinstance(e, ResponseDone)]

    calls = [events[i].tool_call for i in done_positions]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        (item.call_id, item.name, item.arguments) for item in expected
    ]
    assert all(position < response_done_position for position in done_positions)
    for call in calls:
        assert call.parsed_arguments == json.loads(call.arguments)
        assert isinstance(call.parsed_arguments, dict)
    # Each call is announced as soon as its item is done: the first ToolCallDone precedes
    # anything streamed for the second call.
    second_call_events = [
        i
        for i, e in enumerate(events)
        if isinstance(e, (ToolCallStarted, ToolCallArgumentsDelta))
        and e.call_id == expected[1].call_id
    ]
    assert second_call_events, "no ToolCallStarted/ToolCallArgumentsDelta for the second call"
    assert done_positions[0] < min(second_call_events)
    assert decoded.parser.response.tool_calls == tuple(calls)


def test_reasoning_summary_and_encrypted_content_are_kept() -> None:
    path = responses_fixture("o4-mini-reasoning-summary-encrypted-content.sse")
    # The expected item is the one `response.output_item.done` delivered. OpenAI re-encrypts
    # reasoning when it builds the terminal snapshot: in this recording (and in every recorded
    # stream with encrypted reasoning) `response.completed` carries a different blob of the
    # same length for the same item id. Both are the server's; the item-done one is what a
    # stream can commit to when the item completes (ReasoningDone), so that is the one checked.
    (item_done,) = [
        payload["item"]
        for payload in _payloads_of(path, "response.output_item.done")
        if payload["item"].get("type") == "reasoning"
    ]
    expected_summary = tuple(part["text"] for part in item_done["summary"])
    assert expected_summary
    assert item_done["encrypted_content"]
    decoded = decode_fixture(path)

    (reasoning,) = decoded.parser.response.reasoning
    assert reasoning.id == item_done["id"]
    assert reasoning.summary == expected_summary
    assert reasoning.encrypted_content == item_done["encrypted_content"]
    assert [done.reasoning for done in decoded.of_type(ReasoningDone)] == [reasoning]
    summary_deltas = [e.text for e in decoded.of_type(ReasoningDelta) if e.kind == "summary"]
    assert "".join(summary_deltas) == "".join(expected_summary)


def test_error_event_then_response_failed() -> None:
    path = responses_fixture("gpt-5-error-event-then-response-failed.sse")
    decoded = decode_fixture(path)
    events = decoded.events

    (reported,) = decoded.of_type(ErrorReported)
    assert reported.error.code == "insufficient_quota"
    assert reported.error.message.startswith("You exceeded your current quota")
    (done,) = decoded.of_type(ResponseDone)
    assert events.index(reported) < events.index(done)
    response = done.response
    assert response.status == "failed"
    assert response.finish_reason == "error"
    assert response.error is not None
    assert response.error.code == "insufficient_quota"
    assert decoded.parser.malformed_count == 0


INCOMPLETE_FIXTURES = [
    *(p for p in FIXTURES if p.name.startswith("gpt-4o-incomplete-max-output-tokens")),
    responses_fixture("gpt-5-mini-incomplete-max-output-tokens-tiny.sse"),
    responses_fixture("gpt-5-mini-incomplete-truncated-function-call-args.sse"),
]


@pytest.mark.parametrize("path", _params(INCOMPLETE_FIXTURES))
def test_incomplete_response_reports_length(path: Path) -> None:
    assert terminal_types(path.read_bytes()) == {"response.incomplete"}
    (done,) = decode_fixture(path).of_type(ResponseDone)
    response = done.response
    assert response.status == "incomplete"
    assert response.finish_reason == "length"
    assert response.incomplete_reason == "max_output_tokens"


def test_truncated_function_call_keeps_raw_arguments_without_parsing() -> None:
    path = responses_fixture("gpt-5-mini-incomplete-truncated-function-call-args.sse")
    (arguments_done,) = _payloads_of(path, "response.function_call_arguments.done")
    raw_arguments = arguments_done["arguments"]
    with pytest.raises(json.JSONDecodeError):  # the recording really is truncated JSON
        json.loads(raw_arguments)
    decoded = decode_fixture(path)

    (call,) = decoded.parser.response.tool_calls
    assert call.arguments == raw_arguments
    assert call.parsed_arguments is None
    assert [done.tool_call.parsed_arguments for done in decoded.of_type(ToolCallDone)] == [None]


def test_cached_input_tokens_are_reported() -> None:
    path = responses_fixture("gpt-4o-cached-tokens.sse")
    usage = decode_fixture(path).parser.response.usage
    assert usage is not None
    # Responses usage.input_tokens already includes the cached tokens.
    assert usage.input_tokens == 1515
    assert usage.cache_read_input_tokens == 1390
    assert usage.output_tokens == 8
    assert usage.total_tokens == 1523


def test_openrouter_comments_data_only_frames_and_done_sentinel() -> None:
    path = responses_fixture("openrouter-gpt-oss-reasoning-text-done-sentinel.sse")
    raw = path.read_bytes()
    # The traits this test is about, as recorded.
    assert raw.startswith(b": OPENROUTER PROCESSING")
    assert b"\nevent:" not in raw
    assert not raw.startswith(b"event:")
    assert raw.rstrip().endswith(b"data: [DONE]")
    decoded = decode_fixture(path)

    assert decoded.parser.unknown_count == 0
    assert decoded.parser.malformed_count == 0
    assert decoded.of_type(UnknownEvent) == []
    assert isinstance(decoded.events[-1], ResponseDone)
    assert decoded.events[-1].response.status == "completed"


def test_early_2025_stream_without_sequence_number() -> None:
    path = responses_fixture("gpt-4.1-single-function-call.sse")
    assert b"sequence_number" not in path.read_bytes()
    expected = [
        (item.call_id, item.name, item.arguments)
        for item in _sdk_response(path).output
        if item.type == "function_call"
    ]
    decoded = decode_fixture(path)

    assert decoded.parser.malformed_count == 0
    (done,) = decoded.of_type(ResponseDone)
    assert done.response.status == "completed"
    calls = done.response.tool_calls
    assert [(c.call_id, c.name, c.arguments) for c in calls] == expected
    assert calls[0].parsed_arguments == json.loads(calls[0].arguments)


def _resumed_background_fixture() -> Path:
    preferred = (
        OPENAI_RESPONSES / "pydantic-ai__test_background_mode_streaming_starting_after_vcr__1.sse"
    )
    if preferred.is_file():
        return preferred
    # Closest: any background-mode recording that lacks response.created.
    for path in FIXTURES:
        if "background_mode" in path.name and b"response.created" not in path.read_bytes():
            return path
    pytest.skip("no resumed background-mode recording")


def test_resumed_background_stream_without_response_created() -> None:
    path = _resumed_background_fixture()
    payloads = sdk_fixture_payloads(path)
    assert all(p.get("type") != "response.created" for p in payloads)
    assert payloads[0].get("sequence_number") == 1
    expected = _sdk_response(path)
    decoded = decode_fixture(path)

    assert decoded.parser.malformed_count == 0
    (done,) = decoded.of_type(ResponseDone)
    assert done.response.status == "completed"
    assert done.response.id == expected.id
    assert done.response.model == expected.model
    assert done.response.text == expected.output_text
