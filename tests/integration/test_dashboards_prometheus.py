"""Every dashboard query, recording rule and trace-to-metrics link, run by a real Prometheus
against the metrics spanstream really emits, must return plausible data.

Setup (once for the module):

1. A workload process (``dashboard_workload.py``) calls ``spanstream.configure(exporter="none",
   prometheus_port=...)`` and replays :data:`PLAN` -- real recordings through the real client
   over loopback: completed, incomplete, failed (``response.failed``), two HTTP failures (429,
   500), abandoned and cancelled streams, cached and reasoning tokens -- once as a warm-up round.
2. Only then a real Prometheus (Debian's package, 2.42) starts on 127.0.0.1 with a temporary
   config and data directory and scrapes the workload every second. The scrape adds the label
   ``service_name``, as the stack's Prometheus does by promoting the ``service.name`` resource
   attribute (the Python exporter puts it on ``target_info`` only).
3. When Prometheus has the warm-up round, the workload replays the plan a second time, and the
   test waits until Prometheus has that too (polling its HTTP API, bounded by a timeout).

Because Prometheus first scraped after the warm-up round, every series' first sample holds
exactly one round. ``$__range`` and ``$__rate_interval`` are therefore replaced by the exact
span between that first scrape and the scrape that saw the second round, and queries are
evaluated at the second one: ``increase()`` over it is then exactly what the second round
added (Prometheus 2.x range selectors include their start, so nothing is extrapolated), and a
rate is that amount divided by the span. Expected values are computed from the recordings
themselves (the official ``openai`` SDK's decoder), not from spanstream.

Dashboard variables ($service, $provider, $model) become ``.*`` (what "All" sends).

All of it runs twice: with the default names (``scraped``) and with the workload emitting the
latest conventions' names (``scraped_latest``, ``OTEL_SEMCONV_STABILITY_OPT_IN``); each
dashboard's queries run against the workload of its naming set, with the same expectations.
"""

from __future__ import annotations

import json
import math
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from spanstream.telemetry.metrics import DURATION_BUCKETS

from ..dashboards import REPO, RULES, TELEMETRY, Query, binary, generator, queries, substitute
from ..recorded import sdk_fixture_payloads, sdk_terminal_payload
from .dashboard_workload import PLAN, RESPONSES, Step

SERVICE = "dashboard-test"
TIMEOUT = 60.0  # upper bound of every wait below
HOLD_AFTER_EVENTS = 4  # dashboard_workload holds abandoned/cancelled streams after 4 events

PROMQL = queries("prometheus")

T = TypeVar("T")


# -- what the recordings say the dashboards must show ---------------------------------------------


