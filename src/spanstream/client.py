"""The clients (``Client``, ``AnthropicClient`` and their ``asyncio`` twins): configuration,
authentication and sending with retries.

Everything provider-specific (environment variables, default base URL, authentication headers)
comes from a :class:`~spanstream.providers.base.Provider` description, and each request brings
its path and parser (:class:`~spanstream.providers.base.PreparedRequest`), so the same machinery
serves every provider: a client class names its provider and its APIs (the resources of
:mod:`spanstream._resources`), nothing more. As in httpx's ``BaseClient``, everything without
I/O is written once (:class:`_ClientConfig`, :class:`_BaseClient`); the sync and async clients
differ only in how they send (one I/O-free send flow, :mod:`spanstream._send`, driven twice)
and close.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, TypedDict, TypeVar, overload

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LoggerProvider
from opentelemetry.metrics import MeterProvider
from typing_extensions import Self, Unpack

from . import __version__, _text
from ._body import is_json
from ._resources import AGENT_APIS, Chat, Embeddings, Messages, Resource, Responses
from ._secrets import Scrubber, protect_logs
from ._send import Tally, adrive, drive, send_flow
from .errors import (
    APIConnectionError,
    APIStatusError,
    ConfigurationError,
    InvalidRequestError,
    SpanstreamError,
    UnexpectedContentTypeError,
    UsageError,
)
from .events import Response
from .providers.base import Api, PreparedRequest, Provider, RequestInfo
from .providers.services import ANTHROPIC, AZURE_OPENAI, OPENAI
from .retry import RetryPolicy
from .sse import DEFAULT_MAX_EVENT_SIZE
from .stream import DEFAULT_DRAIN_TIMEOUT, AsyncStream, Stream, StreamSettings, _StreamCore
from .telemetry.content import CaptureMode, ContentCapture
from .telemetry.identity import provider_name
from .telemetry.span_observer import Instrumentation
from .transports import DEFAULT_LIMITS, AsyncShardedTransport, ShardedTransport, environment_proxies

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "AnthropicClient",
    "AsyncAnthropicClient",
    "AsyncAzureOpenAIClient",
    "AsyncClient",
    "AzureOpenAIClient",
    "Client",
    "ClientOptions",
]

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
"""Connect within 5 s; up to 600 s between two reads (reasoning models think before writing)."""


_H = TypeVar("_H", httpx.Client, httpx.AsyncClient)


_MAX_REDIRECTS = 5
_E = TypeVar("_E", bound=APIStatusError)
_ErrorDetails = tuple[str, "str | None", "str | None", "str | None"]  # message, type, code, param
_S = TypeVar("_S", Stream, AsyncStream)
if TYPE_CHECKING:
    from .agent import Agent, AsyncAgent
    from .embeddings import EmbeddingsResponse
    from .tools import Tool

_AG = TypeVar("_AG", "Agent", "AsyncAgent")


class _Flavour(Generic[_H, _S, _AG]):
    """What makes a client sync or async, besides how it sends and closes: the types it builds.
    ``agent`` gives the agent class, imported when the first agent is made: only an application
    that runs one needs the agent loop and tools (and pydantic's models, for the tools)."""

    __slots__ = ("agent", "http", "sharded", "stream")

    def __init__(
        self,
        http: type[_H],
        sharded: Callable[[], httpx.BaseTransport | httpx.AsyncBaseTransport],
        stream: type[_S],
        agent: Callable[[], type[_AG]],
    ) -> None:
        self.http: type[_H] = http
        self.sharded = sharded
        self.stream: type[_S] = stream
        self.agent: Callable[[], type[_AG]] = agent

    def owned_http_client(self, timeout: httpx.Timeout) -> _H:
        """The HTTP client spanstream creates when none is given: httpx's, with its pool split
        into shards (see :mod:`spanstream.transports`) unless the environment names a proxy."""
        if environment_proxies():
            return self.http(timeout=timeout, limits=DEFAULT_LIMITS)
        return self.http(timeout=timeout, transport=self.sharded())  # type: ignore[arg-type]


def _agent() -> type[Agent]:
    from .agent import Agent

    return Agent


def _async_agent() -> type[AsyncAgent]:
    from .agent import AsyncAgent

    return AsyncAgent


_SYNC = _Flavour(httpx.Client, ShardedTransport, Stream, _agent)
_ASYNC = _Flavour(httpx.AsyncClient, AsyncShardedTransport, AsyncStream, _async_agent)


class ClientOptions(TypedDict, total=False):
    """The keyword arguments every client accepts (besides ``http_client``); see
    :class:`Client` for what each does, and :class:`AzureOpenAIClient` for ``api_version`` and
    ``deployment`` (a :class:`~spanstream.errors.ConfigurationError` with any other client)."""

    api_key: str | None
    base_url: str | httpx.URL | None
    timeout: float | httpx.Timeout
    max_retries: int | None
    retry: RetryPolicy | None
    default_headers: Mapping[str, str] | None
    default_query: Mapping[str, str] | None
    tracer_provider: trace.TracerProvider | None
    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None
    capture_content: ContentCapture | CaptureMode | str | bool | None
    inject_trace_context: bool
    strict: bool
    idle_timeout: float | None
    drain_timeout: float
    max_event_size: int | None
    time_per_output_chunk: bool
    estimate_usage: bool
    provider_name: str | None
    api_version: str | None
    deployment: str | None


_MAX_CACHED_URLS = 64
"""Joined URLs kept per client: one per API path, and per deployment when the request's model
names it (models chosen by callers must not grow the cache without end)."""


class _Routes(NamedTuple):
    """Where a client's requests go: the base URL, the query every request carries, and the API
    paths sent under a deployment (see :class:`~spanstream.providers.base.ApiVersioning`)."""

    base_url: httpx.URL
    query: dict[str, str]
    deployment_paths: frozenset[str] = frozenset()
    deployment: str | None = None
    """The deployment given to the client; ``None``: the request's model names it."""


def _routes(provider: Provider, options: ClientOptions) -> _Routes:
    url = (
        options.get("base_url")
        or os.environ.get(provider.base_url_env)
        or provider.default_base_url
    )
    if not url:
        raise ConfigurationError(
            f"no endpoint: pass base_url=... or set the {provider.base_url_env} environment"
            " variable"
        )
    base_url = httpx.URL(str(url).rstrip("/") + "/")
    query = dict(options.get("default_query") or {})
    api_version, deployment = options.get("api_version"), options.get("deployment")
    for name, value in (("api_version", api_version), ("deployment", deployment)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    versioning = provider.versioning
    if versioning is None:
        given = [n for n, v in (("api_version", api_version), ("deployment", deployment)) if v]
        if given:
            raise ConfigurationError(
                f"{' and '.join(given)}: for Azure OpenAI (AzureOpenAIClient); this client's"
                f" provider is {provider.name!r}"
            )
        return _Routes(base_url, query)
    api_version = api_version or os.environ.get(versioning.env) or None
    path, routed = versioning.routes(api_version)
    if base_url.path == "/":
        base_url = base_url.join(path.strip("/") + "/")
    if api_version is not None:
        query[versioning.query_parameter] = api_version
    if deployment is not None:
        if not routed:
            raise ConfigurationError(
                "deployment= is for a dated API version (api_version=... or the"
                f" {versioning.env} environment variable); the v1 API takes the deployment"
                " as the request's model"
            )
        _check_deployment(deployment)
    if "/deployments/" in base_url.path:
        if deployment is not None:
            raise ConfigurationError(f"base_url names a deployment already: {base_url.path}")
        routed = frozenset()  # requests go to the deployment the base URL names
    return _Routes(base_url, query, routed, deployment)


def _check_deployment(name: object) -> str:
    """``name`` as a path segment: a deployment name, never a way out of ``deployments/``."""
    if not isinstance(name, str) or not name.strip("."):
        raise ConfigurationError(
            f"no deployment to send the request to: {name!r} (pass deployment=... to the"
            " client, or the deployment's name as the request's model)"
        )
    return urllib.parse.quote(name, safe="")


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
        self._routes = _routes(provider, options)
        self.base_url = self._routes.base_url
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
            time_per_output_chunk=options.get("time_per_output_chunk", True),
            estimate_usage=options.get("estimate_usage", False),
        )
        self.inject_trace_context = options.get("inject_trace_context", False)
        self._urls: dict[str, httpx.URL] = {}
        self.strict = options.get("strict", False)
        self.scrubber = Scrubber(key)
        protect_logs(self.scrubber)
        # The idle timeout defaults to the read timeout: what httpx would allow between two
        # reads, now also between two events whatever comments come between them.
        idle = options.get("idle_timeout", self.timeout.read)
        drain = options.get("drain_timeout", DEFAULT_DRAIN_TIMEOUT)
        max_event_size = options.get("max_event_size", DEFAULT_MAX_EVENT_SIZE)
        for name, value in (("idle_timeout", idle), ("drain_timeout", drain)):
            if value is not None and not value >= 0:
                raise ConfigurationError(f"{name} must be >= 0 seconds, got {value!r}")
        if max_event_size is not None and max_event_size < 1:
            raise ConfigurationError(f"max_event_size must be >= 1 byte, got {max_event_size!r}")
        self.stream_settings = StreamSettings(
            idle_timeout=idle,
            drain_timeout=drain,
            max_event_size=max_event_size,
            scrub=self.scrubber,
            request_id_headers=provider.request_id_headers,
        )

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
        self,
        client: httpx.Client | httpx.AsyncClient,
        prepared: PreparedRequest,
        url: httpx.URL | None = None,
    ) -> httpx.Request:
        content = None
        headers = {
            "Accept": "text/event-stream" if prepared.stream else "application/json",
            "User-Agent": f"spanstream/{__version__}",
            **self.default_headers,
            **prepared.headers,
            **self.provider.auth_headers(self.api_key),
        }
        if self.inject_trace_context:
            # Called while the inference span is current: the provider sees it as the parent.
            from opentelemetry import propagate  # loads the configured propagators: opt-in

            propagate.inject(headers)
        routes = self._routes
        if url is None:
            path = prepared.path
            if path in routes.deployment_paths:
                model = prepared.body.get("model") if prepared.body else None
                path = f"/deployments/{_check_deployment(routes.deployment or model)}{path}"
            url = self._urls.get(path)
            if url is None:
                url = self.base_url.join(path.lstrip("/"))
                if prepared.method == "POST" and len(self._urls) < _MAX_CACHED_URLS:
                    # Joined once per path, not per request: httpx.URL.join parses the URL
                    # again each time (a fetch's path names its response, so it is not kept).
                    self._urls[path] = url
        params = {**routes.query, **dict(prepared.query)} if prepared.query else routes.query
        if prepared.body is not None:
            # Encoded here rather than by httpx (json=, the same bytes), whose ValueError or
            # UnicodeEncodeError names neither the parameter nor the reason.
            content = _text.dumps_body(prepared.body)
            if content is None:
                raise _unsendable(prepared.body)
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        return client.build_request(
            prepared.method, url, content=content, params=params or None, headers=headers
        )

    def request_id(self, response: httpx.Response) -> str | None:
        """The provider's request id of ``response`` (scrubbed: a server may echo the key)."""
        return self.stream_settings.request_id(response.headers)

    def status_error(self, response: httpx.Response, body: str) -> APIStatusError:
        """Build the typed error for an HTTP error status from (the start of) its body."""
        details = _error_details(body, response.reason_phrase)
        return self._http_error(APIStatusError, response, details)

    def content_type_error(
        self, response: httpx.Response, body: str, *, stream: bool = True
    ) -> UnexpectedContentTypeError:
        """The error for a success status whose body is not the reply asked for (an event
        stream, or JSON when ``stream`` is false), from (the start of) its body."""
        content_type = response.headers.get("content-type", "")
        if is_json(content_type):
            details = _error_details(body, response.reason_phrase)
        else:
            details = (" ".join(body.split())[:300] or "empty body", None, None, None)
        return self._http_error(
            UnexpectedContentTypeError,
            response,
            details,
            content_type=self.scrub(content_type),
            expected="an event stream" if stream else "JSON",
        )

    def _http_error(
        self, kind: type[_E], response: httpx.Response, details: _ErrorDetails, **extra: str
    ) -> _E:
        message, error_type, code, param = details
        return kind(
            response.status_code,
            self.scrub(message),
            error_type=self.scrub(error_type),
            code=self.scrub(code),
            param=self.scrub(param),
            request_id=self.request_id(response),
            **extra,
        )

    def redirect(self, response: httpx.Response, hops: int) -> httpx.URL | SpanstreamError:
        """Where to send the request again after a redirect status, or the error to raise.

        A redirect within the same origin (scheme, host, port) is followed with the same
        method and body, whatever its status: an API request re-sent as a ``GET`` (what
        browsers and httpx do for 301/302/303 after a ``POST``) would lose its body. A redirect
        to another origin is not followed, so that the API key is never sent there.
        """
        status = response.status_code
        location = response.headers.get("location")
        if not location:
            return APIConnectionError(f"HTTP {status} redirect without a Location header")
        try:
            target = response.request.url.join(location)
        except httpx.InvalidURL:
            return APIConnectionError(f"HTTP {status} redirect to an invalid URL")
        if hops >= _MAX_REDIRECTS:
            return APIConnectionError(f"more than {_MAX_REDIRECTS} redirects (last: HTTP {status})")
        if _origin(target) != _origin(response.request.url):
            where = self.scrub(str(target.copy_with(query=None)))
            return APIConnectionError(
                f"HTTP {status} redirect to another origin ({where}) not followed, so that"
                " the API key is not sent there: point base_url at it if it is the API"
            )
        return target

    @overload
    def scrub(self, text: str) -> str: ...
    @overload
    def scrub(self, text: None) -> None: ...
    def scrub(self, text: str | None) -> str | None:
        """Remove the API key (or a piece of it) and credential values from text bound for an
        error (see :mod:`spanstream._secrets`)."""
        if text is None:
            return None
        return self.scrubber(text)

    def check_usable(self, client: httpx.Client | httpx.AsyncClient) -> None:
        if client.is_closed:
            raise UsageError(
                "the client is closed (close() or its with block ended): create a new client"
                " to stream again"
            )

    def request_info(self, prepared: PreparedRequest) -> RequestInfo:
        """The request as its telemetry reports it: from this client's provider."""
        info = prepared.info
        if info.provider == self.provider_name:
            return info
        return replace(info, provider=self.provider_name)

    def stream_core(self, prepared: PreparedRequest) -> _StreamCore:
        """The I/O-free state of one stream of ``prepared``; its observer's parent is the
        caller's context now, wherever the stream is consumed later."""
        return _StreamCore(
            prepared.parser(strict=self.strict),
            self.instrumentation.observer(otel_context.get_current()),
            self.request_info(prepared),
            self.stream_settings,
            (self.server_address, self.server_port),
        )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port if url.port is not None else {"https": 443, "http": 80}.get(url.scheme)
    return url.scheme, url.host, port


