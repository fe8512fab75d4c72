"""Test helpers shipped with spanstream: a loopback server replaying LLM streaming responses.

See `spanstream.testing.replay` for details.
"""

from .replay import Outcome, RecordedRequest, ReplayServer, Reply

__all__ = ["Outcome", "RecordedRequest", "ReplayServer", "Reply"]
