"""OpenAI embeddings (``POST /v1/embeddings``), as spoken by OpenAI and the compatible servers:
one JSON reply, floats or base64."""

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes
from .request import EmbeddingsParams, build_request

if TYPE_CHECKING:
    from .parser import EmbeddingsParser

__all__ = ["EmbeddingsParams", "EmbeddingsParser", "build_request"]

if not TYPE_CHECKING:
    # The parser (and its wire models) is imported when the first request of the API is made.
    __getattr__, __dir__ = lazy_attributes(__name__, {f"{__name__}.parser": ["EmbeddingsParser"]})
