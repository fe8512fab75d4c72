"""The bundled recordings and ReplayServer's one-call helpers (used through the plugin fixture)."""

from __future__ import annotations

import base64

import httpx
import pytest

from spanstream.testing import ReplayServer, Reply, recording, recording_names

from ..conftest import RESPONSES


def test_bundled_recordings_are_byte_identical_to_the_test_fixtures() -> None:
    names = recording_names()
    assert "openai-responses/gpt-4.1-plain-text" in names
    for name in names:
        api, stem = name.split("/")
        assert api == "openai-responses"
        assert recording(name).read_bytes() == (RESPONSES / f"{stem}.sse").read_bytes()


def test_recording_accepts_the_suffix_and_names_the_choices_when_unknown() -> None:
    assert recording("openai-responses/gpt-4.1-plain-text.sse") == recording(
        "openai-responses/gpt-4.1-plain-text"
    )
    with pytest.raises(LookupError, match="available: openai-responses/"):
        recording("openai-responses/nope")
    with pytest.raises(LookupError):
        recording("../recordings/openai-responses/gpt-4.1-plain-text")


def test_reply_helpers_queue_what_they_return(sse_replay_server: ReplayServer) -> None:
    plain = recording("openai-responses/gpt-4.1-plain-text")
    replies = [
        sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text"),
        sse_replay_server.reply_with_file(plain, chunk_size=7),
        sse_replay_server.reply_with_sse(b"data: {}\n\n"),
        sse_replay_server.reply_with_events([(None, "[DONE]")]),
        sse_replay_server.reply_with_error(429),
    ]
    assert replies[0] == Reply.from_file(plain)
    assert replies[1] == Reply.from_file(plain, chunk_size=7)
    assert replies[3].body == b"data: [DONE]\n\n"
    assert sse_replay_server.pending == 5
    with httpx.Client(base_url=sse_replay_server.base_url) as client:
        bodies = [client.post("responses", json={"n": n}) for n in range(5)]
    assert [response.status_code for response in bodies] == [200, 200, 200, 200, 429]
    assert bodies[0].content == bodies[1].content == plain.read_bytes()
    assert bodies[4].json()["error"]["code"] == "rate_limit_exceeded"
    assert sse_replay_server.last_request.json() == {"n": 4}


def test_last_request_before_any_request_fails_readably(sse_replay_server: ReplayServer) -> None:
    with pytest.raises(AssertionError, match="no request"):
        _ = sse_replay_server.last_request


def test_end_after_events_ends_the_body_cleanly_after_n_events(
    sse_replay_server: ReplayServer,
) -> None:
    sse_replay_server.reply_with_events(
        [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 3})], end_after_events=2
    )
    with httpx.Client(base_url=sse_replay_server.base_url) as client:
        body = client.post("responses").content  # a clean end: no protocol error
    assert body == b'event: a\ndata: {"n":1}\n\nevent: b\ndata: {"n":2}\n\n'
    assert sse_replay_server.wait_for_finished(1)
    assert sse_replay_server.outcomes == ["completed"]


def test_an_injected_error_can_end_the_stream(sse_replay_server: ReplayServer) -> None:
    sse_replay_server.reply_with_events(
        [("a", {"n": 1}), ("b", {"n": 2})], inject_error_after_events=1, end_after_events=1
    )
    with httpx.Client(base_url=sse_replay_server.base_url) as client:
        body = client.post("responses").content
    assert body.endswith(
        b'event: error\ndata: {"type":"error","code":"server_error",'
        b'"message":"injected error","sequence_number":1}\n\n'
    )
    assert b"event: b" not in body


def test_the_fixture_server_listens_on_loopback(sse_replay_server: ReplayServer) -> None:
    assert sse_replay_server.host == "127.0.0.1"
    assert sse_replay_server.base_url == f"http://127.0.0.1:{sse_replay_server.port}/v1"
    assert not sse_replay_server.closing


def test_json_and_embeddings_replies_answer_the_embeddings_route(
    sse_replay_server: ReplayServer,
) -> None:
    server = sse_replay_server
    raw = server.reply_with_json(b'{"data": []}')
    floats = server.reply_with_embeddings([[0.5, -2.0]], model="m", prompt_tokens=3)
    packed = server.reply_with_embeddings([[0.5, -2.0]], encoding_format="base64")
    assert raw.kind == "json"
    with httpx.Client(base_url=server.base_url) as client:
        # With and without /v1, as the other routes.
        answers = [
            client.post(path, json={}) for path in ("embeddings", "/embeddings", "embeddings")
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all(a.headers["content-type"] == "application/json" for a in answers)
    assert answers[0].content == b'{"data": []}'
    assert answers[0].headers["content-length"] == "12"
    assert answers[1].json() == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -2.0]}],
        "model": "m",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    # base64 of little-endian float32: 0.5 is 00 00 00 3f, -2.0 is 00 00 00 c0.
    encoded = answers[2].json()["data"][0]["embedding"]
    assert base64.b64decode(encoded) == b"\x00\x00\x00\x3f\x00\x00\x00\xc0"
    assert "usage" not in answers[2].json()
    assert floats.body != packed.body
