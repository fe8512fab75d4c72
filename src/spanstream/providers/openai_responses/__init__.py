"""OpenAI Responses API (``POST /v1/responses``, streamed or not; ``GET /v1/responses/{id}``
with ``stream=true`` to stream a stored response)."""

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes
from .request import ResponsesParams, build_fetch_request, build_request

if TYPE_CHECKING:
    from .parser import ResponsesParser

__all__ = ["ResponsesParams", "ResponsesParser", "build_fetch_request", "build_request"]

if not TYPE_CHECKING:
    # The parser (and its wire models) is imported when the first stream of the API starts.
    __getattr__, __dir__ = lazy_attributes(__name__, {f"{__name__}.parser": ["ResponsesParser"]})