def _unsendable(body: Mapping[str, object]) -> InvalidRequestError:
    """The error of a request body that JSON cannot carry, naming the parameter (never its
    value: it may be the user's content)."""
    where, reason = _text.unsendable(body) or ("the request", "it is not JSON")
    return InvalidRequestError(f"cannot send {where}: {reason}. Nothing was sent")


def _error_details(text: str, reason: str) -> _ErrorDetails:
    """The message, type, code and param of an error body. Servers write it as OpenAI does
    (``{"error": {"message", "type", "code", "param"}}``), with the fields at the top level
    (``{"object": "error", "message", "type", "code"}``: Mistral, vLLM), as a bare string
    (``{"error": "model not found"}``: Ollama) or as FastAPI's ``{"detail": ...}``."""
    try:
        body = _text.loads(text)
    except (ValueError, RecursionError):
        return (text.strip()[:500] or reason or "error"), None, None, None
    if not isinstance(body, dict):
        return text.strip()[:500], None, None, None
    error = body.get("error")
    if isinstance(error, str) and error:
        return error[:500], None, None, None
    if not isinstance(error, dict):
        if "message" in body or "detail" in body:
            error = {**body, "message": body.get("message", body.get("detail"))}
        else:
            return text.strip()[:500], None, None, None

    def field(name: str) -> str | None:
        value = error.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)[:500]

    return (
        field("message") or reason or "error",
        field("type"),
        field("code"),
        field("param"),
    )


