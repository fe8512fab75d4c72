"""The ``spanstream`` command: the offline demo and the real-endpoint chat."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from spanstream.cli import demo, is_local, main
from spanstream.testing import ReplayServer

from ..conftest import FIXTURES, RESPONSES
from ..recorded import (
    decode_anthropic,
    decode_chat,
    decode_fixture,
    sdk_anthropic_message,
    sdk_chat_completion,
    sdk_terminal_payload,
)


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
    chat_server: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "-m", "gpt-4.1", "--base-url", chat_server.base_url, "4+5?"]) == 0
    assert chat_server.last_request.json()["input"] == "4+5?"
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
    for command in ("demo", "chat", "replay"):
        assert command in result.stdout


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


CHAT = FIXTURES / "openai-chat"
ANTHROPIC = FIXTURES / "anthropic-messages"


def test_chat_speaks_chat_completions_with_temperature_and_instructions(
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sse_replay_server.reply_with_file(CHAT / "gpt-4.1-cached-tokens.sse")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    argv = ["chat", "-m", "gpt-4.1", "--api", "chat", "--base-url", sse_replay_server.base_url]
    options = ["--instructions", "Be brief.", "--temperature", "0.25", "--max-output-tokens", "9"]
    assert main([*argv, *options, "Hi"]) == 0
    request = sse_replay_server.last_request
    assert request.path == "/v1/chat/completions"
    body = request.json()
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert (body["temperature"], body["max_completion_tokens"]) == (0.25, 9)
    out = capsys.readouterr().out
    assert "[answer] Hello!" in out
    assert "openai.api.type = chat_completions" in out
    assert "gen_ai.request.temperature = 0.25" in out


def test_chat_speaks_anthropic_messages_with_its_own_key(
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sse_replay_server.reply_with_file(ANTHROPIC / "claude-haiku-4-5-text.sse")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sse_replay_server.base_url)
    argv = ["chat", "-m", "claude-haiku-4-5", "--api", "anthropic", "--instructions", "Brief."]
    assert main([*argv, "--temperature", "0", "Hi"]) == 0
    request = sse_replay_server.last_request
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    body = request.json()
    # Anthropic requires max_tokens: the CLI's default when none is given.
    assert (body["system"], body["temperature"], body["max_tokens"]) == ("Brief.", 0, 4096)
    out = capsys.readouterr().out
    assert "[answer] Hello" in out
    assert "gen_ai.provider.name = anthropic" in out


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
def test_chat_needs_no_key_for_a_server_on_this_machine(
    api: str,
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recording = {
        "responses": RESPONSES / "gpt-4.1-plain-text.sse",
        "chat": CHAT / "gpt-4.1-cached-tokens.sse",
        "anthropic": ANTHROPIC / "claude-haiku-4-5-text.sse",
    }[api]
    sse_replay_server.reply_with_file(recording)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    local = sse_replay_server.base_url.replace("127.0.0.1", "localhost")
    assert main(["chat", "-m", "m", "--api", api, "--base-url", local, "Hi"]) == 0
    headers = sse_replay_server.last_request.headers
    key = headers["x-api-key"] if api == "anthropic" else headers["authorization"]
    assert key.endswith("sk-local")
    assert "spanstream.outcome = completed" in capsys.readouterr().out


def test_chat_still_needs_a_key_for_a_remote_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    argv = ["chat", "-m", "claude-haiku-4-5", "--api", "anthropic", "Hi"]
    assert main([*argv, "--base-url", "https://gateway.example/v1"]) == 2
    assert "ANTHROPIC_API_KEY is not set" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8080/v1", True),
        ("http://LOCALHOST/v1", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.8.9.10/v1", True),
        ("http://[::1]:8080/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.2/v1", False),
        ("http://localhost.example/v1", False),
        ("not a url", False),
    ],
)
def test_is_local(url: str, local: bool) -> None:
    assert is_local(url) is local


@pytest.mark.parametrize(
    ("recording", "api", "model", "text"),
    [
        (RESPONSES / "gpt-4.1-plain-text.sse", "responses", "gpt-4.1-2025-04-14", "**nine**"),
        (CHAT / "gpt-4.1-cached-tokens.sse", "chat", "gpt-4.1-2025-04-14", "Hello!"),
        (
            ANTHROPIC / "claude-haiku-4-5-text.sse",
            "anthropic",
            "claude-haiku-4-5-20251001",
            "Hello",
        ),
    ],
    ids=["responses", "chat", "anthropic"],
)
def test_replay_streams_a_recorded_file_through_the_client(
    recording: Path, api: str, model: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(recording)]) == 0
    out = capsys.readouterr().out
    assert f"({api}, {model})" in out
    assert "[answer] " in out
    assert text in out.split("Spans:")[0]
    assert f"- chat {model}  [CLIENT" in out
    assert "spanstream.outcome = completed" in out


def test_replay_prints_a_recorded_failure_and_its_span(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A recorded in-stream error: the command fails (1) and still prints the span.
    failed = RESPONSES / "gpt-5-error-event-then-response-failed.sse"
    assert main(["replay", str(failed)]) == 1
    captured = capsys.readouterr()
    assert "ResponseFailedError" in captured.err
    assert "spanstream.outcome = failed" in captured.out


def test_replay_names_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "missing.sse")]) == 2
    assert "cannot read" in capsys.readouterr().err
    unknown = tmp_path / "unknown.sse"
    unknown.write_text('data: {"hello": 1}\n\n')
    assert main(["replay", str(unknown)]) == 2
    assert "--api" in capsys.readouterr().err


def test_help_names_every_command_and_chat_option() -> None:
    parser_help = subprocess.run(
        [sys.executable, "-m", "spanstream.cli", "chat", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--api {responses,chat,anthropic}", "--temperature", "--max-output-tokens"):
        assert option in parser_help
    assert "needs none" in parser_help  # no key for a server on this machine


def _whole_reply(api: str) -> tuple[str, str]:
    """A recorded answer as the reply to a request that is not streamed, and its text."""
    if api == "responses":
        path = RESPONSES / "gpt-4o-web-search-url-citation-annotations.sse"
        terminal = sdk_terminal_payload(path)
        assert terminal is not None
        return json.dumps(terminal["response"]), decode_fixture(path).parser.response.text
    if api == "chat":
        path = CHAT / "gpt-4.1-cached-tokens.sse"
        return sdk_chat_completion(path).model_dump_json(), decode_chat(path).parser.response.text
    path = ANTHROPIC / "claude-haiku-4-5-thinking-signature.sse"
    reply = sdk_anthropic_message(path).model_dump_json()
    return reply, decode_anthropic(path).parser.response.text


@pytest.mark.parametrize("api", ["responses", "chat", "anthropic"])
def test_chat_no_stream_asks_for_the_whole_answer_and_prints_it_with_its_span(
    api: str,
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reply, text = _whole_reply(api)
    sse_replay_server.reply_with_json(reply)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    argv = ["chat", "-m", "m1", "--api", api, "--base-url", sse_replay_server.base_url]

    assert main([*argv, "--no-stream", "Hi"]) == 0

    request = sse_replay_server.last_request
    assert "stream" not in request.json()
    assert request.headers["accept"] == "application/json"
    out = capsys.readouterr().out
    assert f"[answer] {text}" in out
    assert "- chat m1  [CLIENT" in out
    assert "spanstream.outcome = completed" in out
    # Not a stream: no gen_ai.request.stream, no time to first chunk.
    assert "gen_ai.request.stream" not in out
    assert "time_to_first" not in out
    if api == "responses":
        assert out.count("[source] ") == 3  # the answer's citations, as a stream prints them
    if api == "anthropic":
        assert "[reasoning] " in out  # the thinking block


def test_chat_no_stream_reports_a_reply_that_is_not_json(
    sse_replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sse_replay_server.reply_with_json("<html>Log in</html>", headers={"Content-Type": "text/html"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    argv = ["chat", "-m", "m1", "--base-url", sse_replay_server.base_url, "--no-stream", "Hi"]

    assert main(argv) == 1

    captured = capsys.readouterr()
    assert "UnexpectedContentTypeError" in captured.err
    assert "expected JSON" in captured.err
    assert "spanstream.outcome = error" in captured.out


def test_chat_help_names_no_stream() -> None:
    parser_help = subprocess.run(
        [sys.executable, "-m", "spanstream.cli", "chat", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--no-stream" in parser_help
    assert "create()" in parser_help
