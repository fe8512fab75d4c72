"""Helpers for tests that replay recorded provider streams (``tests/fixtures/*``).

Two independent readings of the same recorded bytes:

* :func:`decode_responses` (and :func:`decode` for any parser) runs them through *our* pipeline
  (``spanstream.sse.SSEDecoder`` then a provider parser), fed in chunks of any size, exactly as
  a live HTTP body would arrive;
* :func:`sdk_payloads` reads them the way the official ``openai`` package does (its own SSE
  decoder, ``[DONE]`` skipped, JSON decoded), to compute expected values without our code.

The recordings are real response bodies and are never edited (see the folder's PROVENANCE.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from spanstream.events import StreamEvent
from spanstream.providers.anthropic_messages import MessagesParser
from spanstream.providers.base import Parser, ParserFactory
from spanstream.providers.openai_chat import ChatCompletionsParser
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.sse import SSEDecoder

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OPENAI_RESPONSES = FIXTURES / "openai-responses"
OPENAI_CHAT = FIXTURES / "openai-chat"
ANTHROPIC_MESSAGES = FIXTURES / "anthropic-messages"

TERMINAL_TYPES = ("response.completed", "response.incomplete", "response.failed")

# A JSON key/value pair `"type": "response.completed"` (etc.) with unescaped quotes can only be
# a real key of a payload, never text inside a JSON string (where quotes are escaped).
_TERMINAL_RE = re.compile(rb'"type"\s*:\s*"(response\.(?:completed|incomplete|failed))"')


def responses_fixtures() -> list[Path]:
    """Every recorded OpenAI Responses stream, sorted by name."""
    return sorted(OPENAI_RESPONSES.glob("*.sse"))


def responses_fixture(name: str) -> Path:
    """The recorded OpenAI Responses stream called ``name`` (which must exist)."""
    path = OPENAI_RESPONSES / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def terminal_types(raw: bytes) -> set[str]:
    """The terminal event types (completed/incomplete/failed) present in a raw recording.

    Some recordings could be resumed or partial streams, so whether a terminal event must be
    reached is read from the bytes rather than assumed.
    """
    return {match.decode("ascii") for match in _TERMINAL_RE.findall(raw)}


def chunks(raw: bytes, size: int | None) -> Iterator[bytes]:
    """Split ``raw`` into consecutive chunks of ``size`` bytes (one chunk if ``size`` is None)."""
    if size is None:
        yield raw
        return
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


@dataclass
class Decoded:
    """The outcome of decoding one recording through our pipeline."""

    events: list[StreamEvent]
    parser: Any  # the concrete parser, so tests can read its provider-specific state
    sse_count: int

    def of_type(self, cls: type[Any]) -> list[Any]:
        """The events that are instances of ``cls``, in stream order."""
        return [event for event in self.events if isinstance(event, cls)]


def decode_responses(raw: bytes, chunk_size: int | None = None) -> Decoded:
    """Run a recorded Responses stream through SSEDecoder + ResponsesParser(strict=False).

    ``chunk_size`` splits the body into chunks of that many bytes (cutting lines, CR/LF pairs
    and UTF-8 code points anywhere); ``None`` feeds it in one piece. Every server-sent event
    the decoder dispatches, the ``data: [DONE]`` sentinel included, goes to the parser, as the
    live client would do.
    """
    return decode(raw, ResponsesParser, chunk_size)


def decode(
    raw: bytes,
    parser_factory: ParserFactory,
    chunk_size: int | None = None,
    *,
    public: bool = False,
) -> Decoded:
    """Run a recorded stream through SSEDecoder + a fresh non-strict parser, the way the live
    client does: each chunk's dispatched events go to the parser as their types and undecoded
    data (``feed_events``, which stops at the end of the response), then ``close()`` at the
    end. ``public=True`` takes the documented sans-IO path instead: ``ServerSentEvent`` objects
    from ``SSEDecoder.feed`` into ``parser.feed``, every one of them."""
    decoder = SSEDecoder()
    parser: Parser = parser_factory(strict=False)
    events: list[StreamEvent] = []
    sse_count = 0
    for chunk in chunks(raw, chunk_size):
        if public:
            for sse in decoder.feed(chunk):
                sse_count += 1
                events += parser.feed(sse)
            continue
        raw_events = decoder.feed_raw(chunk)
        sse_count += len(raw_events)
        parser.feed_events(raw_events, events)
    decoder.close()
    events += parser.close()
    return Decoded(events, parser, sse_count)


@cache
def decode_fixture(path: Path) -> Decoded:
    """:func:`decode_responses` of a fixture file in one chunk, cached (do not mutate)."""
    return decode_responses(path.read_bytes())


def sdk_payloads(raw: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of a recording as the official ``openai`` SDK reads them.

    Uses the SDK's own SSE decoder (``openai._streaming.SSEDecoder``, which its ``Stream``
    uses on live responses) and, like ``Stream.__stream__``, skips a ``[DONE]`` sentinel.
    This is independent of our decoder, so it serves to compute expected values.
    """
    from openai._streaming import SSEDecoder as SDKDecoder

    payloads: list[dict[str, Any]] = []
    for sse in SDKDecoder().iter_bytes(iter([raw])):
        if sse.data.startswith("[DONE]"):
            continue
        payloads.append(json.loads(sse.data))
    return payloads


