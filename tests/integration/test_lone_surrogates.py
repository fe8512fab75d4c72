"""A lone UTF-16 surrogate escaped in a server's JSON (``"\\ud83d"`` with no low half) becomes
U+FFFD wherever spanstream decodes it, through the real client on loopback.

pydantic-core refuses such a payload and the lenient path decodes it with ``json``, which gives a
``str`` no UTF-8 encoder takes: the caller's response to its users, ``print`` and the OTLP
exporters would fail on it (a span status holding one fails the whole batch it is exported in).
Each test also checks that every span of the run encodes as an OTLP exporter encodes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanstream import (
    AnthropicClient,
    APIStatusError,
    AsyncClient,
    Client,
    InvalidRequestError,
    ResponseFailedError,
    RetryPolicy,
    TextDelta,
)
from spanstream._text import loads, usv
from spanstream.events import ToolCall
from spanstream.testing import ReplayServer, Reply

from ..recorded import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, rewrite_payloads
from .test_agent import text_turn, tool_turn

HIGH, LOW = "__lone_high__", "__lone_low__"
"""Marks put in a payload by ``rewrite_payloads``, written out as the escapes below (json.dumps
cannot write a lone surrogate to UTF-8)."""
ESCAPES = {HIGH.encode(): b"\\ud83d", LOW.encode(): b"\\ude00"}
MESSAGES = [{"role": "user", "content": "hi"}]


def _lone(raw: bytes, edit: Callable[[dict[str, Any]], bool]) -> bytes:
    body = rewrite_payloads(raw, edit)
    for mark, escape in ESCAPES.items():
        body = body.replace(mark, escape)
    assert body != raw
    return body


def _spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _encodes(spans: tuple[ReadableSpan, ...]) -> None:
    """Every span and attribute survives the OTLP encoder (it drops an attribute it cannot
    encode, with a logged traceback, and raises for a status it cannot)."""
    encoded = encode_spans(spans)
    names = [
        attribute.key
        for resource in encoded.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        for attribute in span.attributes
    ]
    assert sorted(names) == sorted(name for span in spans for name in span.attributes or {})


# -- the decoder ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b'"a\\ud83db"', "a\ufffdb"),
        (b'"a\\ude00b"', "a\ufffdb"),
        (b'"\\ude00\\ud83d"', "\ufffd\ufffd"),  # low then high: no pair
        (b'"a\\ud83d\\ude00b"', "a\U0001f600b"),  # a pair is one character
        (b'"\\\\ud83d"', "\\ud83d"),  # an escaped backslash: text, not an escape
        (b'{"\\ud83d": ["x\\udfff", {"k": "\\ud800"}]}', {"\ufffd": ["x\ufffd", {"k": "\ufffd"}]}),
        ('"a\ud83db"', "a\ufffdb"),  # a str may hold the surrogate itself
        (b'{"n": 1, "s": "plain"}', {"n": 1, "s": "plain"}),
    ],
)
def test_loads_replaces_each_lone_surrogate(document: str | bytes, expected: object) -> None:
    assert loads(document) == expected


def test_usv_keeps_good_text_and_replaces_lone_surrogates() -> None:
    assert usv("plain") == "plain"
    assert usv("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"
    assert usv("x\udc00y\ud800") == "x\ufffdy\ufffd"


def test_tool_arguments_with_a_lone_surrogate_decode() -> None:
    call = ToolCall.build("call_1", "weather", '{"city": "T\\ud83dky\\u014d"}', None)
    assert call.parsed_arguments == {"city": "T\ufffdky\u014d"}


# -- streams ----------------------------------------------------------------------------------


def _responses_delta(payload: dict[str, Any]) -> bool:
    if payload.get("type") != "response.output_text.delta":
        return False
    payload["delta"] = HIGH + payload["delta"] + LOW
    return True


def _chat_delta(payload: dict[str, Any]) -> bool:
    choices = payload.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    if not delta.get("content"):
        return False
    delta["content"] = HIGH + delta["content"] + LOW
    return True


def _anthropic_delta(payload: dict[str, Any]) -> bool:
    delta = payload.get("delta") or {}
    if payload.get("type") != "content_block_delta" or delta.get("type") != "text_delta":
        return False
    delta["text"] = HIGH + delta["text"] + LOW
    return True


STREAMS = [
    pytest.param(
        OPENAI_RESPONSES / "gpt-4.1-plain-text.sse",
        _responses_delta,
        Client,
        lambda client: client.responses.stream(model="gpt-4.1", input="hi"),
        id="responses",
    ),
    pytest.param(
        OPENAI_CHAT / "gpt-4.1-cached-tokens.sse",
        _chat_delta,
        Client,
        lambda client: client.chat.completions.stream(model="gpt-4.1", messages=MESSAGES),
        id="chat",
    ),
    pytest.param(
        ANTHROPIC_MESSAGES / "claude-sonnet-4-5-cache-read.sse",
        _anthropic_delta,
        AnthropicClient,
        lambda client: client.messages.stream(
            model="claude-sonnet-4-5", messages=MESSAGES, max_tokens=64
        ),
        id="anthropic",
    ),
]


def _deltas(
    server: ReplayServer, provider: TracerProvider, factory: Callable[..., Any], open: Any
) -> list[str]:
    client = factory(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=provider,
        capture_content=True,
    )
    with client, open(client) as stream:
        texts = [event.text for event in stream if isinstance(event, TextDelta)]
        stream.final_response()
    return texts


@pytest.mark.parametrize(("recording", "edit", "factory", "open"), STREAMS)
def test_a_delta_with_lone_surrogates_arrives_with_replacement_characters(
    server: ReplayServer,
    recording: Any,
    edit: Callable[[dict[str, Any]], bool],
    factory: Callable[..., Any],
    open: Any,
) -> None:
    provider, exporter = _spans()
    raw = recording.read_bytes()
    server.enqueue(Reply.sse(raw), Reply.sse(_lone(raw, edit)))
    clean = _deltas(server, provider, factory, open)
    lone = _deltas(server, provider, factory, open)
    # Every delta arrives (none skipped as malformed), each with its two marks replaced.
    assert lone == [f"\ufffd{text}\ufffd" for text in clean]
    spans = exporter.get_finished_spans()
    assert not any("spanstream.events.malformed" in (span.attributes or {}) for span in spans)
    # The captured output (content capture is on) holds only encodable text.
    _encodes(spans)


# -- errors -----------------------------------------------------------------------------------


def test_an_error_body_with_a_lone_surrogate_fails_no_span_export(server: ReplayServer) -> None:
    provider, exporter = _spans()
    body = b'{"error": {"message": "no such model \\ud83d", "type": "invalid_request_error"}}'
    server.enqueue(
        Reply.from_file(OPENAI_RESPONSES / "gpt-4.1-plain-text.sse"),
        Reply.error(404, body.decode()),
    )
    client = Client(
        api_key="sk-test",
        base_url=server.base_url,
        tracer_provider=provider,
        retry=RetryPolicy(max_retries=0),
    )
    with client:
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            stream.final_response()
        failing = client.responses.stream(model="gpt-4.1", input="hi")
        with pytest.raises(APIStatusError) as raised, failing as stream:
            stream.final_response()
    assert "no such model \ufffd" in str(raised.value)
    good, failed = exporter.get_finished_spans()
    assert failed.status.description is not None
    assert "\ufffd" in failed.status.description
    # Exported together, the good span is not lost with the failed one.
    _encodes((good, failed))


def test_an_in_stream_error_with_a_lone_surrogate_fails_no_span_export(
    server: ReplayServer,
) -> None:
    provider, exporter = _spans()
    failed_event = (
        b'event: response.failed\ndata: {"type":"response.failed","sequence_number":1,'
        b'"response":{"id":"resp_1","status":"failed","model":"gpt-4.1",'
        b'"error":{"code":"server_error","message":"broke \\ude00 here"}}}\n\n'
    )
    server.enqueue(Reply.sse(failed_event))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=provider)
    failing = client.responses.stream(model="gpt-4.1", input="hi")
    with client, pytest.raises(ResponseFailedError) as raised, failing as stream:
        stream.final_response()
    assert "broke \ufffd here" in str(raised.value)
    (span,) = exporter.get_finished_spans()
    assert span.status.description is not None
    assert "\ufffd" in span.status.description
    _encodes((span,))


def test_a_tool_error_with_a_lone_surrogate_fails_no_span_export(server: ReplayServer) -> None:
    # The tool is the caller's code: its message reaches the execute_tool span's status.
    def broken(city: str) -> str:
        raise RuntimeError("service \ud800 down")

    provider, exporter = _spans()
    server.enqueue(tool_turn(("c1", "broken", '{"city": "X"}')), text_turn("Sorry."))
    client = Client(api_key="sk-test", base_url=server.base_url, tracer_provider=provider)
    with client:
        run = client.agent(model="gpt-4.1", tools=[broken]).stream("go")
        assert run.final_response().text == "Sorry."
    spans = exporter.get_finished_spans()
    (tool_span,) = [span for span in spans if span.name == "execute_tool broken"]
    assert tool_span.status.description == "service \ufffd down"
    _encodes(spans)


@pytest.mark.parametrize("value", ["21 \udc00C", {"temp": "21 \udc00C"}], ids=["str", "dict"])
def test_a_tool_result_with_a_lone_surrogate_is_sent_back(server: ReplayServer, value: Any) -> None:
    # The next turn's request carries the result: it could not be encoded with the surrogate.
    def weather(city: str) -> Any:
        return value

    provider, exporter = _spans()
    server.enqueue(tool_turn(("c1", "weather", '{"city": "X"}')), text_turn("Warm."))
    client = Client(
        api_key="sk-test", base_url=server.base_url, tracer_provider=provider, capture_content=True
    )
    with client:
        run = client.agent(model="gpt-4.1", tools=[weather]).stream("go")
        assert run.final_response().text == "Warm."
    assert "21 \ufffdC" in server.requests[1].json()["input"][-1]["output"]
    _encodes(exporter.get_finished_spans())


# -- what the caller sends --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "where", "reason"),
    [
        (
            {"messages": [{"role": "user", "content": "files: caf\udce9.txt"}]},
            "messages[0].content",
            "lone UTF-16 surrogate (U+DCE9) at index 10",
        ),
        (
            {"messages": MESSAGES, "metadata": {"caf\udce9": "x"}},
            "metadata",
            "lone UTF-16 surrogate (U+DCE9) at index 3",
        ),
        ({"messages": MESSAGES, "temperature": float("nan")}, "temperature", "nan is not a JSON"),
        ({"messages": MESSAGES, "top_p": float("inf")}, "top_p", "inf is not a JSON number"),
    ],
    ids=["surrogate-in-content", "surrogate-in-key", "nan", "inf"],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_json_cannot_carry_is_a_typed_error_naming_the_parameter(
    server: ReplayServer, params: dict[str, Any], where: str, reason: str, kind: str
) -> None:
    provider, exporter = _spans()
    options = {"api_key": "sk-test", "base_url": server.base_url, "tracer_provider": provider}
    if kind == "sync":
        with Client(**options) as client, pytest.raises(InvalidRequestError) as raised:
            client.chat.completions.create(model="gpt-4.1", **params)
    else:

        async def run() -> None:
            async with AsyncClient(**options) as client:
                await client.chat.completions.create(model="gpt-4.1", **params)

        with pytest.raises(InvalidRequestError) as raised:
            asyncio.run(run())
    message = str(raised.value)
    assert message.startswith(f"cannot send {where}: ")
    assert reason in message
    assert "caf" not in message  # the parameter is named, its value (the user's) is not
    assert isinstance(raised.value, ValueError)  # what json.dumps raised before
    assert server.requests == []
    (span,) = exporter.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "InvalidRequestError"
    _encodes((span,))
