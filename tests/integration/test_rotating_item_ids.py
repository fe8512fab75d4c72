"""A Responses server that gives each event of one output item its own id (issue #21).

GitHub Copilot's Responses endpoint gives every ``response.output_text.delta`` its own
``item_id``, and other ids again in ``response.output_item.done`` and ``response.completed``. Keyed
by id, the text came out three times (the deltas, the done item, then the terminal event's
back-fill) and the reasoning twice. An output item is its ``output_index``, as the openai SDK's
accumulator reads it.

No recording of such a server exists in the shared fixtures (checked: no recording gives one
output_index two item ids), so each stream here is a real recording whose ids are rewritten by
:func:`rotate_ids` — the content, order and framing stay as recorded.

* ``deltas``: every delta event gets a fresh ``item_id``; the items keep theirs (the official
  openai SDK accepts this stream, so its assembled text is the reference);
* ``everywhere``: the done items and the terminal event's output get fresh ids too (the SDK
  refuses this one, ``RuntimeError: ... identity``, so the reference is the deltas themselves and
  the same recording parsed unchanged).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import openai
import pytest

from spanstream import AsyncClient, Client, RetryPolicy
from spanstream.events import Response, TextDelta, ToolCallArgumentsDelta
from spanstream.testing import GenAITelemetry, ReplayServer, Reply, assert_inference_span

from ..recorded import OPENAI_RESPONSES, decode_responses, rewrite_payloads

RECORDINGS = [
    pytest.param(OPENAI_RESPONSES / name, id=name.removesuffix(".sse"))
    for name in (
        "o4-mini-reasoning-summary-encrypted-content.sse",  # reasoning, then a message
        "gpt-4o-two-parallel-function-calls.sse",  # two calls, argument deltas
        "gpt-4o-text-then-function-call.sse",
        "gpt-4o-web-search-url-citation-annotations.sse",  # citations name their message
    )
]
ROTATIONS = ["deltas", "everywhere"]


def rotate_ids(raw: bytes, where: str) -> bytes:
    """``raw`` with a fresh id in every event that names an item (see the module docstring)."""
    fresh = (f"rot_{n}" for n in itertools.count())

    def edit(payload: dict[str, Any]) -> bool:
        kind = payload.get("type", "")
        if "item_id" in payload and (kind.endswith(".delta") or where == "everywhere"):
            payload["item_id"] = next(fresh)
        elif where != "everywhere":
            return False
        elif kind == "response.output_item.done":
            payload["item"]["id"] = next(fresh)
        elif kind == "response.completed":
            for item in payload["response"]["output"]:
                item["id"] = next(fresh)
        else:
            return False  # response.output_item.added keeps the id the item is known by
        return True

    return rewrite_payloads(raw, edit)


def _without_ids(response: Response) -> dict[str, Any]:
    return {
        "text": response.text,
        "status": response.status,
        "finish_reason": response.finish_reason,
        "usage": response.usage,
        "tool_calls": [(c.call_id, c.name, c.arguments) for c in response.tool_calls],
        "reasoning": [(r.summary, r.content, r.encrypted_content) for r in response.reasoning],
        "citations": [(c.kind, c.url, c.start_index, c.end_index) for c in response.citations],
    }


def _deltas_text(raw: bytes) -> str:
    return "".join(
        json.loads(line[len(b"data: ") :])["delta"]
        for line in raw.splitlines()
        if line.startswith(b"data: ") and b'"response.output_text.delta"' in line
    )


@pytest.mark.parametrize("where", ROTATIONS)
@pytest.mark.parametrize("path", RECORDINGS)
def test_parser_keys_items_by_output_index(path: Path, where: str) -> None:
    raw = path.read_bytes()
    rotated = rotate_ids(raw, where)
    assert rotated != raw
    decoded = decode_responses(rotated)
    response = decoded.parser.response
    assert response.text == _deltas_text(raw)  # each delta once
    assert _without_ids(response) == _without_ids(decode_responses(raw).parser.response)
    assert decoded.parser.malformed_count == 0
    # Every event of one item names it by one id (each recording has at most one message).
    text_items = {event.item_id for event in decoded.of_type(TextDelta)}
    assert len(text_items) == (1 if response.text else 0)
    assert {citation.item_id for citation in response.citations} <= text_items
    # Argument deltas name their call (found through the item), as the final calls do.
    streamed: dict[str, str] = {}
    for delta in decoded.of_type(ToolCallArgumentsDelta):
        streamed[delta.call_id] = streamed.get(delta.call_id, "") + delta.delta
    assert streamed == {call.call_id: call.arguments for call in response.tool_calls}


def _sdk_text(server: ReplayServer, body: bytes) -> str:
    server.enqueue(Reply.sse(body))
    with (
        openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as sdk,
        sdk.responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        return stream.get_final_response().output_text


def _options(server: ReplayServer, telemetry: GenAITelemetry) -> dict[str, Any]:
    return {
        "api_key": "sk-test",
        "base_url": server.base_url,
        "tracer_provider": telemetry.tracer_provider,
        "retry": RetryPolicy(max_retries=0),
    }


@pytest.mark.parametrize("path", RECORDINGS)
def test_client_text_equals_the_openai_sdk_s_with_an_id_per_delta(
    path: Path, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    rotated = rotate_ids(path.read_bytes(), "deltas")
    expected = _sdk_text(sse_replay_server, rotated)
    sse_replay_server.enqueue(Reply.sse(rotated))
    with (
        Client(**_options(sse_replay_server, genai_telemetry)) as client,
        client.responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        response = stream.final_response()
    assert response.text == expected
    assert_inference_span(genai_telemetry.inference_span(), outcome="completed")


@pytest.mark.parametrize("path", RECORDINGS)
async def test_async_client_with_ids_everywhere_reads_each_item_once(
    path: Path, sse_replay_server: ReplayServer, genai_telemetry: GenAITelemetry
) -> None:
    sse_replay_server.enqueue(Reply.sse(rotate_ids(_read(path), "everywhere")))
    async with (
        AsyncClient(**_options(sse_replay_server, genai_telemetry)) as client,
        client.responses.stream(model="gpt-4o", input="hi") as stream,
    ):
        response = await stream.final_response()
    assert _without_ids(response) == _without_ids(decode_responses(_read(path)).parser.response)
    assert_inference_span(genai_telemetry.inference_span(), outcome="completed")


def _read(path: Path) -> bytes:
    return path.read_bytes()
