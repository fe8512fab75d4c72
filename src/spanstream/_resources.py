"""The APIs a client offers (``client.responses``, ``client.chat.completions``,
``client.messages``), each written once for the sync and the async client.

An API is described by its provider package: a ``TypedDict`` of its parameters and a
``build_request`` that turns them into a :class:`~spanstream.providers.base.PreparedRequest`.
A resource here only gives that description a typed ``stream(**params)`` and ``create(**params)``
(``Unpack`` keeps the keyword arguments known to editors and type checkers) and hands the
request to its client, whose ``_stream`` returns a :class:`~spanstream.Stream` or an
:class:`~spanstream.AsyncStream`, and whose ``_create`` reads the reply that is not streamed
into the same :class:`~spanstream.events.Response` (a coroutine of it for the async client),
or into what the API's parser gives instead (:attr:`~spanstream.providers.base.Parser.result`:
:class:`Embeddings` returns an :class:`~spanstream.embeddings.EmbeddingsResponse`).
A new API is a new provider package and one class here.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, cast

from typing_extensions import Unpack

from ._lazy import first_use_module
from .events import Response
from .providers.base import Api, PreparedRequest
from .stream import AsyncStream, Stream

if TYPE_CHECKING:
    from .embeddings import EmbeddingsResponse
    from .providers.anthropic_messages import MessagesParams
    from .providers.anthropic_messages import request as anthropic_messages
    from .providers.openai_chat import ChatParams
    from .providers.openai_chat import request as openai_chat
    from .providers.openai_embeddings import EmbeddingsParams
    from .providers.openai_embeddings import request as openai_embeddings
    from .providers.openai_responses import ResponsesParams
    from .providers.openai_responses import request as openai_responses
else:
    # Each API's request builder is imported by its first request: an application uses one or
    # two of the APIs, and ``import spanstream`` needs none.
    anthropic_messages, openai_chat, openai_embeddings, openai_responses = (
        first_use_module(__name__, f"spanstream.providers.{name}.request", name)
        for name in ("anthropic_messages", "openai_chat", "openai_embeddings", "openai_responses")
    )

__all__ = [
    "AGENT_APIS",
    "AgentApi",
    "Chat",
    "ChatCompletions",
    "Embeddings",
    "Messages",
    "Resource",
    "Responses",
]

S = TypeVar("S", Stream, AsyncStream)
S_co = TypeVar("S_co", Stream, AsyncStream, covariant=True)
C = TypeVar("C", Response, Coroutine[Any, Any, Response])
C_co = TypeVar("C_co", Response, Coroutine[Any, Any, Response], covariant=True)
E = TypeVar("E", "EmbeddingsResponse", "Coroutine[Any, Any, EmbeddingsResponse]")


class Streams(Protocol[S_co, C_co]):
    """A client: it sends a prepared request as a stream of its kind, or reads the reply that
    is not streamed into a response (at once, or as a coroutine)."""

    def _stream(self, prepared: PreparedRequest) -> S_co: ...

    def _create(self, prepared: PreparedRequest) -> C_co: ...


class Resource(Generic[S, C]):
    """An API of a client, offered as the client's attribute ``attribute``; ``agent_api``
    names it for ``client.agent(api=...)`` (None: no agent runs over it)."""

    attribute: ClassVar[str]
    agent_api: ClassVar[Api | None] = None

    def __init__(self, client: Streams[S, C]) -> None:
        self._client: Streams[S, C] = client


class Responses(Resource[S, C]):
    """``client.responses``: the OpenAI Responses API."""

    attribute = "responses"
    agent_api = "responses"

    def stream(self, **params: Unpack[ResponsesParams]) -> S:
        """Stream a response (the parameters: :class:`~spanstream.providers.openai_responses.
        ResponsesParams`; any further keyword is sent as a body field as is).

        >>> with client.responses.stream(model="gpt-4.1", input="Say hi") as stream:
        ...     for event in stream:
        ...         if isinstance(event, TextDelta):
        ...             print(event.text, end="")

        With an :class:`~spanstream.AsyncClient`: ``async with`` and ``async for``.
        """
        return self._client._stream(openai_responses.build_request(**params))

    def create(self, **params: Unpack[ResponsesParams]) -> C:
        """Create a response without streaming it (the parameters: those of :meth:`stream`):
        the same :class:`~spanstream.events.Response` as a stream's ``final_response()``,
        inside the same span (without ``gen_ai.request.stream``, which the conventions set
        only on a streamed request, and without time to first chunk). Raises
        :class:`~spanstream.errors.ResponseFailedError` if the response failed. With
        ``background=True`` the response comes back unfinished (``status`` ``in_progress``,
        its ``id`` to stream it by with :meth:`resume`).

        >>> response = client.responses.create(model="gpt-4.1", input="Say hi")
        >>> response.text
        """
        return self._client._create(openai_responses.build_request(stream=False, **params))

    def resume(self, response_id: str, *, starting_after: int | None = None) -> S:
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
        return self._client._stream(
            openai_responses.build_fetch_request(response_id, starting_after=starting_after)
        )


class ChatCompletions(Resource[S, C]):
    """``client.chat.completions``: OpenAI Chat Completions, also spoken by compatible servers
    (vLLM, llama.cpp, Ollama, gateways): point the client at one with ``base_url``."""

    def stream(self, **params: Unpack[ChatParams]) -> S:
        """Stream a chat completion (the parameters: :class:`~spanstream.providers.openai_chat.
        ChatParams`; any further keyword is sent as a body field as is).

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
        return self._client._stream(openai_chat.build_request(**params))

    def create(self, **params: Unpack[ChatParams]) -> C:
        """Create a chat completion without streaming it (the parameters: those of
        :meth:`stream`; ``include_usage`` does not apply: the reply always has its usage),
        returned as a :class:`~spanstream.events.Response` (see
        :meth:`Responses.create`)."""
        return self._client._create(openai_chat.build_request(stream=False, **params))


