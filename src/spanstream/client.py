"""``Client`` and ``AsyncClient``: configuration, authentication and sending with retries.

Everything provider-specific (environment variables, default base URL, authentication headers)
comes from a :class:`~spanstream.providers.base.Provider` description, and each request brings
its path and parser (:class:`~spanstream.providers.base.PreparedRequest`), so the same machinery
serves every provider: :class:`_SyncClient` / :class:`_AsyncClient` are the OpenAI clients here
and the Anthropic ones in ``_anthropic.py``. Sync and async share :class:`_ClientConfig`
(everything but I/O) and differ only in the HTTP call and the sleep between retries.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Literal, TypedDict, TypeVar, overload

import httpx
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from typing_extensions import Unpack

from . import __version__
from ._chat import AsyncChat, Chat
from ._pool import DEFAULT_LIMITS, AsyncShardedTransport, ShardedTransport, environment_proxies
from ._retry import RetryPolicy
from .agent import Agent, AsyncAgent
from .errors import APIStatusError, ConfigurationError
from .providers.base import PreparedRequest, Provider, RequestInfo
from .providers.openai_responses import build_fetch_request, build_request
from .providers.services import OPENAI
from .stream import AsyncStream, Stream, wrap_transport_error
from .telemetry.content import CaptureMode, ContentCapture
from .telemetry.identity import provider_name
from .telemetry.observer import Instrumentation, SpanObserver
from .tools import Tool

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "AsyncClient", "Client", "ClientOptions"]

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
"""Connect within 5 s; up to 600 s between two reads (reasoning models think before writing)."""


def _owned_http_client(timeout: httpx.Timeout) -> httpx.Client:
    """The HTTP client spanstream creates when none is given: httpx's, with its pool split into
    shards (see :mod:`spanstream._pool`) unless the environment names a proxy."""
    if environment_proxies():
        return httpx.Client(timeout=timeout, limits=DEFAULT_LIMITS)
    return httpx.Client(timeout=timeout, transport=ShardedTransport())


def _owned_async_http_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The ``asyncio`` twin of :func:`_owned_http_client`."""
    if environment_proxies():
        return httpx.AsyncClient(timeout=timeout, limits=DEFAULT_LIMITS)
    return httpx.AsyncClient(timeout=timeout, transport=AsyncShardedTransport())


_MAX_ERROR_BODY = 64 * 1024
_C = TypeVar("_C", bound="_SyncClient")
_A = TypeVar("_A", bound="_AsyncClient")
_KEY_PATTERN = re.compile(r"\b(sk|sk-ant|sk-proj)-[A-Za-z0-9_\-*]{6,}")
# A server that echoes request headers back: drop the header name and scheme with the value.
_CREDENTIAL_PATTERN = re.compile(
    r"(?i)\b(?:(?:proxy-)?authorization|x-api-key)\b\s*[:=]?\s*(?:bearer\s+|basic\s+)?\S*"
    r"|\bbearer\s+\S+"
)


class ClientOptions(TypedDict, total=False):
    """The keyword arguments every client accepts (besides ``http_client``); see
    :class:`Client` for what each does."""

    api_key: str | None
    base_url: str | httpx.URL | None
    timeout: float | httpx.Timeout
    max_retries: int | None
    retry: RetryPolicy | None
    default_headers: Mapping[str, str] | None
    tracer_provider: trace.TracerProvider | None
    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None
    capture_content: ContentCapture | CaptureMode | str | bool | None
    inject_trace_context: bool
    strict: bool
    provider_name: str | None