class _BaseClient(Generic[_H, _S, _AG]):
    """Everything a client holds, with no I/O: its configuration, its HTTP client and its APIs
    (the resources its class names in ``_apis``, built here). The sync and async clients below
    differ only in how they send and close."""

    _provider: ClassVar[Provider]
    _apis: ClassVar[tuple[type[Resource[Any, Any]], ...]]
    _flavour: _Flavour[_H, _S, _AG]

    def __init__(self, *, http_client: _H | None = None, **options: Unpack[ClientOptions]) -> None:
        self._config = config = _ClientConfig(self._provider, **options)
        self._owns_http = http_client is None
        self._http: _H = http_client or self._flavour.owned_http_client(config.timeout)
        for api in self._apis:
            setattr(self, api.attribute, api(self))

    @property
    def base_url(self) -> httpx.URL:
        """The API base URL requests are sent under."""
        return self._config.base_url

    def _stream(self, prepared: PreparedRequest) -> _S:
        return self._open(self._config.stream_core(prepared), prepared)

    def _open(self, core: _StreamCore, prepared: PreparedRequest) -> _S:
        return self._flavour.stream(core, partial(self._send, prepared, core))

    def _send(self, prepared: PreparedRequest, tally: Tally) -> Any:
        raise NotImplementedError

    def _create(self, prepared: PreparedRequest) -> Any:
        raise NotImplementedError

    def agent(
        self,
        *,
        model: str,
        tools: Sequence[Tool | Callable[..., object]] = (),
        instructions: str | None = None,
        name: str | None = None,
        api: Api | None = None,
        **options: object,
    ) -> _AG:
        """An agent that streams ``model`` over one of the client's APIs, runs ``tools`` when
        the model calls them and feeds the results back. ``api``: the OpenAI clients' are
        ``"responses"`` (the default) and ``"chat"``, the Anthropic clients' ``"anthropic"``.
        ``options`` go into every turn's request (e.g. ``reasoning={"effort": "low"}``; an
        Anthropic turn's ``max_tokens`` is 4096 unless given).

        >>> agent = client.agent(model="gpt-4.1", tools=[get_weather])
        >>> with agent.stream("Weather in Paris?") as run:
        ...     print(run.final_response().text)
        """
        offered = [api.agent_api for api in self._apis if api.agent_api is not None]
        chosen = offered[0] if api is None else api
        if chosen not in offered:
            raise ValueError(f"api must be one of {offered} for this client, got {api!r}")
        turns = AGENT_APIS[chosen]
        return self._flavour.agent()(
            turns.stream(self),
            api=chosen,
            provider=self._config.provider_name,
            model=model,
            tools=tools,
            instructions=instructions,
            name=name,
            instrumentation=self._config.instrumentation,
            options={**turns.defaults, **options},
        )


