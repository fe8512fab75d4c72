"""The spanstream pytest plugin: offline fixtures for testing code that streams LLM responses.

Installed with spanstream and registered through the ``pytest11`` entry point, so no conftest
is needed (``-p no:spanstream`` turns it off). Fixtures:

* ``genai_telemetry`` -- a `spanstream.testing.GenAITelemetry`: isolated in-memory tracer and
  meter providers for one test (the global providers are left alone), with ``client()`` /
  ``async_client()`` factories wired to them;
* ``sse_replay_server`` -- a started `spanstream.testing.ReplayServer` on 127.0.0.1 replaying
  recorded or built SSE streams with fault injection, closed after the test.

This is a top-level module, outside the ``spanstream`` package, so that registering the plugin
costs a test session nothing: importing ``spanstream`` loads httpx, pydantic and the
OpenTelemetry SDK (about 0.4 s), which every pytest run of an environment where spanstream is
installed would pay otherwise. The fixtures import spanstream when a test asks for them.
(Hypothesis ships its plugin the same way.) ``spanstream.testing.plugin`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from spanstream.testing import GenAITelemetry, ReplayServer

__all__ = ["genai_telemetry", "sse_replay_server"]


@pytest.fixture
def genai_telemetry() -> Iterator[GenAITelemetry]:
    """Isolated in-memory OpenTelemetry tracer and meter providers for one test.

    Spans: ``.spans``, ``.inference_spans``, ``.inference_span()``, ``.open_spans``; metrics:
    ``.metric_points(name)``; ``.clear()``; clients wired to both providers:
    ``.client(base_url)`` and ``.async_client(base_url)``. Clients from ``.client()`` and both
    providers are closed after the test.
    """
    from spanstream.testing.capture import GenAITelemetry

    telemetry = GenAITelemetry()
    try:
        yield telemetry
    finally:
        telemetry.close()


@pytest.fixture
def sse_replay_server() -> Iterator[ReplayServer]:
    """A started loopback `ReplayServer` (``.base_url`` ends in ``/v1``), closed after the test.

    Queue replies with ``.reply_with_recording(name, **faults)``, ``.reply_with_file(path,
    **faults)``, ``.reply_with_events(pairs, **faults)``, ``.reply_with_sse(body, **faults)``,
    ``.reply_with_error(status, body)`` or ``.enqueue(Reply...)``. The test errors if the
    server hit an unexpected exception while serving.
    """
    from spanstream.testing.replay import ReplayServer

    with ReplayServer() as server:
        yield server
    if server.errors:
        pytest.fail(f"ReplayServer raised while serving: {server.errors!r}", pytrace=False)
