"""``AnthropicClient`` and ``AsyncAnthropicClient``: Anthropic Messages streams, with the same
normalized events, final :class:`~spanstream.events.Response` and telemetry as the OpenAI
clients. They differ from :class:`~spanstream.Client` only in the provider description
(``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``, ``x-api-key``, ``anthropic-version``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
from typing_extensions import Unpack

from ._resources import Messages
from .agent import Agent, AsyncAgent
from .client import ClientOptions, _AsyncClient, _ClientConfig, _SyncClient
from .providers.services import ANTHROPIC
from .stream import AsyncStream, Stream
from .tools import Tool

__all__ = ["AnthropicClient", "AsyncAnthropicClient"]


class AnthropicClient(_SyncClient):
    """A synchronous client for Anthropic Messages streams inside OpenTelemetry spans.

    >>> client = AnthropicClient()   # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL from the env
    >>> client = AnthropicClient(api_key="sk-ant-...", base_url="https://gateway.example/v1")

    The base URL includes ``/v1`` (default ``https://api.anthropic.com/v1``); requests go to
    ``{base_url}/messages``. The arguments are those of :class:`~spanstream.Client`.
    """

    def __init__(
        self, *, http_client: httpx.Client | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(_ClientConfig(ANTHROPIC, **options), http_client)
        self.messages: Messages[Stream] = Messages(self)

    def agent(
        self,
        *,
        model: str,
        tools: Sequence[Tool | Callable[..., object]] = (),
        instructions: str | None = None,
        name: str | None = None,
        max_tokens: int = 4096,
        **options: object,
    ) -> Agent:
        """An agent over Anthropic Messages (see :meth:`spanstream.Client.agent`);
        ``max_tokens`` and ``options`` go into every turn's request."""
        return Agent(
            self.messages.stream,
            api="anthropic",
            provider=self._config.provider_name,
            model=model,
            tools=tools,
            instructions=instructions,
            name=name,
            instrumentation=self._config.instrumentation,
            options={"max_tokens": max_tokens, **options},
        )


class AsyncAnthropicClient(_AsyncClient):
    """The ``asyncio`` twin of :class:`AnthropicClient` (same arguments,
    ``httpx.AsyncClient``)."""

    def __init__(
        self, *, http_client: httpx.AsyncClient | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(_ClientConfig(ANTHROPIC, **options), http_client)
        self.messages: Messages[AsyncStream] = Messages(self)

    def agent(
        self,
        *,
        model: str,
        tools: Sequence[Tool | Callable[..., object]] = (),
        instructions: str | None = None,
        name: str | None = None,
        max_tokens: int = 4096,
        **options: object,
    ) -> AsyncAgent:
        """An agent over Anthropic Messages (see :meth:`spanstream.AsyncClient.agent`);
        ``max_tokens`` and ``options`` go into every turn's request."""
        return AsyncAgent(
            self.messages.stream,
            api="anthropic",
            provider=self._config.provider_name,
            model=model,
            tools=tools,
            instructions=instructions,
            name=name,
            instrumentation=self._config.instrumentation,
            options={"max_tokens": max_tokens, **options},
        )