class _SyncClient(_BaseClient[httpx.Client, Stream, "Agent"]):
    """What the synchronous clients share: sending with retries, closing."""

    _flavour = _SYNC

    def _send(self, prepared: PreparedRequest, tally: Tally) -> httpx.Response:
        return drive(send_flow(self._config, self._http, prepared, tally), self._http)

    def _create(self, prepared: PreparedRequest) -> object:
        core = self._config.stream_core(prepared)
        with self._open(core, prepared) as stream:
            stream.final_response()
        return core.parser.result

    def close(self) -> None:
        """Close the HTTP client if spanstream created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _AsyncClient(_BaseClient[httpx.AsyncClient, AsyncStream, "AsyncAgent"]):
    """What the ``asyncio`` clients share: sending with retries, closing."""

    _flavour = _ASYNC

    async def _send(self, prepared: PreparedRequest, tally: Tally) -> httpx.Response:
        return await adrive(send_flow(self._config, self._http, prepared, tally), self._http)

    async def _create(self, prepared: PreparedRequest) -> object:
        core = self._config.stream_core(prepared)
        async with self._open(core, prepared) as stream:
            await stream.final_response()
        return core.parser.result

    async def aclose(self) -> None:
        """Close the HTTP client if spanstream created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Client(_SyncClient):
    """A synchronous client for streaming LLM responses inside OpenTelemetry spans.

    >>> client = Client()                      # OPENAI_API_KEY, OPENAI_BASE_URL from the env
    >>> client = Client(api_key="sk-...", base_url="http://localhost:8000/v1")

    APIs: ``client.responses`` (Responses), ``client.chat.completions`` (Chat Completions,
    also spoken by vLLM, llama.cpp, Ollama and gateways) and ``client.embeddings``.

    ``http_client``: an ``httpx.Client`` of your own, used as given (its transport, proxies,
    instrumentation, pool limits) and never closed by spanstream; the one spanstream creates
    otherwise uses :data:`DEFAULT_TIMEOUT` and :data:`DEFAULT_LIMITS`. ``tracer_provider`` /
    ``meter_provider`` / ``logger_provider``: where spans, metrics and content events go
    (default: the global providers). ``capture_content``: record message content (off by
    default; see :class:`~spanstream.telemetry.ContentCapture`; ``None`` reads
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). ``inject_trace_context``: send the
    W3C ``traceparent`` of the inference span to the provider. ``default_query``: query
    parameters sent with every request (a request's own win). ``strict``: raise
    :class:`~spanstream.errors.MalformedEventError` on an undecodable event instead of skipping it.
    ``provider_name``: the span's ``gen_ai.provider.name``; by default the conventions' name of
    a server they name, from the base URL's host (``api.deepseek.com`` is ``deepseek``,
    ``*.openai.azure.com`` is ``azure.ai.openai``; see
    :data:`~spanstream.telemetry.identity.KNOWN_HOSTS`), else ``openai``, the API spoken.
    ``estimate_usage``: when a server sends no output token count (``Usage.estimated``), put
    spanstream's estimate into ``gen_ai.usage.output_tokens`` and the token metrics too, marked
    ``spanstream.usage.estimated``; off by default (only ``spanstream.usage.*`` then carries it).
    """

    _provider = OPENAI
    _apis = (Responses, Chat, Embeddings)
    responses: Responses[Stream, Response]
    chat: Chat[Stream, Response]
    embeddings: Embeddings[EmbeddingsResponse]


