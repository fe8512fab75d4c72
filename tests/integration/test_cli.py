"""The ``spanstream`` command: the offline demo and the real-endpoint chat."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from spanstream.cli import demo, main
from spanstream.testing import ReplayServer

from ..conftest import RESPONSES


def test_demo_streams_the_recording_and_prints_the_span_tree() -> None:
    out = io.StringIO()
    assert demo(drip=0.0, out=out) == 0
    text = out.getvalue()
    assert "[reasoning summary]" in text
    assert "The letter “r” appears 3 times." in text
    # The inference span is printed as a child of the application's span, with its attributes.
    assert "- handle_question" in text
    assert "  - chat o4-mini  [CLIENT" in text
    for line in (
        "gen_ai.provider.name = openai",
        "gen_ai.usage.input_tokens = 36",
        "gen_ai.usage.output_tokens = 518",
        "gen_ai.usage.reasoning.output_tokens = 448",
        "gen_ai.response.finish_reasons = ['stop']",
        "spanstream.outcome = completed",
    ):
        assert line in text


def test_chat_without_a_key_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["chat", "-m", "gpt-4.1-mini", "hello"]) == 2
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err


def test_chat_against_a_compatible_server(
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sse_replay_server.reply_with_file(RESPONSES / "gpt-4.1-plain-text.sse")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["chat", "-m", "gpt-4.1", "--base-url", sse_replay_server.base_url, "4+5?"]) == 0
    assert sse_replay_server.last_request.json()["input"] == "4+5?"
    out = capsys.readouterr().out
    assert "Four plus five equals **nine**" in out
    assert "- chat gpt-4.1  [CLIENT" in out


def test_chat_prints_the_sources_the_answer_cites(
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sse_replay_server.reply_with_file(RESPONSES / "gpt-4o-web-search-url-citation-annotations.sse")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["chat", "-m", "gpt-4o", "--base-url", sse_replay_server.base_url, "BTC?"]) == 0
    out = capsys.readouterr().out
    # Read off the recording's first annotation.
    assert (
        "[source] Bitcoin Price History Janurary 2026 | StatMuse Money "
        "<https://www.statmuse.com/money/ask/bitcoin-price-history-janurary-2026?utm_source=openai>"
    ) in out
    assert out.count("[source] ") == 3


def test_console_script_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spanstream.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in result.stdout
    assert "chat" in result.stdout


def test_demo_agent_replays_a_two_turn_tool_call() -> None:
    from spanstream.cli import demo_agent

    out = io.StringIO()
    assert demo_agent(drip=0.0, out=out) == 0
    text = out.getvalue()
    assert '[tool call] get_temperature({"city": "Tokyo"})' in text
    assert "[tool result] 21.0" in text
    assert "The current temperature in Tokyo is **21.0°C**." in text
    assert "- invoke_agent weather  [INTERNAL" in text
    assert "  - execute_tool get_temperature  [INTERNAL" in text
    assert text.count("  - chat deepseek-v4-flash  [CLIENT") == 2
    assert "spanstream.agent.turns = 2" in text
