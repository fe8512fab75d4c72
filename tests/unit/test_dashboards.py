"""The committed Grafana dashboards: generated, loadable by file provisioning, and built only on
what spanstream really emits (the lint rules of grafana/dashboard-linter that apply, plus ours).

Whether every query returns data is proven against a real Prometheus in
``tests/integration/test_dashboards_prometheus.py``.
"""

from __future__ import annotations

import re

import pytest

from spanstream import APIStatusError, ResponseFailedError, RetryPolicy
from spanstream.telemetry.metrics import METRICS
from spanstream.testing import GenAITelemetry, ReplayServer, Reply

from ..conftest import RESPONSES
from ..dashboards import DASHBOARDS as FOLDER
from ..dashboards import (
    Json,
    Query,
    dashboard_files,
    generator,
    load,
    panels,
    queries,
    variables_used,
)

DASHBOARDS = {path.name: load(path) for path in dashboard_files()}
PROMQL = queries("prometheus")
TRACEQL = queries("tempo")

# A metric selector: a name directly followed by its label matchers.
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^}]*\}(\[[^\]]*\])?")


def _variables(dashboard: Json) -> dict[str, Json]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def _visible_panels(dashboard: Json) -> list[Json]:
    return [p for p in panels(dashboard) if p["type"] != "row"]


def test_the_overview_dashboard_is_committed() -> None:
    titles = {d["title"] for d in DASHBOARDS.values()}
    assert "GenAI client overview" in titles
    assert PROMQL, "no Prometheus query found"
    assert TRACEQL, "no TraceQL query found"


def test_committed_json_is_what_the_generator_writes() -> None:
    rendered = generator().render()
    assert set(rendered) == set(DASHBOARDS), "a dashboard file is missing or not generated"
    for name, text in rendered.items():
        committed = (FOLDER / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run `make dashboards`"


def test_prometheus_names_follow_the_otlp_translation() -> None:
    name = generator().prometheus_name
    default = METRICS["default"]
    assert name(default["duration"]) == "gen_ai_client_operation_duration_seconds"
    assert name(default["input_tokens"]) == "gen_ai_client_token_usage"
    assert name(default["streams"]) == "spanstream_client_streams_total"
    assert (
        name(default["cache_read_input_tokens"])
        == "spanstream_client_usage_cache_read_input_tokens_total"
    )


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_no_import_placeholders_so_file_provisioning_works(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert "__inputs" not in dashboard
    assert "${DS_" not in (FOLDER / name).read_text(encoding="utf-8")
    assert dashboard.get("id") is None
    assert 8 <= len(dashboard["uid"]) <= 40


def test_uids_are_unique_across_dashboards() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique_and_panels_fit_the_grid_without_overlap(name: str) -> None:
    every = list(panels(DASHBOARDS[name]))
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    taken: dict[tuple[int, int], str] = {}
    for panel in every:
        grid = panel["gridPos"]
        assert grid["w"] > 0, panel["title"]
        assert 0 <= grid["x"] <= 24 - grid["w"], panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_has_a_title_a_description_a_unit_and_a_datasource_variable(
    name: str,
) -> None:
    dashboard = DASHBOARDS[name]
    variables = _variables(dashboard)
    for panel in _visible_panels(dashboard):
        assert panel["title"], panel
        assert panel["description"], panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        for source in [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]:
            variable = f"{source['type']}_datasource"
            assert source["uid"] == "${" + variable + "}", panel["title"]
            assert variables[variable]["type"] == "datasource"
            assert variables[variable]["query"] == source["type"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_targets_have_unique_ref_ids(name: str) -> None:
    for panel in _visible_panels(DASHBOARDS[name]):
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids, panel["title"]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    dashboard = DASHBOARDS[name]
    defined = set(_variables(dashboard))
    texts = [q.text for q in queries() if q.dashboard == dashboard["title"]]
    texts += [str(v.get("query", "")) for v in dashboard["templating"]["list"]]
    for text in texts:
        used = {v for v in variables_used(text) if not v.startswith("__")}
        assert used <= defined, f"undefined {used - defined} in {text}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_query_variables_match_everything_for_all_and_refresh_with_the_time_range(
    name: str,
) -> None:
    for variable in DASHBOARDS[name]["templating"]["list"]:
        if variable["type"] != "query":
            continue
        # "All" must be a regex matching every value: Grafana's default (a list of the
        # values it saw) silently drops series it did not see, and "all"/"$__all" match nothing.
        assert variable["includeAll"], variable["name"]
        assert variable["allValue"] == ".*", variable["name"]
        assert variable["refresh"] == 2, variable["name"]
        assert variable["datasource"]["uid"] == "${prometheus_datasource}"


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.id)
def test_counters_and_histograms_are_only_read_through_rate_or_increase(query: Query) -> None:
    """Summing a cumulative counter or ``_sum``/``_bucket`` series without ``rate``/``increase``
    gives "since process start" numbers that reset with the process."""
    text = query.text
    selectors = SELECTOR.findall(text)
    assert selectors, text
    for _, window in selectors:
        assert window in ("[$__rate_interval]", "[$__range]"), f"{window!r} in {text}"
    for function, window in re.findall(r"\b(rate|increase)\([^[]*\[([^\]]*)\]", text):
        if query.target.get("instant"):
            assert window == "$__range", f"an instant tile covers the whole range: {text}"
        elif function == "rate":
            assert window == "$__rate_interval", text


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.id)
def test_queries_use_only_metrics_spanstream_emits(query: Query) -> None:
    name = generator().prometheus_name
    emitted = set()
    for spec in METRICS[query.naming].values():
        base = name(spec)
        if spec.kind == "histogram":
            emitted |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        else:
            emitted.add(base)
    for metric, _ in SELECTOR.findall(query.text):
        assert metric in emitted, f"{metric} is not a metric spanstream emits"
    # Never filter on an SDK's identity (the mistake that leaves peers' dashboards empty), nor
    # on job/instance, which depend on how metrics reach Prometheus.
    assert not re.search(r"\b(telemetry_sdk_\w+|job|instance)\s*[=!]", query.text)