class AsyncClient(_AsyncClient):
    """The ``asyncio`` twin of :class:`Client` (same arguments, ``httpx.AsyncClient``)."""

    _provider = OPENAI
    _apis = (Responses, Chat, Embeddings)
    responses: Responses[AsyncStream, Coroutine[Any, Any, Response]]
    chat: Chat[AsyncStream, Coroutine[Any, Any, Response]]
    embeddings: Embeddings[Coroutine[Any, Any, EmbeddingsResponse]]


class AnthropicClient(_SyncClient):
    """A synchronous client for Anthropic Messages streams inside OpenTelemetry spans, with the
    same normalized events, final :class:`~spanstream.events.Response` and telemetry as
    :class:`Client`; only the provider description differs (``ANTHROPIC_API_KEY``,
    ``ANTHROPIC_BASE_URL``, ``x-api-key``, ``anthropic-version``).

    >>> client = AnthropicClient()   # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL from the env
    >>> client = AnthropicClient(api_key="sk-ant-...", base_url="https://gateway.example/v1")

    The base URL includes ``/v1`` (default ``https://api.anthropic.com/v1``); requests go to
    ``{base_url}/messages``. The arguments are those of :class:`Client`.
    """

    _provider = ANTHROPIC
    _apis = (Messages,)
    messages: Messages[Stream, Response]


