"""Anthropic Messages (``POST /v1/messages`` with ``stream: true``)."""

from .parser import MessagesParser
from .request import MessagesParams, build_request

__all__ = ["MessagesParams", "MessagesParser", "build_request"]
