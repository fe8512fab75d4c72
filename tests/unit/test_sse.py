"""Tests of the ``text/event-stream`` decoder against the WHATWG "Interpreting an event stream"
rules, including the standard's own examples and chunk-split invariance properties."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanstream.errors import SSEDecodeError, StreamError
from spanstream.sse import ServerSentEvent, SSEDecoder

BOM = b"\xef\xbb\xbf"


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    """Feed the chunks to a fresh decoder and return every event, then close it."""
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    decoder.close()
    return events


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


def datas(events: Iterable[ServerSentEvent]) -> list[str]:
    return [event.data for event in events]


# --- The standard's examples -------------------------------------------------------------------


def test_spec_example_multiple_data_lines_are_joined_with_newlines() -> None:
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode(stream) == [ServerSentEvent(event="message", data="YHOO\n+2\n10")]


def test_spec_example_ids_persist_and_an_id_line_without_value_resets_it() -> None:
    stream = (
        b": test stream\n"
        b"\n"
        b"data: first event\n"
        b"id: 1\n"
        b"\n"
        b"data:second event\n"
        b"id\n"
        b"\n"
        b"data:  third event\n"
        b"\n"
    )
    assert decode(stream) == [
        ServerSentEvent(data="first event", id="1"),
        ServerSentEvent(data="second event", id=""),
        # Only one leading space is removed.
        ServerSentEvent(data=" third event", id=""),
    ]


def test_spec_example_empty_data_lines_and_unterminated_final_event() -> None:
    stream = b"data\n\ndata\ndata\n\ndata:"
    decoder = SSEDecoder()
    events = decoder.feed(stream)
    # "data" alone is a data field with an empty value; the final "data:" has no blank line
    # after it, so it is never dispatched.
    assert datas(events) == ["", "\n"]
    assert decoder.has_pending
    decoder.close()
    assert not decoder.has_pending


def test_spec_example_space_after_colon_is_optional() -> None:
    assert datas(decode(b"data:test\n\ndata: test\n\n")) == ["test", "test"]


# --- Line ends ---------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_each_line_end_style_gives_the_same_events(eol: bytes) -> None:
    stream = eol.join([b"event: add", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    assert decode(stream) == [
        ServerSentEvent(event="add", data="1\n2"),
        ServerSentEvent(data="3"),
    ]


def test_cr_only_line_ends() -> None:
    assert datas(decode(b"data: a\rdata: b\r\rdata: c\r\r")) == ["a\nb", "c"]


def test_mixed_line_ends_in_one_stream() -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\n"
    assert datas(decode(stream)) == ["a\nb\nc", "d"]


def test_lf_then_cr_is_two_line_ends() -> None:
    # "\n\r" is not a line end pair: it ends the data line and then a blank line.
    assert datas(decode(b"data: a\n\rdata: b\n\n")) == ["a", "b"]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # Were the LF taken as a second line end, "a" would be dispatched on its own.
    assert datas(decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")) == ["a\nb"]


def test_crlf_split_by_an_empty_chunk_is_still_one_line_end() -> None:
    assert datas(decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n")) == ["a\nb"]


def test_cr_at_chunk_end_followed_by_other_bytes_is_a_line_end() -> None:
    assert datas(decode(b"data: a\r", b"data: b\r", b"\r")) == ["a\nb"]


def test_cr_at_chunk_end_then_lf_then_blank_line() -> None:
    assert datas(decode(b"data: a\r", b"\n", b"\n")) == ["a"]


# --- Byte order mark ---------------------------------------------------------------------------


def test_leading_bom_is_stripped() -> None:
    # With the BOM kept, the field name would be "\ufeffdata" and nothing would be dispatched.
    assert datas(decode(BOM + b"data: x\n\n")) == ["x"]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_leading_bom_split_across_chunks_is_stripped(cut: int) -> None:
    stream = BOM + b"data: x\n\n"
    assert datas(decode(stream[:cut], stream[cut:])) == ["x"]


def test_leading_bom_fed_one_byte_at_a_time_is_stripped() -> None:
    assert datas(decode(b"", *bytewise(BOM + b"data: x\n\n"))) == ["x"]


def test_second_bom_is_not_stripped() -> None:
    # The second BOM becomes part of the field name, which is then unknown.
    assert decode(BOM + BOM + b"data: x\n\n") == []


def test_bom_later_in_the_stream_is_not_stripped() -> None:
    assert datas(decode(b"data: a\n\n" + BOM + b"data: b\n\ndata: " + BOM + b"c\n\n")) == [
        "a",
        "\ufeffc",
    ]


def test_partial_bom_prefix_is_not_dropped() -> None:
    # EF BB followed by something other than BF is not a BOM: the bytes must reach the UTF-8
    # decoder (which rejects them at offset 0) rather than being silently discarded.
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb") == []
    with pytest.raises(SSEDecodeError, match=r"offset 0\b"):
        decoder.feed(b"x\n\n")


def test_stream_of_only_a_partial_bom_is_pending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb") == []
    assert decoder.has_pending


# --- Fields ------------------------------------------------------------------------------------


def test_comment_lines_are_ignored() -> None:
    stream = b": keep-alive\ndata: a\n:comment: with colon\ndata: b\n\n:\n\n"
    assert datas(decode(stream)) == ["a\nb"]


def test_comments_alone_do_not_leave_an_event_pending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": ping\n: ping\n") == []
    assert not decoder.has_pending


def test_line_without_colon_is_a_field_with_empty_value() -> None:
    assert decode(b"data\n\n") == [ServerSentEvent(data="")]


def test_only_one_leading_space_of_the_value_is_removed() -> None:
    assert datas(decode(b"data:   x \n\n")) == ["  x "]


def test_value_may_contain_colons() -> None:
    assert datas(decode(b'data: {"a": "b:c"}\n\n')) == ['{"a": "b:c"}']


def test_field_names_are_case_sensitive_and_unknown_fields_ignored() -> None:
    assert decode(b"Data: x\nDATA: y\nfoo: z\n data: w\n\n") == []


def test_unknown_field_does_not_disturb_the_event() -> None:
    assert decode(b"foo: bar\ndata: x\nbaz\n\n") == [ServerSentEvent(data="x")]


def test_event_field_sets_the_event_type() -> None:
    assert decode(b"event: add\ndata: 1\n\n") == [ServerSentEvent(event="add", data="1")]


def test_last_event_field_wins() -> None:
    assert decode(b"event: a\nevent: b\ndata: 1\n\n")[0].event == "b"


def test_empty_event_field_means_message() -> None:
    assert decode(b"event: a\nevent:\ndata: 1\n\n")[0].event == "message"


def test_event_type_is_reset_after_dispatch() -> None:
    events = decode(b"event: add\ndata: 1\n\ndata: 2\n\n")
    assert [event.event for event in events] == ["add", "message"]


def test_event_type_is_reset_by_a_blank_line_even_without_dispatch() -> None:
    assert decode(b"event: add\n\ndata: 2\n\n") == [ServerSentEvent(event="message", data="2")]


def test_blank_line_without_data_dispatches_nothing() -> None:
    assert decode(b"\n\n\nevent: add\nid: 3\n\n") == []


def test_only_the_final_newline_of_the_data_buffer_is_removed() -> None:
    assert datas(decode(b"data\ndata\ndata: x\ndata\n\n")) == ["\n\nx\n"]


def test_unicode_is_decoded() -> None:
    stream = "event: ünï\ndata: héllo 世界 😀\n\n".encode()
    assert decode(stream) == [ServerSentEvent(event="ünï", data="héllo 世界 😀")]


def test_code_points_split_across_chunks_are_decoded() -> None:
    stream = "data: é世😀\n\n".encode()
    assert datas(decode(*bytewise(stream))) == ["é世😀"]


def test_nul_in_data_is_kept() -> None:
    assert datas(decode(b"data: a\x00b\n\n")) == ["a\x00b"]


# --- id ----------------------------------------------------------------------------------------


def test_id_persists_across_events_until_changed() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n")
    assert [event.id for event in events] == ["1", "1", "2"]


def test_id_containing_nul_is_ignored() -> None:
    events = decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [event.id for event in events] == ["1", "1"]


def test_empty_id_resets_the_last_event_id() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid:\ndata: b\n\n")
    assert [event.id for event in events] == ["1", ""]
    assert decoder.last_event_id == ""


def test_last_event_id_is_updated_at_the_blank_line_even_without_an_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n") == []
    # Not yet: the event carrying the id may never complete.
    assert decoder.last_event_id == ""
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "7"


def test_id_of_a_truncated_event_does_not_change_last_event_id() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    decoder.close()
    assert decoder.last_event_id == "1"


def test_id_may_contain_any_other_text() -> None:
    assert decode(b"id: a:b c\xc3\xa9\ndata: x\n\n")[0].id == "a:b cé"


# --- retry -------------------------------------------------------------------------------------


def test_retry_sets_reconnection_time_and_is_reported_on_the_event() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 1500\ndata: a\n\ndata: b\n\n")
    assert [event.retry for event in events] == [1500, None]
    assert decoder.retry == 1500


def test_retry_in_a_block_without_data_is_reported_on_the_next_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 10000\n\n") == []
    assert decoder.retry == 10000
    assert decoder.feed(b"data: a\n\n") == [ServerSentEvent(data="a", retry=10000)]


def test_retry_defaults_to_none() -> None:
    decoder = SSEDecoder()
    assert decoder.retry is None
    assert decoder.feed(b"data: a\n\n")[0].retry is None


@pytest.mark.parametrize(
    "value",
    [b"", b" ", b"-1", b"+1", b"1.5", b"10a", b"1 0", b"0x10", "١٢".encode(), "²".encode()],
)
def test_retry_with_anything_but_ascii_digits_is_ignored(value: bytes) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 5\n\nretry: " + value + b"\ndata: a\n\n")
    assert decoder.retry == 5
    # The 5 from the first block is still owed to the first dispatched event.
    assert events == [ServerSentEvent(data="a", retry=5)]


def test_retry_with_leading_zeros_and_zero() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 007\n\n")
    assert decoder.retry == 7
    decoder.feed(b"retry:0\n\n")
    assert decoder.retry == 0


def test_absurdly_long_retry_is_ignored_without_error() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 9\n\nretry: " + b"9" * 10_000 + b"\ndata: a\n\n")
    assert decoder.retry == 9
    assert datas(events) == ["a"]


# --- End of stream and pending state -----------------------------------------------------------


def test_close_discards_final_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert datas(decoder.feed(b"data: a\n\ndata: b\n")) == ["a"]
    assert decoder.has_pending
    decoder.close()
    assert not decoder.has_pending
    # The discarded event must not resurface in the next stream.
    assert datas(decoder.feed(b"data: c\n\n")) == ["c"]


def test_has_pending_for_a_partial_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\nda")
    assert decoder.has_pending


def test_has_pending_for_fields_other_than_data() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"event: x\n")
    assert decoder.has_pending


def test_has_pending_is_false_after_a_complete_event() -> None:
    decoder = SSEDecoder()
    assert not decoder.has_pending
    decoder.feed(b"data: a\n\n")
    assert not decoder.has_pending


def test_has_pending_after_cr_that_may_start_crlf_is_false() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r\r")
    assert not decoder.has_pending


def test_close_starts_a_new_stream_keeping_last_event_id_and_retry() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 4\nretry: 30\ndata: a\n\n")
    decoder.close()
    # A new stream may begin with its own BOM again.
    events = decoder.feed(BOM + b"data: b\n\n")
    assert events == [ServerSentEvent(data="b", id="4")]
    assert decoder.last_event_id == "4"
    assert decoder.retry == 30


def test_close_forgets_a_pending_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.close()
    # In a new stream, a leading LF is a line end of its own (here: a blank line).
    assert decoder.feed(b"\ndata: b\n\n") == [ServerSentEvent(data="b")]


# --- Invalid UTF-8 -----------------------------------------------------------------------------


def test_invalid_utf8_raises_with_the_byte_offset() -> None:
    decoder = SSEDecoder()
    with pytest.raises(SSEDecodeError, match=r"byte offset 8\b") as info:
        decoder.feed(b"data: ab\xffc\n\n")
    assert isinstance(info.value, StreamError)
    assert not isinstance(info.value, UnicodeDecodeError)


def test_invalid_utf8_in_a_later_chunk_reports_the_stream_offset() -> None:
    decoder = SSEDecoder()
    assert datas(decoder.feed(b"data: a\n\n")) == ["a"]
    assert decoder.feed(b"data: b") == []
    with pytest.raises(SSEDecodeError, match=r"byte offset 17\b"):
        decoder.feed(b"c\x80\n\n")


def test_invalid_utf8_offset_counts_a_stripped_bom() -> None:
    with pytest.raises(SSEDecodeError, match=r"byte offset 9\b"):
        decode(BOM + b"data: \xff\n\n")


def test_invalid_utf8_offset_counts_the_lf_of_a_split_crlf() -> None:
    with pytest.raises(SSEDecodeError, match=r"byte offset 9\b"):
        decode(b"data: a\r", b"\n\xc3(\n")


def test_truncated_code_point_before_line_end_raises() -> None:
    with pytest.raises(SSEDecodeError, match=r"byte offset 6\b"):
        decode(b"data: \xe4\xb8", b"\n\n")


@pytest.mark.parametrize(
    "bad",
    [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe"],
    ids=["overlong", "surrogate", "above-max", "invalid-byte"],
)
def test_invalid_utf8_sequences_raise(bad: bytes) -> None:
    with pytest.raises(SSEDecodeError):
        decode(b"data: " + bad + b"\n\n")


def test_invalid_utf8_split_across_chunks_raises() -> None:
    with pytest.raises(SSEDecodeError, match=r"byte offset 6\b"):
        decode(*bytewise(b"data: \xe4\xb8(\n\n"))


def test_decoder_stays_failed_after_an_error_until_closed() -> None:
    decoder = SSEDecoder()
    with pytest.raises(SSEDecodeError):
        decoder.feed(b"data: \xff\n\n")
    with pytest.raises(SSEDecodeError, match=r"byte offset 6\b"):
        decoder.feed(b"data: fine\n\n")
    decoder.close()
    assert datas(decoder.feed(b"data: fine\n\n")) == ["fine"]


# A line longer than the piece the decoder checks UTF-8 in (64 KiB): a done event restating a
# long answer. Multi-byte characters are placed across every piece boundary.
_PIECE = 1 << 16


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
@pytest.mark.parametrize("char", ["é", "本", "😀"])
def test_long_line_with_characters_across_piece_boundaries_decodes(shift: int, char: str) -> None:
    encoded = char.encode()
    # Characters end exactly at, or straddle, each 64 KiB boundary of the block.
    filler = "a" * (_PIECE - len(b"data: ") - shift)
    value = (filler + char) * 3 + "z"
    stream = f"data: {value}\n\n".encode()
    assert len(stream) > 2 * _PIECE
    assert len(encoded) > 1
    assert datas(decode(stream)) == [value]
    assert datas(decode(*[stream[i : i + 1000] for i in range(0, len(stream), 1000)])) == [value]


@pytest.mark.parametrize("where", [5, _PIECE - 1, _PIECE, _PIECE + 1, 2 * _PIECE + 7])
def test_invalid_utf8_in_a_long_line_reports_its_offset(where: int) -> None:
    value = bytearray(("本" * (3 * _PIECE // 3)).encode())  # valid, 3 bytes per character
    value[where] = 0xFF
    stream = b"data: " + bytes(value) + b"\n\n"
    # The error names the start of the character the bad byte breaks.
    expected = len(b"data: ") + where - where % 3
    with pytest.raises(SSEDecodeError, match=rf"byte offset {expected}\b"):
        decode(stream)


def test_a_long_run_of_continuation_bytes_at_a_piece_boundary_raises() -> None:
    stream = b"data: " + b"a" * (_PIECE - 10) + b"\x80" * 20 + b"\n\n"
    with pytest.raises(SSEDecodeError, match=rf"byte offset {_PIECE - 4}\b"):
        decode(stream)


def test_feed_raw_returns_undecoded_data_with_id_and_retry() -> None:
    decoder = SSEDecoder()
    raw = decoder.feed_raw("event: e\nid: 7\nretry: 10\ndata: h\u00e9\ndata: !\n\n".encode())
    assert raw == [("e", "h\u00e9\n!".encode(), "7", 10)]
    assert isinstance(raw[0][1], bytes)
    assert decoder.feed_raw(b"data: x\n\n") == [("message", b"x", "7", None)]


# --- ServerSentEvent ---------------------------------------------------------------------------


def test_server_sent_event_defaults_and_immutability() -> None:
    event = ServerSentEvent()
    assert (event.event, event.data, event.id, event.retry) == ("message", "", "", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "x"  # type: ignore[misc]


# --- Properties: chunking never changes the result ---------------------------------------------

_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n"),
    max_size=12,
)
_field_line = st.builds(
    lambda name, sep, value: name + sep + value,
    st.sampled_from(["data", "data", "data", "event", "id", "retry", "foo", ""]),
    st.sampled_from([":", ": ", ":  ", ""]),
    _text | st.from_regex(r"\A[0-9]{0,5}\Z") | st.just("\0"),
)
_line = _field_line | st.builds(lambda text: ":" + text, _text) | st.just("")
_eol = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def event_streams(draw: st.DrawFn) -> bytes:
    """Streams mixing all line kinds and line ends, optionally with a BOM and an unterminated
    last line."""
    lines = draw(st.lists(st.tuples(_line, _eol), max_size=25))
    text = "".join(line + eol for line, eol in lines)
    if draw(st.booleans()):
        text += draw(_line)
    stream = text.encode()
    if draw(st.booleans()):
        stream = BOM + stream
    return stream


@st.composite
def split_streams(draw: st.DrawFn, streams: st.SearchStrategy[bytes]) -> tuple[bytes, list[bytes]]:
    """A stream and the same stream cut at arbitrary points (inside code points, CRLFs and the
    BOM included, and with empty chunks)."""
    stream = draw(streams)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    bounds = [0, *cuts, len(stream)]
    return stream, [stream[a:b] for a, b in itertools.pairwise(bounds)]


def run(chunks: Iterable[bytes]) -> tuple[list[ServerSentEvent], bool, str, int | None]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events, decoder.has_pending, decoder.last_event_id, decoder.retry


def reference_decode(stream: bytes) -> list[ServerSentEvent]:
    """A direct, non-incremental transcription of the standard's algorithm."""
    text = stream.decode("utf-8")
    text = text.removeprefix("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece has no line end: discarded
    events = []
    data, event_type, id_buffer, retry = "", "", "", None
    for line in lines:
        if line == "":
            if data == "":
                event_type = ""
                continue
            events.append(ServerSentEvent(event_type or "message", data[:-1], id_buffer, retry))
            data, event_type, retry = "", "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events


@settings(max_examples=200, deadline=None)
@given(split_streams(event_streams()))
def test_any_split_into_chunks_gives_the_same_events_as_one_chunk(
    case: tuple[bytes, list[bytes]],
) -> None:
    stream, chunks = case
    assert run(chunks) == run([stream])


@settings(max_examples=200, deadline=None)
@given(event_streams())
def test_one_byte_at_a_time_gives_the_same_events_as_one_chunk(stream: bytes) -> None:
    assert run(bytewise(stream)) == run([stream])


@settings(max_examples=200, deadline=None)
@given(event_streams())
def test_events_match_a_direct_transcription_of_the_standard(stream: bytes) -> None:
    assert run([stream])[0] == reference_decode(stream)


# Streams as servers write them: mostly ``event: <type>`` + ``data: <data>`` frames (the decoder's
# fast path), with data-only frames, frames of any other lines, and blank-line runs mixed in.
_types = st.sampled_from(["response.output_text.delta", "message_start", "", "é", "a:b", " x"])
_frame = st.one_of(
    st.builds(lambda t, d: [f"event: {t}", f"data: {d}"], _types, _text),
    st.builds(lambda d: [f"data: {d}"], _text),
    st.builds(lambda d: [f"event: {d}", f"data: {d}", f"data: {d}"], _text),
    # Other fields (id, retry, event, comments) before the two lines of a frame.
    st.builds(lambda line, t, d: [line, f"event: {t}", f"data: {d}"], _line, _types, _text),
    st.lists(_line, max_size=4),
)


@st.composite
def server_streams(draw: st.DrawFn) -> bytes:
    """Frames each ended by a blank line, mostly with LF line ends."""
    eol = st.sampled_from(["\n"] * 6 + ["\r", "\r\n"])
    lines = [line for frame in draw(st.lists(_frame, max_size=12)) for line in [*frame, ""]]
    text = "".join(line + draw(eol) for line in lines)
    if draw(st.booleans()):
        text += draw(_line)
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(split_streams(server_streams()))
def test_server_like_streams_split_anyhow_match_the_standard(
    case: tuple[bytes, list[bytes]],
) -> None:
    stream, chunks = case
    assert run(chunks) == run([stream]) == run(bytewise(stream))
    assert run(chunks)[0] == reference_decode(stream)


def test_more_event_types_than_the_decoder_remembers_are_all_decoded() -> None:
    body = b"".join(b"event: t%d\ndata: %d\n\n" % (i % 100, i) for i in range(300))
    for chunks in ([body], bytewise(body)):
        events = decode(*chunks)
        assert [(e.event, e.data) for e in events] == [(f"t{i % 100}", str(i)) for i in range(300)]


def test_a_known_event_line_followed_by_other_lines_is_not_taken_for_a_frame() -> None:
    """Event lines are remembered once seen; a later frame that starts with one but is not an
    event line and one data line follows the standard line by line."""
    body = (
        b"event: a\ndata: 1\n\n"
        b"event: a\nid: 7\n\n"  # no data: nothing dispatched, the id is kept
        b"event: a\ndata:2\n\n"  # no space after the colon
        b"event: a\n: comment\n\n"
        b"data: x\nevent: a\ndata: 3\n\n"  # data pending when the event line comes
        b"retry: 5\n\nevent: a\ndata: 4\n\nevent: a\ndata: 5\n\n"
        b"event: b\nid: 8\nevent: a\ndata: 6\n\ndata: 7\n\n"
    )
    decoder = SSEDecoder()
    events = decoder.feed(body)
    assert [(e.event, e.data, e.id, e.retry) for e in events] == [
        ("a", "1", "", None),
        ("a", "2", "7", None),
        ("a", "x\n3", "7", None),
        ("a", "4", "7", 5),
        ("a", "5", "7", None),
        ("a", "6", "8", None),
        ("message", "7", "8", None),
    ]
    assert events == reference_decode(body)
    assert (decoder.last_event_id, decoder.has_pending) == ("8", False)
    decoder.feed(b"event: a\nid: 9\nevent: a\ndata: 8\n\n")
    assert (decoder.last_event_id, decoder.has_pending) == ("9", False)


_raw_bytes = st.lists(
    st.sampled_from([b"\r", b"\n", b"data:", b": ", b"\xef\xbb\xbf", b"\xc3\xa9", b"\xe4\xb8"])
    | st.binary(max_size=4),
    max_size=20,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(split_streams(_raw_bytes))
def test_arbitrary_bytes_split_anyhow_give_the_same_events_or_the_same_error(
    case: tuple[bytes, list[bytes]],
) -> None:
    stream, chunks = case
    outcomes: list[object] = []
    for feed in (chunks, [stream]):
        try:
            outcomes.append(run(feed))
        except SSEDecodeError as exc:  # anything else (UnicodeDecodeError...) fails the test
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


# -- hardening: events before invalid UTF-8, and the maximum event size --------------------------


def test_events_before_invalid_utf8_travel_on_the_error_at_every_split() -> None:
    body = b"data: one\n\ndata: two\n\ndata: \xff\n\n"
    for split in range(len(body) + 1):
        decoder = SSEDecoder()
        seen: list[str] = []
        try:
            for piece in (body[:split], body[split:]):
                seen += [event.data for event in decoder.feed(piece)]
        except SSEDecodeError as exc:
            seen += [event.data for event in exc.events]  # type: ignore[attr-defined]
        else:
            raise AssertionError(f"no error at split {split}")
        assert seen == ["one", "two"], split


def test_an_endless_line_exceeds_the_maximum_event_size() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: ")
    for _ in range(9):
        decoder.feed(b"x" * 100)
    with pytest.raises(SSEDecodeError, match="max_event_size"):
        decoder.feed(b"x" * 100)
    with pytest.raises(SSEDecodeError):  # the stream stays failed
        decoder.feed(b"\n\n")


def test_many_data_lines_exceed_the_maximum_event_size() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    for _ in range(100):  # 1000 bytes of data: at the bound
        decoder.feed(b"data: 0123456789\n")
    with pytest.raises(SSEDecodeError, match="max_event_size"):
        decoder.feed(b"data: 0123456789\n")


def test_events_under_the_maximum_size_pass_whatever_their_number() -> None:
    decoder = SSEDecoder(max_event_size=100)
    events = []
    for _ in range(1000):
        events += decoder.feed(b"data: " + b"x" * 40 + b"\n")
        events += decoder.feed(b"data: " + b"y" * 40 + b"\n\n")
    assert len(events) == 1000
    assert events[0].data == "x" * 40 + "\n" + "y" * 40