class AsyncAnthropicClient(_AsyncClient):
    """The ``asyncio`` twin of :class:`AnthropicClient` (same arguments,
    ``httpx.AsyncClient``)."""

    _provider = ANTHROPIC
    _apis = (Messages,)
    messages: Messages[AsyncStream, Coroutine[Any, Any, Response]]


class AzureOpenAIClient(Client):
    """A synchronous client for Azure OpenAI: the APIs of :class:`Client` (``responses``,
    ``chat.completions``, ``embeddings``) with Azure's endpoint, ``api-key`` authentication and
    URLs, as the openai SDK's ``AzureOpenAI`` sends them; spans say
    ``gen_ai.provider.name=azure.ai.openai``.

    >>> client = AzureOpenAIClient(api_version="2024-10-21")  # AZURE_OPENAI_API_KEY, _ENDPOINT
    >>> client = AzureOpenAIClient(base_url="https://my-resource.openai.azure.com")  # v1 API

    ``base_url`` (default ``AZURE_OPENAI_ENDPOINT``): the resource's endpoint; one with a path
    (a gateway's, or one naming a deployment) is used as is. ``api_version`` (default
    ``OPENAI_API_VERSION``): a dated version sends requests to ``{endpoint}/openai/...`` with
    ``?api-version=``, Chat Completions under ``deployments/{deployment}``, where
    ``deployment`` is the client's option, else the request's ``model``; without one (or with
    ``preview`` / ``latest``) they go to the v1 API, ``{endpoint}/openai/v1/...``, the
    deployment named by ``model``. The other arguments are those of :class:`Client`.
    """

    _provider = AZURE_OPENAI


class AsyncAzureOpenAIClient(AsyncClient):
    """The ``asyncio`` twin of :class:`AzureOpenAIClient` (same arguments,
    ``httpx.AsyncClient``)."""

    _provider = AZURE_OPENAI
