"""Builds the ``POST /chat/completions`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from typing_extensions import Required, Unpack

from .. import base
from .._content import Part, generic_part, json_or_text, text_part, tool_definitions, uri_part
from .._openai import PROVIDER, openai_attributes, output_type

__all__ = ["ChatParams", "build_request", "request_content"]

_PARSER = base.first_use(__package__, "ChatCompletionsParser")


class ChatParams(base.CommonParams, total=False):
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


def build_request(*, stream: bool = True, **params: Unpack[ChatParams]) -> base.PreparedRequest:
    """Return the streaming request for Chat Completions (``params``: see :class:`ChatParams`).

    Usage is requested (``stream_options.include_usage``) unless ``include_usage=False``: without
    it the stream carries no token counts. Keys given in ``stream_options`` win. A reply that is
    not streamed always has its usage, and ``stream_options`` is not sent with it (the API
    refuses it without ``stream``). Parameters left ``None`` are not sent; ``extra_body`` is
    merged last, so any field a server accepts can be passed even if this version does not name
    it. ``conversation_id`` (not sent) names the conversation the caller tracks, for the
    telemetry.
    """
    options: dict[str, object] = (
        {"include_usage": True} if params.get("include_usage", True) else {}
    )
    stream_options = params.get("stream_options")
    if isinstance(stream_options, Mapping):
        options.update(stream_options)
    return base.prepare_request(
        "/chat/completions",
        params,
        ChatParams,
        _info,
        _PARSER,
        local=("include_usage", "stream_options"),
        derived={"stream_options": options} if options and stream else None,
        stream=stream,
    )


def _info(body: Mapping[str, object]) -> base.RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    return base.RequestInfo(
        provider=PROVIDER,
        operation="chat",
        model=str(body["model"]),
        max_tokens=base.int_of(body.get("max_completion_tokens"))
        or base.int_of(body.get("max_tokens")),
        temperature=base.float_of(body.get("temperature")),
        top_p=base.float_of(body.get("top_p")),
        seed=base.int_of(body.get("seed")),
        frequency_penalty=base.float_of(body.get("frequency_penalty")),
        presence_penalty=base.float_of(body.get("presence_penalty")),
        stop_sequences=_stop_sequences(body.get("stop")),
        choice_count=base.int_of(body.get("n")),
        reasoning_level=base.str_of(body.get("reasoning_effort")),
        output_type=output_type(body.get("response_format")),
        provider_attributes=openai_attributes("chat_completions", body.get("service_tier")),
        content=partial(request_content, body),
    )


def request_content(body: Mapping[str, object]) -> base.RequestContent:
    """The request's messages and tools in the GenAI conventions' shapes. System and developer
    messages stay in the history (``input_messages``), as the conventions ask."""
    messages = body.get("messages")
    tools = body.get("tools")
    return base.RequestContent(
        input_messages=[_message(m) for m in messages if isinstance(m, Mapping)]
        if isinstance(messages, Sequence)
        else [],
        tool_definitions=tool_definitions(tools, _tool_kind, "parameters"),
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
            parts.append(uri_part(url, "image", "image_url"))
        else:
            parts.append(generic_part(kind))
    return parts


def _tool_kind(tool: Mapping[str, object]) -> tuple[Mapping[str, object] | None, str]:
    function = tool.get("function")
    if tool.get("type", "function") == "function" and isinstance(function, Mapping):
        return function, "function"
    return None, str(tool.get("type"))


def _stop_sequences(stop: object) -> tuple[str, ...] | None:
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, Sequence):
        return tuple(s for s in stop if isinstance(s, str)) or None
    return None
