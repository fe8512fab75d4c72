"""OpenAI Chat Completions (``POST /v1/chat/completions``, streamed or not), as spoken by
OpenAI and by the compatible servers (vLLM, llama.cpp, Ollama, gateways)."""

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes
from .request import ChatParams, build_request

if TYPE_CHECKING:
    from .parser import ChatCompletionsParser

__all__ = ["ChatParams", "ChatCompletionsParser", "build_request"]

if not TYPE_CHECKING:
    # The parser (and its wire models) is imported when the first stream of the API starts.
    __getattr__, __dir__ = lazy_attributes(
        __name__, {f"{__name__}.parser": ["ChatCompletionsParser"]}
    )
