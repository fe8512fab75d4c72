"""What the two OpenAI APIs (Responses, Chat Completions) share: the OpenAI refinement of the
GenAI conventions (semantic-conventions-genai ``docs/gen-ai/openai.md`` @024a4f9) as data, the
output type of a response format, and the meaning of their token usage.

The attribute names are written out because the protocol layer imports nothing from
OpenTelemetry; ``tests/unit/test_provider_requests.py`` checks each against the constant of
``opentelemetry-semantic-conventions``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..events import Usage
from .base import ProviderAttributes, str_of

__all__ = ["PROVIDER", "openai_attributes", "output_type", "usage"]

PROVIDER = "openai"
"""``gen_ai.provider.name`` of OpenAI (and of any server the client does not recognize)."""

API_TYPE = "openai.api.type"
REQUEST_SERVICE_TIER = "openai.request.service_tier"
RESPONSE_SERVICE_TIER = "openai.response.service_tier"
RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

# openai.response.* from the final Response's fields (Recommended and Conditionally Required
# "if the response contains it"): on the span and on the duration and token metrics.
_RESPONSE = (
    (RESPONSE_SERVICE_TIER, "service_tier"),
    (RESPONSE_SYSTEM_FINGERPRINT, "system_fingerprint"),
)

_OUTPUT_TYPES = {"text": "text", "json_schema": "json", "json_object": "json"}


def openai_attributes(api_type: str, service_tier: object = None) -> ProviderAttributes:
    """The refinement's attributes of a request to the API ``api_type`` (``responses``,
    ``chat_completions``): ``openai.request.service_tier`` only for a tier other than ``auto``
    (Conditionally Required "if the request includes a service_tier and it is not auto")."""
    request: list[tuple[str, str]] = [(API_TYPE, api_type)]
    tier = str_of(service_tier)
    if tier is not None and tier != "auto":
        request.append((REQUEST_SERVICE_TIER, tier))
    return ProviderAttributes(PROVIDER, tuple(request), _RESPONSE)


def output_type(fmt: object) -> str | None:
    """``gen_ai.output.type`` of a response format object (``{"type": "json_schema", ...}``)."""
    fmt_type = fmt.get("type") if isinstance(fmt, Mapping) else None
    return _OUTPUT_TYPES.get(fmt_type) if isinstance(fmt_type, str) else None


def usage(
    input_tokens: int | None,
    output_tokens: int | None,
    total_tokens: int | None,
    input_details: object,
    output_details: object,
) -> Usage:
    """OpenAI usage in the conventions' meaning (the same in both APIs, under other names):
    the input count already includes the cached tokens, the output count the reasoning tokens.
    ``input_details`` and ``output_details`` are the wire models' detail objects (``None`` when
    absent); ``cache_write_tokens`` only the Responses API reports."""
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        cache_read_input_tokens=getattr(input_details, "cached_tokens", None),
        cache_write_input_tokens=getattr(input_details, "cache_write_tokens", None),
        reasoning_output_tokens=getattr(output_details, "reasoning_tokens", None),
    )
