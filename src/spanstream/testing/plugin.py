"""The spanstream pytest plugin: offline fixtures for testing code that streams LLM responses.

Installed with spanstream and registered through the ``pytest11`` entry point, so no conftest
is needed (``-p no:spanstream`` turns it off). The fixtures live in the top-level module
``_spanstream_pytestplugin``, which the entry point names: registering it must not import
spanstream (see that module); this module re-exports them. Fixtures:

* ``genai_telemetry`` -- a `GenAITelemetry`: isolated in-memory tracer and meter providers for
  one test (the global providers are left alone), with ``client()`` / ``async_client()``
  factories wired to them;
* ``sse_replay_server`` -- a started `ReplayServer` on 127.0.0.1 replaying recorded or built
  SSE streams with fault injection, closed after the test.

::

    from spanstream.testing import GenAITelemetry, ReplayServer, assert_inference_span

    def test_answer(genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer) -> None:
        sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
        client = genai_telemetry.client(sse_replay_server)
        with client.responses.stream(model="gpt-4.1", input="4+5?") as stream:
            stream.final_response()
        assert_inference_span(genai_telemetry.inference_span(), outcome="completed")
"""

from __future__ import annotations

from _spanstream_pytestplugin import genai_telemetry, sse_replay_server

__all__ = ["genai_telemetry", "sse_replay_server"]
