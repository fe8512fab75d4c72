"""Where each provider's API lives and how it authenticates (see :class:`~.base.Provider`), and
which provider a server is (:func:`provider_name`)."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues as Names,
)

from .base import Provider

__all__ = ["ANTHROPIC", "ANTHROPIC_VERSION", "KNOWN_HOSTS", "OPENAI", "provider_name"]

OPENAI = Provider(
    name="openai",
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
)
"""OpenAI, and every server that speaks its API (``base_url`` points the client there)."""

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header: the Messages API version this parser reads."""

ANTHROPIC = Provider(
    name="anthropic",
    api_key_env="ANTHROPIC_API_KEY",
    base_url_env="ANTHROPIC_BASE_URL",
    # Includes /v1, like OPENAI_BASE_URL (the anthropic SDK's base URL does not).
    default_base_url="https://api.anthropic.com/v1",
    api_key_header="x-api-key",
    api_key_prefix="",
    headers=(("anthropic-version", ANTHROPIC_VERSION),),
    request_id_headers=("request-id", "x-request-id"),
)
"""Anthropic: ``x-api-key`` authentication and a pinned ``anthropic-version``."""

# The conventions' well-known gen_ai.provider.name values (members' values: calling the
# deprecated enum would warn). moonshot_ai is listed on semantic-conventions-genai main only.
KNOWN_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", Names.OPENAI.value),
    ("api.anthropic.com", Names.ANTHROPIC.value),
    ("openai.azure.com", Names.AZURE_AI_OPENAI.value),  # {resource}.openai.azure.com
    ("models.ai.azure.com", Names.AZURE_AI_INFERENCE.value),  # serverless deployments
    ("api.deepseek.com", Names.DEEPSEEK.value),
    ("api.groq.com", Names.GROQ.value),
    ("api.x.ai", Names.X_AI.value),
    ("api.mistral.ai", Names.MISTRAL_AI.value),
    ("api.perplexity.ai", Names.PERPLEXITY.value),
    ("api.cohere.ai", Names.COHERE.value),
    ("api.cohere.com", Names.COHERE.value),
    ("generativelanguage.googleapis.com", Names.GCP_GEMINI.value),
    ("aiplatform.googleapis.com", Names.GCP_VERTEX_AI.value),  # {region}-aiplatform...
    ("amazonaws.com", Names.AWS_BEDROCK.value),  # bedrock-runtime.{region}.amazonaws.com
    ("ml.cloud.ibm.com", Names.IBM_WATSONX_AI.value),  # {region}.ml.cloud.ibm.com
    ("api.moonshot.ai", "moonshot_ai"),
    ("api.moonshot.cn", "moonshot_ai"),
)
"""Host (or parent domain) -> ``gen_ai.provider.name``, for the servers the conventions name.

Gateways and self-hosted servers (OpenRouter, LiteLLM, vLLM, Ollama, llama.cpp...) are not
providers the conventions name; their spans keep the name of the API they speak."""


def provider_name(host: str, wire: str) -> str:
    """The ``gen_ai.provider.name`` of the server at ``host``: its well-known value when the
    host is one the conventions name (:data:`KNOWN_HOSTS`), else ``wire``, the provider whose
    API the client speaks. The conventions' guidance for a client that cannot tell: "set to
    ``openai`` based on the instrumentation's best knowledge" for OpenAI-compatible servers."""
    host = host.lower().rstrip(".")
    for known, name in KNOWN_HOSTS:
        if host == known or host.endswith("." + known):
            if known == "amazonaws.com" and not host.startswith("bedrock"):
                continue  # only Bedrock's endpoints, not every AWS service
            return name
    return wire
