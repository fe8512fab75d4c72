"""OpenAI Responses API (``POST /v1/responses`` with ``stream: true``)."""

from .parser import ResponsesParser
from .request import build_request

__all__ = ["ResponsesParser", "build_request"]
