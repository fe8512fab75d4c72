"""``Parser.feed_events`` (the streams' entry point: a network read's events at once, the
commonest ones without a call each) gives what ``feed_raw`` for each event gives, up to the end
of the response, on every recording of every API and on payloads its fast paths refuse."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from spanstream.events import StreamEvent
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.base import Parser
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.sse import RawEvent, SSEDecoder

from ..recorded import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, recordings

PARSERS: dict[Path, Callable[..., Parser]] = {
    OPENAI_RESPONSES: ResponsesParser,
    OPENAI_CHAT: ChatCompletionsParser,
    ANTHROPIC_MESSAGES: MessagesParser,
}
CASES = [(path, parser) for folder, parser in PARSERS.items() for path in recordings(folder)]


def _raw_events(body: bytes) -> list[RawEvent]:
    decoder = SSEDecoder()
    events = decoder.feed_raw(body)
    decoder.close()
    return events


def _one_by_one(make: Callable[..., Parser], events: Sequence[RawEvent]) -> tuple[object, ...]:
    """The reference: ``feed_raw`` per event while the response is open."""
    parser = make(strict=False)
    out: list[StreamEvent] = []
    read = 0
    for event, data, _, _ in events:
        if parser.done:
            break
        out += parser.feed_raw(event, data)
        read += 1
    out += parser.close()
    return out, read, parser.response, parser.malformed_count, parser.unknown_count


def _batched(
    make: Callable[..., Parser], events: Sequence[RawEvent], size: int
) -> tuple[object, ...]:
    parser = make(strict=False)
    out: deque[StreamEvent] = deque()
    read = 0
    for start in range(0, len(events), size):
        batch = events[start : start + size]
        taken = parser.feed_events(batch, out)
        assert 0 <= taken <= len(batch)
        read += taken
        if taken < len(batch):
            assert parser.done  # only the end of the response stops a batch
            break
    out.extend(parser.close())
    return list(out), read, parser.response, parser.malformed_count, parser.unknown_count


@pytest.mark.parametrize(("path", "make"), CASES, ids=lambda case: getattr(case, "name", ""))
def test_every_recording_reads_the_same_in_batches_of_any_size(
    path: Path, make: Callable[..., Parser]
) -> None:
    events = _raw_events(path.read_bytes())
    expected = _one_by_one(make, events)
    for size in (len(events) or 1, 1, 3):
        assert _batched(make, events, size) == expected


# Deltas that each API's fast path cannot take: the general path mends, skips or reports them
# exactly as feed_raw does (an invalid payload, an unknown delta kind, a delta of a block never
# started, a chunk with two choices, text that is not a string).
_REFUSED: dict[Callable[..., Parser], bytes] = {
    ResponsesParser: (
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"item_id":"msg_1","output_index":0,"delta":5}\n\n'
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"item_id":"msg_1","output_index":0,"delta":"ok"}\n\n'
        b"event: response.output_text.delta\ndata: [1, 2]\n\n"
        b'event: response.completed\ndata: {"type":"response.completed","response":'
        b'{"id":"r","status":"completed","output":[]}}\n\n'
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"delta":"late"}\n\n'
    ),
    ChatCompletionsParser: (
        b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"b"}},'
        b'{"index":1,"delta":{"content":"c"}}]}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":7}}]}\n\n'
        b"data: {not json\n\n"
        b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"late"}}]}\n\n'
    ),
    MessagesParser: (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c",'
        b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"never started"}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"mystery_delta"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":"x"}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
        b'"end_turn"},"usage":{"output_tokens":2}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"late"}}\n\n'
    ),
}


@pytest.mark.parametrize("make", list(_REFUSED), ids=lambda make: make.__name__)
def test_what_the_fast_paths_refuse_reads_as_feed_raw_reads_it(
    make: Callable[..., Parser],
) -> None:
    events = _raw_events(_REFUSED[make])
    expected = _one_by_one(make, events)
    _, read, _, malformed, unknown = expected
    assert read == len(events) - 1  # the event after the end is not read
    assert malformed or unknown  # the refused deltas were reported, not lost
    for size in (len(events), 1, 2):
        assert _batched(make, events, size) == expected
