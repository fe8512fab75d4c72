"""Test helpers shipped with spanstream: a loopback server replaying LLM streaming responses.

See `spanstream.testing.replay` for the API and a usage example.
"""

from .replay import MALFORMED_DATA, ROUTES, Outcome, RecordedRequest, ReplayServer, Reply

__all__ = ["MALFORMED_DATA", "ROUTES", "Outcome", "RecordedRequest", "ReplayServer", "Reply"]