@dataclass
class Expected:
    """One round of :data:`PLAN`, computed from the recordings."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    first_chunks: int = 0
    response_models: Counter[tuple[str, str]] = field(default_factory=Counter)
    input: Counter[str] = field(default_factory=Counter)
    output: Counter[str] = field(default_factory=Counter)
    cached: Counter[str] = field(default_factory=Counter)
    reasoning: Counter[str] = field(default_factory=Counter)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


def _usage(step: Step) -> dict[str, Any] | None:
    """The usage the stream reports, or None when it never reaches it."""
    if step.fixture is None:
        return None
    path = RESPONSES / step.fixture
    terminal = sdk_terminal_payload(path)
    assert terminal is not None, step
    if step.kind in ("abandon", "cancel"):
        # Held after a few events: the terminal event, which carries the usage, never comes.
        assert sdk_fixture_payloads(path).index(terminal) >= HOLD_AFTER_EVENTS
        return None
    usage: dict[str, Any] | None = terminal["response"].get("usage")
    return usage


def expected_round() -> Expected:
    expected = Expected()
    for step in PLAN:
        model = step.model
        expected.requests[model] += 1
        expected.outcomes[step.outcome] += 1
        if step.kind == "http_error":
            expected.errors[model] += 1
            expected.error_types[str(step.status)] += 1
            continue
        assert step.fixture is not None
        payloads = sdk_fixture_payloads(RESPONSES / step.fixture)
        expected.first_chunks += 1
        expected.response_models[(model, payloads[0]["response"]["model"])] += 1
        if step.outcome == "failed":
            terminal = sdk_terminal_payload(RESPONSES / step.fixture)
            assert terminal is not None
            expected.errors[model] += 1
            expected.error_types[terminal["response"]["error"]["code"]] += 1
        usage = _usage(step)
        if usage is not None:
            expected.input[model] += usage["input_tokens"]
            expected.output[model] += usage["output_tokens"]
            expected.cached[model] += usage["input_tokens_details"]["cached_tokens"]
            expected.reasoning[model] += usage["output_tokens_details"]["reasoning_tokens"]
    return expected


EXPECTED = expected_round()


def test_the_plan_covers_what_the_dashboards_show() -> None:
    """The workload exercises every outcome, both failure kinds, cached and reasoning tokens."""
    assert set(EXPECTED.outcomes) == {
        "completed",
        "incomplete",
        "failed",
        "error",
        "abandoned",
        "cancelled",
    }
    assert EXPECTED.cached["gpt-4o"] == 1390
    assert EXPECTED.input["gpt-4o"] >= 1515
    assert sum(EXPECTED.reasoning.values()) > 0
    assert 0 < EXPECTED.total_errors < EXPECTED.total_requests


# -- processes -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


class Workload:
    """The workload subprocess, driven line by line over its standard input and output."""

    def __init__(self, port: int, log: Path, naming: str = "default") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        if naming == "latest":
            env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.dashboard_workload", str(port), SERVICE],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.log = log

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def message(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                f"workload silent for {TIMEOUT}s: {self.log.read_text()}"
            ) from None
        return json.loads(line)  # type: ignore[no-any-return]

    def run_round(self) -> list[dict[str, Any]]:
        assert self.process.stdin is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        report: list[dict[str, Any]] = self.message()["round"]
        assert [r["outcome"] for r in report] == [s.outcome for s in PLAN]
        return report

    def stop(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # end of input: the workload shuts down
        _stop(self.process)
        self._log.close()


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class Prometheus:
    """A real Prometheus on loopback with a temporary config and data directory."""

    def __init__(self, executable: str, directory: Path, scrape_port: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in RULES],
            "scrape_configs": [
                {
                    "job_name": "spanstream",
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{scrape_port}"],
                            "labels": {"service_name": SERVICE},
                        }
                    ],
                }
            ],
        }
        (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = directory / "prometheus.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    executable,
                    f"--config.file={directory / 'prometheus.yml'}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            return json.loads(response.read())

    def ready(self) -> bool:
        assert self.process.poll() is None, f"prometheus exited: {self.log.read_text()}"
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = self._get("/api/v1/query", params)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str, at: float | None = None) -> float | None:
        result = self.query(expr, at)
        return float(result[0]["value"][1]) if result else None

    def api(self, path: str, params: dict[str, str] | None = None) -> Any:
        body = self._get(path, params)
        assert body["status"] == "success", body
        return body["data"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        _stop(self.process)


@dataclass
class Scraped:
    """Prometheus after it scraped two rounds: where and how to query them."""

    prometheus: Prometheus
    start: float
    """Timestamp of the first scrape (one round recorded)."""
    end: float
    """Timestamp of a scrape after the second round."""
    rounds: list[list[dict[str, Any]]]

    @property
    def window(self) -> str:
        return f"{round((self.end - self.start) * 1000)}ms"

    @property
    def seconds(self) -> float:
        return round((self.end - self.start) * 1000) / 1000

    def evaluate(self, text: str) -> list[dict[str, Any]]:
        values = {
            "service": ".*",
            "provider": ".*",
            "model": ".*",
            "__range": self.window,
            "__rate_interval": self.window,
        }
        return self.prometheus.query(substitute(text, values), at=self.end)

    @property
    def slowest_stream(self) -> float:
        """Upper bucket bound of the slowest stream of the second round (wall clock)."""
        slowest = max(r["wall_seconds"] for r in self.rounds[-1])
        return next((b for b in DURATION_BUCKETS if b >= slowest), math.inf)


def _streams_total(prometheus: Prometheus) -> int:
    value = prometheus.value(f'sum(spanstream_client_streams_total{{service_name="{SERVICE}"}})')
    return round(value) if value is not None else 0


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """The workload with the default (released) metric names, scraped."""
    yield from _scrape(tmp_path_factory, "default")


@pytest.fixture(scope="module")
def scraped_latest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    """The same workload emitting the latest conventions' names (the opt-in), scraped."""
    yield from _scrape(tmp_path_factory, "latest")


