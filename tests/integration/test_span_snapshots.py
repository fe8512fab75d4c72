"""Golden-file tests of whole span trees, and the snapshot helpers they rest on.

The golden files in ``tests/fixtures/golden/`` are the reviewed span output of spanstream for
real recordings. Regenerate them after an intended change with
``SPANSTREAM_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/integration/test_span_snapshots.py``
and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spanstream import ResponseFailedError
from spanstream.testing import (
    UPDATE_SNAPSHOTS_ENV,
    GenAITelemetry,
    ReplayServer,
    assert_snapshot,
    span_snapshot,
)

from ..conftest import FIXTURES

GOLDEN = FIXTURES / "golden"


def test_completed_stream_under_an_application_span_matches_its_golden_file(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    client = genai_telemetry.client(sse_replay_server)
    tracer = genai_telemetry.tracer_provider.get_tracer("app")
    with (
        tracer.start_as_current_span("handle_question", attributes={"app.user": "u1"}),
        client.responses.stream(model="gpt-4.1", input="4+5?") as stream,
    ):
        stream.final_response()
    assert_snapshot(genai_telemetry.snapshot(), GOLDEN / "completed-under-parent.json")


def test_failed_stream_matches_its_golden_file(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording(
        "openai-responses/gpt-5-error-event-then-response-failed"
    )
    client = genai_telemetry.client(sse_replay_server)
    with (
        pytest.raises(ResponseFailedError),
        client.responses.stream(model="gpt-5", input="hi") as stream,
    ):
        stream.final_response()
    assert_snapshot(genai_telemetry.snapshot(), GOLDEN / "response-failed.json")


def test_snapshots_of_two_runs_are_identical(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    client = genai_telemetry.client(sse_replay_server)
    snapshots = []
    for _ in range(2):
        sse_replay_server.reply_with_recording("openai-responses/gpt-4o-cached-tokens")
        with client.responses.stream(model="gpt-4o", input="hi") as stream:
            stream.final_response()
        snapshots.append(span_snapshot(genai_telemetry.inference_span()))
        genai_telemetry.clear()
    assert snapshots[0] == snapshots[1]
    attributes = snapshots[0]["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["gen_ai.response.time_to_first_chunk"] == "<double>"
    assert attributes["server.port"] == "<int>"
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1390


def test_children_nest_in_start_order_and_volatile_names_can_be_chosen(
    genai_telemetry: GenAITelemetry,
) -> None:
    tracer = genai_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("first", attributes={"n": 1, "when": "now"}):
            tracer.start_span("grandchild").end()
        tracer.start_span("second").end()
    (root,) = genai_telemetry.snapshot()
    assert root["name"] == "root"
    children = root["children"]
    assert isinstance(children, list)
    assert [child["name"] for child in children] == ["first", "second"]
    assert [grandchild["name"] for grandchild in children[0]["children"]] == ["grandchild"]
    first = next(span for span in genai_telemetry.spans if span.name == "first")
    assert span_snapshot(first, volatile={"when"})["attributes"] == {"n": 1, "when": "<string>"}


def test_assert_snapshot_shows_a_diff(tmp_path: Path) -> None:
    golden = tmp_path / "golden.json"
    golden.write_text(json.dumps({"a": 1, "b": [1, 2]}, indent=2, sort_keys=True) + "\n")
    assert_snapshot({"b": (1, 2), "a": 1}, golden)
    with pytest.raises(AssertionError) as raised:
        assert_snapshot({"a": 2, "b": [1, 2]}, golden)
    message = str(raised.value)
    assert f"snapshot differs from {golden}" in message
    assert '-  "a": 1,' in message
    assert '+  "a": 2,' in message


def test_assert_snapshot_writes_a_missing_golden_file_and_fails(tmp_path: Path) -> None:
    golden = tmp_path / "new" / "golden.json"
    with pytest.raises(AssertionError, match="did not exist; wrote it"):
        assert_snapshot({"a": 1}, golden)
    assert json.loads(golden.read_text()) == {"a": 1}
    assert_snapshot({"a": 1}, golden)


def test_assert_snapshot_updates_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = tmp_path / "golden.json"
    golden.write_text('{"a": 1}\n')
    monkeypatch.setenv(UPDATE_SNAPSHOTS_ENV, "1")
    assert_snapshot({"a": 2}, golden)
    assert json.loads(golden.read_text()) == {"a": 2}
