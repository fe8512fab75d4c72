"""Builds the ``POST /responses`` request body and its :class:`RequestInfo`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..base import PreparedRequest, RequestInfo

__all__ = ["build_request"]


def build_request(
    *,
    model: str,
    input: str | Sequence[Mapping[str, object]],
    instructions: str | None = None,
    tools: Sequence[Mapping[str, object]] | None = None,
    reasoning: Mapping[str, object] | None = None,
    max_output_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    previous_response_id: str | None = None,
    service_tier: str | None = None,
    text: Mapping[str, object] | None = None,
    extra_body: Mapping[str, object] | None = None,
) -> PreparedRequest:
    """Return the streaming request for the Responses API.

    Parameters left ``None`` are not sent. ``extra_body`` is merged last, so any field the API
    accepts can be passed even if this function does not name it.
    """
    body: dict[str, object] = {"model": model, "input": input, "stream": True}
    optional: dict[str, object | None] = {
        "instructions": instructions,
        "tools": list(tools) if tools is not None else None,
        "reasoning": dict(reasoning) if reasoning is not None else None,
        "max_output_tokens": max_output_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "previous_response_id": previous_response_id,
        "service_tier": service_tier,
        "text": dict(text) if text is not None else None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if extra_body:
        body.update(extra_body)
    return PreparedRequest(path="/responses", body=body, info=_info(body))


def _info(body: Mapping[str, object]) -> RequestInfo:
    """Read the telemetry-relevant fields from the final body (after ``extra_body``)."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, Mapping) else None
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    fmt_type = fmt.get("type") if isinstance(fmt, Mapping) else None
    tier = body.get("service_tier")
    return RequestInfo(
        provider="openai",
        operation="chat",
        model=str(body["model"]),
        api_type="responses",
        max_tokens=_int(body.get("max_output_tokens")),
        temperature=_float(body.get("temperature")),
        top_p=_float(body.get("top_p")),
        reasoning_level=effort if isinstance(effort, str) else None,
        previous_response_id=_str(body.get("previous_response_id")),
        output_type=_OUTPUT_TYPES.get(fmt_type) if isinstance(fmt_type, str) else None,
        service_tier=tier if isinstance(tier, str) and tier != "auto" else None,
    )


_OUTPUT_TYPES = {"text": "text", "json_schema": "json", "json_object": "json"}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
