"""What the provider parsers share: one decode-and-report path, bad input skipped and counted or
raised, never echoed, and the accumulated response.

A payload that cannot be decoded is skipped, logged and counted, or raises
:class:`~spanstream.errors.MalformedEventError` in strict mode. The log line and the exception
name the offending field but never include the payload (it may hold user content). A field the
event can do without (declared :data:`~spanstream.providers._lenient.Droppable` in the wire
models, or named in the parser's :attr:`ParserBase.droppable`) is dropped alone and counted the
same way, and the event is kept (issues #5 and #6).

This module needs no pydantic model: a parser module imports it at once and its wire models
(:mod:`spanstream.providers._lenient`) when its first parser is made (:func:`wire_module`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, MutableSequence, Sequence
from typing import Any, TypeAlias, TypeVar

from pydantic_core import ValidationError

from .. import _text
from .._lazy import first_use_module
from ..accumulate import Accumulator
from ..errors import MalformedEventError
from ..events import ProviderError, Response, StreamEvent, UnknownEvent
from ..sse import RawEvent, ServerSentEvent

__all__ = [
    "DONE",
    "NOTHING",
    "Data",
    "Decoder",
    "Handler",
    "ParserBase",
    "describe",
    "loads",
    "text_of",
    "wire_module",
]

_T = TypeVar("_T")

Data: TypeAlias = str | bytes
"""An event's data: ``bytes`` from the streams (UTF-8, already checked), ``str`` when a caller
feeds :class:`~spanstream.sse.ServerSentEvent` objects."""

Decoder: TypeAlias = Callable[..., Any]
"""Decodes an event's JSON data: ``decode(data, context=dropped)`` (the validator's own
``validate_json``; ``context`` is the parser's list of dropped fields)."""

Handler: TypeAlias = Callable[[Any, Data], list[StreamEvent]]
"""Turns a decoded payload (and its data as received) into normalized events."""

NOTHING: list[StreamEvent] = []
"""No events (shared: never appended to)."""

DONE = (b"[DONE]", "[DONE]")
"""The Chat Completions end-of-stream sentinel (also sent by some servers on other APIs), as
``bytes`` (from the streams) or ``str``."""


def text_of(data: Data) -> str:
    """The data as ``str`` (for the rare paths that need text: unknown events, error logs)."""
    return data.decode() if isinstance(data, bytes) else data


def _integer(text: str) -> int | float:
    # ``int()`` refuses more than 4,300 digits (CPython's int_max_str_digits); such a number is
    # no count anyway: an infinity keeps the document decodable and fails every int field.
    try:
        return int(text)
    except ValueError:
        return -math.inf if text.startswith("-") else math.inf


def loads(data: Data, *, huge_ints: bool = False) -> object:
    """Decode JSON (lone surrogates replaced: see :mod:`spanstream._text`), or ``None`` if it
    is not (deep nesting included). With ``huge_ints`` an
    integer too long for ``int()`` decodes as an infinity rather than failing the whole document
    (for revalidating a payload, where no field that takes one keeps it); elsewhere (a tool's
    arguments, say) such a document stays undecoded, as ``json.loads`` has it."""
    try:
        return _text.loads(data, parse_int=_integer) if huge_ints else _text.loads(data)
    except (ValueError, RecursionError):
        return None


