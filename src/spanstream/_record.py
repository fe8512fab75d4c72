"""``Record``: the base of spanstream's frozen value classes (events, the request description,
settings), with equality, hashing and ``repr`` written once.

Each class is still a ``@dataclass(frozen=True, slots=True, eq=False, repr=False)``: the
decorator generates its ``__init__`` and the frozen ``__setattr__`` / ``__delattr__``, and these
three methods come from here, doing exactly what the generated ones would (over the fields a
``field(compare=False)`` or ``repr=False`` leaves out, too). A generated method is compiled per
class at import, which every ``import spanstream`` would pay for some sixty methods; nothing on
a stream's path compares or prints a record. ``tests/unit/test_event_records.py`` holds them to
the generated behaviour.
"""

from __future__ import annotations

import reprlib
from dataclasses import fields

__all__ = ["Record"]


class Record:
    """Equality, hashing and ``repr`` over a frozen dataclass's fields, as generated ones."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        names = _field_names(type(self), "repr")
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _field_names(type(self), "compare"))


_FIELD_NAMES: dict[tuple[type, str], tuple[str, ...]] = {}


def _field_names(cls: type, role: str) -> tuple[str, ...]:
    """The fields of the dataclass ``cls`` that take part in ``role`` (``compare`` or ``repr``)."""
    names = _FIELD_NAMES.get((cls, role))
    if names is None:
        names = tuple(f.name for f in fields(cls) if getattr(f, role))
        _FIELD_NAMES[(cls, role)] = names
    return names
