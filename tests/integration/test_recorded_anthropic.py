"""The Anthropic Messages parser on real recorded streams (tests/fixtures/anthropic-messages).

Three layers, as for the OpenAI APIs:

* every recording decodes cleanly, ends with exactly one ``ResponseDone``, and gives the same
  events whatever the chunking of the body;
* a differential check against the official ``anthropic`` SDK on the same bytes: its own SSE
  decoder and ``accumulate_event`` (the helper behind ``MessageStream``) build the final
  ``Message``, from which the expected text, tool uses, thinking, stop reason and usage come;
* targeted behaviours, each pinned to the recording that exhibits it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.streaming._messages import TRACKS_TOOL_INPUT
from anthropic.types import Message

# `tests/` is not a package: make the shared helper module importable from this sub-folder.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import (  # noqa: E402
    ANTHROPIC_MESSAGES,
    anthropic_sdk_events,
    decode,
    decode_anthropic,
    recording,
    recordings,
    sdk_anthropic_message,
)
from spanstream.events import (  # noqa: E402
    CitationAdded,
    ItemDone,
    MessageDone,
    ReasoningDelta,
    ReasoningDone,
    ResponseDone,
    ResponseStarted,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    UsageReported,
)
from spanstream.providers.anthropic_messages import MessagesParser  # noqa: E402
from spanstream.providers.anthropic_messages.parser import STOP_REASONS  # noqa: E402

FIXTURES = recordings(ANTHROPIC_MESSAGES)
OWN_BLOCKS = ("text", "thinking", "redacted_thinking", "tool_use")


def _ids(paths: list[Path]) -> list[Any]:
    return [pytest.param(path, id=path.name) for path in paths]


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 51, "tests/fixtures/anthropic-messages lost its recordings"


# --------------------------------------------------------------------------------------------
# (a) every recording: clean decode, one terminal event, chunking-invariant
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_decodes_without_malformed_or_unknown_events(path: Path) -> None:
    decoded = decode_anthropic(path)
    assert decoded.sse_count > 0
    assert decoded.parser.malformed_count == 0
    assert decoded.parser.unknown_count == 0


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_ends_with_exactly_one_response_done(path: Path) -> None:
    decoded = decode_anthropic(path)
    done = decoded.of_type(ResponseDone)
    assert len(done) == 1
    assert decoded.events[-1] is done[0]
    assert decoded.parser.response == done[0].response
    assert done[0].response.status in ("completed", "incomplete")


@pytest.mark.parametrize("chunk_size", [1, 7])
@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_chunking_does_not_change_events(path: Path, chunk_size: int) -> None:
    whole = decode_anthropic(path)
    split = decode(path.read_bytes(), MessagesParser, chunk_size=chunk_size)
    assert split.sse_count == whole.sse_count
    assert split.events == whole.events
    assert split.parser.response == whole.parser.response


# --------------------------------------------------------------------------------------------
# (b) differential: our Response versus the anthropic SDK's reading of the same bytes
# --------------------------------------------------------------------------------------------


def _expected_usage(message: Message) -> Usage:
    """The conventions' rule for Anthropic: input = input + cache read + cache creation; the
    total (which Anthropic does not send) is that input plus output, as OpenAI's is."""
    usage = message.usage
    cache_read = usage.cache_read_input_tokens
    cache_write = usage.cache_creation_input_tokens
    details = getattr(usage, "output_tokens_details", None)
    input_tokens = usage.input_tokens + (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=input_tokens + usage.output_tokens,
        cache_read_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
        reasoning_output_tokens=getattr(details, "thinking_tokens", None),
    )


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_text_matches_sdk_text_blocks(path: Path) -> None:
    message = sdk_anthropic_message(path)
    expected = "".join(block.text for block in message.content if block.type == "text")
    assert decode_anthropic(path).parser.response.text == expected


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_tool_calls_match_sdk_tool_use_blocks(path: Path) -> None:
    message = sdk_anthropic_message(path)
    expected = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    calls = decode_anthropic(path).parser.response.tool_calls
    assert [(c.call_id, c.name, c.parsed_arguments) for c in calls] == expected


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_thinking_and_signature_match_sdk_thinking_blocks(path: Path) -> None:
    message = sdk_anthropic_message(path)
    expected = [(b.thinking, b.signature) for b in message.content if b.type == "thinking"]
    reasoning = decode_anthropic(path).parser.response.reasoning
    assert [("".join(r.content), r.signature) for r in reasoning] == expected


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_server_tool_blocks_match_sdk_blocks(path: Path) -> None:
    message = sdk_anthropic_message(path)
    blocks = [block for block in message.content if block.type not in OWN_BLOCKS]
    items = decode_anthropic(path).of_type(ItemDone)
    assert [(i.type, i.data.get("id")) for i in items] == [
        (b.type, getattr(b, "id", None)) for b in blocks
    ]
    # The SDK fills in the streamed input of the block types it tracks (not mcp_tool_use).
    for item, block in zip(items, blocks, strict=True):
        if isinstance(block, TRACKS_TOOL_INPUT):
            assert item.data["input"] == block.input


