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

The other way, a request is encoded by :func:`dumps_body` (the bytes httpx's ``json=`` would
send); one that JSON cannot carry (a caller's string with a lone surrogate, as
``os.fsdecode`` makes of undecodable bytes, or a NaN) is refused, and :func:`unsendable` names
the parameter for the error, never the caller's value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps_body", "loads", "usv"]

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


def dumps_body(body: object) -> bytes | None:
    """A request's JSON body as UTF-8, the bytes httpx's ``json=`` sends; ``None`` when it
    cannot be sent (a NaN or infinite number, a lone surrogate: see :func:`unsendable`)."""
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode()
    except ValueError:  # UnicodeEncodeError is one
        return None


def unsendable(value: object, path: str = "") -> tuple[str, str] | None:
    """The first value in ``value`` that JSON text cannot carry, as ``(path, reason)`` (the
    path as ``input[0].content``; a key's path names the mapping; the reason a clause that
    says what to do), or ``None``."""
    if isinstance(value, float) and (value != value or value in (math.inf, -math.inf)):
        return path, f"{value} is not a JSON number"
    if isinstance(value, str):
        lone = _LONE.search(value)
        if lone is not None:
            code = f"U+{ord(lone.group()):04X}"
            return path, (
                f"it holds a lone UTF-16 surrogate ({code}) at index {lone.start()}, as bytes "
                "decoded with errors='surrogateescape' give (os.fsdecode, sys.argv): decode "
                "those with errors='replace'"
            )
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = unsendable(key, path) or unsendable(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = unsendable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


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
