"""OpenAI Chat Completions (``POST /v1/chat/completions`` with ``stream: true``), as spoken by
OpenAI and by the compatible servers (vLLM, llama.cpp, Ollama, gateways)."""

from .parser import ChatCompletionsParser
from .request import build_request

__all__ = ["ChatCompletionsParser", "build_request"]
