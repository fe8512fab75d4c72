"""A traced workload for the Phoenix test: recorded streams through ``spanstream.configure()``.

Run as ``python -m tests.integration.phoenix_workload`` from the repository root, configured by
the standard variables only (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_PROTOCOL``,
``OTEL_SERVICE_NAME``, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``): ``configure()``
sets the global providers, which a process can set only once, hence a process of its own.

Under one application span it streams, against a loopback :class:`ReplayServer` serving real
recordings: a plain answer (sync client, with instructions), the recorded two-turn tool call
through the agent loop (async client), a stream the provider fails (``response.failed``) and a
429. Then it shuts telemetry down (which flushes the OTLP export) and prints one JSON document:
every span as the SDK finished it, read back through an in-memory exporter added beside the
exporter ``configure()`` built, so the test can compare what was sent with what arrived.
"""

from __future__ import annotations

import asyncio
import json
import sys
from importlib import resources
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import spanstream
from spanstream import APIStatusError, AsyncClient, Client, ResponseFailedError, RetryPolicy
from spanstream.testing import ReplayServer, Reply

RESPONSES = Path(__file__).resolve().parent.parent / "fixtures" / "openai-responses"
PLAIN = RESPONSES / "gpt-4.1-plain-text.sse"
FAILED = RESPONSES / "gpt-5-error-event-then-response-failed.sse"
AGENT_TURNS = ("demo-agent-turn-1.sse", "demo-agent-turn-2.sse")  # see spanstream/data

ROOT = "phoenix-workload"
INSTRUCTIONS = "Answer in one short sentence."
# The recorded request's own question.
PROMPT = json.loads(PLAIN.with_suffix(".request.json").read_text())["input"]
AGENT_PROMPT = "What is the temperature in Tokyo?"
NO_RETRY = RetryPolicy(max_retries=0)


def get_temperature(city: str) -> float:
    """Get the current temperature in a city."""
    return 21.0


async def _agent(base_url: str) -> None:
    async with AsyncClient(api_key="sk-phoenix-test", base_url=base_url, retry=NO_RETRY) as client:
        agent = client.agent(model="deepseek-v4-flash", tools=[get_temperature], name="weather")
        async with agent.stream(AGENT_PROMPT) as run:
            async for _ in run:
                pass


def run(server: ReplayServer) -> None:
    data = resources.files("spanstream.data")
    tracer = trace.get_tracer("tests.phoenix")
    with (
        tracer.start_as_current_span(ROOT),
        Client(api_key="sk-phoenix-test", base_url=server.base_url, retry=NO_RETRY) as client,
    ):
        server.enqueue(Reply.from_file(PLAIN))
        with client.responses.stream(
            model="gpt-4.1", input=PROMPT, instructions=INSTRUCTIONS
        ) as stream:
            stream.final_response()

        server.enqueue(*(Reply.sse(data.joinpath(name).read_bytes()) for name in AGENT_TURNS))
        asyncio.run(_agent(server.base_url))

        server.enqueue(Reply.from_file(FAILED))
        try:
            with client.responses.stream(model="gpt-5", input=PROMPT) as stream:
                stream.final_response()
        except ResponseFailedError:
            pass
        else:
            raise AssertionError("the recorded response.failed did not raise")

        server.enqueue(Reply.error(429))
        try:
            with client.responses.stream(model="gpt-4.1", input=PROMPT) as stream:
                stream.final_response()
        except APIStatusError:
            pass
        else:
            raise AssertionError("the 429 did not raise")


def _json_value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def describe(span: ReadableSpan) -> dict[str, object]:
    assert span.context is not None
    return {
        "name": span.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "status_message": span.status.description or "",
        "attributes": {key: _json_value(v) for key, v in (span.attributes or {}).items()},
    }


def main() -> int:
    handle = spanstream.configure()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), f"configure() set no SDK provider: {provider}"
    sent = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(sent))
    with ReplayServer() as server:
        run(server)
    handle.shutdown()
    json.dump([describe(span) for span in sent.get_finished_spans()], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
