"""Sans-IO incremental decoder for ``text/event-stream`` (server-sent events).

Implements the parsing rules of the WHATWG HTML standard, section "Interpreting an event
stream": feed the decoder the raw bytes of a response body in chunks of any size and it returns
the events that became complete. It never does I/O, so the same decoder serves sync and async
transports alike.

Two deliberate departures from the browser algorithm:

* Invalid UTF-8 raises :class:`~spanstream.errors.SSEDecodeError` (naming the byte offset in
  the stream) instead of being replaced with U+FFFD: a provider sending invalid UTF-8 is broken,
  and silently corrupting JSON payloads would hide that. The events completed before the bad
  byte travel on the error (``events``), whatever the chunking: a network read that brings good
  events and a bad byte together loses none of them.
* An event may not grow beyond ``max_event_size`` bytes (a line without its line end, or the
  data lines of an event not yet dispatched): a server that streams one endless line would
  otherwise grow memory until the connection ends.
* Empty-data events are handled as the standard says (not dispatched), but the caller can tell a
  stream that was cut off in the middle of an event from a clean end through
  :attr:`SSEDecoder.has_pending`.

Design notes (this is the per-event hot path of a streaming client):

* Bytes that do not yet form a complete line stay in a ``bytearray`` and are neither decoded nor
  scanned again; a new chunk is searched for line ends on its own, so a long line arriving in
  many small chunks costs O(total length), not O(n^2).
* Everything up to the last line end of a chunk is checked for valid UTF-8 at once (a single
  ``isascii`` scan, or a ``decode`` when it is not ASCII) and split in C. Line ends (CR and LF)
  are ASCII and never occur inside a UTF-8 multi-byte sequence, so a code point split across
  chunks is always checked whole, with its line.
* The frame nearly every event comes in, ``event: <type>``, ``data: <data>`` and a blank line,
  is dispatched in one step of the line loop once its event line has been seen (the decoder
  remembers a few event lines decoded), so the loop does one pass per event, not three.
* Lines stay ``bytes``: :meth:`SSEDecoder.feed_raw` hands each event's data over undecoded, for a
  JSON parser that reads UTF-8 itself. A done event restating a long answer is then never held
  as a ``str`` (up to 4 bytes per character) next to its bytes and its parsed text.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TypeAlias

from ._record import Record
from .errors import SSEDecodeError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "RawEvent", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_CR = 0x0D
_LF = 0x0A
_COLON = 0x3A
_UTF8_PIECE = 1 << 16  # bytes checked per decode call (see SSEDecoder._invalid_utf8_at)
_MAX_TYPES = 64  # event lines a decoder remembers decoded (see SSEDecoder._process)

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
"""The largest event accepted by default, in bytes: far above any real event. The largest real
ones restate a whole response (a Responses ``response.completed`` with a long answer, or an
image generation result as base64, a few MiB)."""

RawEvent: TypeAlias = tuple[str, bytes, str, int | None]
"""A dispatched event as :meth:`SSEDecoder.feed_raw` returns it: ``(event, data, id, retry)``,
the fields of :class:`ServerSentEvent` with ``data`` as UTF-8 ``bytes`` (already checked to be
valid)."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ServerSentEvent(Record):
    """One dispatched server-sent event.

    ``event`` is the event type (``"message"`` when the stream gave none or an empty one);
    ``data`` is the data lines joined with ``"\\n"``; ``id`` is the stream's last event ID at
    dispatch time (it persists across events until an ``id`` field changes it); ``retry`` is the
    reconnection time in milliseconds from a valid ``retry`` field received since the previous
    dispatched event, else ``None``.
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


def _as_event(raw: RawEvent) -> ServerSentEvent:
    event, data, id, retry = raw
    return ServerSentEvent(event, data.decode(), id, retry)


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder: bytes in, :class:`ServerSentEvent` out.

    Call :meth:`feed` with each chunk of the body as it arrives (any split is allowed, including
    inside a UTF-8 code point or between the CR and LF of a CRLF) and :meth:`close` at the end of
    the stream. Before closing, :attr:`has_pending` tells whether the stream stopped in the
    middle of an event.

    :meth:`close` also resets the decoder for a new stream (a reconnection) while keeping
    :attr:`last_event_id` and :attr:`retry`, which the standard carries across reconnections.

    After :meth:`feed` raises :class:`~spanstream.errors.SSEDecodeError` the stream is
    unusable: the events completed earlier in the same ``feed`` call are on the error
    (``events``), and further ``feed`` calls raise the same error until :meth:`close` resets
    the decoder. ``max_event_size`` bounds the bytes of one event (``None``: no bound).
    """

    __slots__ = (
        "_at_start",
        "_data",
        "_data_counted",
        "_data_size",
        "_error",
        "_event_type",
        "_id_buffer",
        "_in_event",
        "_last_event_id",
        "_max_event_size",
        "_offset",
        "_retry",
        "_retry_for_event",
        "_skip_lf",
        "_tail",
        "_types",
        "_unusual",
    )

    def __init__(self, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._max_event_size = max_event_size
        self._last_event_id = ""
        self._id_buffer = ""
        self._retry: int | None = None
        self._types: dict[bytes, str] = {}  # an ``event: <type>`` line -> its event type
        self._reset_stream()

    def _reset_stream(self) -> None:
        # Per-stream parser state; the last event ID and the reconnection time survive this.
        self._tail = bytearray()  # bytes of the current, not yet terminated line
        self._offset = 0  # stream offset of ``_tail[0]`` (for error messages)
        self._at_start = True  # a leading BOM may still arrive
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF ends no line
        self._error: str | None = None
        self._data: list[bytes] = []
        self._data_counted = 0  # how many of ``_data`` are counted in ``_data_size``
        self._data_size = 0
        self._event_type = ""
        self._in_event = False  # a field line was seen since the last blank line
        self._retry_for_event: int | None = None
        self._unusual = True  # see _prelude: here, a BOM may still arrive
        # The ID buffer belongs to the connection in the standard, but an ``id`` field of an
        # event that never completed must not leak into the next stream.
        self._id_buffer = self._last_event_id

    @property
    def has_pending(self) -> bool:
        """True if part of an undispatched event is buffered.

        That is: a line without its line end, or field lines not yet followed by a blank line.
        A stream that ends while this is True was truncated (:meth:`close` discards the rest).
        """
        return self._in_event or bool(self._tail)

    @property
    def last_event_id(self) -> str:
        """The last event ID string: the ID buffer as of the last blank line (the value to send
        as ``Last-Event-ID`` when reconnecting)."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds last set by a valid ``retry`` field, if any."""
        return self._retry

    def close(self) -> None:
        """Mark the end of the stream.

        As the standard requires, an incomplete final event (one not followed by a blank line)
        is discarded. The decoder is then ready for a new stream.
        """
        self._reset_stream()

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next chunk of the stream and return the events it completed, in order.

        Raises :class:`~spanstream.errors.SSEDecodeError` if a completed line is not valid
        UTF-8 (its ``events``: those completed before that line) or an event grows beyond
        ``max_event_size``.
        """
        try:
            raw = self.feed_raw(chunk)
        except SSEDecodeError as exc:
            exc.events = [_as_event(event) for event in exc.events]  # type: ignore[arg-type]
            raise
        return [_as_event(event) for event in raw]

    def feed_raw(self, chunk: bytes) -> list[RawEvent]:
        """Like :meth:`feed`, with each event as a :data:`RawEvent` tuple whose data is still
        UTF-8 ``bytes``: what a parser that decodes JSON from bytes wants (the streams use it).
        """
        if self._unusual:
            chunk = self._prelude(chunk)
        block: bytes
        if not self._tail and chunk and chunk[-1] == _LF:
            block = chunk  # the common case: whole lines, nothing buffered, nothing to copy
        elif _LF not in chunk and _CR not in chunk:
            self._tail += chunk  # the middle of a line
            if self._max_event_size is not None and len(self._tail) > self._max_event_size:
                self._fail_size(len(self._tail))
            return []
        else:
            block = self._complete_lines(chunk)
        if not block.isascii():
            bad = self._invalid_utf8_at(block)
            if bad is not None:
                self._fail_utf8(block, bad)
        self._offset += len(block)
        lines = self._lines(block)
        del block  # see _lines
        events = self._process(lines)
        if self._data and self._max_event_size is not None:
            # An event dispatched in this chunk means the pending data lines are a new event's.
            self._check_data_size(fresh=bool(events))
        return events

    @staticmethod
    def _lines(block: bytes) -> list[bytes]:
        """The lines of ``block`` (which ends with a line end), without their line ends."""
        if _CR in block:  # an int: a memchr, where b"\r" costs a substring search
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = block.split(b"\n")
        # A done event restates the whole response: its line can be megabytes, so the caller
        # lets the block go before the line is copied again into its field value.
        lines.pop()  # the block ends with a line end, so the last piece is always empty
        return lines

    def _check_data_size(self, *, fresh: bool) -> None:
        """Count the data lines of the event still being built (only those not counted yet,
        so an event of many lines costs O(lines) in all) against ``max_event_size``."""
        data = self._data
        counted = self._data_counted
        if fresh:
            counted = self._data_size = 0
        for line in data[counted:] if counted else data:
            self._data_size += len(line)
        self._data_counted = len(data)
        assert self._max_event_size is not None
        if self._data_size > self._max_event_size:
            self._fail_size(self._data_size)

    def _fail_size(self, size: int) -> None:
        self._error = (
            f"an event of more than {size} bytes exceeds max_event_size ({self._max_event_size}"
            f" bytes) at byte offset {self._offset}"
        )
        self._unusual = True
        self._tail = bytearray()
        self._data = []
        raise SSEDecodeError(self._error)

    def _fail_utf8(self, block: bytes, bad: int) -> None:
        """Raise for the invalid byte at ``block[bad]``, with the events of the lines before
        the line it is in."""
        good = max(block.rfind(b"\n", 0, bad), block.rfind(b"\r", 0, bad)) + 1
        events = self._process(self._lines(block[:good])) if good else []
        self._error = f"invalid UTF-8 in event stream at byte offset {self._offset + bad}"
        self._unusual = True
        raise SSEDecodeError(self._error, events=events)

    def _prelude(self, chunk: bytes) -> bytes:
        """The rare states a chunk must pass first: a failed stream, a BOM that may still
        arrive, the LF of a CRLF whose CR ended the previous chunk."""
        if self._error is not None:
            raise SSEDecodeError(self._error)
        if self._at_start:
            chunk = self._strip_bom(chunk)
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == _LF:
                # That line already ended at the CR.
                chunk = chunk[1:]
                self._offset += 1
        self._unusual = self._at_start or self._skip_lf
        return chunk

    def _complete_lines(self, chunk: bytes) -> bytes:
        """Buffer ``chunk``, which holds a line end, and return the lines it completes."""
        # Only the new chunk is searched: the buffered tail is known to hold no line end. A CR
        # is only looked for after the last LF, so LF-only streams are not scanned twice.
        end = chunk.rfind(b"\n")
        cr = chunk.rfind(b"\r", end + 1)
        if cr > end:
            end = cr
        end += 1
        whole = end == len(chunk)
        block: bytes
        tail = self._tail
        if tail:
            # The buffered start of the line is copied once, now that the line is complete.
            tail += chunk if whole else chunk[:end]
            block = bytes(tail)
            self._tail = bytearray() if whole else bytearray(chunk[end:])
        elif whole:
            block = chunk
        else:
            block = chunk[:end]
            tail += chunk[end:]
        if whole and chunk[end - 1] == _CR:
            # The first half of a CRLF split across chunks, maybe.
            self._skip_lf = self._unusual = True
        return block

    @staticmethod
    def _invalid_utf8_at(block: bytes) -> int | None:
        """The offset of the first invalid UTF-8 byte in ``block``, or ``None``.

        The lines stay bytes, so the decoded text is thrown away; a long block is decoded in
        pieces cut at character starts, so that no ``str`` of it (up to 4 bytes per character)
        ever exists whole.
        """
        view = memoryview(block)
        size = len(block)
        start = 0
        while start < size:
            end = start + _UTF8_PIECE
            if end < size:
                # Back up to the start of a character (a valid one has at most 3 continuation
                # bytes; a longer run is invalid anyway and fails in the next piece).
                for _ in range(3):
                    if block[end] & 0xC0 != 0x80:
                        break
                    end -= 1
            try:
                codecs.utf_8_decode(view[start:end], "strict", True)
            except UnicodeDecodeError as exc:
                return start + exc.start
            start = end
        return None

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Drop a BOM at the very start of the stream, waiting until three bytes have arrived
        so that a BOM split across chunks is recognised too."""
        head = bytes(self._tail) + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            # Could still become a BOM: keep the bytes until we know.
            self._tail = bytearray(head)
            return b""
        self._at_start = False
        self._tail = bytearray()
        if head.startswith(_BOM):
            self._offset = len(_BOM)
            return head[len(_BOM) :]
        return head

    def _process(self, lines: list[bytes]) -> list[RawEvent]:
        """Apply complete lines (without their line ends) to the event being built."""
        events: list[RawEvent] = []
        # Locals instead of attribute access in the loop: this runs for every line.
        data = self._data
        event_type = self._event_type
        in_event = self._in_event
        id_buffer = self._id_buffer
        last_event_id = self._last_event_id
        retry_for_event = self._retry_for_event
        types = self._types
        index = 0
        count = len(lines)
        while index < count:
            line = lines[index]
            index += 1
            if line and not data and index < count:
                # The frames nearly every event comes in, dispatched at once as the lines below
                # would dispatch them: ``data: <data>`` and a blank line (Chat Completions), or
                # ``event: <type>``, ``data: <data>`` and a blank line once that event line has
                # been seen (``types`` knows it).
                value = b""
                if not lines[index]:
                    if line.startswith(b"data: "):
                        value, kind, frame = line, event_type, 1
                elif index + 1 < count and not lines[index + 1]:
                    known = types.get(line)
                    if known is not None and lines[index].startswith(b"data: "):
                        value, kind, frame = lines[index], known, 2
                if value:
                    events.append((kind or "message", value[6:], id_buffer, retry_for_event))
                    last_event_id = id_buffer
                    retry_for_event = None
                    event_type = ""
                    in_event = False
                    index += frame
                    continue
            if not line:
                # Blank line: dispatch. The last event ID string is updated even when no event
                # is dispatched, as the standard's "dispatch the event" step 1 does.
                last_event_id = id_buffer
                if data:
                    events.append(
                        (
                            event_type or "message",
                            data[0] if len(data) == 1 else b"\n".join(data),
                            id_buffer,
                            retry_for_event,
                        )
                    )
                    data = []
                    retry_for_event = None
                event_type = ""
                in_event = False
                continue
            # The two fields of nearly every event, as servers write them: one slice each,
            # where the general rule below costs a partition and a second copy of the value.
            if line.startswith(b"data: "):
                in_event = True
                data.append(line[6:])
                continue
            if line.startswith(b"event: "):
                in_event = True
                event_type = line[7:].decode()
                if len(types) < _MAX_TYPES:
                    types[line] = event_type
                continue
            if line[0] == _COLON:
                continue  # comment (often a keep-alive)
            in_event = True
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event_type = value.decode()
            elif name == b"id":
                if b"\0" not in value:
                    id_buffer = value.decode()
            elif name == b"retry" and value.isdigit():
                try:
                    retry = int(value)
                except ValueError:
                    # More digits than int() accepts (sys.get_int_max_str_digits): treat the
                    # absurd value like any other invalid one and ignore the field.
                    continue
                self._retry = retry_for_event = retry
            # Any other field name is ignored, as the standard requires.
        self._id_buffer = id_buffer
        self._last_event_id = last_event_id
        self._retry_for_event = retry_for_event
        self._data = data
        self._event_type = event_type
        self._in_event = in_event
        return events
