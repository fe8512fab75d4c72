"""Builds the ``POST /messages`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from typing_extensions import Required, Unpack

from .. import base
from .._content import Part, generic_part, json_or_text, text_part, tool_definitions, uri_part

__all__ = ["MessagesParams", "build_request", "request_content"]

_PARSER = base.first_use(__package__, "MessagesParser")


class MessagesParams(base.CommonParams, total=False):
    """The keyword arguments of ``client.messages.stream()``: Anthropic Messages body fields
    (any further keyword, such as ``output_config``, is sent as a body field as is; a type
    checker wants those in ``extra_body``), and ``conversation_id``, which is not sent."""

    model: Required[str]
    messages: Required[Sequence[Mapping[str, object]]]
    max_tokens: Required[int]
    system: str | Sequence[Mapping[str, object]] | None
    tools: Sequence[Mapping[str, object]] | None
    tool_choice: Mapping[str, object] | None
    thinking: Mapping[str, object] | None
    temperature: float | None
    top_k: int | None
    top_p: float | None
    stop_sequences: Sequence[str] | None
    metadata: Mapping[str, object] | None
    service_tier: str | None


def build_request(*, stream: bool = True, **params: Unpack[MessagesParams]) -> base.PreparedRequest:
    """Return the streaming request for Anthropic Messages (``params``: see
    :class:`MessagesParams`). ``stream=False``: the request of ``create()``.

    Parameters left ``None`` are not sent. ``extra_body`` is merged last, so any field the API
    accepts (``output_config``...) can be passed even if this version does not name it.
    ``conversation_id`` (not sent) names the conversation the caller tracks, for the telemetry.
    """
    return base.prepare_request("/messages", params, MessagesParams, _info, _PARSER, stream=stream)


def _info(body: Mapping[str, object]) -> base.RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    output_config = body.get("output_config")
    config = output_config if isinstance(output_config, Mapping) else {}
    stop = body.get("stop_sequences")
    return base.RequestInfo(
        provider="anthropic",
        operation="chat",
        model=str(body["model"]),
        max_tokens=base.int_of(body.get("max_tokens")),
        temperature=base.float_of(body.get("temperature")),
        top_p=base.float_of(body.get("top_p")),
        top_k=base.int_of(body.get("top_k")),
        stop_sequences=tuple(s for s in stop if isinstance(s, str)) or None
        if isinstance(stop, Sequence) and not isinstance(stop, str)
        else None,
        reasoning_level=base.str_of(config.get("effort")),
        output_type="json" if isinstance(config.get("format"), Mapping) else None,
        content=partial(request_content, body),
    )


def request_content(body: Mapping[str, object]) -> base.RequestContent:
    """The request's messages, ``system`` and tools in the GenAI conventions' shapes."""
    messages = body.get("messages")
    system = body.get("system")
    tools = body.get("tools")
    return base.RequestContent(
        input_messages=[_message(m) for m in messages if isinstance(m, Mapping)]
        if isinstance(messages, Sequence)
        else [],
        system_instructions=_parts(system) if system else None,
        tool_definitions=tool_definitions(tools, _tool_kind, "input_schema"),
    )


def _message(message: Mapping[str, object]) -> Part:
    return {"role": str(message.get("role", "user")), "parts": _parts(message.get("content"))}


def _parts(content: object) -> list[Part]:
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[Part] = []
    for block in content if isinstance(content, Sequence) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(text_part(block.get("text")))
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking", "")})
        elif kind == "tool_use":
            call = {"type": "tool_call", "id": block.get("id"), "name": block.get("name")}
            call["arguments"] = block.get("input")
            parts.append(call)
        elif kind == "tool_result":
            result = {"type": "tool_call_response", "id": block.get("tool_use_id")}
            result["response"] = json_or_text(block.get("content"))
            parts.append(result)
        elif kind in ("image", "document"):
            source = block.get("source")
            url = source.get("url") if isinstance(source, Mapping) else None
            parts.append(uri_part(url, str(kind), str(kind)))
        else:
            parts.append(generic_part(kind))
    return parts


def _tool_kind(tool: Mapping[str, object]) -> tuple[Mapping[str, object] | None, str]:
    kind = tool.get("type", "custom")
    return (tool if kind == "custom" or "input_schema" in tool else None), str(kind)
