"""Pydantic models of the OpenAI ``/embeddings`` reply, as it arrives on the wire.

``{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [...]}],
"model": "...", "usage": {"prompt_tokens": 8, "total_tokens": 8}}``, where ``embedding`` is a
list of floats or, with ``encoding_format="base64"``, a base64 string of little-endian float32
(OpenAI API reference, "Create embeddings"; the recordings in ``tests/fixtures/openai-embeddings``).
The usage and model are dropped alone when invalid: the vectors are the answer. Only the fields
spanstream reads are declared; these models never leave the provider package.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from .._lenient import WIRE_CONFIG, Droppable, TokenCount
from ..openai_chat.wire import ErrorObject

__all__ = ["EmbeddingItem", "EmbeddingsList", "EmbeddingsUsage"]


class _Wire(BaseModel):
    model_config = WIRE_CONFIG


class EmbeddingItem(_Wire):
    index: Annotated[int, Field(strict=True, ge=0)] | None = None
    embedding: list[float] | str


class EmbeddingsUsage(_Wire):
    prompt_tokens: TokenCount = None
    total_tokens: TokenCount = None


class EmbeddingsList(_Wire):
    """The reply; ``error`` instead of ``data`` when a server reports a failure with a success
    status (gateways do)."""

    data: list[EmbeddingItem] | None = None
    model: Annotated[str | None, Droppable] = None
    usage: Annotated[EmbeddingsUsage | None, Droppable] = None
    error: Annotated[ErrorObject | None, Droppable] = None
