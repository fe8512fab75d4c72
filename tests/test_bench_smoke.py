"""The benchmark harness runs: ``python -m benchmarks --quick`` produces its results table.

Only that it runs and reports is checked, never a timing: numbers from a shared machine in the
middle of a test run mean nothing. The quick mode needs only the ``dev`` extra (rows whose
packages are missing, such as httpx-sse from the ``bench`` extra, are reported as skipped).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_the_goals_and_every_section(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    report = output.read_text()
    assert "Quick mode" in report
    assert "| goal | measured | verdict |" in report
    for heading in (
        "## In-process",
        "## In-process: OpenAI Chat Completions",
        "## In-process: Anthropic Messages",
        "### Telemetry on vs off",
        "## Loopback",
        "## Peak memory",
        "## Import time",
    ):
        assert heading in report
    assert "| `import spanstream` | the package" in report
    rows = [
        "(a) floor: split + json.loads",
        "**spanstream Client, telemetry on**",
        "spanstream AsyncClient, telemetry off",
        "spanstream Client, traces only (no-op meter provider)",
        "spanstream Client, metrics only (no-op tracer provider)",
        "spanstream SSEDecoder + ChatCompletionsParser (no HTTP)",
        "**spanstream AsyncAnthropicClient, telemetry on**",
        "Anthropic Messages: client with telemetry on <= 1.1x its own json.loads floor",
    ]
    if importlib.util.find_spec("openai") is not None:  # a dev dependency: present in CI
        rows += ["(d) openai responses.create(stream=True)", "(d2) openai responses.stream()"]
        rows += ["(d) openai chat.completions.create(stream=True)"]
    if importlib.util.find_spec("anthropic") is not None:  # a dev dependency too
        rows += ["(d2) anthropic messages.stream() + get_final_message()"]
    for row in rows:
        assert row in report
    raw = json.loads(output.with_suffix(".json").read_text())
    assert raw["mode"] == "quick"
    assert raw["inprocess"]["rows"]
    assert [r["key"] for r in raw["imports"]["rows"]][:2] == ["reference", "spanstream"]
