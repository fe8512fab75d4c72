"""Anthropic Messages (``POST /v1/messages``, streamed with ``stream: true`` or not)."""

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes
from .request import MessagesParams, build_request

if TYPE_CHECKING:
    from .parser import MessagesParser

__all__ = ["MessagesParams", "MessagesParser", "build_request"]

if not TYPE_CHECKING:
    # The parser (and its wire models) is imported when the first stream of the API starts.
    __getattr__, __dir__ = lazy_attributes(__name__, {f"{__name__}.parser": ["MessagesParser"]})
