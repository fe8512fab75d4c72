"""``client.chat.completions``: OpenAI Chat Completions, also spoken by compatible servers
(vLLM, llama.cpp, Ollama, gateways). Point :class:`~spanstream.Client` at one with ``base_url``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .providers.openai_chat import build_request

if TYPE_CHECKING:
    from .client import _AsyncClient, _SyncClient
    from .stream import AsyncStream, Stream

__all__ = ["AsyncChat", "AsyncChatCompletions", "Chat", "ChatCompletions"]


class ChatCompletions:
    """``client.chat.completions``: streamed Chat Completions."""

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, object]],
        tools: Sequence[Mapping[str, object]] | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        response_format: Mapping[str, object] | None = None,
        reasoning_effort: str | None = None,
        include_usage: bool = True,
        stream_options: Mapping[str, object] | None = None,
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> Stream:
        """Stream a chat completion. Any further keyword is sent as a body field as is.

        Token usage is requested (``stream_options={"include_usage": true}``) unless
        ``include_usage=False`` (for servers that reject ``stream_options``). With ``n`` > 1,
        events carry ``item_id="choice-<index>"``; the final response holds choice 0 and
        ``finish_reasons`` has one entry per choice. ``conversation_id`` (not sent) names, on the
        span (``gen_ai.conversation.id``), a conversation you track yourself.

        >>> messages = [{"role": "user", "content": "Say hi"}]
        >>> with client.chat.completions.stream(model="gpt-4.1", messages=messages) as stream:
        ...     for event in stream:
        ...         if isinstance(event, TextDelta):
        ...             print(event.text, end="")
        """
        prepared = build_request(
            model=model,
            messages=messages,
            tools=tools,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            n=n,
            response_format=response_format,
            reasoning_effort=reasoning_effort,
            include_usage=include_usage,
            stream_options=stream_options,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)


class AsyncChatCompletions:
    """``async_client.chat.completions``: streamed Chat Completions."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, object]],
        tools: Sequence[Mapping[str, object]] | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        n: int | None = None,
        response_format: Mapping[str, object] | None = None,
        reasoning_effort: str | None = None,
        include_usage: bool = True,
        stream_options: Mapping[str, object] | None = None,
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> AsyncStream:
        """Stream a chat completion (see :meth:`ChatCompletions.stream`)::

        async with client.chat.completions.stream(model="gpt-4.1", messages=messages) as s:
            async for event in s:
                ...
        """
        prepared = build_request(
            model=model,
            messages=messages,
            tools=tools,
            max_tokens=max_tokens,
            max_completion_tokens=max_completion_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            n=n,
            response_format=response_format,
            reasoning_effort=reasoning_effort,
            include_usage=include_usage,
            stream_options=stream_options,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)


class Chat:
    """``client.chat``: holds :class:`ChatCompletions` as ``completions``."""

    def __init__(self, client: _SyncClient) -> None:
        self.completions = ChatCompletions(client)


class AsyncChat:
    """``async_client.chat``: holds :class:`AsyncChatCompletions` as ``completions``."""

    def __init__(self, client: _AsyncClient) -> None:
        self.completions = AsyncChatCompletions(client)