def _citation_key(citation: Any) -> tuple[Any, ...]:
    """What a citation says, read the same way from the SDK's models and from ours."""
    get = citation.get if isinstance(citation, dict) else lambda key: getattr(citation, key, None)
    return (
        get("type"),
        get("url"),
        get("title") or get("document_title"),
        get("cited_text"),
    )


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_citations_match_sdk_text_block_citations(path: Path) -> None:
    message = sdk_anthropic_message(path)
    expected = [
        _citation_key(c)
        for block in message.content
        if block.type == "text"
        for c in (block.citations or ())
    ]
    decoded = decode_anthropic(path)
    citations = decoded.parser.response.citations
    assert [_citation_key(c.raw) for c in citations] == expected
    assert [(c.kind, c.url, c.title, c.cited_text) for c in citations] == expected
    assert [e.citation for e in decoded.of_type(CitationAdded)] == list(citations)


def test_web_search_citations_name_their_pages() -> None:
    # Pinned to a recording with citations: the test above must not pass on nothing.
    path = next(p for p in FIXTURES if p.name == "claude-opus-4-1-web-search-no-ping.sse")
    citations = decode_anthropic(path).parser.response.citations
    assert len(citations) == path.read_bytes().count(b'"type":"citations_delta"')
    assert citations
    assert {c.kind for c in citations} == {"web_search_result_location"}
    assert all(c.url and c.url.startswith("https://") and c.cited_text for c in citations)


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_stop_reason_matches_sdk(path: Path) -> None:
    stop_reason = sdk_anthropic_message(path).stop_reason
    assert stop_reason is not None
    response = decode_anthropic(path).parser.response
    assert response.finish_reason == STOP_REASONS[stop_reason]


@pytest.mark.parametrize("path", _ids(FIXTURES))
def test_usage_matches_sdk_usage_normalized_once(path: Path) -> None:
    expected = _expected_usage(sdk_anthropic_message(path))
    assert decode_anthropic(path).parser.response.usage == expected


# --------------------------------------------------------------------------------------------
# (c) targeted behaviours on real recordings
# --------------------------------------------------------------------------------------------


def _anthropic(name: str) -> Path:
    return recording(ANTHROPIC_MESSAGES, name)


def test_text_stream_events_in_order() -> None:
    decoded = decode_anthropic(_anthropic("claude-haiku-4-5-text.sse"))
    assert [type(e) for e in decoded.events] == [
        ResponseStarted,
        UsageReported,
        TextDelta,
        MessageDone,
        UsageReported,
        ResponseDone,
    ]
    (started,) = decoded.of_type(ResponseStarted)
    assert (started.id, started.model) == (
        "msg_01T8kTq7cYyYJeQ5DxcVUc6D",
        "claude-haiku-4-5-20251001",
    )
    (message,) = decoded.of_type(MessageDone)
    assert (message.id, message.text) == ("block-0", "Hello")


def test_usage_split_across_start_and_delta_is_not_double_counted() -> None:
    # cache read 16242 and cache creation 23258 appear only in message_delta; message_start
    # carried 0 and 2399 (envoyproxy/ai-gateway #2241 counted them twice).
    path = _anthropic("claude-sonnet-4-web-search-cache-create-and-read.sse")
    decoded = decode_anthropic(path)
    first, *_, last = decoded.of_type(UsageReported)
    assert first.usage == Usage(3 + 0 + 2399, 1, 3 + 0 + 2399 + 1, 0, 2399)
    assert last.usage == Usage(17 + 16242 + 23258, 515, 17 + 16242 + 23258 + 515, 16242, 23258)
    assert decoded.parser.response.usage == last.usage


def test_usage_field_absent_from_message_delta_keeps_message_start_value() -> None:
    # Older streams' message_delta reports output_tokens only (api7/aisix #712 is the reverse).
    path = _anthropic("claude-3-opus-text-polly-har.sse")
    events = dict(anthropic_sdk_events(path.read_bytes()))
    assert set(events["message_delta"]["usage"]) == {"output_tokens"}
    usage = decode_anthropic(path).parser.response.usage
    assert usage == Usage(17, 158, 175, 0, 0)


def test_compaction_reports_the_final_iteration_usage() -> None:
    # message_delta's cache read (0) replaces message_start's (55096): latest value wins.
    path = _anthropic("pydantic-ai__test_anthropic_compaction_usage_with_cache_streaming.sse")
    decoded = decode_anthropic(path)
    assert decoded.parser.response.usage == Usage(181, 8, 189, 0, 0)
    (item,) = decoded.of_type(ItemDone)
    assert item.type == "compaction"
    assert isinstance(item.data["content"], str)
    assert item.data["content"].startswith("The user provided a very long context")


