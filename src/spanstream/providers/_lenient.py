"""The wire models' lenient building blocks: fields dropped alone, token counts, deferred
validators, and the per-event-type decoders the parsers use.

A field that is not essential to its event (usage, ids, details: declared :data:`Droppable` in
the wire models) is dropped alone when its value is invalid, and the drop is counted as a
malformed event (by the parser, :mod:`spanstream.providers._parser`): a usage object that is a
string, or a token count that is negative, fractional or beyond
:data:`~spanstream.events.TOKEN_COUNT_MAX` (:data:`TokenCount`), must not cost the terminal event
that carries the rest of the answer (issues #5 and #6).

Only the wire modules import this module (it builds pydantic types), and a parser imports its
wire module when its first parser is made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
)
from pydantic import WrapValidator as _WrapValidator

from ..events import TOKEN_COUNT_MAX
from ._parser import Decoder, describe

__all__ = [
    "Droppable",
    "LenientStr",
    "TokenCount",
    "WIRE_CONFIG",
    "Wire",
    "built",
    "decoders",
    "event_union",
]


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


class Wire(BaseModel):
    """Base of the wire models (:data:`WIRE_CONFIG`)."""

    model_config = WIRE_CONFIG


def _as_text(value: object) -> object:
    """Codes and params arrive as strings or numbers depending on the server: keep them text."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


LenientStr = Annotated[str | None, BeforeValidator(_as_text)]
"""A code or param: text, whether the server sent a string or a number."""


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


def _validate_json(member: Any) -> Decoder:
    # The validator's own method: ``TypeAdapter.validate_json`` and ``model_validate_json`` wrap
    # it in a Python call that costs a third of a delta's validation. A model's own validator
    # (built now: the models are deferred) rather than a TypeAdapter's, which would build a
    # second validator of the same schema.
    if isinstance(member, type) and issubclass(member, BaseModel):
        member.model_rebuild()
        return member.__pydantic_validator__.validate_json
    validate: Decoder = TypeAdapter(member).validator.validate_json
    return validate


class _FirstUse:
    """An event type's decoder until its first use, which builds the real one (the validator's
    own method) and puts it in its table in its place: every later event of that type goes
    straight to pydantic-core. Two threads may both build it; either result is right."""

    __slots__ = ("make", "member", "name", "table")

    def __init__(
        self, table: dict[str, Decoder], name: str, member: Any, make: Callable[[str], Any] | None
    ) -> None:
        self.table = table
        self.name = name
        self.member = member
        self.make = make

    def __call__(self, data: str | bytes, /, *, context: Any = None) -> Any:
        return built(self.table, self.name)(data, context=context)

    def model(self) -> Any:
        if self.member is None and self.make is not None:
            return self.make(self.name)
        return self.member


def decoders(
    models: Mapping[str, Any], make: Callable[[str], Any] | None = None
) -> dict[str, Decoder]:
    """Event type name -> JSON decoder into its model (``None``: the model ``make(name)`` makes
    when it is first needed): the parsers' fast path when the SSE ``event:`` field names the
    type. Each decoder is built on first use."""
    table: dict[str, Decoder] = {}
    table.update({name: _FirstUse(table, name, model, make) for name, model in models.items()})
    return table


def built(table: dict[str, Decoder], name: str) -> Decoder:
    """The built decoder of the event type ``name`` (built now if it was not yet)."""
    decode = table[name]
    if isinstance(decode, _FirstUse):
        decode = table[name] = _validate_json(decode.model())
    return decode