@cache
def sdk_fixture_payloads(path: Path) -> tuple[dict[str, Any], ...]:
    """:func:`sdk_payloads` of a fixture file, cached (do not mutate)."""
    return tuple(sdk_payloads(path.read_bytes()))


def sdk_terminal_payload(path: Path) -> dict[str, Any] | None:
    """The last completed/incomplete/failed payload of a recording, or None."""
    terminal = [p for p in sdk_fixture_payloads(path) if p.get("type") in TERMINAL_TYPES]
    return terminal[-1] if terminal else None


def recordings(folder: Path) -> list[Path]:
    """Every recorded stream (``*.sse``) of a fixture folder, sorted by name."""
    return sorted(folder.glob("*.sse"))


def recording(folder: Path, name: str) -> Path:
    """The recording called ``name`` in ``folder`` (which must exist)."""
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


@cache
def decode_chat(path: Path) -> Decoded:
    """A Chat Completions recording through ``ChatCompletionsParser``, cached (do not mutate)."""
    return decode(path.read_bytes(), ChatCompletionsParser)


@cache
def decode_anthropic(path: Path) -> Decoded:
    """An Anthropic Messages recording through ``MessagesParser``, cached (do not mutate)."""
    return decode(path.read_bytes(), MessagesParser)


def anthropic_sdk_events(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """``(event name, payload)`` of a recording as the official ``anthropic`` SDK reads it: its
    own SSE decoder (``anthropic._streaming.SSEDecoder``), independent of ours."""
    from anthropic._streaming import SSEDecoder as SDKDecoder

    return [(sse.event, json.loads(sse.data)) for sse in SDKDecoder().iter_bytes(iter([raw]))]


# The openai SDK's accumulator cannot read these Chat Completions recordings (a limit of the
# SDK, not of the recording): checked against the raw payloads in targeted tests instead.
MISTRAL_TOOL_CALLS = (
    "openinferenc__test_synchronous_streaming_chat_completions_with_tool_call_response"
    "_emits_expect.sse"
)
CHAT_SDK_CANNOT_READ = {
    MISTRAL_TOOL_CALLS: "Mistral sends tool calls without `index`; the SDK's state indexes by it",
}

# Chat Completions recordings ending in an in-stream error object (Groq): the SDK raises instead
# of accumulating.
CHAT_ERROR_RECORDINGS = {
    "pydantic-ai__test_tool_use_failed_error_streaming.sse",
    "pydantic-ai__test_tool_use_failed_error_streaming_with_text.sse",
}


def sdk_chat_chunks(path: Path) -> list[Any]:
    """The recording's chunks as the openai SDK's ``Stream`` builds them (``construct_type``,
    its non-strict default), skipping what its ``ChatCompletionStream`` skips: Azure's chunks
    whose ``object`` is not ``chat.completion.chunk``. ``reasoning_details`` (OpenRouter, not in
    the SDK's types) is dropped first: ``accumulate_delta`` rejects its index-less list entries."""
    from openai._models import construct_type
    from openai.types.chat import ChatCompletionChunk

    chunks = []
    for payload in sdk_payloads(path.read_bytes()):
        for choice in payload.get("choices") or ():
            (choice.get("delta") or {}).pop("reasoning_details", None)
        chunk = construct_type(type_=ChatCompletionChunk, value=payload)
        assert isinstance(chunk, ChatCompletionChunk)
        if chunk.object == "chat.completion.chunk":
            chunks.append(chunk)
    return chunks


def sdk_chat_completion(path: Path) -> Any:
    """The completion the openai SDK accumulates from a Chat Completions recording: its
    ``ChatCompletionStreamState`` (behind ``client.chat.completions.stream``) fed the chunks
    of :func:`sdk_chat_chunks`; a ``chat.completion`` snapshot."""
    from openai.lib.streaming.chat import ChatCompletionStreamState

    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in sdk_chat_chunks(path):
        state.handle_chunk(chunk)
    return state.current_completion_snapshot


def sdk_anthropic_message(path: Path) -> Any:
    """The final message as the anthropic SDK's ``MessageStream`` accumulates it (its
    ``accumulate_event``, what ``get_final_message()`` returns; ``ping`` skipped, as its
    ``Stream`` does)."""
    from anthropic.lib.streaming._messages import accumulate_event

    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    for name, payload in anthropic_sdk_events(path.read_bytes()):
        if name == "ping":
            continue
        snapshot = accumulate_event(
            event=payload,  # type: ignore[arg-type]  # the SDK constructs the model itself
            current_snapshot=snapshot,
            json_bufs=json_bufs,
        )
    assert snapshot is not None
    return snapshot


HUGE_NUMBER = "9" * 5000
"""A JSON number of 5,000 digits: beyond what ``json`` and pydantic's parser take as an ``int``."""

HUGE_MARK = "__huge_number__"
"""Set a value to this in :func:`rewrite_payloads` to write :data:`HUGE_NUMBER` there."""

_DATA_LINE = re.compile(rb"^data: ?(\{.*\})[ \t]*$", re.MULTILINE)


def rewrite_payloads(raw: bytes, edit: Callable[[dict[str, Any]], bool]) -> bytes:
    """A recording with some payloads changed: ``edit`` gets each JSON ``data:`` line's payload,
    changes it in place and returns whether it did. The framing (event lines, blank lines, other
    payloads) stays byte for byte. A value set to :data:`HUGE_MARK` is written as
    :data:`HUGE_NUMBER`, which ``json.dumps`` cannot write (more than 4,300 digits)."""

    def replace(match: re.Match[bytes]) -> bytes:
        payload = json.loads(match.group(1))
        if not edit(payload):
            return match.group(0)
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return b"data: " + data.replace(f'"{HUGE_MARK}"', HUGE_NUMBER).encode()

    return _DATA_LINE.sub(replace, raw)


def _drop_usage(payload: dict[str, Any]) -> bool:
    # Where each API carries usage: Chat chunks (and Groq's x_groq), Anthropic's message_start
    # (message.usage) and message_delta, the Responses terminal event (response.usage).
    dropped = False
    for holder in (payload, payload.get("message"), payload.get("response"), payload.get("x_groq")):
        if isinstance(holder, dict) and "usage" in holder:
            del holder["usage"]
            dropped = True
    return dropped


def without_usage(raw: bytes) -> bytes:
    """A recording as a server that reports no usage would send it (a Chat Completions server
    ignoring ``stream_options.include_usage``): every usage object removed, nothing else."""
    return rewrite_payloads(raw, _drop_usage)
