"""``make view``: Phoenix with the demos' spans, looked at in a real (headless) browser.

Runs ``scripts/phoenix.py`` as ``make view`` does (on free ports), reads the trace addresses it
prints, opens them in Debian's headless Chromium and checks that the page shows the span's
name and its attributes with their values, as Phoenix's REST API has them; the screenshot is
kept in ``.artifacts/``. Then Ctrl-C (SIGINT) must stop Phoenix and delete its data.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..phoenix import (
    ARTIFACTS,
    REPO,
    chromium,
    launcher,
    page_text_and_table,
    phoenix_executable,
    render,
)


@dataclass
class View:
    process: subprocess.Popen[str]
    output: list[str]
    base_url: str
    traces: dict[str, str]
    """Demo title -> the trace's address."""
    workdir: Path


@pytest.fixture(scope="module")
def view() -> Iterator[View]:
    phoenix_executable()  # installs it, or skips (fails under CI) with the reason
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "phoenix.py"), "--port", "0", "--grpc-port", "0"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # A bound on the whole start, not a delay: a hung start is killed and its output shown.
    watchdog = threading.Timer(300, process.kill)
    watchdog.start()
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if "Press Ctrl-C to stop" in line:
            break
    watchdog.cancel()
    text = "".join(output)
    running = re.search(r"Phoenix is running: (\S+)", text)
    data = re.search(r"Data and log in (\S+) ", text)
    assert running is not None, text
    assert data is not None, text
    traces = dict(re.findall(r"^  (spanstream demo[^:]*): (\S+)$", text, re.MULTILINE))
    yield View(process, output, running.group(1), traces, Path(data.group(1)))
    if process.poll() is None:
        process.kill()
        process.wait()


def _trace_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _shown(value: Any) -> dict[str, str]:
    """How Phoenix's attribute table shows one value, by key suffix (lists get one row each)."""
    if isinstance(value, list):
        return {f".{index}": str(item) for index, item in enumerate(value)}
    if isinstance(value, bool):
        return {"": str(value).lower()}
    return {"": str(value)}


def _assert_gen_ai_attributes_shown(table: dict[str, str], span: dict[str, Any]) -> None:
    """Every gen_ai.* attribute Phoenix stored for ``span`` is a row of the page's table."""
    gen_ai = {k: v for k, v in span["attributes"].items() if k.startswith("gen_ai.")}
    assert len(gen_ai) >= 5, span["attributes"]
    for key, value in gen_ai.items():
        for suffix, shown in _shown(value).items():
            assert table.get(key + suffix) == shown, f"{span['name']}: {key + suffix} on the page"


def test_make_view_prints_a_trace_per_demo(view: View) -> None:
    assert set(view.traces) == {"spanstream demo", "spanstream demo --agent"}
    api = launcher().PhoenixAPI(view.base_url)
    for url in view.traces.values():
        assert url == api.trace_url(_trace_id(url))
        assert api.spans(trace_id=_trace_id(url)), f"no spans behind {url}"


def test_the_span_page_shows_the_span_name_and_its_attributes(view: View, tmp_path: Path) -> None:
    api = launcher().PhoenixAPI(view.base_url)
    spans = api.spans(trace_id=_trace_id(view.traces["spanstream demo"]))
    (chat,) = [span for span in spans if span["span_kind"] == "LLM"]
    assert chat["name"] == "chat o4-mini"

    screenshot = ARTIFACTS / "phoenix-span.png"
    screenshot.unlink(missing_ok=True)
    url = api.span_url(chat["context"]["span_id"])
    dom = render(chromium(), tmp_path / "profile", url, screenshot=screenshot)
    text, table = page_text_and_table(dom)
    assert "chat o4-mini" in text
    assert "handle_question" in text  # the application's span above it, in the trace tree
    _assert_gen_ai_attributes_shown(table, chat)
    assert table["gen_ai.request.model"] == "o4-mini"
    # What Phoenix derived from them, in its own words: the model and the captured prompt.
    assert table["llm.model_name"] == "o4-mini"
    assert "How many letters are in the word strawberry?" in text
    assert screenshot.stat().st_size > 10_000


def test_the_agent_trace_page_shows_its_spans_in_order_and_the_agent_span(
    view: View, tmp_path: Path
) -> None:
    url = view.traces["spanstream demo --agent"]
    spans = launcher().PhoenixAPI(view.base_url).spans(trace_id=_trace_id(url))
    (agent,) = [span for span in spans if span["parent_id"] is None]
    screenshot = ARTIFACTS / "phoenix-agent-trace.png"
    screenshot.unlink(missing_ok=True)
    dom = render(chromium(), tmp_path / "profile", url, screenshot=screenshot)
    text, table = page_text_and_table(dom)
    tree = text[text.index(f"Trace {_trace_id(url)}") :]
    names = re.findall(r"invoke_agent weather|chat deepseek-v4-flash|execute_tool \w+", tree)
    assert names[:4] == [
        "invoke_agent weather",
        "chat deepseek-v4-flash",
        "execute_tool get_temperature",
        "chat deepseek-v4-flash",
    ]
    # The trace page opens on its root span: the agent's.
    _assert_gen_ai_attributes_shown(table, agent)
    assert table["gen_ai.agent.name"] == "weather"
    assert table["spanstream.agent.turns"] == "2"


def test_ctrl_c_stops_phoenix_and_deletes_its_data(view: View) -> None:
    assert view.workdir.is_dir()
    view.process.send_signal(signal.SIGINT)
    assert view.process.wait(timeout=60) == 0
    assert not view.workdir.exists()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        launcher().PhoenixAPI(view.base_url).get("/healthz", raw=True)
