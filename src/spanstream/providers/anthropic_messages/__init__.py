"""Anthropic Messages (``POST /v1/messages`` with ``stream: true``)."""

from .parser import MessagesParser
from .request import build_request

__all__ = ["MessagesParser", "build_request"]