def describe(exc: Exception) -> str:
    """A one-line reason that names the offending field but never echoes the payload."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "payload"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{location}: {first['msg']}{more}"
    return type(exc).__name__


def wire_module(owner: str) -> Any:
    """The ``wire`` module of the provider package of the parser module ``owner``, imported on
    first use: it builds pydantic models, which ``import spanstream`` never needs (assign it
    under ``if not TYPE_CHECKING:`` and import the module itself under ``if TYPE_CHECKING:``)."""
    return first_use_module(owner, f"{owner.rpartition('.')[0]}.wire")


def _no_decoder(data: Data, **_: Any) -> Any:
    raise NotImplementedError("a parser that names a _hot event type gives its decoder")


class ParserBase:
    """Base of the parsers: the accumulated response, the in-stream error, the counts, and the
    one path from an event's data to its handler (:meth:`_handle`).

    A subclass sets :attr:`api` (named in messages) and :attr:`logger`, fills
    :attr:`_handlers` (event type -> handler), and says how a payload that failed is validated
    again (:meth:`_validate`) and which event types it knows (:meth:`_known`).
    """

    api = "provider"
    logger = logging.getLogger("spanstream.providers")
    droppable: Collection[str] = ()
    """Top-level fields revalidation drops alone when invalid (fields that come on every event,
    kept plain in the wire model for speed)."""
    _hot: str | None = None
    """The event type :meth:`feed_events` reads through :meth:`_read_hot` (None: none)."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.malformed_count = 0
        """Events skipped because their payload could not be decoded, plus fields dropped from
        events that were kept."""
        self.unknown_count = 0
        """Events of a type this parser does not know (passed on as ``UnknownEvent``)."""
        self.done = False
        """Whether the response ended (the API's terminal event; see each parser)."""
        self._acc = Accumulator()
        self._error: ProviderError | None = None
        self._dropped: list[str] = []
        """The validation context of lenient decodes: :data:`Droppable` fields note here why they
        were dropped (see :meth:`_report_dropped`)."""
        self._handlers: dict[str, Handler] = {}
        self._decode_hot: Decoder = _no_decoder  # the decoder of _hot events, if any

    @property
    def response(self) -> Response:
        """The response accumulated so far (final once :attr:`done`)."""
        return self._acc.snapshot()

    @property
    def result(self) -> object:
        """What ``create()`` returns (see :attr:`~.base.Parser.result`): the response."""
        return self.response

    @property
    def error(self) -> ProviderError | None:
        """The provider error reported in the stream, if any."""
        return self._error

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Parse one server-sent event into zero or more normalized events."""
        return self.feed_raw(sse.event, sse.data)

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event given as its type and its data (``bytes`` as
        :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns it, or ``str``)."""
        raise NotImplementedError

    def cursor(self, data: bytes) -> int | None:
        """Where a stream could be resumed after this event: nowhere, unless the API says
        (see :class:`~spanstream.providers.base.Parser`)."""
        return None

    def feed_events(self, events: Sequence[RawEvent], out: MutableSequence[StreamEvent]) -> int:
        """Parse decoded events (as :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns them)
        in order, appending what they mean to ``out``; returns how many were read, which is
        fewer than all when the response ended before the rest (those are not parsed). What
        :meth:`feed_raw` for each event until :attr:`done` gives.

        The streams call this once per network read. Events of the :attr:`_hot` type, nearly
        every event of a stream, go from their decoder straight to :meth:`_read_hot`: a
        :meth:`feed_raw` call and a list per event cost as much as their handling."""
        hot, decode, read_hot = self._hot, self._decode_hot, self._read_hot
        feed = self.feed_raw
        for read, (event, data, _, _) in enumerate(events):
            if self.done:
                return read
            if event == hot:
                try:
                    payload = decode(data)
                except ValidationError:
                    out.extend(self._handle(event, data, decode))  # mends or reports it
                    continue
                read_hot(payload, data, out)
                continue
            out.extend(feed(event, data))
        return len(events)

    def _read_hot(self, payload: Any, data: Data, out: MutableSequence[StreamEvent]) -> None:
        """Append what a decoded :attr:`_hot` event means to ``out``."""
        raise NotImplementedError

    def _on_hot(self, payload: Any, data: Data) -> list[StreamEvent]:
        """:meth:`_read_hot` as a handler (for :meth:`feed_raw` and :meth:`_handle`)."""
        out: list[StreamEvent] = []
        self._read_hot(payload, data, out)
        return out

    def _emit(self, event: StreamEvent) -> list[StreamEvent]:
        self._acc.add(event)
        return [event]

    # -- decoding ---------------------------------------------------------------------------------

    def _handle(
        self, event: str, data: Data, decode: Decoder, typed: bool = True
    ) -> list[StreamEvent]:
        """Decode ``data`` and pass it to its handler: the one path of every event.

        ``typed``: ``decode`` reads only events of type ``event`` (its SSE ``event:`` field
        named it); otherwise it reads any (a union over every event type) and the payload says
        its type. Fields dropped on the way are reported; a payload that fails is mended if it
        can be (:meth:`_revalidate`), else skipped or passed on as unknown (:meth:`_on_invalid`).
        """
        try:
            payload = decode(data, context=self._dropped)
        except ValidationError as exc:
            # Off the hot path: only a payload that failed comes here.
            payload = self._revalidate(data, exc, self._validate, self.droppable)
            if payload is None or (typed and self._kind(payload) != event):
                return self._on_invalid(event, data, exc)
        kind = event if typed else self._kind(payload)
        if self._dropped:
            self._report_dropped(kind, self._sequence_number(payload))
        handler = self._handlers.get(kind)
        return handler(payload, data) if handler is not None else NOTHING

    def _validate(self, decoded: dict[str, object]) -> Any:
        """Validate a decoded payload (for :meth:`_revalidate`), with the lenient context."""
        raise NotImplementedError

    def _kind(self, payload: Any) -> str:
        """The event type a decoded payload is: its handler's key."""
        raise NotImplementedError

    def _known(self, type_name: str) -> bool:
        """Whether ``type_name`` is an event type of the API (one that fails is malformed, not
        unknown)."""
        raise NotImplementedError

    def _sequence_number(self, payload: Any) -> int | None:
        """The sequence number of a decoded payload, in the APIs that have one."""
        return None

    def _revalidate(
        self,
        data: Data,
        exc: ValidationError,
        validate: Callable[[dict[str, object]], _T],
        droppable: Collection[str] = (),
    ) -> _T | None:
        """Validate again a payload that failed as a whole, keeping what is good in it; ``None``
        if it cannot be kept.

        Two failures are mended: the JSON parser refused a number (one of thousands of digits:
        ``number out of range``; the payload is decoded again with such numbers as a value no
        count accepts), and a top-level field named in ``droppable`` is invalid (it is removed,
        noted as dropped, and the rest validated again). Fields that come on every event are
        kept plain for speed and named here, so that they cost nothing until one fails.
        """
        self._dropped.clear()
        errors = exc.errors(include_url=False, include_input=False)
        huge = errors[0]["type"] == "json_invalid"
        if not huge and not droppable:
            return None
        decoded = loads(data, huge_ints=huge)
        if not isinstance(decoded, dict):
            return None
        for _ in range(len(droppable) + 1):
            try:
                return validate(decoded)
            except ValidationError as again:
                errors = again.errors(include_url=False, include_input=False)
            bad = {str(error["loc"][0]): error for error in errors if error["loc"]}
            if not bad or not bad.keys() <= set(droppable):
                break
            for name, error in sorted(bad.items()):
                del decoded[name]
                where = ".".join(str(part) for part in error["loc"])
                self._dropped.append(f"{name} dropped: {where}: {error['msg']}")
        self._dropped.clear()
        return None

    # -- a reply that was not streamed ----------------------------------------------------------

    def _decode_body(self, data: bytes, model: Any, what: str) -> Any:
        """Decode a reply that is one JSON document (a ``create()``) into the wire ``model`` (a
        pydantic model class), read as leniently as an event: dropped fields are reported as
        ``what`` and a huge number or a bad :attr:`droppable` field is mended
        (:meth:`_revalidate`). A reply that still cannot be read raises
        :class:`~spanstream.errors.MalformedEventError`, strict or not: it is the whole answer,
        with nothing after it to keep."""
        try:
            body = model.model_validate_json(data, context=self._dropped)
        except ValidationError as exc:
            body = self._revalidate(
                data,
                exc,
                lambda decoded: model.model_validate(decoded, context=self._dropped),
                self.droppable,
            )
            if body is None:
                raise self._malformed_reply(describe(exc)) from None
        # The base's report, named by the reply (a subclass may name its events otherwise).
        ParserBase._report_dropped(self, what)
        return body

    def _malformed_reply(self, reason: str) -> MalformedEventError:
        """The error of a reply that cannot be read; ``reason`` names the field, never the
        payload (it may hold the user's content)."""
        return MalformedEventError(
            f"malformed {self.api} reply: {reason}", event_type=None, sequence_number=None
        )

    # -- bad input --------------------------------------------------------------------------------

    def _on_invalid(self, event: str, data: Data, exc: ValidationError) -> list[StreamEvent]:
        """A payload that could not be kept. A data-only frame (``event`` ``message``, or any
        type the parser has no decoder of) whose ``type`` the API does not know is passed on as
        :class:`~spanstream.events.UnknownEvent`; anything else is malformed."""
        decoded = loads(data)
        payload_type = decoded.get("type") if isinstance(decoded, dict) else None
        type_name = event if event != "message" else payload_type
        if isinstance(decoded, dict) and isinstance(type_name, str) and not self._known(type_name):
            self.unknown_count += 1
            self.logger.debug("unknown %s event type %r passed through", self.api, type_name)
            return [UnknownEvent(type_name, text_of(data))]
        sequence_number = self.cursor(data if isinstance(data, bytes) else data.encode())
        name = type_name if isinstance(type_name, str) else None
        self._skip_malformed(name, describe(exc), sequence_number)
        return NOTHING

    def _report_dropped(self, type_name: str | None, sequence_number: int | None = None) -> None:
        """Count and log the fields dropped while decoding the last event (raise in strict
        mode). Call after every decode that passed ``context=self._dropped``."""
        dropped = self._dropped.copy()
        self._dropped.clear()
        for reason in dropped:
            self._skip_malformed(type_name, reason, sequence_number)

    def _skip_malformed(
        self, type_name: str | None, reason: str, sequence_number: int | None = None
    ) -> None:
        where = f" (sequence_number={sequence_number})" if sequence_number is not None else ""
        message = f"malformed {self.api} event {type_name or '<untyped>'}{where}: {reason}"
        if self.strict:
            # Not chained: the pydantic error being handled quotes the payload, which a
            # recorded exception's stack trace must not carry (content capture may be off).
            raise MalformedEventError(
                message, event_type=type_name, sequence_number=sequence_number
            ) from None
        self.malformed_count += 1
        self.logger.warning("skipped %s", message)
