"""The documented sans-IO path (``SSEDecoder.feed`` -> ``ServerSentEvent`` -> ``parser.feed``,
data as ``str``) and the streams' path (``feed_raw``, data as undecoded ``bytes``) give the same
events and the same response on every recording of the three APIs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# `tests/` is not a package: make the shared helper module importable from this sub-folder.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from recorded import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, decode  # noqa: E402
from spanstream.providers.anthropic_messages import MessagesParser  # noqa: E402
from spanstream.providers.base import ParserFactory  # noqa: E402
from spanstream.providers.openai_chat import ChatCompletionsParser  # noqa: E402
from spanstream.providers.openai_responses import ResponsesParser  # noqa: E402

CASES: list[Any] = [
    pytest.param(path, parser, id=f"{folder.name}/{path.name}")
    for folder, parser in (
        (OPENAI_RESPONSES, ResponsesParser),
        (OPENAI_CHAT, ChatCompletionsParser),
        (ANTHROPIC_MESSAGES, MessagesParser),
    )
    for path in sorted(folder.glob("*.sse"))
]


def test_every_api_has_recordings() -> None:
    assert len(CASES) >= 91 + 140 + 51


@pytest.mark.parametrize(("path", "parser"), CASES)
def test_public_path_gives_the_streams_events(path: Path, parser: ParserFactory) -> None:
    raw = path.read_bytes()
    streamed = decode(raw, parser, chunk_size=7)
    public = decode(raw, parser, chunk_size=7, public=True)
    assert public.sse_count == streamed.sse_count
    assert public.events == streamed.events
    assert public.parser.response == streamed.parser.response
    assert public.parser.malformed_count == streamed.parser.malformed_count
    assert public.parser.unknown_count == streamed.parser.unknown_count
