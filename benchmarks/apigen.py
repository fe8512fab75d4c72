"""Generated Chat Completions and Anthropic Messages streams, shaped like the Responses one.

The same N tokens as :func:`benchmarks.ssegen.make_stream` (same vocabulary, seed and share of
non-ASCII tokens), framed as each API frames a plain text answer, so that each API's paths are
measured against their own ``split + json.loads`` floor on the same text; the chunkers of
``ssegen`` apply unchanged (they need only the body and each event's span).

* Chat Completions (``POST /v1/chat/completions``, ``stream: true``, ``stream_options:
  {"include_usage": true}``): data-only frames, as ``tests/fixtures/openai-chat/
  gpt-4.1-cached-tokens.sse`` records them: a first chunk with the role, N chunks of one content
  delta each (``obfuscation`` included), the chunk with ``finish_reason``, the usage chunk (no
  choices) and ``data: [DONE]``.
* Anthropic Messages (``POST /v1/messages``, ``stream: true``): ``message_start`` (with the
  input usage), ``content_block_start``, ``ping``, N ``content_block_delta`` (``text_delta``),
  ``content_block_stop``, ``message_delta`` (stop reason, output usage), ``message_stop``, as
  ``tests/fixtures/anthropic-messages/claude-haiku-4-5-text.sse`` records them.
"""

from __future__ import annotations

import json
import random
from typing import Any

from .ssegen import SSEStream, _dumps, _obfuscation, _rand_id, _tokens

CHAT_MODEL = "gpt-4.1-mini-2025-04-14"
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"

INPUT_TOKENS = 1841
CACHED_TOKENS = 1536

CHAT_FRAMING_COUNT = 4  # the role chunk, the finish chunk, the usage chunk, [DONE]
ANTHROPIC_FRAMING_COUNT = 6  # every event but the N content_block_delta


def _text_tokens(n_tokens: int, seed: int) -> tuple[list[str], random.Random]:
    """The Responses stream's tokens (its generator draws three ids before them), and the
    generator to go on with."""
    rng = random.Random(seed)
    for prefix in ("resp_", "msg_", "rs_"):
        _rand_id(prefix, rng)
    return _tokens(n_tokens, rng), rng


def _stream(
    n_tokens: int, text: str, frames: list[bytes], model: str, response_id: str, usage: dict
) -> SSEStream:
    spans = []
    pos = 0
    for frame in frames:
        spans.append((pos, pos + len(frame)))
        pos += len(frame)
    body = b"".join(frames)
    return SSEStream(
        n_tokens=n_tokens,
        body=body,
        event_spans=spans,
        n_events=len(frames),
        text=text,
        response_id=response_id,
        model=model,
        usage=usage,
        info={"bytes": len(body)},
    )


def make_chat_stream(n_tokens: int, seed: int = 1234) -> SSEStream:
    """A Chat Completions stream of ``n_tokens`` content deltas."""
    tokens, rng = _text_tokens(n_tokens, seed)
    completion_id = "chatcmpl-" + _rand_id("", rng)[:29]
    usage = {
        "prompt_tokens": INPUT_TOKENS,
        "completion_tokens": n_tokens,
        "total_tokens": INPUT_TOKENS + n_tokens,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    head: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": 1762000000,
        "model": CHAT_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_6f2eabb9a5",
    }

    def chunk(choices: list[dict], chunk_usage: dict | None = None) -> bytes:
        payload = {**head, "choices": choices, "usage": chunk_usage}
        payload["obfuscation"] = _obfuscation(rng)
        return b"data: " + _dumps(payload).encode() + b"\n\n"

    def choice(delta: dict, finish_reason: str | None = None) -> dict:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    frames = [chunk([choice({"role": "assistant", "content": "", "refusal": None})])]
    frames += [chunk([choice({"content": token})]) for token in tokens]
    frames.append(chunk([choice({}, "stop")]))
    frames.append(chunk([], usage))
    frames.append(b"data: [DONE]\n\n")
    assert len(frames) == n_tokens + CHAT_FRAMING_COUNT
    return _stream(n_tokens, "".join(tokens), frames, CHAT_MODEL, completion_id, usage)


def make_anthropic_stream(n_tokens: int, seed: int = 1234) -> SSEStream:
    """An Anthropic Messages stream of ``n_tokens`` text deltas."""
    tokens, rng = _text_tokens(n_tokens, seed)
    message_id = "msg_01" + _rand_id("", rng)[:22]
    # Anthropic reports input tokens apart from cache reads (the client adds them up).
    usage = {
        "input_tokens": INPUT_TOKENS - CACHED_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": CACHED_TOKENS,
        "output_tokens": n_tokens,
    }

    def frame(event: str, payload: dict) -> bytes:
        return b"event: " + event.encode() + b"\ndata: " + _dumps(payload).encode() + b"\n\n"

    message = {
        "model": ANTHROPIC_MODEL,
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1, "service_tier": "standard"},
    }
    frames = [
        frame("message_start", {"type": "message_start", "message": message}),
        frame(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    pre = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
    frames += [
        pre
        + b'{"type":"text_delta","text":'
        + json.dumps(token, ensure_ascii=False).encode()
        + b"}}\n\n"
        for token in tokens
    ]
    frames += [
        frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": usage,
            },
        ),
        frame("message_stop", {"type": "message_stop"}),
    ]
    assert len(frames) == n_tokens + ANTHROPIC_FRAMING_COUNT
    return _stream(n_tokens, "".join(tokens), frames, ANTHROPIC_MODEL, message_id, usage)
