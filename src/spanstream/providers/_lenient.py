"""What the provider parsers share about bad input: decode leniently, skip or raise, never echo.

A payload that cannot be decoded is skipped, logged and counted, or raises
:class:`~spanstream.errors.MalformedEventError` in strict mode. The log line and the exception
name the offending field but never include the payload (it may hold user content).

A field that is not essential to its event (usage, ids, details: declared :data:`Droppable` in
the wire models) is dropped alone when its value is invalid, and the drop is counted the same
way: a usage object that is a string, or a token count that is negative, fractional or beyond
:data:`~spanstream.events.TOKEN_COUNT_MAX` (:data:`TokenCount`), must not cost the terminal event
that carries the rest of the answer (issues #5 and #6).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Annotated, Any, TypeAlias, TypeVar, Union

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
)
from pydantic import WrapValidator as _WrapValidator

from ..errors import MalformedEventError
from ..events import TOKEN_COUNT_MAX, Response, StreamEvent
from ..sse import ServerSentEvent

__all__ = [
    "DONE",
    "Data",
    "Droppable",
    "ParserBase",
    "TokenCount",
    "WIRE_CONFIG",
    "describe",
    "event_union",
    "loads",
    "text_of",
]

_T = TypeVar("_T")

Data: TypeAlias = str | bytes
"""An event's data: ``bytes`` from the streams (UTF-8, already checked), ``str`` when a caller
feeds :class:`~spanstream.sse.ServerSentEvent` objects."""


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
    """Decode JSON, or ``None`` if it is not (deep nesting included). With ``huge_ints`` an
    integer too long for ``int()`` decodes as an infinity rather than failing the whole document
    (for revalidating a payload, where no field that takes one keeps it); elsewhere (a tool's
    arguments, say) such a document stays undecoded, as ``json.loads`` has it."""
    try:
        return json.loads(data, parse_int=_integer) if huge_ints else json.loads(data)
    except (ValueError, RecursionError):
        return None


def _drop_invalid(
    value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> object:
    """Validate a :data:`Droppable` field; when it is invalid, note why in the validation context
    (the parser's list of dropped fields) and read it as absent. Without that list (a caller
    that did not ask for lenient fields) the error stands."""
    try:
        return handler(value)
    except ValidationError as exc:
        dropped = info.context
        if not isinstance(dropped, list):
            raise
        dropped.append(f"{info.field_name or 'field'} dropped: {describe(exc)}")
        return None


Droppable = _WrapValidator(_drop_invalid)
"""Marks a field (typed ``X | None``) that is dropped alone, not with its event, when invalid."""

TokenCount = Annotated[
    Annotated[int, Field(strict=True, ge=0, le=TOKEN_COUNT_MAX)] | None, Droppable
]
"""A token count: a JSON integer in ``0..TOKEN_COUNT_MAX``, else dropped (strings, floats and
booleans included: no API sends a count as one)."""


WIRE_CONFIG = ConfigDict(extra="ignore", frozen=True, defer_build=True)
"""The wire models' configuration: unknown fields ignored, frozen, and each model's validator
built when it first validates rather than at import (``defer_build``): a stream meets a handful of
the models, and building them all was most of what importing the wire modules cost."""


def event_union(module: str, members: Callable[[], Sequence[Any]]) -> Callable[[str], Any]:
    """A wire module's ``__getattr__`` (PEP 562) that builds its ``any_event_adapter``, the
    discriminated union over every event type (``members()``), on first use: the union's
    validator covers every model, and only a frame without an ``event:`` field (or a failed
    validation) needs it."""

    def __getattr__(name: str) -> Any:
        if name != "any_event_adapter":
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        union: Any = Union.__getitem__(tuple(members()))
        adapter: TypeAdapter[Any] = TypeAdapter(Annotated[union, Field(discriminator="type")])
        setattr(sys.modules[module], name, adapter)  # later lookups are plain attribute reads
        return adapter

    return __getattr__


def describe(exc: Exception) -> str:
    """A one-line reason that names the offending field but never echoes the payload."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "payload"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{location}: {first['msg']}{more}"
    return type(exc).__name__


class ParserBase:
    """Base of the parsers: counts the events it skips, or raises on the first when strict.

    Subclasses set :attr:`api` (named in messages) and :attr:`logger`.
    """

    api = "provider"
    logger = logging.getLogger("spanstream.providers")

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.malformed_count = 0
        """Events skipped because their payload could not be decoded, plus fields dropped from
        events that were kept."""
        self._dropped: list[str] = []
        """The validation context of lenient decodes: :data:`Droppable` fields note here why they
        were dropped (see :meth:`_report_dropped`)."""

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Parse one server-sent event into zero or more normalized events."""
        return self.feed_raw(sse.event, sse.data)

    def feed_raw(self, event: str, data: Data) -> list[StreamEvent]:
        """Parse one event given as its type and its data (``bytes`` as
        :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns it, or ``str``)."""
        raise NotImplementedError

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Parse a reply that was not streamed (see :meth:`~.base.Parser.feed_body`)."""
        raise NotImplementedError  # WIP: each parser's own, next

    @property
    def response(self) -> Response:
        """The response accumulated so far (each parser's own)."""
        raise NotImplementedError

    @property
    def result(self) -> object:
        """What ``create()`` returns (see :attr:`~.base.Parser.result`): the response."""
        return self.response

    def _report_dropped(self, type_name: str | None, sequence_number: int | None = None) -> None:
        """Count and log the fields dropped while decoding the last event (raise in strict
        mode). Call after every decode that passed ``context=self._dropped``."""
        dropped = self._dropped.copy()
        self._dropped.clear()
        for reason in dropped:
            self._skip_malformed(type_name, reason, sequence_number)

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

    def cursor(self, data: bytes) -> int | None:
        """Where a stream could be resumed after this event: nowhere, unless the API says
        (see :class:`~spanstream.providers.base.Parser`)."""
        return None

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
