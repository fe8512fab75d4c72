"""Deterministic generator of OpenAI Responses API SSE byte streams, and the chunkings.

Copied from ``../shared/bench/ssegen.py`` (the shared, measured harness) so that the numbers here
use byte-for-byte the same streams and chunkings as ``../shared/bench/baseline/RESULTS.md``; it is
copied rather than imported because the project may not depend on ``../shared`` at runtime.
Changes: the ``__main__`` block is dropped, two unused variables of :func:`chunk_split` are gone
and the code is formatted with ruff; the generator itself is unchanged (same seeds, same bytes:
checked against the original's SHA-1 of the N=1,000 stream and its chunk counts).

A stream for N text tokens looks like what a reasoning model (e.g. a gpt-5
class model) sends for `POST /v1/responses` with `stream: true`:

    response.created
    response.in_progress
    response.output_item.added      (reasoning item, output_index 0)
    response.output_item.done       (reasoning item, with encrypted_content)
    response.output_item.added      (assistant message, output_index 1)
    response.content_part.added     (output_text part)
    response.output_text.delta  x N (one token each, with logprobs: [] and obfuscation)
    response.output_text.done       (full text)
    response.content_part.done      (full text)
    response.output_item.done       (full message)
    response.completed              (full response + usage incl. cached/reasoning tokens)

Every event is framed as b"event: <type>\\ndata: <compact json>\\n\\n", JSON is
compact and carries raw UTF-8 (non-ASCII is not \\u-escaped), so chunkers that
cut at random byte offsets also cut UTF-8 code points.

Chunkers (all deterministic for a given seed):
  net    random chunk sizes uniform in [1024, 4096] bytes (coalesced TCP reads)
  event  exactly one SSE event per chunk (a server flushing every token at model
         speed; each read returns one event)
  split  worst case: mixed tiny/medium/large random sizes, plus forced cuts inside
         ~half of all multi-byte UTF-8 code points, between the two newlines
         that end an event, and right after "data:" -- so events, lines and
         code points are all split across chunks.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field

EVENT_FRAMING_COUNT = 10  # events that are not output_text.delta

# A vocabulary of tokens roughly like a tokenizer's output on English prose with
# markdown, plus ~10% non-ASCII tokens (2-, 3- and 4-byte UTF-8 sequences).
_ASCII_TOKENS = (
    " the",
    " of",
    " and",
    " to",
    " a",
    " in",
    " is",
    " that",
    " for",
    " it",
    " as",
    " with",
    " on",
    " be",
    " this",
    " are",
    " by",
    " model",
    " stream",
    " token",
    " response",
    " event",
    " data",
    " server",
    " client",
    " latency",
    "ing",
    "ed",
    "s",
    "ly",
    ".",
    ",",
    ":",
    ";",
    " (",
    ")",
    " -",
    "\n",
    "\n\n",
    "**",
    " `",
    "`",
    ' "',
    '"',
    " 1",
    "2",
    "0",
    "%",
    " API",
    " JSON",
    " SSE",
    " Python",
    " async",
    " parse",
    " bytes",
    " per",
    " second",
    " We",
    " It",
    " However",
    " Note",
    "\n- ",
    " example",
    " value",
    " field",
    " type",
)
_NON_ASCII_TOKENS = (
    " café",
    "é",
    " naïve",
    "—",
    "“",
    "”",
    " 東京",
    "日本語",
    "の",
    "😀",
    " 🚀",
    "ü",
    " Straße",
    "€",
    " ±",
    " →",
    " Ж",
    "ñ",
    " déjà",
    "✓",
)


def _tokens(n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        if rng.random() < 0.10:
            out.append(rng.choice(_NON_ASCII_TOKENS))
        else:
            out.append(rng.choice(_ASCII_TOKENS))
    return out


def _rand_id(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice("0123456789abcdef") for _ in range(48))


def _obfuscation(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 15)))


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _frame(event_type: str, payload: dict) -> bytes:
    return (
        b"event: " + event_type.encode() + b"\ndata: " + _dumps(payload).encode("utf-8") + b"\n\n"
    )


@dataclass
class SSEStream:
    n_tokens: int
    body: bytes
    event_spans: list[tuple[int, int]]  # (start, end) byte offsets of each event
    n_events: int
    text: str
    response_id: str
    model: str
    usage: dict
    info: dict = field(default_factory=dict)


MODEL = "gpt-5-mini-2025-08-07"


def make_stream(n_tokens: int, seed: int = 1234) -> SSEStream:
    rng = random.Random(seed)
    resp_id = _rand_id("resp_", rng)
    msg_id = _rand_id("msg_", rng)
    rs_id = _rand_id("rs_", rng)
    created_at = 1762000000
    toks = _tokens(n_tokens, rng)
    text = "".join(toks)
    reasoning_tokens = 192
    usage = {
        "input_tokens": 1841,
        "input_tokens_details": {"cached_tokens": 1536, "cache_write_tokens": 0},
        "output_tokens": n_tokens + reasoning_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": 1841 + n_tokens + reasoning_tokens,
    }

    def response_obj(status: str, output: list, usage_obj, completed_at=None) -> dict:
        return {
            "id": resp_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": False,
            "completed_at": completed_at,
            "error": None,
            "incomplete_details": None,
            "instructions": "You are a helpful assistant.",
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": MODEL,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": "low", "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage_obj,
            "user": None,
            "metadata": {},
        }

    reasoning_added = {"id": rs_id, "type": "reasoning", "summary": []}
    reasoning_done = {
        "id": rs_id,
        "type": "reasoning",
        "encrypted_content": "gAAAAA"
        + "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            for _ in range(1400)
        ),
        "summary": [],
    }
    part_empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    part_full = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    msg_added = {
        "id": msg_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    msg_done = {
        "id": msg_id,
        "type": "message",
        "status": "completed",
        "content": [part_full],
        "role": "assistant",
    }

    frames: list[bytes] = []
    seq = 0

    def emit(t: str, payload: dict) -> None:
        nonlocal seq
        full = {"type": t, "sequence_number": seq}
        full.update(payload)
        frames.append(_frame(t, full))
        seq += 1

    emit("response.created", {"response": response_obj("in_progress", [], None)})
    emit("response.in_progress", {"response": response_obj("in_progress", [], None)})
    emit("response.output_item.added", {"output_index": 0, "item": reasoning_added})
    emit("response.output_item.done", {"output_index": 0, "item": reasoning_done})
    emit("response.output_item.added", {"output_index": 1, "item": msg_added})
    emit(
        "response.content_part.added",
        {"item_id": msg_id, "output_index": 1, "content_index": 0, "part": part_empty},
    )
    # The hot event. Field order as the API sends it.
    pre = (
        b"event: response.output_text.delta\n"
        b'data: {"type":"response.output_text.delta","sequence_number":'
    )
    mid = b'","output_index":1,"content_index":0,"delta":'
    item = ('"item_id":"' + msg_id).encode()
    for tok in toks:
        d = _dumps(tok).encode("utf-8")
        frames.append(
            pre
            + str(seq).encode()
            + b","
            + item
            + mid
            + d
            + b',"logprobs":[],"obfuscation":"'
            + _obfuscation(rng).encode()
            + b'"}\n\n'
        )
        seq += 1
    emit(
        "response.output_text.done",
        {"item_id": msg_id, "output_index": 1, "content_index": 0, "text": text, "logprobs": []},
    )
    emit(
        "response.content_part.done",
        {"item_id": msg_id, "output_index": 1, "content_index": 0, "part": part_full},
    )
    emit("response.output_item.done", {"output_index": 1, "item": msg_done})
    emit(
        "response.completed",
        {
            "response": response_obj(
                "completed", [reasoning_done, msg_done], usage, completed_at=created_at + 7
            )
        },
    )

    spans = []
    pos = 0
    for f in frames:
        spans.append((pos, pos + len(f)))
        pos += len(f)
    body = b"".join(frames)
    assert len(frames) == n_tokens + EVENT_FRAMING_COUNT
    return SSEStream(
        n_tokens=n_tokens,
        body=body,
        event_spans=spans,
        n_events=len(frames),
        text=text,
        response_id=resp_id,
        model=MODEL,
        usage=usage,
        info={
            "bytes": len(body),
            "delta_event_bytes_avg": round(
                sum(e - s for s, e in spans[6 : 6 + n_tokens]) / max(1, n_tokens), 1
            ),
            "non_ascii_tokens": sum(1 for t in toks if not t.isascii()),
        },
    )


# --------------------------------------------------------------------------- chunkers


def chunk_net(body: bytes, seed: int = 7, lo: int = 1024, hi: int = 4096) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    i, n = 0, len(body)
    while i < n:
        j = min(n, i + rng.randint(lo, hi))
        out.append(body[i:j])
        i = j
    return out


def chunk_event(stream: SSEStream) -> list[bytes]:
    b = stream.body
    return [b[s:e] for s, e in stream.event_spans]


_MULTIBYTE = re.compile(rb"[\xc0-\xff][\x80-\xbf]+")


def chunk_split(stream: SSEStream, seed: int = 11) -> tuple[list[bytes], dict]:
    """Worst case: cut events, lines and UTF-8 code points at random."""
    rng = random.Random(seed)
    body = stream.body
    n = len(body)
    cuts: set[int] = set()
    # 1) random sizes: 30% tiny (1-16 B), 60% medium (17-256 B), 10% large (257-4096 B)
    i = 0
    while i < n:
        r = rng.random()
        if r < 0.3:
            step = rng.randint(1, 16)
        elif r < 0.9:
            step = rng.randint(17, 256)
        else:
            step = rng.randint(257, 4096)
        i += step
        if i < n:
            cuts.add(i)
    # 2) forced cuts inside ~half of all multi-byte code points
    for m in _MULTIBYTE.finditer(body):
        if rng.random() < 0.5:
            cuts.add(rng.randint(m.start() + 1, m.end() - 1))
    # 3) between the two newlines ending ~10% of events, and right after "data:" in ~10%
    for s, e in stream.event_spans:
        r = rng.random()
        if r < 0.10:
            cuts.add(e - 1)
        elif r < 0.20:
            k = body.find(b"\ndata:", s, e)
            if k >= 0:
                cuts.add(k + 6)
    pts = sorted(c for c in cuts if 0 < c < n)
    chunks = []
    prev = 0
    for c in pts:
        chunks.append(body[prev:c])
        prev = c
    chunks.append(body[prev:])
    # stats
    in_cp = 0
    for c in pts:
        if 0x80 <= body[c] <= 0xBF:  # cut lands before a continuation byte
            in_cp += 1
    between_nl = sum(1 for c in pts if body[c - 1 : c + 1] == b"\n\n")
    split_events = 0
    j = 0
    # count events containing at least one interior cut
    for s, e in stream.event_spans:
        while j < len(pts) and pts[j] <= s:
            j += 1
        if j < len(pts) and pts[j] < e:
            split_events += 1
    return chunks, {
        "chunks": len(chunks),
        "avg_chunk_bytes": round(n / len(chunks), 1),
        "cuts_inside_utf8_code_points": in_cp,
        "cuts_between_event_newlines": between_nl,
        "events_split_across_chunks": split_events,
    }


def make_chunks(stream: SSEStream, kind: str) -> list[bytes]:
    if kind == "net":
        return chunk_net(stream.body)
    if kind == "event":
        return chunk_event(stream)
    if kind == "split":
        return chunk_split(stream)[0]
    raise ValueError(kind)


CHUNKINGS = ("net", "event", "split")