def _run_for(naming: str, request: pytest.FixtureRequest) -> Scraped:
    run: Scraped = request.getfixturevalue("scraped" if naming == "default" else "scraped_latest")
    return run


def _scrape(tmp_path_factory: pytest.TempPathFactory, naming: str) -> Iterator[Scraped]:
    executable = binary("prometheus")
    directory = tmp_path_factory.mktemp(f"prometheus-{naming}")
    scrape_port = _free_port()
    workload = Workload(scrape_port, directory / "workload.log", naming)
    prometheus: Prometheus | None = None
    try:
        assert workload.message() == {"ready": scrape_port}
        rounds = [workload.run_round()]
        prometheus = Prometheus(executable, directory, scrape_port)
        wait_until(prometheus.ready, "Prometheus to be ready")
        per_round = len(PLAN)
        wait_until(lambda: _streams_total(prometheus) == per_round, "the first scrape")
        rounds.append(workload.run_round())
        wait_until(lambda: _streams_total(prometheus) == 2 * per_round, "the second round")

        samples = prometheus.query(
            f'spanstream_client_streams_total{{service_name="{SERVICE}"}}[10m]'
        )
        start = min(float(series["values"][0][0]) for series in samples)
        end = max(float(series["values"][-1][0]) for series in samples)
        at_start = f'sum(spanstream_client_streams_total{{service_name="{SERVICE}"}})'
        assert prometheus.value(at_start, at=start) == per_round
        assert prometheus.value(at_start, at=end) == 2 * per_round
        yield Scraped(prometheus, start, end, rounds)
    finally:
        if prometheus is not None:
            prometheus.stop()
        workload.stop()


# -- expectations per panel query ------------------------------------------------------------------

Result = list[dict[str, Any]]
Check = Callable[[Result, Scraped], None]


def _by(result: Result, *labels: str) -> dict[Any, float]:
    keyed: dict[Any, float] = {}
    for sample in result:
        key = tuple(sample["metric"].get(label, "") for label in labels)
        keyed[key[0] if len(labels) == 1 else key] = float(sample["value"][1])
    return keyed


def _single(result: Result) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _approx(expected: Any) -> Any:
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


def equals(expected: float) -> Check:
    def check(result: Result, run: Scraped) -> None:
        assert _single(result) == _approx(expected)

    return check


def per_second(expected: float) -> Check:
    def check(result: Result, run: Scraped) -> None:
        assert _single(result) * run.seconds == _approx(expected)

    return check


def keyed(label: str | tuple[str, ...], expected: dict[Any, float], rate: bool = False) -> Check:
    labels = (label,) if isinstance(label, str) else label

    def check(result: Result, run: Scraped) -> None:
        found = _by(result, *labels)
        if rate:
            found = {key: value * run.seconds for key, value in found.items()}
        assert found == _approx(expected)

    return check


def latency(result: Result, run: Scraped) -> None:
    value = _single(result)
    assert 0 < value <= run.slowest_stream


def latency_by_model(result: Result, run: Scraped) -> None:
    values = _by(result, "gen_ai_provider_name", "gen_ai_request_model")
    assert {model for _, model in values} <= set(EXPECTED.requests)
    assert all(0 < value <= run.slowest_stream for value in values.values()), values


def mean_duration(result: Result, run: Scraped) -> None:
    slowest = max(r["wall_seconds"] for r in run.rounds[-1])
    assert 0 < _single(result) <= slowest


def ttfc_buckets(result: Result, run: Scraped) -> None:
    buckets = _by(result, "le")
    assert buckets["+Inf"] == _approx(EXPECTED.first_chunks)
    counts = [buckets[le] for le in sorted(buckets, key=float)]
    assert counts == sorted(counts), "cumulative buckets"


def _ratio(numerator: Counter[str], denominator: Counter[str]) -> dict[str, float]:
    return {model: numerator[model] / total for model, total in denominator.items()}


E = EXPECTED
MODELS = {("openai", model): count for model, count in E.requests.items()}
ERROR_RATIO = {("openai", model): E.errors[model] / n for model, n in E.requests.items()}

