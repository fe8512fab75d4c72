"""What every provider module offers the client: a request builder and a parser factory.

The request's provider-neutral description, :class:`RequestInfo` (all telemetry learns of a
request), lives in :mod:`spanstream._request`, outside this package, so that telemetry imports no
provider module; it is re-exported here for the request builders.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Collection, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal, Protocol, get_origin

from typing_extensions import Required, TypedDict, get_type_hints

from .._record import Record
from .._request import FETCH_RESPONSE, ProviderAttributes, RequestContent, RequestInfo
from ..events import ProviderError, Response, StreamEvent
from ..sse import RawEvent, ServerSentEvent

__all__ = [
    "FETCH_RESPONSE",
    "ApiVersioning",
    "CommonParams",
    "Parser",
    "ParserFactory",
    "PreparedRequest",
    "Provider",
    "ProviderAttributes",
    "RequestContent",
    "RequestInfo",
    "conversation_id_of",
    "extra_body_of",
    "first_use",
    "float_of",
    "int_of",
    "prepare_request",
    "request_body",
    "required_keys",
    "str_of",
]


Api = Literal["responses", "chat", "anthropic"]
"""The APIs an agent's turns can use (:data:`spanstream._resources.AGENT_APIS`)."""


class CommonParams(TypedDict, total=False):
    """The keyword arguments of every API's ``stream()`` besides the API's own parameters (each
    API's parameter ``TypedDict`` extends it)."""

    extra_body: Mapping[str, object] | None
    """Body fields this version does not name, merged last."""
    conversation_id: str | None
    """The conversation the caller tracks (``gen_ai.conversation.id``); not sent."""


_COMMON_LOCAL = ("conversation_id", "extra_body")


_REQUIRED: object = Required


@cache
@functools.cache
def required_keys(params: type) -> frozenset[str]:
    """The ``Required`` keys of an API's parameter ``TypedDict``. Its ``__required_keys__``
    misses them when the module defining it postpones annotations (``from __future__ import
    annotations``: the class sees ``"Required[str]"`` as a string), so the hints are resolved
    (once per ``TypedDict``)."""
    hints: dict[str, object] = get_type_hints(params, include_extras=True)
    marked = {name for name, hint in hints.items() if get_origin(hint) is _REQUIRED}
    return frozenset(marked) | frozenset(getattr(params, "__required_keys__", ()))


def request_body(
    params: Mapping[str, object],
    required: Collection[str],
    local: Collection[str] = (),
    *,
    stream: bool = True,
) -> dict[str, object]:
    """The JSON body of a request from the keyword arguments of its ``stream()`` (or
    ``create()``, ``stream=False``: then ``stream`` is not sent, as the APIs' default): the
    API's parameters as its provider names them (each API's ``TypedDict``) and any further body
    field, as given. ``None`` means "not sent"; mappings and sequences (not strings) are sent as
    JSON objects and arrays; ``local`` names the arguments that are not body fields."""
    missing = [name for name in required if name not in params]
    if missing:
        call = "stream()" if stream else "create()"
        raise TypeError(f"{call} missing required keyword argument(s): {', '.join(missing)}")
    body: dict[str, object] = {"stream": True} if stream else {}
    for name, value in params.items():
        if value is None or name in local:
            continue
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            value = list(value)
        body[name] = value
    return body


def extra_body_of(params: Mapping[str, object]) -> dict[str, object]:
    """The ``extra_body`` argument: body fields merged last, as given."""
    extra = params.get("extra_body")
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra_body must be a mapping, got {type(extra).__name__}")
    return dict(extra)


def prepare_request(
    path: str,
    params: Mapping[str, object],
    kind: type,
    describe: Callable[[dict[str, object]], RequestInfo],
    parser: ParserFactory,
    *,
    local: Collection[str] = (),
    derived: Mapping[str, object] | None = None,
    stream: bool = True,
) -> PreparedRequest:
    """The ``POST`` to ``path`` from the keyword arguments of an API's ``stream()`` (or, with
    ``stream=False``, its ``create()``: the reply is one JSON document).

    ``kind`` is the API's parameter ``TypedDict`` (its required keys must be given). The body is
    :func:`request_body` of ``params`` (``local`` names the API's own arguments that
    are not body fields), then the ``derived`` fields the API made of those, then ``extra_body``;
    ``describe`` reads the final body into the request's :class:`RequestInfo`, which names the
    caller's ``conversation_id`` when one is given.
    """
    required = required_keys(kind)
    body = request_body(params, required, (*_COMMON_LOCAL, *local), stream=stream)
    if derived:
        body.update(derived)
    body.update(extra_body_of(params))
    info = describe(body).in_conversation(params.get("conversation_id"))
    if not stream:
        info = replace(info, stream=False)
    return PreparedRequest(path=path, body=body, info=info, parser=parser, stream=stream)


