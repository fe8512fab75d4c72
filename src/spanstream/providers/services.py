"""Where each provider's API lives and how it authenticates (see :class:`~.base.Provider`)."""

from __future__ import annotations

from .base import ApiVersioning, Provider

__all__ = ["ANTHROPIC", "ANTHROPIC_VERSION", "AZURE_OPENAI", "OPENAI"]

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

AZURE_OPENAI = Provider(
    # The conventions' GenAiProviderNameValues.AZURE_AI_OPENAI, written out: providers/ import no
    # OpenTelemetry (tests/integration/test_azure.py checks that the two agree).
    name="azure.ai.openai",
    # The variables the openai SDK's AzureOpenAI reads (openai-python src/openai/lib/azure.py).
    api_key_env="AZURE_OPENAI_API_KEY",
    base_url_env="AZURE_OPENAI_ENDPOINT",
    default_base_url=None,  # every resource has its own endpoint
    api_key_header="api-key",
    api_key_prefix="",
    # Azure sends both: apim-request-id is its API gateway's, the id Azure support asks for;
    # x-request-id is the one the openai SDK reports.
    request_id_headers=("apim-request-id", "x-request-id"),
    versioning=ApiVersioning(
        env="OPENAI_API_VERSION",
        dated_path="/openai",
        v1_path="/openai/v1",
        # The paths the openai SDK sends under /deployments/{model} (_deployments_endpoints in
        # lib/azure.py); the Responses API is not one of them.
        deployment_paths=frozenset(
            {
                "/completions",
                "/chat/completions",
                "/embeddings",
                "/audio/transcriptions",
                "/audio/translations",
                "/audio/speech",
                "/images/generations",
                "/images/edits",
            }
        ),
        # "preview" and "latest" name the v1 API, not a dated one: the SDK routes no deployment
        # under them (BaseAzureClient._build_request).
        rolling_versions=("preview", "latest"),
    ),
)
"""Azure OpenAI: ``api-key`` authentication, an endpoint per resource, the ``api-version`` query
and deployment-based URLs (see :class:`~.base.ApiVersioning`)."""
