"""Which provider a server is: ``gen_ai.provider.name`` from the host a client talks to.

Lives with the telemetry (not in ``providers/``, which knows no OpenTelemetry) because the names
are the conventions' well-known values, taken from ``opentelemetry-semantic-conventions``.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues as Names,
)

__all__ = ["KNOWN_HOSTS", "provider_name"]

# The conventions' well-known gen_ai.provider.name values (members' values: calling the
# deprecated enum would warn). moonshot_ai is listed on semantic-conventions-genai main only.
KNOWN_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", Names.OPENAI.value),
    ("api.anthropic.com", Names.ANTHROPIC.value),
    ("openai.azure.com", Names.AZURE_AI_OPENAI.value),  # {resource}.openai.azure.com
    ("cognitiveservices.azure.com", Names.AZURE_AI_OPENAI.value),  # {resource}.cognitive...
    ("models.ai.azure.com", Names.AZURE_AI_INFERENCE.value),  # serverless deployments
    ("api.deepseek.com", Names.DEEPSEEK.value),
    ("api.groq.com", Names.GROQ.value),
    ("api.x.ai", Names.X_AI.value),
    ("api.mistral.ai", Names.MISTRAL_AI.value),
    ("api.perplexity.ai", Names.PERPLEXITY.value),
    ("api.cohere.ai", Names.COHERE.value),
    ("api.cohere.com", Names.COHERE.value),
    ("generativelanguage.googleapis.com", Names.GCP_GEMINI.value),
    ("aiplatform.googleapis.com", Names.GCP_VERTEX_AI.value),  # {region}-aiplatform.googleapis.com
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
        # A subdomain ({resource}.openai.azure.com) or a prefixed label in the same domain
        # ({region}-aiplatform.googleapis.com): both belong to the provider's own domain.
        if host == known or host.endswith(("." + known, "-" + known)):
            if known == "amazonaws.com" and not host.startswith("bedrock"):
                continue  # only Bedrock's endpoints, not every AWS service
            return name
    return wire
