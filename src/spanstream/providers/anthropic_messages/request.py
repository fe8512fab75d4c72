"""Builds the ``POST /messages`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from typing_extensions import Required, Unpack

from .._content import Part, generic_part, json_or_text, text_part, uri_or_generic
from ..base import (
    CommonParams,
    PreparedRequest,
    RequestContent,
    RequestInfo,
    float_of,
    int_of,
    prepare_request,
    required_keys,
    str_of,
)
from .parser import MessagesParser

__all__ = ["MessagesParams", "build_request", "request_content"]


class MessagesParams(CommonParams, total=False):
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


def build_request(*, stream: bool = True, **params: Unpack[MessagesParams]) -> PreparedRequest:
    """Return the streaming request for Anthropic Messages (``params``: see
    :class:`MessagesParams`). ``stream=False``: the request of ``create()``.

    Parameters left ``None`` are not sent. ``extra_body`` is merged last, so any field the API
    accepts (``output_config``...) can be passed even if this version does not name it.
    ``conversation_id`` (not sent) names the conversation the caller tracks, for the telemetry.
    """
    return prepare_request(
        "/messages",
        params,
        required=required_keys(MessagesParams),
        describe=_info,
        parser=MessagesParser,
        stream=stream,
    )


def _info(body: Mapping[str, object]) -> RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    output_config = body.get("output_config")
    config = output_config if isinstance(output_config, Mapping) else {}
    stop = body.get("stop_sequences")
    return RequestInfo(
        provider="anthropic",
        operation="chat",
        model=str(body["model"]),
        max_tokens=int_of(body.get("max_tokens")),
        temperature=float_of(body.get("temperature")),
        top_p=float_of(body.get("top_p")),
        top_k=int_of(body.get("top_k")),
        stop_sequences=tuple(s for s in stop if isinstance(s, str)) or None
        if isinstance(stop, Sequence) and not isinstance(stop, str)
        else None,
        reasoning_level=str_of(config.get("effort")),
        output_type="json" if isinstance(config.get("format"), Mapping) else None,
        content=partial(request_content, body),
    )


def request_content(body: Mapping[str, object]) -> RequestContent:
    """The request's messages, ``system`` and tools in the GenAI conventions' shapes."""
    messages = body.get("messages")
    system = body.get("system")
    tools = body.get("tools")
    return RequestContent(
        input_messages=[_message(m) for m in messages if isinstance(m, Mapping)]
        if isinstance(messages, Sequence)
        else [],
        system_instructions=_parts(system) if system else None,
        tool_definitions=[_tool_definition(t) for t in tools if isinstance(t, Mapping)]
        if isinstance(tools, Sequence)
        else None,
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
            parts.append(uri_or_generic(url, str(kind), str(kind)))
        else:
            parts.append(generic_part(kind))
    return parts


def _tool_definition(tool: Mapping[str, object]) -> Part:
    kind = tool.get("type", "custom")
    if kind == "custom" or "input_schema" in tool:
        definition: Part = {"type": "function", "name": tool.get("name")}
        if "description" in tool:
            definition["description"] = tool["description"]
        if "input_schema" in tool:
            definition["parameters"] = tool["input_schema"]
        return definition
    return {"type": str(kind), "name": tool.get("name", str(kind))}
