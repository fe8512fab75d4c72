"""The pytest plugin as a user gets it: a separate project, no conftest, only the installed package.

Each test writes a small test project into a temporary directory and runs pytest on it in a
subprocess (``python -m pytest``), so the fixtures can only come from the ``pytest11`` entry
point that installing spanstream registers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"

USER_TESTS = '''
"""A user's own tests: fixtures and assertions from the installed spanstream plugin only."""

import pytest

from spanstream import APIConnectionError
from spanstream.testing import (
    GenAITelemetry,
    ReplayServer,
    assert_inference_span,
    assert_metric_point,
    assert_semconv,
    check_semconv,
)

SERVERS = []


def test_fixtures_come_from_the_plugin(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    SERVERS.append(sse_replay_server)
    sse_replay_server.reply_with_recording("openai-responses/gpt-4o-cached-tokens")
    client = genai_telemetry.client(sse_replay_server)
    with client.responses.stream(model="gpt-4o", input="hi") as stream:
        stream.final_response()
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span, provider="openai", input_tokens=1515, cached_tokens=1390, outcome="completed"
    )
    assert check_semconv(span) == []
    genai_telemetry.assert_all_spans_ended()


def test_the_server_of_the_previous_test_was_closed() -> None:
    assert len(SERVERS) == 1
    assert SERVERS[0].closing


def test_a_dropped_connection_ends_the_span_as_an_error(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording(
        "openai-responses/gpt-4.1-plain-text", cut_after_events=5
    )
    client = genai_telemetry.client(sse_replay_server, max_retries=0)
    with pytest.raises(APIConnectionError):
        with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            stream.final_response()
    span = genai_telemetry.inference_span()
    assert_inference_span(
        span, outcome="error", status="error", error_type="APIConnectionError"
    )
    assert_semconv(span)


def test_metric_points(genai_telemetry: GenAITelemetry) -> None:
    counter = genai_telemetry.meter_provider.get_meter("app").create_counter("app.questions")
    counter.add(2, {"topic": "math"})
    assert_metric_point(genai_telemetry, "app.questions", attributes={"topic": "math"}, value=2)


def test_each_test_gets_fresh_telemetry(genai_telemetry: GenAITelemetry) -> None:
    assert genai_telemetry.spans == ()
    assert genai_telemetry.metric_names() == []


@pytest.mark.asyncio
async def test_async_client(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    async with genai_telemetry.async_client(sse_replay_server) as client:
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            await stream.final_response()
    assert_inference_span(genai_telemetry.inference_span(), outcome="completed")
'''

FAILING_TEST = """
from spanstream.testing import GenAITelemetry, ReplayServer, assert_inference_span


def test_wrong_expectation(genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer):
    sse_replay_server.reply_with_recording("openai-responses/gpt-4.1-plain-text")
    with genai_telemetry.client(sse_replay_server).responses.stream(
        model="gpt-4.1", input="hi"
    ) as stream:
        stream.final_response()
    assert_inference_span(genai_telemetry.inference_span(), input_tokens=14, outcome="completed")
"""


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Testing your code\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the Testing section of README.md has no python example"
    return match.group(1)


def _run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_PLUGINS")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _project(root: Path, files: dict[str, str]) -> Path:
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for name, content in files.items():
        (root / name).write_text(content, encoding="utf-8")
    assert not list(root.rglob("conftest.py"))
    return root


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "spanstream"]
    assert entry.value == "_spanstream_pytestplugin"
    plugin = entry.load()
    assert {"genai_telemetry", "sse_replay_server"} <= set(plugin.__all__)


def test_registering_the_plugin_imports_nothing_of_spanstream() -> None:
    # Every pytest run of an environment with spanstream installed loads the entry point: it
    # must not pay for httpx, pydantic and the OpenTelemetry SDK until a fixture is used.
    code = (
        "import sys, _spanstream_pytestplugin\n"
        "heavy = ('spanstream', 'httpx', 'pydantic', 'opentelemetry')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_the_package_module_still_offers_the_fixtures() -> None:
    import _spanstream_pytestplugin
    from spanstream.testing import plugin

    assert plugin.genai_telemetry is _spanstream_pytestplugin.genai_telemetry
    assert plugin.sse_replay_server is _spanstream_pytestplugin.sse_replay_server


def test_a_separate_project_using_only_the_installed_plugin_passes(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {"test_readme_example.py": _readme_example(), "test_user_project.py": USER_TESTS},
    )
    result = _run_pytest(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^plugins: .*spanstream", result.stdout, re.MULTILINE), output
    assert "test_readme_example.py::test_answer_is_traced PASSED" in result.stdout, output
    assert "7 passed" in result.stdout, output


def test_a_failed_assertion_reads_as_a_per_attribute_diff(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_failing.py": FAILING_TEST})
    result = _run_pytest(project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "span 'chat gpt-4.1' does not match (1 of 2 checks failed):" in result.stdout
    assert "  gen_ai.usage.input_tokens: expected 14, got 13" in result.stdout
    assert "  gen_ai.usage.output_tokens = 9" in result.stdout


def test_the_plugin_can_be_switched_off(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_failing.py": FAILING_TEST})
    result = _run_pytest(project, "-p", "no:spanstream")
    assert result.returncode == 1
    assert "fixture 'genai_telemetry' not found" in result.stdout
