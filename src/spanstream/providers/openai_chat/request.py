"""Builds the ``POST /chat/completions`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from typing_extensions import Required, TypedDict, Unpack

from .._content import Part, generic_part, json_or_text, text_part, uri_or_generic
from ..base import PreparedRequest, RequestContent, RequestInfo, extra_body_of, request_body
from .parser import ChatCompletionsParser

__all__ = ["ChatParams", "build_request", "request_content"]


class ChatParams(TypedDict, total=False):
    """The keyword arguments of ``client.chat.completions.stream()``: Chat Completions body
    fields (any further keyword is sent as a body field as is; a type checker wants those in
    ``extra_body``); ``include_usage`` and ``conversation_id`` are not sent as such."""

    model: Required[str]
    messages: Required[Sequence[Mapping[str, object]]]
    tools: Sequence[Mapping[str, object]] | None
    tool_choice: str | Mapping[str, object] | None
    parallel_tool_calls: bool | None
    max_tokens: int | None
    max_completion_tokens: int | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    stop: str | Sequence[str] | None
    n: int | None
    response_format: Mapping[str, object] | None
    reasoning_effort: str | None
    service_tier: str | None
    user: str | None
    include_usage: bool
    """Ask for token usage (``stream_options.include_usage``; default ``True``): ``False`` for
    servers that reject ``stream_options``."""
    stream_options: Mapping[str, object] | None
    extra_body: Mapping[str, object] | None
    """Body fields this version does not name, merged last."""
    conversation_id: str | None
    """The conversation the caller tracks (``gen_ai.conversation.id``); not sent."""


_REQUIRED = ChatParams.__required_keys__
_LOCAL = ("conversation_id", "extra_body", "include_usage", "stream_options")


def build_request(**params: Unpack[ChatParams]) -> PreparedRequest:
    """Return the streaming request for Chat Completions (``params``: see :class:`ChatParams`).

    Usage is requested (``stream_options.include_usage``) unless ``include_usage=False``: without
    it the stream carries no token counts. Keys given in ``stream_options`` win. Parameters left
    ``None`` are not sent; ``extra_body`` is merged last, so any field a server accepts can be
    passed even if this version does not name it. ``conversation_id`` (not sent) names the
    conversation the caller tracks, for the telemetry.
    """
    body = request_body(params, _REQUIRED, _LOCAL)
    options: dict[str, object] = (
        {"include_usage": True} if params.get("include_usage", True) else {}
    )
    stream_options = params.get("stream_options")
    if isinstance(stream_options, Mapping):
        options.update(stream_options)
    if options:
        body["stream_options"] = options
    body.update(extra_body_of(params))
    return PreparedRequest(
        path="/chat/completions",
        body=body,
        info=_info(body).in_conversation(params.get("conversation_id")),
        parser=ChatCompletionsParser,
    )


def _info(body: Mapping[str, object]) -> RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    fmt = body.get("response_format")
    fmt_type = fmt.get("type") if isinstance(fmt, Mapping) else None
    stop = body.get("stop")
    tier = body.get("service_tier")
    effort = body.get("reasoning_effort")
    return RequestInfo(
        provider="openai",
        operation="chat",
        model=str(body["model"]),
        api_type="chat_completions",
        max_tokens=_int(body.get("max_completion_tokens")) or _int(body.get("max_tokens")),
        temperature=_float(body.get("temperature")),
        top_p=_float(body.get("top_p")),
        seed=_int(body.get("seed")),
        frequency_penalty=_float(body.get("frequency_penalty")),
        presence_penalty=_float(body.get("presence_penalty")),
        stop_sequences=_stop_sequences(stop),
        choice_count=_int(body.get("n")),
        reasoning_level=effort if isinstance(effort, str) else None,
        output_type=_OUTPUT_TYPES.get(fmt_type) if isinstance(fmt_type, str) else None,
        service_tier=tier if isinstance(tier, str) and tier != "auto" else None,
        content=partial(request_content, body),
    )


def request_content(body: Mapping[str, object]) -> RequestContent:
    """The request's messages and tools in the GenAI conventions' shapes. System and developer
    messages stay in the history (``input_messages``), as the conventions ask."""
    messages = body.get("messages")
    tools = body.get("tools")
    return RequestContent(
        input_messages=[_message(m) for m in messages if isinstance(m, Mapping)]
        if isinstance(messages, Sequence)
        else [],
        tool_definitions=[_tool_definition(t) for t in tools if isinstance(t, Mapping)]
        if isinstance(tools, Sequence)
        else None,
    )


def _message(message: Mapping[str, object]) -> Part:
    role = str(message.get("role", "user"))
    if role == "tool":
        response = {"type": "tool_call_response", "id": message.get("tool_call_id")}
        response["response"] = json_or_text(message.get("content"))
        return {"role": role, "parts": [response]}
    parts = _parts(message.get("content"))
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, Sequence) else ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(call, Mapping) and isinstance(function, Mapping):
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": json_or_text(function.get("arguments")),
                }
            )
    return {"role": role, "parts": parts}


def _parts(content: object) -> list[Part]:
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[Part] = []
    for part in content if isinstance(content, Sequence) else ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in ("text", "refusal"):
            parts.append(text_part(part.get(kind)))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            parts.append(uri_or_generic(url, "image", "image_url"))
        else:
            parts.append(generic_part(kind))
    return parts


def _tool_definition(tool: Mapping[str, object]) -> Part:
    function = tool.get("function")
    if tool.get("type", "function") == "function" and isinstance(function, Mapping):
        definition: Part = {"type": "function", "name": function.get("name")}
        for key in ("description", "parameters"):
            if key in function:
                definition[key] = function[key]
        return definition
    kind = str(tool.get("type"))
    return {"type": kind, "name": tool.get("name", kind)}


def _stop_sequences(stop: object) -> tuple[str, ...] | None:
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, Sequence):
        return tuple(s for s in stop if isinstance(s, str)) or None
    return None


_OUTPUT_TYPES = {"text": "text", "json_schema": "json", "json_object": "json"}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
