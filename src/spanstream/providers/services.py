"""Where each provider's API lives and how it authenticates (see :class:`~.base.Provider`)."""

from __future__ import annotations

from .base import Provider

__all__ = ["ANTHROPIC", "ANTHROPIC_VERSION", "OPENAI"]

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