def test_thinking_block_then_text_with_signature() -> None:
    decoded = decode_anthropic(_anthropic("claude-haiku-4-5-thinking-signature.sse"))
    deltas = decoded.of_type(ReasoningDelta)
    assert {(d.item_id, d.kind) for d in deltas} == {("block-0", "text")}
    (done,) = decoded.of_type(ReasoningDone)
    assert done.reasoning.content == ("".join(d.text for d in deltas),)
    assert done.reasoning.signature is not None
    assert done.reasoning.signature.startswith("EuYDCmMIDBgCKkC05Zda4P")
    assert not done.reasoning.redacted
    # The reasoning is done before the text starts.
    events = decoded.events
    assert events.index(done) < events.index(decoded.of_type(TextDelta)[0])


def test_two_parallel_tool_uses_are_each_done_at_their_block_stop() -> None:
    decoded = decode_anthropic(_anthropic("claude-sonnet-4-two-parallel-tool-uses.sse"))
    events = decoded.events
    first, second = decoded.of_type(ToolCallStarted)
    done = decoded.of_type(ToolCallDone)
    assert [d.tool_call.call_id for d in done] == [first.call_id, second.call_id]
    assert events.index(done[0]) < events.index(second)
    assert [d.tool_call.parsed_arguments for d in done] == [
        {"password": "mellon"},
        {"password": "radiance"},
    ]
    deltas = [e for e in decoded.of_type(ToolCallArgumentsDelta) if e.call_id == first.call_id]
    assert "".join(d.delta for d in deltas) == done[0].tool_call.arguments
    assert decoded.parser.response.finish_reason == "tool_call"


@pytest.mark.parametrize(
    "name",
    [
        "claude-sonnet-4-max-tokens.sse",
        "claude-sonnet-4-cache-creation.sse",
        "claude-sonnet-4-cache-read-max-tokens.sse",
    ],
)
def test_max_tokens_is_incomplete_with_length(name: str) -> None:
    response = decode_anthropic(_anthropic(name)).parser.response
    assert (response.status, response.finish_reason) == ("incomplete", "length")
    assert response.incomplete_reason == "max_tokens"


def test_pause_turn_is_incomplete_and_passed_through() -> None:
    response = decode_anthropic(
        _anthropic("pydantic-ai__test_pause_turn_web_search_streaming_vcr.sse")
    ).parser.response
    assert (response.status, response.finish_reason) == ("incomplete", "pause_turn")
    assert response.incomplete_reason == "pause_turn"


def test_stop_sequence_is_stop() -> None:
    response = decode_anthropic(_anthropic("claude-haiku-4-5-stop-sequence.sse")).parser.response
    assert (response.status, response.finish_reason) == ("completed", "stop")


def test_server_tool_use_input_is_filled_from_its_json_deltas() -> None:
    decoded = decode_anthropic(_anthropic("claude-opus-4-1-web-search-no-ping.sse"))
    (use, *_) = [i for i in decoded.of_type(ItemDone) if i.type == "server_tool_use"]
    assert use.id is not None
    assert use.id.startswith("srvtoolu_")
    assert isinstance(use.data["input"], dict)
    assert "query" in use.data["input"]
    assert decoded.parser.response.tool_calls == ()  # server tools are not the caller's calls


def test_stream_without_message_stop_completes_after_the_stop_reason() -> None:
    path = _anthropic("claude-haiku-4-5-text.sse")
    raw = path.read_bytes()
    decoded = decode(raw[: raw.rindex(b"event: message_stop")], MessagesParser)
    (done,) = decoded.of_type(ResponseDone)
    assert done.response == decode_anthropic(path).parser.response


def test_stream_cut_before_the_stop_reason_is_not_complete() -> None:
    raw = _anthropic("claude-haiku-4-5-text.sse").read_bytes()
    decoded = decode(raw[: raw.rindex(b"event: message_delta")], MessagesParser)
    assert decoded.of_type(ResponseDone) == []
    assert decoded.parser.done is False
    assert decoded.parser.response.text == "Hello"


def test_mcp_tool_use_input_is_filled_from_its_json_deltas() -> None:
    path = _anthropic("pydantic-ai__test_anthropic_mcp_servers_stream.sse")
    (use,) = [i for i in decode_anthropic(path).of_type(ItemDone) if i.type == "mcp_tool_use"]
    assert use.data["input"] == {
        "repoName": "pydantic/pydantic-ai",
        "question": "What is this repository about? What are its main features and purpose?",
    }
