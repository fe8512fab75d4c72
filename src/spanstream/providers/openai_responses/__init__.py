"""OpenAI Responses API (``POST /v1/responses`` with ``stream: true``; ``GET /v1/responses/{id}``
with ``stream=true`` to stream a stored response)."""

from .parser import ResponsesParser
from .request import ResponsesParams, build_fetch_request, build_request

__all__ = ["ResponsesParams", "ResponsesParser", "build_fetch_request", "build_request"]
