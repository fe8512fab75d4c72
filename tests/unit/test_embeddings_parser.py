"""The embeddings provider package, sans I/O: the request it builds, and the reply read into
vectors (floats or base64 of little-endian float32), a usage and what telemetry reads."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from spanstream.embeddings import EmbeddingsResponse
from spanstream.errors import MalformedEventError
from spanstream.events import Usage
from spanstream.providers.openai_embeddings import EmbeddingsParser, build_request
from spanstream.providers.openai_embeddings.request import input_count
from spanstream.testing import embeddings_body

FIXTURES = Path(__file__).parents[1] / "fixtures" / "openai-embeddings"


def _parse(body: bytes | dict[str, Any], **options: Any) -> EmbeddingsParser:
    parser = EmbeddingsParser(**options)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert parser.feed_body(data) == []
    return parser


def _float32(values: list[float]) -> tuple[float, ...]:
    """The values as float32 would hold them (what a base64 reply carries)."""
    return struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values))


# --- the reply ---------------------------------------------------------------------------------


def test_a_recorded_float_reply_is_read_in_full() -> None:
    parser = _parse((FIXTURES / "text-embedding-3-small-dimensions-512.json").read_bytes())
    recorded = json.loads((FIXTURES / "text-embedding-3-small-dimensions-512.json").read_text())
    result = parser.result
    assert isinstance(result, EmbeddingsResponse)
    assert result.vectors == (tuple(recorded["data"][0]["embedding"]),)
    assert result.model == "text-embedding-3-small"
    assert result.usage == Usage(input_tokens=8, total_tokens=8)
    assert result.dimension_count == 512
    assert parser.done
    assert parser.malformed_count == 0


def test_a_recorded_base64_reply_decodes_as_little_endian_float32() -> None:
    recorded = json.loads((FIXTURES / "text-embedding-3-small-base64.json").read_text())
    encoded = recorded["data"][0]["embedding"]
    raw = base64.b64decode(encoded)
    expected = struct.unpack(f"<{len(raw) // 4}f", raw)
    result = _parse((FIXTURES / "text-embedding-3-small-base64.json").read_bytes()).result
    assert result.vectors == (expected,)
    assert result.dimension_count == 1536
    # A real embedding is normalized: a wrong byte order would give garbage, not length 1.
    assert sum(x * x for x in result.vectors[0]) == pytest.approx(1.0, abs=1e-3)


def test_base64_and_float_replies_of_the_same_vectors_agree() -> None:
    vectors = [[0.25, -1.5, 3.0e-7], [1.0, 0.0, -0.125]]
    floats = _parse(embeddings_body(vectors)).result
    packed = _parse(embeddings_body(vectors, encoding_format="base64")).result
    assert floats.vectors == tuple(tuple(v) for v in vectors)
    assert packed.vectors == tuple(_float32(v) for v in vectors)


def test_vectors_follow_the_index_not_the_listing_order() -> None:
    body = {
        "data": [
            {"index": 2, "embedding": [2.0]},
            {"index": 0, "embedding": [0.0]},
            {"index": 1, "embedding": [1.0]},
        ],
        "model": "m",
    }
    assert _parse(body, inputs=3).result.vectors == ((0.0,), (1.0,), (2.0,))


def test_a_reply_without_indexes_keeps_its_order() -> None:
    body = {"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]}
    assert _parse(body).result.vectors == ((1.0,), (2.0,))


def test_what_telemetry_reads_of_the_reply() -> None:
    parser = _parse(embeddings_body([[0.5, 0.5, 0.5]], model="m-1", prompt_tokens=4))
    response = parser.response
    assert response.status == "completed"
    assert response.model == "m-1"
    assert response.usage == Usage(input_tokens=4, total_tokens=4)
    assert response.dimension_count == 3
    assert response.finish_reasons == ()
    assert response.finish_reason is None
    assert parser.error is None


def test_a_reply_without_usage_has_none() -> None:
    parser = _parse(embeddings_body([[1.0]]))
    assert parser.result.usage is None
    assert parser.response.usage is None


def test_an_error_with_a_success_status_is_a_failed_response() -> None:
    body = {"error": {"message": "quota exceeded", "type": "insufficient_quota", "code": None}}
    parser = _parse(body)
    assert parser.done
    assert parser.response.status == "failed"
    assert parser.error is not None
    assert parser.error.message == "quota exceeded"
    assert parser.error.code == "insufficient_quota"


def _items(*items: dict[str, object]) -> bytes:
    return json.dumps({"data": list(items)}).encode()


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (b"[1, 2]", "payload"),
        (b'{"object": "list", "model": "m"}', "no embeddings"),
        (_items({"index": 0, "embedding": "not base64!"}), "not base64"),
        (_items({"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": "AAA="}), "float32"),
        (_items({"index": 0, "embedding": ["x"]}), "data.0.embedding"),
        (_items({"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}), "0..n-1"),
        (_items({"index": 0, "embedding": [1]}, {"embedding": [2]}), "0..n-1"),
        (_items({"index": -1, "embedding": [1]}), "data.0.index"),
    ],
)
def test_a_reply_that_cannot_be_read_raises_a_typed_error(
    body: bytes, reason: str, strict: bool
) -> None:
    parser = EmbeddingsParser(strict=strict)
    with pytest.raises(MalformedEventError, match="malformed Embeddings reply") as caught:
        parser.feed_body(body)
    assert reason in str(caught.value)
    # Not chained to the pydantic error, which quotes the payload.
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_the_error_never_quotes_the_payload() -> None:
    secret = "my private text"
    with pytest.raises(MalformedEventError) as caught:
        EmbeddingsParser().feed_body(json.dumps({"data": [{"embedding": [secret]}]}).encode())
    assert secret not in str(caught.value)


def test_a_vector_count_unlike_the_inputs_count_raises() -> None:
    with pytest.raises(MalformedEventError, match=r"2 embedding\(s\) for 3 input\(s\)"):
        EmbeddingsParser(inputs=3).feed_body(json.dumps(embeddings_body([[1.0], [2.0]])).encode())


def test_a_bad_usage_is_dropped_alone_and_counted() -> None:
    body = {"data": [{"index": 0, "embedding": [1.0]}], "model": "m", "usage": "lots"}
    parser = _parse(body)
    assert parser.result.vectors == ((1.0,),)
    assert parser.result.usage is None
    assert parser.malformed_count == 1
    with pytest.raises(MalformedEventError, match="usage dropped"):
        EmbeddingsParser(strict=True).feed_body(json.dumps(body).encode())


def test_an_event_stream_is_not_an_embeddings_reply() -> None:
    parser = EmbeddingsParser()
    events = parser.feed_raw("message", b'{"data": []}')
    assert parser.unknown_count == 1
    assert len(events) == 1
    assert parser.close() == []
    assert not parser.done


# --- the request -------------------------------------------------------------------------------


def test_the_request_asks_for_base64_unless_a_format_is_given() -> None:
    prepared = build_request(model="text-embedding-3-small", input="hi")
    assert prepared.path == "/embeddings"
    assert not prepared.stream
    assert prepared.body == {
        "model": "text-embedding-3-small",
        "input": "hi",
        "encoding_format": "base64",
    }
    info = prepared.info
    assert (info.operation, info.family, info.stream) == ("embeddings", "embeddings", False)
    assert info.encoding_formats == ("base64",)
    assert info.dimension_count is None

    floats = build_request(
        model="m", input=["a", "b"], encoding_format="float", dimensions=256, user="u-1"
    )
    assert floats.body == {
        "model": "m",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 256,
        "user": "u-1",
    }
    assert floats.info.encoding_formats == ("float",)
    assert floats.info.dimension_count == 256


def test_extra_body_wins_and_is_what_telemetry_reads() -> None:
    prepared = build_request(
        model="m", input=["a", "b"], extra_body={"encoding_format": "float", "input": ["c"]}
    )
    assert prepared.body is not None
    assert prepared.body["encoding_format"] == "float"
    assert prepared.body["input"] == ["c"]
    assert prepared.info.encoding_formats == ("float",)
    parser = prepared.parser(strict=False)
    with pytest.raises(MalformedEventError, match=r"for 1 input"):
        parser.feed_body(json.dumps(embeddings_body([[1.0], [2.0]])).encode())


def test_the_request_needs_model_and_input_and_has_no_conversation() -> None:
    with pytest.raises(TypeError, match="input"):
        build_request(model="m")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="conversation_id"):
        build_request(model="m", input="x", conversation_id="c-1")


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("a text", 1),
        (["a", "b", "c"], 3),
        ([1, 2, 3], 1),
        ([[1, 2], [3]], 2),
        ([], 0),
        ({"not": "an input"}, None),
        ([1.5], None),
        (None, None),
    ],
)
def test_how_many_vectors_an_input_asks_for(value: object, count: int | None) -> None:
    assert input_count(value) == count