def test_traceql_attributes_are_ones_spanstream_sets(
    genai_telemetry: GenAITelemetry, sse_replay_server: ReplayServer
) -> None:
    """Every ``span.*`` attribute a traces panel filters on or selects is on real spans."""
    client = genai_telemetry.client(sse_replay_server, retry=RetryPolicy(max_retries=0))
    sse_replay_server.enqueue(
        Reply.from_file(RESPONSES / "gpt-4o-cached-tokens.sse"),
        Reply.from_file(RESPONSES / "gpt-5-error-event-then-response-failed.sse"),
        Reply.error(429),
    )
    with client.responses.stream(model="gpt-4o", input="hi") as stream:
        stream.final_response()
    with (
        pytest.raises(ResponseFailedError),
        client.responses.stream(model="gpt-5", input="hi") as stream,
    ):
        stream.final_response()
    with pytest.raises(APIStatusError), client.responses.stream(model="gpt-4.1", input="hi"):
        pass
    client.close()
    spans = genai_telemetry.inference_spans
    span_keys = {key for span in spans for key in (span.attributes or {})}
    resource_keys = {key for span in spans for key in span.resource.attributes}

    for query in TRACEQL:
        used_span = set(re.findall(r"(?<![\w.])span\.([\w.]+)", query.text))
        used_resource = set(re.findall(r"(?<![\w.])resource\.([\w.]+)", query.text))
        assert used_span, query.key
        assert used_span <= span_keys, f"{used_span - span_keys} in {query.key}"
        assert used_resource <= resource_keys, f"{used_resource - resource_keys} in {query.key}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_the_provider_variable_lists_every_provider_name_and_filters_by_regex(name: str) -> None:
    """Provider names other than openai/anthropic (``azure.ai.openai``, ``x_ai``...) must be
    offered and, once selected, matched: the variable lists the label's values, not a fixed
    set, and every query filters on it with a regex matcher (Grafana regex-escapes the selected
    values, so a dot in a name matches only a dot)."""
    provider = _variables(DASHBOARDS[name])["provider"]
    assert provider["type"] == "query"
    assert provider["query"].startswith("label_values(")
    assert provider["query"].endswith(", gen_ai_provider_name)")
    assert provider["regex"] == ""
    assert provider["multi"]
    assert "provider_name" in provider["description"]
    title = DASHBOARDS[name]["title"]
    uses = 0
    for query in queries():
        if query.dashboard != title or "provider" not in variables_used(query.text):
            continue
        uses += 1
        if query.datasource_type == "tempo":
            assert 'span.gen_ai.provider.name =~ "${provider:regex}"' in query.text
        else:
            assert 'gen_ai_provider_name=~"$provider"' in query.text, query.text
            assert 'gen_ai_provider_name="' not in query.text
    assert uses, "no query filters on the provider"
