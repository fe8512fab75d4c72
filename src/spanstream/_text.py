"""JSON text that every consumer can encode: no lone UTF-16 surrogates.

JSON can escape half of a surrogate pair on its own (``"\\ud83d"``, with no low half after
it); RFC 8259 section 8.2 calls the behaviour of such a string unpredictable. A server sends
one when something on its way cuts text between the two UTF-16 code units of a character (a
proxy written in JavaScript that re-chunks the text, say). pydantic-core refuses the document;
``json.loads`` gives a ``str`` that no UTF-8 encoder takes, which would break whatever writes
the text out later: the caller's own response to its users, ``print``, and the OpenTelemetry
exporters (a span status holding one fails the whole batch of spans it is exported in; an
attribute holding one is dropped with a logged traceback).

So wherever spanstream decodes server JSON with :mod:`json` (a payload pydantic-core refused,
tool arguments, an error body), it goes through :func:`loads`, which replaces each lone
surrogate with U+FFFD, as WebIDL's conversion to ``USVString`` does. Paired escapes decode to
their character as usual. :func:`usv` does the same for one string built elsewhere.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["loads", "usv"]

_LONE = re.compile("[\ud800-\udfff]")
# What may decode to a surrogate: an escape of one, or (in a str) one itself. A false match (an
# escaped backslash before "ud83d", a pair) only costs the walk that then changes nothing.
_MAY_HOLD_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_MAY_HOLD_STR = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")


def loads(text: str | bytes | bytearray, **options: Any) -> Any:
    """``json.loads(text, **options)`` with every lone surrogate in its strings (keys too)
    replaced by U+FFFD. Raises what ``json.loads`` raises."""
    value = json.loads(text, **options)
    if isinstance(text, str):
        return _replaced(value) if _MAY_HOLD_STR.search(text) else value
    return _replaced(value) if _MAY_HOLD_BYTES.search(text) else value


def usv(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return text if text.isascii() else _LONE.sub("\ufffd", text)


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return usv(value)
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    if isinstance(value, dict):
        return {usv(key): _replaced(item) for key, item in value.items()}
    return value