CHECKS: dict[str, Check] = {
    "Requests/A": equals(E.total_requests),
    "Error rate/A": equals(E.total_errors / E.total_requests),
    "p95 time to first chunk/A": latency,
    "p95 operation duration/A": latency,
    "Cache-hit ratio/A": equals(sum(E.cached.values()) / sum(E.input.values())),
    "Reasoning-token share/A": equals(sum(E.reasoning.values()) / sum(E.output.values())),
    "Requests/s by provider and model/A": keyed(
        ("gen_ai_provider_name", "gen_ai_request_model"), MODELS, rate=True
    ),
    "Streams/s by outcome/A": keyed("spanstream_outcome", dict(E.outcomes), rate=True),
    "Stream outcomes (whole time range)/A": keyed("spanstream_outcome", dict(E.outcomes)),
    "Error rate by model/A": keyed(("gen_ai_provider_name", "gen_ai_request_model"), ERROR_RATIO),
    "Errors/s by error.type/A": keyed("error_type", dict(E.error_types), rate=True),
    "Operation duration (p50 / p95 / p99, mean)/A": latency,
    "Operation duration (p50 / p95 / p99, mean)/B": latency,
    "Operation duration (p50 / p95 / p99, mean)/C": latency,
    "Operation duration (p50 / p95 / p99, mean)/D": mean_duration,
    "Time to first chunk and first token (p50 / p95)/A": latency,
    "Time to first chunk and first token (p50 / p95)/B": latency,
    "Time to first chunk and first token (p50 / p95)/C": latency,
    "Time to first chunk and first token (p50 / p95)/D": latency,
    "Time per output chunk (p50 / p95)/A": latency,
    "Time per output chunk (p50 / p95)/B": latency,
    "Time to first chunk distribution/A": ttfc_buckets,
    "Tokens/s by type/A": keyed(
        "gen_ai_token_type",
        {"input": sum(E.input.values()), "output": sum(E.output.values())},
        rate=True,
    ),
    "Tokens/s by type/B": per_second(sum(E.cached.values())),
    # The recordings report cache writes only as 0 (o4-mini's cache_write_tokens).
    "Tokens/s by type/C": per_second(0),
    "Tokens/s by type/D": per_second(sum(E.reasoning.values())),
    "Cache-hit ratio by model/A": keyed("gen_ai_request_model", _ratio(E.cached, E.input)),
    "Reasoning-token share by model/A": keyed(
        "gen_ai_request_model", _ratio(E.reasoning, E.output)
    ),
    "Top models/A": keyed(("gen_ai_provider_name", "gen_ai_request_model"), MODELS),
    "Top models/B": keyed(("gen_ai_provider_name", "gen_ai_request_model"), ERROR_RATIO),
    "Top models/C": latency_by_model,
    "Top models/D": latency_by_model,
    "Top models/E": keyed(
        ("gen_ai_provider_name", "gen_ai_request_model"),
        {("openai", m): v for m, v in E.input.items()},
    ),
    "Top models/F": keyed(
        ("gen_ai_provider_name", "gen_ai_request_model"),
        {("openai", m): v for m, v in E.output.items()},
    ),
    "Requested vs response model/A": keyed(
        ("gen_ai_request_model", "gen_ai_response_model"), dict(E.response_models)
    ),
}


def test_every_dashboard_query_has_an_expectation() -> None:
    assert {query.naming for query in PROMQL} == {"default", "latest"}
    for file in {query.file for query in PROMQL}:
        keys = [query.key for query in PROMQL if query.file == file]
        assert len(keys) == len(set(keys)), f"panel titles/refIds must identify queries ({file})"
        assert set(keys) == set(CHECKS), f"add an expectation for each new panel query ({file})"


def _check_result(result: Result, text: str) -> None:
    assert result, f"no data for {text}"
    for sample in result:
        value = float(sample["value"][1])
        assert math.isfinite(value), f"{value} in {sample} for {text}"
        assert value >= 0, f"{value} in {sample} for {text}"


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.id)
def test_dashboard_query_returns_plausible_data(
    query: Query, request: pytest.FixtureRequest
) -> None:
    """The same round through either naming set shows the same numbers on its dashboard."""
    run = _run_for(query.naming, request)
    result = run.evaluate(query.text)
    _check_result(result, query.text)
    CHECKS[query.key](result, run)


