"""Small helpers the request builders share to describe content in the GenAI conventions'
JSON shapes (their gen-ai-*.json schemas). Used only when content capture is on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .. import _text

__all__ = [
    "Part",
    "generic_part",
    "json_or_text",
    "text_part",
    "tool_definitions",
    "uri_part",
]

Part = dict[str, object]


def text_part(text: object) -> Part:
    return {"type": "text", "content": text if isinstance(text, str) else ""}


def generic_part(kind: object) -> Part:
    return {"type": "generic", "generic_type": str(kind)}


def uri_part(url: object, modality: str, kind: str) -> Part:
    """A ``uri`` part, except for ``data:`` URLs (the conventions keep inline bytes out of
    ``uri``; they are not worth copying into telemetry either)."""
    if isinstance(url, str) and not url.startswith("data:"):
        return {"type": "uri", "modality": modality, "uri": url}
    return generic_part(kind)


def json_or_text(value: object) -> object:
    """Decode a JSON string where possible (tool arguments are objects in the conventions)."""
    if isinstance(value, str):
        try:
            return _text.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


ToolKind = tuple[Mapping[str, object] | None, str]
"""A tool as an API describes it: the mapping that describes it as a function (``None`` for a
hosted tool), and its kind."""


def tool_definitions(
    tools: object, kind_of: Callable[[Mapping[str, object]], ToolKind], parameters: str
) -> list[Part] | None:
    """The request's ``tools`` as the conventions' tool definitions (``None`` when the request
    has none): a function tool's name, description and parameters (the JSON schema its
    function has under ``parameters``); another tool's kind and name (``kind_of`` reads which
    is which in the API's form)."""
    if not isinstance(tools, Sequence):
        return None
    definitions: list[Part] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function, kind = kind_of(tool)
        if function is None:
            definitions.append({"type": kind, "name": tool.get("name", kind)})
            continue
        definition: Part = {"type": "function", "name": function.get("name")}
        if "description" in function:
            definition["description"] = function["description"]
        if parameters in function:
            definition["parameters"] = function[parameters]
        definitions.append(definition)
    return definitions
