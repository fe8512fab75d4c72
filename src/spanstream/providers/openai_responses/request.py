"""Builds the ``POST /responses`` request body and its :class:`RequestInfo`, and the
``GET /responses/{id}`` request that streams a stored (background) response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from urllib.parse import quote

from typing_extensions import Required, Unpack

from .. import base
from .._content import json_or_text, tool_definitions
from .._openai import PROVIDER, openai_attributes, output_type

__all__ = ["ResponsesParams", "build_fetch_request", "build_request"]

_PARSER = base.first_use(__package__, "ResponsesParser")


class ResponsesParams(base.CommonParams, total=False):
    """The keyword arguments of ``client.responses.stream()``: the Responses API's body fields
    (any further keyword is sent as a body field as is; a type checker wants those in
    ``extra_body``), and ``conversation_id``, which is recorded and never sent."""

    model: Required[str]
    input: Required[str | Sequence[Mapping[str, object]]]
    instructions: str | None
    tools: Sequence[Mapping[str, object]] | None
    tool_choice: str | Mapping[str, object] | None
    parallel_tool_calls: bool | None
    reasoning: Mapping[str, object] | None
    max_output_tokens: int | None
    temperature: float | None
    top_p: float | None
    previous_response_id: str | None
    conversation: str | Mapping[str, object] | None
    service_tier: str | None
    text: Mapping[str, object] | None
    background: bool | None
    store: bool | None
    include: Sequence[str] | None
    metadata: Mapping[str, str] | None
    truncation: str | None
    user: str | None


def build_request(
    *, stream: bool = True, **params: Unpack[ResponsesParams]
) -> base.PreparedRequest:
    """Return the streaming request for the Responses API (``params``: see
    :class:`ResponsesParams`). ``stream=False``: the request of ``create()``.

    Parameters left ``None`` are not sent. ``extra_body`` is merged last, so any field the API
    accepts can be passed even if this version does not name it. The telemetry names the
    conversation ``conversation_id`` if given (it is not sent), else the one the body's
    ``conversation`` parameter names.
    """
    return base.prepare_request(
        "/responses", params, ResponsesParams, _info, _PARSER, stream=stream
    )


def build_fetch_request(
    response_id: str, *, starting_after: int | None = None
) -> base.PreparedRequest:
    """Return the request that streams the stored response ``response_id`` from its first event,
    or from the event after sequence number ``starting_after`` (a background response, resumed
    after a dropped connection)."""
    if not isinstance(response_id, str) or not response_id:
        raise ValueError(f"response_id must be a non-empty string, got {response_id!r}")
    if starting_after is not None and (
        isinstance(starting_after, bool)
        or not isinstance(starting_after, int)
        or starting_after < 0
    ):
        raise ValueError(f"starting_after must be an int >= 0, got {starting_after!r}")
    query = [("stream", "true")]
    if starting_after is not None:
        query.append(("starting_after", str(starting_after)))
    info = base.RequestInfo(
        provider=PROVIDER,
        operation=base.FETCH_RESPONSE,
        model=None,
        response_id=response_id,
        stream_cursor=starting_after,
        provider_attributes=openai_attributes("responses"),
    )
    return base.PreparedRequest(
        path=f"/responses/{quote(response_id, safe='')}",
        body=None,
        info=info,
        parser=_PARSER,
        method="GET",
        query=tuple(query),
    )


def _info(body: Mapping[str, object]) -> base.RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    reasoning = body.get("reasoning")
    text = body.get("text")
    return base.RequestInfo(
        provider=PROVIDER,
        operation="chat",
        model=str(body["model"]),
        max_tokens=base.int_of(body.get("max_output_tokens")),
        temperature=base.float_of(body.get("temperature")),
        top_p=base.float_of(body.get("top_p")),
        reasoning_level=base.str_of(reasoning.get("effort"))
        if isinstance(reasoning, Mapping)
        else None,
        previous_response_id=base.str_of(body.get("previous_response_id")),
        output_type=output_type(text.get("format")) if isinstance(text, Mapping) else None,
        conversation_id=base.conversation_id_of(body.get("conversation")),
        provider_attributes=openai_attributes("responses", body.get("service_tier")),
        content=partial(request_content, body),
    )


Message = dict[str, object]


def request_content(body: Mapping[str, object]) -> base.RequestContent:
    """The request's input, instructions and tools in the GenAI conventions' shapes."""
    instructions = body.get("instructions")
    tools = body.get("tools")
    return base.RequestContent(
        input_messages=_input_messages(body.get("input")),
        system_instructions=[{"type": "text", "content": instructions}]
        if isinstance(instructions, str)
        else None,
        tool_definitions=tool_definitions(tools, _tool_kind, "parameters"),
    )


def _input_messages(value: object) -> list[Message]:
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    if not isinstance(value, Sequence):
        return []
    messages: list[Message] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            messages.append(
                {"role": str(item.get("role", "user")), "parts": _parts(item.get("content"))}
            )
        elif kind == "function_call":
            arguments = item.get("arguments")
            messages.append(
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": item.get("call_id"),
                            "name": item.get("name"),
                            "arguments": json_or_text(arguments),
                        }
                    ],
                }
            )
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": item.get("call_id"),
                            "response": json_or_text(item.get("output")),
                        }
                    ],
                }
            )
        else:
            messages.append(
                {"role": "assistant", "parts": [{"type": "generic", "generic_type": str(kind)}]}
            )
    return messages


def _parts(content: object) -> list[Message]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[Message] = []
    if isinstance(content, Sequence):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text"):
                parts.append({"type": "text", "content": part.get("text", "")})
            elif kind == "input_image" and isinstance(part.get("image_url"), str):
                parts.append({"type": "uri", "modality": "image", "uri": part["image_url"]})
            elif kind == "input_file" and isinstance(part.get("file_id"), str):
                parts.append({"type": "file", "modality": "document", "file_id": part["file_id"]})
            else:
                parts.append({"type": "generic", "generic_type": str(kind)})
    return parts


def _tool_kind(tool: Mapping[str, object]) -> tuple[Mapping[str, object] | None, str]:
    kind = tool.get("type", "function")
    return (tool if kind == "function" else None), str(kind)
