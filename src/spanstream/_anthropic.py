"""``AnthropicClient`` and ``AsyncAnthropicClient``: Anthropic Messages streams, with the same
normalized events, final :class:`~spanstream.events.Response` and telemetry as the OpenAI
clients. They differ from :class:`~spanstream.Client` only in the provider description
(``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``, ``x-api-key``, ``anthropic-version``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import httpx
from typing_extensions import Unpack

from .agent import Agent, AsyncAgent
from .client import ClientOptions, _AsyncClient, _ClientConfig, _SyncClient
from .providers.anthropic_messages import build_request
from .providers.services import ANTHROPIC
from .stream import AsyncStream, Stream
from .tools import Tool

__all__ = ["AnthropicClient", "AsyncAnthropicClient", "AsyncMessages", "Messages"]


class Messages:
    """``client.messages``: the Anthropic Messages API."""

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, object]],
        max_tokens: int,
        system: str | Sequence[Mapping[str, object]] | None = None,
        tools: Sequence[Mapping[str, object]] | None = None,
        thinking: Mapping[str, object] | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        stop_sequences: Sequence[str] | None = None,
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> Stream:
        """Stream a message. Any further keyword is sent as a body field as is.
        ``conversation_id`` (not sent) names, on the span (``gen_ai.conversation.id``), a
        conversation you track yourself.

        >>> messages = [{"role": "user", "content": "Say hi"}]
        >>> with client.messages.stream(
        ...     model="claude-sonnet-4-5", messages=messages, max_tokens=256
        ... ) as stream:
        ...     for event in stream:
        ...         if isinstance(event, TextDelta):
        ...             print(event.text, end="")
        """
        prepared = build_request(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            system=system,
            tools=tools,
            thinking=thinking,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            stop_sequences=stop_sequences,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)


class AsyncMessages:
    """``async_client.messages``: the Anthropic Messages API."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, object]],
        max_tokens: int,
        system: str | Sequence[Mapping[str, object]] | None = None,
        tools: Sequence[Mapping[str, object]] | None = None,
        thinking: Mapping[str, object] | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        stop_sequences: Sequence[str] | None = None,
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> AsyncStream:
        """Stream a message (see :meth:`Messages.stream`)::

        async with client.messages.stream(model=..., messages=..., max_tokens=256) as stream:
            async for event in stream:
                ...
        """
        prepared = build_request(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            system=system,
            tools=tools,
            thinking=thinking,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            stop_sequences=stop_sequences,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)


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
        self.messages = Messages(self)

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
        self.messages = AsyncMessages(self)

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
