"""What a server really sent: httpx transports that record every exchange byte for byte, and a
reading of those bytes written here, apart from spanstream's parsers.

A test that checks spanstream's span against spanstream's own ``Response`` proves only that the
two agree; against the server's bytes it proves they are right. The transports wrap httpx's own
(a real connection) and tee the response body as the client reads it, before any decoding of
events; the readers below take the SSE frames apart with nothing but ``json``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["AsyncRecordingTransport", "Exchange", "RecordingTransport", "Sent", "Wire", "sent"]


@dataclass
class Exchange:
    """One request and the response body as it came off the connection (so far)."""

    path: str
    request: dict[str, Any]
    status: int
    content_encoding: str | None
    body: bytearray = field(default_factory=bytearray)

    def events(self) -> list[dict[str, Any]]:
        """The JSON object of every ``data:`` field of the body, in order (``[DONE]`` and
        anything that is not a JSON object left out)."""
        assert self.content_encoding in (None, "identity"), "decode the body first"
        text = bytes(self.body).decode("utf-8")
        found: list[dict[str, Any]] = []
        for frame in re.split(r"\r?\n\r?\n", text):
            lines = [
                line[5:].removeprefix(" ")
                for line in frame.splitlines()
                if line.startswith("data:")
            ]
            if not lines:
                continue
            try:
                value = json.loads("\n".join(lines))
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
        return found


class Wire:
    """Every exchange of the clients that use its transports, in the order they were sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def _record(self, request: httpx.Request, response: httpx.Response) -> Exchange:
        body = json.loads(request.content) if request.content else {}
        exchange = Exchange(
            path=request.url.path,
            request=body,
            status=response.status_code,
            content_encoding=response.headers.get("content-encoding"),
        )
        with self._lock:
            self._exchanges.append(exchange)
        return exchange


class _Tee(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, sink: bytearray) -> None:
        self._stream = stream
        self._sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._sink += chunk
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, sink: bytearray) -> None:
        self._stream = stream
        self._sink = sink

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._sink += chunk
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class RecordingTransport(httpx.BaseTransport):
    """httpx's own transport, recording each exchange into ``wire``."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        exchange = self._wire._record(request, response)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, exchange.body),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """The ``asyncio`` twin of :class:`RecordingTransport`."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        exchange = self._wire._record(request, response)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncTee(response.stream, exchange.body),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- what each API's events say ------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What one streamed response said on the wire, read with nothing but ``json``."""

    response_id: str | None
    text: str
    tool_calls: list[tuple[str, str, str]]
    """(call id, name, arguments) of each function call, in order."""
    input_tokens: int | None
    output_tokens: int | None
    """Usage in the GenAI conventions' meaning: input with cached tokens, output with reasoning."""
    cached_tokens: int | None
    """Input tokens read from the server's prompt cache."""
    cut: bool
    """Whether the server said a limit (or a filter) cut the response short."""


def sent(api: str, exchange: Exchange) -> Sent:
    """Read a Chat Completions (``chat``), Responses or Anthropic Messages stream."""
    events = exchange.events()
    if api == "chat":
        return _chat(events)
    if api == "responses":
        return _responses(events)
    return _anthropic(events)


def _chat(events: list[dict[str, Any]]) -> Sent:
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    usage: dict[str, Any] = {}
    finish = None
    for event in events:
        usage = event.get("usage") or usage
        for choice in event.get("choices") or []:
            if choice.get("index") != 0:
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], ["", "", ""])
                function = call.get("function") or {}
                entry[0] = call.get("id") or entry[0]
                entry[1] = function.get("name") or entry[1]
                entry[2] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return Sent(
        response_id=events[0].get("id") if events else None,
        text="".join(text),
        tool_calls=[(c[0], c[1], c[2]) for _, c in sorted(calls.items())],
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
        cut=finish in ("length", "content_filter"),
    )


def _responses(events: list[dict[str, Any]]) -> Sent:
    text: list[str] = []
    calls: list[tuple[str, str, str]] = []
    response: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if kind == "response.output_text.delta":
            text.append(event["delta"])
        elif kind == "response.output_item.done" and event["item"].get("type") == "function_call":
            item = event["item"]
            calls.append((item["call_id"], item["name"], item["arguments"]))
        if isinstance(event.get("response"), dict):
            response = event["response"]
    usage = response.get("usage") or {}
    return Sent(
        response_id=response.get("id"),
        text="".join(text),
        tool_calls=calls,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens"),
        cut=response.get("status") == "incomplete",
    )


def _anthropic(events: list[dict[str, Any]]) -> Sent:
    text: list[str] = []
    blocks: dict[int, list[str]] = {}
    usage: dict[str, Any] = {}
    message: dict[str, Any] = {}
    stop = None
    for event in events:
        kind = event.get("type")
        if kind == "message_start":
            message = event["message"]
            usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        elif kind == "message_delta":
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            stop = (event.get("delta") or {}).get("stop_reason") or stop
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            block = event["content_block"]
            blocks[event["index"]] = [block["id"], block["name"], ""]
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                text.append(delta["text"])
            elif delta["type"] == "input_json_delta":
                blocks[event["index"]][2] += delta["partial_json"]
    # The conventions count cache reads and writes as input; Anthropic reports them apart.
    parts = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    known = [usage[name] for name in parts if usage.get(name) is not None]
    return Sent(
        response_id=message.get("id"),
        text="".join(text),
        tool_calls=[(b[0], b[1], b[2]) for _, b in sorted(blocks.items())],
        input_tokens=sum(known) if known else None,
        output_tokens=usage.get("output_tokens"),
        cached_tokens=usage.get("cache_read_input_tokens"),
        cut=stop in ("max_tokens", "model_context_window_exceeded", "refusal"),
    )