@pytest.mark.parametrize("naming", ["default", "latest"])
def test_latency_percentiles_are_ordered(naming: str, request: pytest.FixtureRequest) -> None:
    run = _run_for(naming, request)
    by_key = {
        q.key: _single(run.evaluate(q.text))
        for q in PROMQL
        if q.naming == naming and "p50" in q.panel["title"]
    }
    duration = "Operation duration (p50 / p95 / p99, mean)"
    first = "Time to first chunk and first token (p50 / p95)"
    chunk = "Time per output chunk (p50 / p95)"
    assert by_key[f"{duration}/A"] <= by_key[f"{duration}/B"] <= by_key[f"{duration}/C"]
    assert by_key[f"{first}/A"] <= by_key[f"{first}/B"]
    assert by_key[f"{first}/C"] <= by_key[f"{first}/D"]
    assert by_key[f"{chunk}/A"] <= by_key[f"{chunk}/B"]


@pytest.mark.parametrize("dashboard", sorted(p.name for p in (REPO / "dashboards").glob("*.json")))
def test_variable_queries_list_the_workload_s_service_provider_and_models(
    dashboard: str, request: pytest.FixtureRequest
) -> None:
    """``label_values(selector, label)`` is Grafana's; Prometheus answers it as a label-values
    request with a series matcher."""
    scraped = _run_for(generator().NAMING[dashboard], request)
    expected = {"service": {SERVICE}, "provider": {"openai"}, "model": set(E.requests)}
    for path in [REPO / "dashboards" / dashboard]:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["type"] != "query":
                continue
            text = substitute(variable["query"], {"service": ".*", "provider": ".*"})
            selector, label = text.removeprefix("label_values(").removesuffix(")").rsplit(",", 1)
            values = scraped.prometheus.api(
                f"/api/v1/label/{label.strip()}/values", {"match[]": selector}
            )
            assert set(values) == expected[variable["name"]], variable["name"]


def _rules() -> list[dict[str, str]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


RATIO_RULES = {
    "service_provider_model:gen_ai_client_error_ratio:rate5m": {
        m: E.errors[m] / n for m, n in E.requests.items()
    },
    "service_provider_model:gen_ai_client_cache_hit_ratio:rate5m": _ratio(E.cached, E.input),
    "service_provider_model:gen_ai_client_reasoning_share:rate5m": _ratio(E.reasoning, E.output),
}


@pytest.mark.parametrize("naming", ["default", "latest"])
@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["record"])
def test_recording_rule_is_loaded_and_returns_plausible_data(
    rule: dict[str, str], naming: str, request: pytest.FixtureRequest
) -> None:
    """Each rule reads either naming set, and records the same numbers from both."""
    scraped = _run_for(naming, request)
    prometheus = scraped.prometheus
    loaded = {
        r["name"]: r for group in prometheus.api("/api/v1/rules")["groups"] for r in group["rules"]
    }
    assert loaded[rule["record"]]["health"] != "err", loaded[rule["record"]]
    # The rule's own expression, and the series Prometheus records from it.
    result = prometheus.query(rule["expr"], at=scraped.end)
    _check_result(result, rule["expr"])
    assert all(s["metric"].get("service_name") == SERVICE for s in result)
    if rule["record"] in RATIO_RULES:
        assert _by(result, "gen_ai_request_model") == _approx(RATIO_RULES[rule["record"]])
    wait_until(lambda: prometheus.query(rule["record"]), f"{rule['record']} to be recorded")


def _datasource_metric_queries() -> list[tuple[str, str]]:
    provisioning = TELEMETRY / "grafana" / "provisioning" / "datasources"
    found = []
    for path in sorted(provisioning.glob("*.yaml")):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            links = source.get("jsonData", {}).get("tracesToMetrics", {})
            for item in links.get("queries", []):
                found.append((f"{source['name']}: {item['name']}", item["query"]))
    return found


@pytest.mark.parametrize(("name", "text"), _datasource_metric_queries())
def test_trace_to_metrics_link_returns_data_for_a_span_s_tags(
    name: str, text: str, scraped: Scraped
) -> None:
    """The queries Grafana runs from a span: ``$__tags`` becomes the span's mapped tags."""
    tags = f'service_name="{SERVICE}", gen_ai_request_model="gpt-4o"'
    expr = text.replace("$$", "$").replace("$__tags", tags)
    result = scraped.prometheus.query(expr, at=scraped.end)
    _check_result(result, expr)
