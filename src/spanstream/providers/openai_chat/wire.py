"""Pydantic models of OpenAI Chat Completions streaming chunks, as they arrive on the wire.

One model, :class:`ChatCompletionChunk`, covers every frame of a stream: OpenAI's and those of
the compatible servers recorded in ``tests/fixtures/openai-chat`` (Azure, DeepSeek, Groq,
Mistral, OpenRouter, Together, vLLM-style servers...). The models are deliberately lenient:
servers omit fields the API reference calls required (Azure's first chunk has empty ``id`` and
``model``, Mistral tool calls have no ``index``), so every field has a default and unknown
fields are ignored. Only the fields spanstream reads are declared. A completion that was not
streamed is :class:`ChatCompletion`: the same chunk, each choice with its whole message.

These models never leave the provider package: the parser turns them into
:mod:`spanstream.events`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from .._lenient import Droppable, LenientStr, TokenCount, Wire, built, decoders

__all__ = [
    "DROPPABLE",
    "EVENT_DECODERS",
    "NO_DELTA",
    "ChatCompletion",
    "PLAIN_DECODERS",
    "ChatCompletionChunk",
    "ErrorObject",
    "ErrorPayload",
    "PlainChunk",
    "UsageObject",
    "built",
]


class ErrorObject(Wire):
    message: str | None = None
    code: LenientStr = None
    type: LenientStr = None
    param: LenientStr = None


class ErrorPayload(Wire):
    """An in-stream error: ``{"error": {...}}`` (OpenAI, Groq) or the error's fields at the top
    level (``{"type": "error", "code": ..., "message": ...}``)."""

    error: ErrorObject | None = None
    message: str | None = None
    code: LenientStr = None
    type: LenientStr = None
    param: LenientStr = None


class PromptTokensDetails(Wire):
    cached_tokens: TokenCount = None


class CompletionTokensDetails(Wire):
    reasoning_tokens: TokenCount = None


class UsageObject(Wire):
    prompt_tokens: TokenCount = None
    completion_tokens: TokenCount = None
    total_tokens: TokenCount = None
    prompt_tokens_details: Annotated[PromptTokensDetails | None, Droppable] = None
    completion_tokens_details: Annotated[CompletionTokensDetails | None, Droppable] = None


class GroqExtension(Wire):
    """Groq's ``x_groq`` object, which carried the usage before ``stream_options`` existed."""

    usage: Annotated[UsageObject | None, Droppable] = None


class FunctionDelta(Wire):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(Wire):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionDelta | None = None


class ContentPart(Wire):
    """Mistral streams ``content`` as a list of parts: ``text``, or ``thinking`` with text parts."""

    type: str | None = None
    text: str | None = None
    thinking: list[ContentPart] | None = None


class Delta(Wire):
    content: str | list[ContentPart] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    """DeepSeek, Z.ai, vLLM: the reasoning text."""
    reasoning: str | None = None
    """OpenRouter, Groq, Ollama: the reasoning text."""
    tool_calls: list[ToolCallDelta] | None = None
    function_call: FunctionDelta | None = None
    """The deprecated ``functions`` API: one call per choice, with neither id nor index."""


class Choice(Wire):
    index: int | None = None
    delta: Delta | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(Wire):
    """One chunk. The fields around the choices (:data:`DROPPABLE`) are dropped alone when
    invalid, by the parser's revalidation: the last chunks carry the usage and finish reasons,
    and a bad usage must not cost the end of the answer. They are plain fields here because
    they come on every chunk (``usage`` as ``null``): a per-field validator would cost every
    chunk what only a bad one needs."""

    id: str | None = None
    model: str | None = None
    choices: list[Choice] | None = None
    usage: UsageObject | None = None
    service_tier: str | None = None
    system_fingerprint: str | None = None
    x_groq: GroqExtension | None = None
    error: ErrorObject | None = None
    """OpenRouter and others report a mid-stream failure inside an otherwise normal chunk."""


class MessageChoice(Choice):
    """A choice of a completion that was not streamed: its whole ``message``, read as the one
    delta it amounts to (a message has a delta's fields: content, refusal, reasoning, tool
    calls, whose ``index`` it leaves out)."""

    delta: Delta | None = Field(default=None, validation_alias="message")


class ChatCompletion(ChatCompletionChunk):
    """A completion that was not streamed (``chat.completion``): one chunk whose choices carry
    their whole message (:class:`MessageChoice`)."""

    # A list of MessageChoice is read as the list of Choice it is (never written to).
    choices: list[MessageChoice] | None = None  # type: ignore[assignment]


DROPPABLE = ("id", "model", "usage", "service_tier", "system_fingerprint", "x_groq")
"""The chunk's fields dropped alone when invalid (see :class:`ChatCompletionChunk`)."""

EVENT_DECODERS = decoders({"message": ChatCompletionChunk, "error": ErrorPayload})
"""Event type -> JSON decoder: every chunk is a data-only frame (``message``); some servers send
an ``error`` event. Each is built on first use."""

NO_DELTA = Delta.model_construct()
"""A delta with every field at its default (built without building the model's validator)."""


# A chunk that carries one choice's text and nothing else is nearly every chunk of a stream. It
# is first read as these typed dicts, which declare every field the models declare, with the
# models' types (a value the models would refuse fails here too, and takes their path to be
# mended or reported), but only as far as telling such a chunk from the others needs: validating
# into dicts costs a fraction of building the three models, and the parser takes the models'
# path for any other chunk.

_PLAIN = ConfigDict(extra="ignore")


@with_config(_PLAIN)
class PlainDelta(TypedDict, total=False):
    content: object
    """Text, or Mistral's list of parts (which takes the models' path)."""
    refusal: str | None
    reasoning_content: str | None
    reasoning: str | None
    tool_calls: list[object] | None
    function_call: object


@with_config(_PLAIN)
class _PlainChoice(TypedDict, total=False):
    index: int | None
    delta: PlainDelta | None
    finish_reason: str | None


@with_config(_PLAIN)
class PlainChunk(TypedDict, total=False):
    """A chunk as far as it tells whether it is one choice's text and nothing else. The fields
    that come on a few chunks of a stream only are ``null`` here, so that a chunk carrying one
    fails this decoder and takes the models' path."""

    id: str | None
    model: str | None
    choices: list[_PlainChoice] | None
    usage: None
    service_tier: str | None
    system_fingerprint: str | None
    x_groq: None
    error: None


PLAIN_DECODERS = decoders({"message": PlainChunk})
"""The decoder of :class:`PlainChunk` (built on first use, as :data:`EVENT_DECODERS`)."""
