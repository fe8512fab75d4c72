"""How attribute values are named and shown in snapshots and failure messages."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["show", "type_name"]


def type_name(value: object) -> str:
    """The semantic-convention type of an attribute value: ``string``, ``int``, ``double``,
    ``boolean``, or ``<item types>[]`` for a sequence (``string[]``, ``int|string[]``)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Sequence):
        kinds = sorted({type_name(item) for item in value})
        return f"{'|'.join(kinds) or 'empty'}[]"
    return type(value).__name__


def show(value: object) -> str:
    """``repr`` of a value as a test author wrote it: ``None`` (expected absent) as
    ``<absent>``, tuples (how the SDK stores sequences) as lists."""
    if value is None:
        return "<absent>"
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)