class _ClientConfig:
    """Configuration shared by the sync and async clients."""

    def __init__(self, provider: Provider, **options: Unpack[ClientOptions]) -> None:
        unknown = sorted(set(options) - ClientOptions.__optional_keys__)
        if unknown:
            # **options is typed for checkers; at run time a misspelt option must not pass.
            raise TypeError(f"unexpected client option(s): {', '.join(unknown)}")
        self.provider = provider
        api_key = options.get("api_key")
        key = api_key if api_key is not None else os.environ.get(provider.api_key_env)
        if not key:
            raise ConfigurationError(
                f"no API key: pass api_key=... or set the {provider.api_key_env} environment"
                " variable"
            )
        self.api_key = key
        url = (
            options.get("base_url")
            or os.environ.get(provider.base_url_env)
            or provider.default_base_url
        )
        self.base_url = httpx.URL(str(url).rstrip("/") + "/")
        name = options.get("provider_name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"provider_name must be a non-empty string, got {name!r}")
        self.provider_name = name or provider_name(self.base_url.host, provider.name)
        """``gen_ai.provider.name``: as given, else by host (:func:`provider_name`)."""
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        policy = options.get("retry") or RetryPolicy()
        max_retries = options.get("max_retries")
        if max_retries is not None:
            policy = RetryPolicy(max_retries, policy.initial_delay, policy.max_delay, policy.jitter)
        self.retry = policy
        self.default_headers = dict(options.get("default_headers") or {})
        self.instrumentation = Instrumentation(
            options.get("tracer_provider"),
            options.get("meter_provider"),
            options.get("logger_provider"),
            options.get("capture_content"),
        )
        self.inject_trace_context = options.get("inject_trace_context", False)
        self._urls: dict[str, httpx.URL] = {}
        self.strict = options.get("strict", False)

    @property
    def server_address(self) -> str:
        return self.base_url.host

    @property
    def server_port(self) -> int | None:
        url = self.base_url
        if url.port is not None:
            return url.port
        return {"https": 443, "http": 80}.get(url.scheme)

    def http_request(
        self, client: httpx.Client | httpx.AsyncClient, prepared: PreparedRequest
    ) -> httpx.Request:
        headers = {
            "Accept": "text/event-stream",
            "User-Agent": f"spanstream/{__version__}",
            **self.default_headers,
            **prepared.headers,
            **self.provider.auth_headers(self.api_key),
        }
        if self.inject_trace_context:
            # Called while the inference span is current: the provider sees it as the parent.
            propagate.inject(headers)
        url = self._urls.get(prepared.path)
        if url is None:
            url = self.base_url.join(prepared.path.lstrip("/"))
            if prepared.method == "POST":
                # URL.join costs ~20 µs: once per API path (a fetch's path names its response).
                self._urls[prepared.path] = url
        return client.build_request(
            prepared.method,
            url,
            json=prepared.body,
            params=prepared.query or None,
            headers=headers,
        )

    def status_error(self, response: httpx.Response) -> APIStatusError:
        """Build the typed error for an HTTP error status from its (already read) body."""
        message, error_type, code, param = _error_details(response)
        return APIStatusError(
            response.status_code,
            self.scrub(message),
            error_type=self.scrub(error_type),
            code=self.scrub(code),
            param=self.scrub(param),
            request_id=next(
                (
                    response.headers[name]
                    for name in self.provider.request_id_headers
                    if name in response.headers
                ),
                None,
            ),
        )

    @overload
    def scrub(self, text: str) -> str: ...
    @overload
    def scrub(self, text: None) -> None: ...
    def scrub(self, text: str | None) -> str | None:
        """Remove anything that looks like an API key from text bound for an error."""
        if text is None:
            return None
        text = text.replace(self.api_key, "***")
        text = _CREDENTIAL_PATTERN.sub("[credentials redacted]", text)
        return _KEY_PATTERN.sub("***", text)

    def request_info(self, prepared: PreparedRequest) -> RequestInfo:
        """The request as its telemetry reports it: from this client's provider."""
        info = prepared.info
        if info.provider == self.provider_name:
            return info
        return replace(info, provider=self.provider_name)

    def observer(self) -> SpanObserver:
        # The parent is the caller's context now, wherever the stream is consumed later.
        return self.instrumentation.observer(otel_context.get_current())


def _error_details(response: httpx.Response) -> tuple[str, str | None, str | None, str | None]:
    text = response.text[:_MAX_ERROR_BODY]
    try:
        body = json.loads(text)
    except ValueError:
        return (text.strip()[:500] or response.reason_phrase or "error"), None, None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return text.strip()[:500], None, None, None

    def field(name: str) -> str | None:
        value = error.get(name)
        return str(value) if value is not None else None

    return (
        field("message") or response.reason_phrase or "error",
        field("type"),
        field("code"),
        field("param"),
    )


class Responses:
    """``client.responses``: the OpenAI Responses API."""

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def stream(
        self,
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
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> Stream:
        """Stream a response. Any further keyword is sent as a body field as is.

        The span names the conversation (``gen_ai.conversation.id``) that ``conversation``
        (sent) names, or ``conversation_id`` (not sent), for a conversation you track yourself.

        >>> with client.responses.stream(model="gpt-4.1", input="Say hi") as stream:
        ...     for event in stream:
        ...         if isinstance(event, TextDelta):
        ...             print(event.text, end="")
        """
        prepared = build_request(
            model=model,
            input=input,
            instructions=instructions,
            tools=tools,
            reasoning=reasoning,
            max_output_tokens=max_output_tokens,
            temperature=temperature,
            top_p=top_p,
            previous_response_id=previous_response_id,
            service_tier=service_tier,
            text=text,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)

    def resume(self, response_id: str, *, starting_after: int | None = None) -> Stream:
        """Stream a stored response: one created with ``background=True``, from its first
        event, or after the event whose sequence number is ``starting_after`` (a stream's
        :attr:`~spanstream.Stream.last_sequence_number` when its connection dropped). Recorded
        as a ``fetch_response`` span: no request model, no token usage.

        >>> stream = client.responses.stream(model="o3", input=q, background=True)
        >>> try:
        ...     with stream:
        ...         for event in stream:
        ...             ...
        ... except APIConnectionError:
        ...     if stream.response.id is None:
        ...         raise  # dropped before the response was created: nothing to resume
        ...     with client.responses.resume(
        ...         stream.response.id, starting_after=stream.last_sequence_number
        ...     ) as rest:
        ...         for event in rest:
        ...             ...
        """
        return self._client._stream(build_fetch_request(response_id, starting_after=starting_after))


class AsyncResponses:
    """``async_client.responses``: the OpenAI Responses API."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    def stream(
        self,
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
        conversation_id: str | None = None,
        **extra_body: object,
    ) -> AsyncStream:
        """Stream a response (see :meth:`Responses.stream`)::

        async with client.responses.stream(model="gpt-4.1", input="Say hi") as stream:
            async for event in stream:
                ...
        """
        prepared = build_request(
            model=model,
            input=input,
            instructions=instructions,
            tools=tools,
            reasoning=reasoning,
            max_output_tokens=max_output_tokens,
            temperature=temperature,
            top_p=top_p,
            previous_response_id=previous_response_id,
            service_tier=service_tier,
            text=text,
            extra_body=extra_body,
            conversation_id=conversation_id,
        )
        return self._client._stream(prepared)

    def resume(self, response_id: str, *, starting_after: int | None = None) -> AsyncStream:
        """Stream a stored response (see :meth:`Responses.resume`)::

        async with client.responses.resume(response_id, starting_after=41) as stream:
            async for event in stream:
                ...
        """
        return self._client._stream(build_fetch_request(response_id, starting_after=starting_after))


class _SyncClient:
    """What the synchronous clients share: sending with retries, streaming, closing."""

    def __init__(self, config: _ClientConfig, http_client: httpx.Client | None) -> None:
        self._config = config
        self._owns_http = http_client is None
        self._http = http_client or _owned_http_client(config.timeout)

    @property
    def base_url(self) -> httpx.URL:
        """The API base URL requests are sent under."""
        return self._config.base_url

    def _stream(self, prepared: PreparedRequest) -> Stream:
        config = self._config
        return Stream(
            send=lambda: self._send(prepared),
            parser=prepared.parser(strict=config.strict),
            observer=config.observer(),
            info=config.request_info(prepared),
            server_address=config.server_address,
            server_port=config.server_port,
        )

    def _send(self, prepared: PreparedRequest) -> tuple[httpx.Response, int]:
        config = self._config
        policy = config.retry
        attempt = 0
        while True:
            request = config.http_request(self._http, prepared)
            try:
                response = self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= policy.max_retries:
                    raise wrap_transport_error(exc) from exc
                time.sleep(policy.delay(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                raise wrap_transport_error(exc) from exc
            if response.status_code < 400:
                return response, attempt
            try:
                response.read()
            except httpx.TransportError:
                pass
            finally:
                response.close()
            if attempt >= policy.max_retries or not policy.should_retry_status(
                response.status_code
            ):
                raise config.status_error(response)
            time.sleep(policy.delay(attempt, response.headers))
            attempt += 1

    def close(self) -> None:
        """Close the HTTP client if spanstream created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Client(_SyncClient):
    """A synchronous client for streaming LLM responses inside OpenTelemetry spans.

    >>> client = Client()                      # OPENAI_API_KEY, OPENAI_BASE_URL from the env
    >>> client = Client(api_key="sk-...", base_url="http://localhost:8000/v1")

    APIs: ``client.responses`` (Responses) and ``client.chat.completions`` (Chat Completions,
    also spoken by vLLM, llama.cpp, Ollama and gateways).

    ``http_client``: an ``httpx.Client`` of your own, used as given (its transport, proxies,
    instrumentation, pool limits) and never closed by spanstream; the one spanstream creates
    otherwise uses :data:`DEFAULT_TIMEOUT` and :data:`DEFAULT_LIMITS`. ``tracer_provider`` /
    ``meter_provider`` / ``logger_provider``: where spans, metrics and content events go
    (default: the global providers). ``capture_content``: record message content (off by
    default; see :class:`~spanstream.telemetry.ContentCapture`; ``None`` reads
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). ``inject_trace_context``: send the
    W3C ``traceparent`` of the inference span to the provider. ``strict``: raise
    :class:`~spanstream.errors.MalformedEvent` on an undecodable event instead of skipping it.
    ``provider_name``: the span's ``gen_ai.provider.name``; by default the conventions' name of
    a server they name, from the base URL's host (``api.deepseek.com`` is ``deepseek``,
    ``*.openai.azure.com`` is ``azure.ai.openai``; see
    :data:`~spanstream.telemetry.identity.KNOWN_HOSTS`), else ``openai``, the API spoken.
    """

    def __init__(
        self, *, http_client: httpx.Client | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(_ClientConfig(OPENAI, **options), http_client)
        self.responses = Responses(self)
        self.chat = Chat(self)

    def agent(
        self,
        *,
        model: str,
        tools: Sequence[Tool | Callable[..., object]] = (),
        instructions: str | None = None,
        name: str | None = None,
        api: Literal["responses", "chat"] = "responses",
        **options: object,
    ) -> Agent:
        """An agent that streams ``model`` over the Responses API (or ``api="chat"``), runs
        ``tools`` when the model calls them and feeds the results back. ``options`` go into
        every turn's request (e.g. ``reasoning={"effort": "low"}``).

        >>> agent = client.agent(model="gpt-4.1", tools=[get_weather])
        >>> with agent.stream("Weather in Paris?") as run:
        ...     print(run.final_response().text)
        """
        stream = self.responses.stream if api == "responses" else self.chat.completions.stream
        return Agent(
            stream,
            api=api,
            provider=self._config.provider_name,
            model=model,
            tools=tools,
            instructions=instructions,
            name=name,
            instrumentation=self._config.instrumentation,
            options=options,
        )


class _AsyncClient:
    """What the ``asyncio`` clients share: sending with retries, streaming, closing."""

    def __init__(self, config: _ClientConfig, http_client: httpx.AsyncClient | None) -> None:
        self._config = config
        self._owns_http = http_client is None
        self._http = http_client or _owned_async_http_client(config.timeout)

    @property
    def base_url(self) -> httpx.URL:
        """The API base URL requests are sent under."""
        return self._config.base_url

    def _stream(self, prepared: PreparedRequest) -> AsyncStream:
        config = self._config
        return AsyncStream(
            send=lambda: self._send(prepared),
            parser=prepared.parser(strict=config.strict),
            observer=config.observer(),
            info=config.request_info(prepared),
            server_address=config.server_address,
            server_port=config.server_port,
        )

    async def _send(self, prepared: PreparedRequest) -> tuple[httpx.Response, int]:
        config = self._config
        policy = config.retry
        attempt = 0
        while True:
            request = config.http_request(self._http, prepared)
            try:
                response = await self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= policy.max_retries:
                    raise wrap_transport_error(exc) from exc
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                raise wrap_transport_error(exc) from exc
            if response.status_code < 400:
                return response, attempt
            try:
                await response.aread()
            except httpx.TransportError:
                pass
            finally:
                await response.aclose()
            if attempt >= policy.max_retries or not policy.should_retry_status(
                response.status_code
            ):
                raise config.status_error(response)
            await asyncio.sleep(policy.delay(attempt, response.headers))
            attempt += 1

    async def aclose(self) -> None:
        """Close the HTTP client if spanstream created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncClient(_AsyncClient):
    """The ``asyncio`` twin of :class:`Client` (same arguments, ``httpx.AsyncClient``)."""

    def __init__(
        self, *, http_client: httpx.AsyncClient | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(_ClientConfig(OPENAI, **options), http_client)
        self.responses = AsyncResponses(self)
        self.chat = AsyncChat(self)

    def agent(
        self,
        *,
        model: str,
        tools: Sequence[Tool | Callable[..., object]] = (),
        instructions: str | None = None,
        name: str | None = None,
        api: Literal["responses", "chat"] = "responses",
        **options: object,
    ) -> AsyncAgent:
        """An agent that streams ``model`` over the Responses API (or ``api="chat"``), runs
        ``tools`` when the model calls them and feeds the results back. ``options`` go into
        every turn's request (e.g. ``reasoning={"effort": "low"}``).

        >>> agent = client.agent(model="gpt-4.1", tools=[get_weather])
        >>> async with agent.stream("Weather in Paris?") as run:
        ...     print((await run.final_response()).text)
        """
        stream = self.responses.stream if api == "responses" else self.chat.completions.stream
        return AsyncAgent(
            stream,
            api=api,
            provider=self._config.provider_name,
            model=model,
            tools=tools,
            instructions=instructions,
            name=name,
            instrumentation=self._config.instrumentation,
            options=options,
        )
