"""Small helpers the request builders share to describe content in the GenAI conventions'
JSON shapes (their gen-ai-*.json schemas). Used only when content capture is on."""

from __future__ import annotations

import json

__all__ = ["Part", "generic_part", "json_or_text", "text_part", "uri_or_generic"]

Part = dict[str, object]


def text_part(text: object) -> Part:
    return {"type": "text", "content": text if isinstance(text, str) else ""}


def generic_part(kind: object) -> Part:
    return {"type": "generic", "generic_type": str(kind)}


def uri_or_generic(url: object, modality: str, kind: str) -> Part:
    """A ``uri`` part, except for ``data:`` URLs (the conventions keep inline bytes out of
    ``uri``; they are not worth copying into telemetry either)."""
    if isinstance(url, str) and not url.startswith("data:"):
        return {"type": "uri", "modality": modality, "uri": url}
    return generic_part(kind)


def json_or_text(value: object) -> object:
    """Decode a JSON string where possible (tool arguments are objects in the conventions)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value