def int_of(value: object) -> int | None:
    """A body value as an ``int`` for :class:`RequestInfo` (``None`` if it is none)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def float_of(value: object) -> float | None:
    """A body value as a ``float`` for :class:`RequestInfo` (``None`` if it is no number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def str_of(value: object) -> str | None:
    """A body value as a ``str`` for :class:`RequestInfo` (``None`` if it is none)."""
    return value if isinstance(value, str) else None


def conversation_id_of(value: object) -> str | None:
    """The id of a conversation as a request names it: the id itself, or an object with an
    ``id`` (the Responses API's ``conversation`` parameter takes either)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class PreparedRequest(Record):
    """An HTTP request ready to send, minus authentication (the client adds that), with the
    parser that reads its streamed reply."""

    path: str
    body: dict[str, object] | None
    """The JSON body (``None`` for a ``GET``)."""
    info: RequestInfo
    parser: ParserFactory
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    query: tuple[tuple[str, str], ...] = ()
    stream: bool = True
    """Whether the reply is an event stream; else one JSON document (a ``create()``), which the
    parser reads with ``feed_body``."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ApiVersioning(Record):
    """How a provider whose API is chosen by an API version in the query lays out its URLs (Azure
    OpenAI's, as the openai SDK's ``AzureOpenAI`` builds them): data the client applies.

    With a dated API version (the classic data-plane API), requests go under
    :attr:`dated_path` with ``?api-version=...``, and the paths in :attr:`deployment_paths`
    under ``deployments/{deployment}`` too. Without one, or with one of
    :attr:`rolling_versions`, they go under :attr:`v1_path` (the v1 API), the deployment named
    by the request's model. Either path is appended only to a bare endpoint (a base URL
    without a path); a base URL with a path is used as is.
    """

    env: str
    """Environment variable read when no ``api_version`` is given."""
    dated_path: str
    """Appended to a bare endpoint under a dated API version."""
    v1_path: str
    """Appended to a bare endpoint otherwise."""
    deployment_paths: frozenset[str] = frozenset()
    """API paths sent as ``deployments/{deployment}{path}`` under a dated API version."""
    rolling_versions: tuple[str, ...] = ()
    """API versions of the v1 API (sent in the query, but no deployment in the path)."""
    query_parameter: str = "api-version"

    def routes(self, api_version: str | None) -> tuple[str, frozenset[str]]:
        """The path appended to a bare endpoint and the API paths routed under a deployment,
        with ``api_version`` (``None``: none given)."""
        if api_version is None or api_version.lower() in self.rolling_versions:
            return self.v1_path, frozenset()
        return self.dated_path, self.deployment_paths


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Provider(Record):
    """Where a provider's API lives and how it authenticates: what a client must not hard-code.

    One description serves every API of the provider (OpenAI's Responses and Chat Completions
    share it); the path and parser of each API come with its :class:`PreparedRequest`.
    """

    name: str
    api_key_env: str
    """Environment variable read when no ``api_key`` is given."""
    base_url_env: str
    """Environment variable read when no ``base_url`` is given."""
    default_base_url: str | None
    """``None``: the provider has no one endpoint, so the client needs a base URL."""
    api_key_header: str = "Authorization"
    api_key_prefix: str = "Bearer "
    headers: tuple[tuple[str, str], ...] = ()
    """Headers sent with every request (such as an API version)."""
    request_id_headers: tuple[str, ...] = ("x-request-id", "request-id")
    """Response headers that carry the provider's request id, first match wins."""
    versioning: ApiVersioning | None = None
    """How an API version chooses the URLs (``None``: the provider has no such version)."""

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that authenticate a request with ``api_key``."""
        return {**dict(self.headers), self.api_key_header: self.api_key_prefix + api_key}


class Parser(Protocol):
    """A sans-IO stream parser: server-sent events in, normalized events out."""

    unknown_count: int
    malformed_count: int
    done: bool

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Parse one server-sent event."""
        ...

    def feed_raw(self, event: str, data: str | bytes) -> list[StreamEvent]:
        """Parse one event given as its type and data (UTF-8 ``bytes`` as
        :meth:`~spanstream.sse.SSEDecoder.feed_raw` returns it, or ``str``)."""
        ...

    def feed_events(self, events: Sequence[RawEvent], out: MutableSequence[StreamEvent]) -> int:
        """Parse decoded events in order, appending what they mean to ``out``; returns how
        many were read (fewer than all when the response ended before the rest, which are
        not parsed). What :meth:`feed_raw` for each of them gives."""
        ...

    def close(self) -> list[StreamEvent]:
        """Signal the end of the stream; returns any events that the end implies."""
        ...

    def feed_body(self, data: bytes) -> list[StreamEvent]:
        """Parse a reply that was not streamed: the API's whole response as one JSON document,
        folded into the same :attr:`response` as a stream's events are (``done`` afterwards).
        Raises :class:`~spanstream.errors.MalformedEventError` if it cannot be read."""
        ...

    def cursor(self, data: bytes) -> int | None:
        """Where a stream could be resumed after the event whose data this is (its sequence
        number, in the APIs that have one), or ``None``."""
        ...

    @property
    def response(self) -> Response:
        """The response accumulated so far."""
        ...

    @property
    def error(self) -> ProviderError | None:
        """The provider error reported inside the stream, if any."""
        ...

    @property
    def result(self) -> object:
        """What ``create()`` returns once the reply is read: the :attr:`response` of an
        inference API; an API whose reply is something else (embeddings) returns its own."""
        ...


class ParserFactory(Protocol):
    """Makes a fresh :class:`Parser` for one stream (a parser class is one)."""

    def __call__(self, *, strict: bool) -> Parser: ...


class _FirstUse:
    """A :class:`ParserFactory` that imports its parser class when it makes the first parser:
    a parser module brings its API's event handling (and, at the first parser, its pydantic wire
    models), which ``import spanstream`` does not need until a stream of that API starts."""

    __slots__ = ("_class", "_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._class: Callable[..., Parser] | None = None

    def __call__(self, *, strict: bool, **options: Any) -> Parser:
        parser_class = self._class
        if parser_class is None:
            parser_class = self._class = getattr(importlib.import_module(self._module), self._name)
        return parser_class(strict=strict, **options)

    def __repr__(self) -> str:
        return f"<parser {self._module}.{self._name}, imported on first use>"


def first_use(package: str, name: str) -> Callable[..., Parser]:
    """The factory of the parser class ``name`` of the provider package ``package`` (in its
    ``parser`` module), imported when the first parser is made; keyword arguments besides
    ``strict`` go to the class (the embeddings parser's ``inputs``)."""
    return _FirstUse(f"{package}.parser", name)
