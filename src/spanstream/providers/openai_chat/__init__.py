"""OpenAI Chat Completions (``POST /v1/chat/completions`` with ``stream: true``), as spoken by
OpenAI and by the compatible servers (vLLM, llama.cpp, Ollama, gateways)."""

from .parser import ChatCompletionsParser
from .request import ChatParams, build_request

__all__ = ["ChatParams", "ChatCompletionsParser", "build_request"]
