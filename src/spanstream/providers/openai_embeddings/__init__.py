"""OpenAI embeddings (``POST /v1/embeddings``), as spoken by OpenAI and the compatible servers:
one JSON reply, floats or base64."""

from .parser import EmbeddingsParser
from .request import EmbeddingsParams, build_request

__all__ = ["EmbeddingsParams", "EmbeddingsParser", "build_request"]