class Chat(Resource[S, C]):
    """``client.chat``: holds :class:`ChatCompletions` as ``completions``."""

    attribute = "chat"
    agent_api = "chat"

    def __init__(self, client: Streams[S, C]) -> None:
        self._client = client
        self.completions: ChatCompletions[S, C] = ChatCompletions(client)


class Messages(Resource[S, C]):
    """``client.messages``: the Anthropic Messages API."""

    attribute = "messages"
    agent_api = "anthropic"

    def stream(self, **params: Unpack[MessagesParams]) -> S:
        """Stream a message (the parameters: :class:`~spanstream.providers.anthropic_messages.
        MessagesParams`; any further keyword is sent as a body field as is).
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
        return self._client._stream(anthropic_messages.build_request(**params))

    def create(self, **params: Unpack[MessagesParams]) -> C:
        """Create a message without streaming it (the parameters: those of :meth:`stream`),
        returned as a :class:`~spanstream.events.Response` (see :meth:`Responses.create`)."""
        return self._client._create(anthropic_messages.build_request(stream=False, **params))


class Embeddings(Resource[Any, Any], Generic[E]):
    """``client.embeddings``: OpenAI embeddings, also spoken by compatible servers (vLLM,
    llama.cpp, Ollama, gateways). ``E`` is what :meth:`create` returns: an
    :class:`~spanstream.embeddings.EmbeddingsResponse`, or a coroutine of it for the async
    client."""

    attribute = "embeddings"

    def create(self, **params: Unpack[EmbeddingsParams]) -> E:
        """Embed ``input`` (the parameters: :class:`~spanstream.providers.openai_embeddings.
        EmbeddingsParams`), inside an ``embeddings {model}`` span, with the same retries,
        errors and secret scrubbing as a stream. Raises
        :class:`~spanstream.errors.MalformedEventError` if the reply cannot be read (or has
        fewer or more vectors than inputs).

        >>> result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        >>> len(result.vectors), result.dimension_count
        (2, 1536)
        """
        # The client returns the parser's result (an EmbeddingsResponse), awaitable from an
        # async client: what ``E`` names, which typing cannot derive from the client's kind.
        return cast(E, self._client._create(openai_embeddings.build_request(**params)))


class AgentApi(NamedTuple):
    """How an agent's turns use an API: the client's stream method for a turn, and the
    options every turn gets unless the caller gives them."""

    stream: Callable[[Any], Callable[..., Any]]
    defaults: Mapping[str, object] = {}  # never mutated: read into each turn's options


AGENT_APIS: dict[Api, AgentApi] = {
    "responses": AgentApi(lambda client: client.responses.stream),
    "chat": AgentApi(lambda client: client.chat.completions.stream),
    # Anthropic requires max_tokens on every request; a turn gets room to answer.
    "anthropic": AgentApi(lambda client: client.messages.stream, {"max_tokens": 4096}),
}
