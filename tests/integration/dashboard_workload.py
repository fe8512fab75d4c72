"""A workload for the dashboard test: real recorded streams, served for Prometheus to scrape.

Run as ``python -m tests.integration.dashboard_workload PORT SERVICE`` from the repository root.
It calls ``spanstream.configure(prometheus_port=PORT)`` and then, for every ``round`` line read
on standard input, replays :data:`PLAN` once through the real client against one loopback
:class:`~spanstream.testing.ReplayServer` (the same server, so every round produces the same
series) and prints one JSON line with what each stream did. End of input shuts it down.

The test imports :data:`PLAN` too, and computes what the dashboards must show from the
recordings themselves, never from this process's report.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import spanstream
from spanstream import (
    APIStatusError,
    AsyncClient,
    Client,
    ResponseFailedError,
    RetryPolicy,
)
from spanstream.testing import ReplayServer, Reply

RESPONSES = Path(__file__).resolve().parent.parent / "fixtures" / "openai-responses"

Kind = Literal["stream", "http_error", "abandon", "cancel"]


@dataclass(frozen=True)
class Step:
    """One stream of a round: how it is served and how the consumer ends it."""

    kind: Kind
    model: str
    """The request model (what the dashboard's ``model`` variable lists)."""
    fixture: str | None = None
    status: int | None = None
    outcome: str = "completed"
    """The ``spanstream.outcome`` this step must end with."""


# Every outcome the issue names, cached and reasoning tokens, and two HTTP failures.
PLAN: tuple[Step, ...] = (
    Step("stream", "gpt-4o", "gpt-4o-cached-tokens.sse"),  # in 1515, cached 1390, out 8
    Step("stream", "gpt-4.1", "gpt-4.1-plain-text.sse"),  # in 13, out 9
    Step("stream", "gpt-5", "gpt-5-reasoning-summary.sse"),  # out 839, reasoning 832
    Step("stream", "o4-mini", "o4-mini-reasoning-summary-encrypted-content.sse"),
    Step("stream", "gpt-4o", "gpt-4o-incomplete-max-output-tokens-long.sse", outcome="incomplete"),
    Step("stream", "gpt-5", "gpt-5-error-event-then-response-failed.sse", outcome="failed"),
    Step("http_error", "gpt-4.1", status=429, outcome="error"),
    Step("http_error", "gpt-4.1", status=500, outcome="error"),
    Step("abandon", "gpt-4.1", "gpt-4.1-plain-text.sse", outcome="abandoned"),
    Step("cancel", "gpt-4.1", "gpt-4.1-plain-text.sse", outcome="cancelled"),
)

NO_RETRY = RetryPolicy(max_retries=0)


def _sync_step(client: Client, server: ReplayServer, step: Step) -> str:
    if step.kind == "http_error":
        assert step.status is not None
        server.enqueue(Reply.error(step.status))
        try:
            with client.responses.stream(model=step.model, input="Hello") as stream:
                stream.final_response()
        except APIStatusError:
            return "error"
        return "no error"
    # An abandoned stream is held open after 4 events: nothing but the consumer ends it.
    hold = 4 if step.kind == "abandon" else None
    server.enqueue(Reply.from_file(RESPONSES / str(step.fixture), hold_after_events=hold))
    with client.responses.stream(model=step.model, input="Hello") as stream:
        try:
            for _ in stream:
                if step.kind == "abandon":
                    break
        except ResponseFailedError:
            pass
    return stream.outcome


async def _cancelled_step(base_url: str, server: ReplayServer, step: Step) -> str:
    server.enqueue(Reply.from_file(RESPONSES / str(step.fixture), hold_after_events=4))
    client = AsyncClient(api_key="sk-dashboard-test", base_url=base_url, retry=NO_RETRY)
    got_event = asyncio.Event()

    async def consume() -> None:
        async with client.responses.stream(model=step.model, input="Hello") as stream:
            async for _ in stream:
                got_event.set()

    task = asyncio.create_task(consume())
    await got_event.wait()
    # Cancel while the task is blocked reading the held response.
    await asyncio.to_thread(server.wait_for_hold, 1)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        outcome = "cancelled"
    else:
        outcome = "not cancelled"
    await client.aclose()
    return outcome


def run_round(server: ReplayServer) -> list[dict[str, object]]:
    """Replay :data:`PLAN` once; what each stream ended with and its wall-clock duration."""
    client = Client(api_key="sk-dashboard-test", base_url=server.base_url, retry=NO_RETRY)
    report: list[dict[str, object]] = []
    for step in PLAN:
        started = time.perf_counter()
        if step.kind == "cancel":
            outcome = asyncio.run(_cancelled_step(server.base_url, server, step))
        else:
            outcome = _sync_step(client, server, step)
        wall = time.perf_counter() - started
        report.append({"model": step.model, "outcome": outcome, "wall_seconds": wall})
    client.close()
    return report


def main(argv: list[str]) -> int:
    port, service = int(argv[1]), argv[2]
    telemetry = spanstream.configure(service_name=service, exporter="none", prometheus_port=port)
    print(json.dumps({"ready": port}), flush=True)
    with ReplayServer() as server:
        for line in sys.stdin:
            if line.strip() == "round":
                print(json.dumps({"round": run_round(server)}), flush=True)
    telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
