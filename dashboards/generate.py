"""Generate the Grafana dashboards of this folder (``make dashboards``).

The committed JSON is what Grafana loads (``telemetry/`` provisions this folder) and what users
import by hand; this script is its source. Run ``python dashboards/generate.py`` after editing it,
or ``python dashboards/generate.py --check`` to fail when the committed JSON is stale (the test
suite does the same).

Metric names are not typed in here: they are derived from spanstream's own instrument table
(``spanstream.telemetry.metrics.METRICS``: one dashboard per naming set) with the OpenTelemetry to
Prometheus translation that both Prometheus 3's OTLP receiver (``UnderscoreEscapingWithSuffixes``)
and the Python Prometheus exporter apply, so a renamed instrument changes the dashboards too.

Plain dictionaries rather than ``grafana-foundation-sdk``: the SDK needs Python >= 3.11 (the
project supports 3.10), is alpha with epoch-versioned releases, and would add a dependency for
one file of JSON. The output is the classic dashboard model (schemaVersion 41), which Grafana
10 to 13 load, with datasource *variables* (no ``__inputs``), so file provisioning and manual
import both work.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spanstream.telemetry.metrics import METRICS, Measure, MetricSpec

HERE = Path(__file__).resolve().parent

Json = dict[str, Any]

# -- metric names --------------------------------------------------------------------------------


def prometheus_name(spec: MetricSpec) -> str:
    """The Prometheus name of an instrument: dots to ``_``, unit suffix, ``_total`` on counters.

    Units in braces (``{token}``, ``{stream}``) are annotations and add no suffix; ``s`` becomes
    ``_seconds``.
    """
    name = spec.name.replace(".", "_")
    units = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}
    if not spec.unit.startswith("{") and spec.unit:
        suffix = units[spec.unit]
        if not name.endswith(f"_{suffix}"):
            name = f"{name}_{suffix}"
    if spec.kind == "counter":
        name = f"{name}_total"
    return name


@dataclass(frozen=True)
class Names:
    """The Prometheus metric names of one naming set of ``METRICS``, and how to read token
    totals from it: the released set has one token histogram split by ``gen_ai_token_type``;
    the latest set has one counter per token type."""

    naming: str
    duration: str
    ttfc: str
    tpoc: str
    ttft: str
    streams: str
    cache_read: str
    cache_write: str
    reasoning: str

    @classmethod
    def of(cls, naming: str) -> Names:
        return cls(
            naming,
            *(
                prometheus_name(METRICS[naming][measure])
                for measure in (
                    "duration",
                    "time_to_first_chunk",
                    "time_per_output_chunk",
                    "time_to_first_token",
                    "streams",
                    "cache_read_input_tokens",
                    "cache_write_input_tokens",
                    "reasoning_output_tokens",
                )
            ),
        )

    @property
    def latest(self) -> bool:
        return self.naming == "latest"

    def metric(self, measure: Measure) -> str:
        return prometheus_name(METRICS[self.naming][measure])

    def tokens(self, token_type: str, window: str, by: str | None = None) -> str:
        """Input or output tokens over ``window``."""
        if self.latest:
            counter: Measure = "input_tokens" if token_type == "input" else "output_tokens"
            return total(self.metric(counter), window, SEL, by)
        histogram = self.metric("input_tokens")  # input and output share it (gen_ai_token_type)
        return total(f"{histogram}_sum", window, f'{SEL}, gen_ai_token_type="{token_type}"', by)

    def tokens_by_type(self, window: str) -> str:
        """Input and output tokens over ``window``, one series each, labelled
        ``gen_ai_token_type`` in both naming sets."""
        if not self.latest:
            return total(f"{self.metric('input_tokens')}_sum", window, by="gen_ai_token_type")
        return " or ".join(
            f'label_replace({self.tokens(kind, window)}, "gen_ai_token_type", "{kind}", "", "")'
            for kind in ("input", "output")
        )


DEFAULT = Names.of("default")
LATEST = Names.of("latest")

# -- selectors and expressions -------------------------------------------------------------------

# Resource attribute service.name arrives as service_name: the stack's Prometheus promotes it
# (otlp.promote_resource_attributes). Dashboards never filter on SDK identity labels.
SEL = 'service_name=~"$service", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
ERRORS = f'{SEL}, error_type!=""'
RATE = "$__rate_interval"
RANGE = "$__range"
BY_MODEL = "gen_ai_provider_name, gen_ai_request_model"


def _window(fn: str, metric: str, selector: str, window: str) -> str:
    return f"{fn}({metric}{{{selector}}}[{window}])"


def total(metric: str, window: str, selector: str = SEL, by: str | None = None) -> str:
    """``sum [by (...)] (increase|rate(metric{selector}[window]))``: increase over the
    dashboard range, rate over the rate interval."""
    fn = "increase" if window == RANGE else "rate"
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({_window(fn, metric, selector, window)})"


def quantile(q: float, histogram: str, window: str, by: str | None = None) -> str:
    grouping = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({grouping}) "
        f"(rate({histogram}_bucket{{{SEL}}}[{window}])))"
    )


def mean(histogram: str, window: str) -> str:
    return f"{total(f'{histogram}_sum', window)} / {total(f'{histogram}_count', window)}"


def error_ratio(n: Names, window: str, by: str | None = None) -> str:
    """Failed ÷ all operations; 0 (not "no data") for groups without any failure."""
    errors = total(f"{n.duration}_count", window, ERRORS, by)
    everything = total(f"{n.duration}_count", window, SEL, by)
    if by is None:
        return f"({errors} or vector(0)) / {everything}"
    return f"({errors} or {everything} * 0) / {everything}"


def token_share(n: Names, counter: str, token_type: str, window: str, by: str | None = None) -> str:
    """A token counter that is a subset of input or output tokens, as a share of them."""
    return f"{total(counter, window, SEL, by)} / {n.tokens(token_type, window, by)}"


# -- panels --------------------------------------------------------------------------------------

PROMETHEUS = {"type": "prometheus", "uid": "${prometheus_datasource}"}
TEMPO = {"type": "tempo", "uid": "${tempo_datasource}"}


def target(
    expr: str,
    legend: str = "__auto",
    *,
    instant: bool = False,
    table: bool = False,
    heatmap: bool = False,
    exemplar: bool = False,
) -> Json:
    """A Prometheus query of a panel (refIds are assigned when the panel is laid out); a table
    query is an instant one over the whole range."""
    instant = instant or table
    result: Json = {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
    }
    if table:
        result["format"] = "table"
    if heatmap:
        result["format"] = "heatmap"
    if exemplar:
        result["exemplar"] = True
    return result


def traceql(query: str) -> Json:
    return {
        "datasource": TEMPO,
        "queryType": "traceql",
        "query": query,
        "limit": 20,
        "spss": 3,
        "tableType": "traces",
    }


@dataclass
class Panel:
    kind: str
    title: str
    description: str
    targets: list[Json]
    width: int
    height: int
    unit: str = "short"
    options: Json = field(default_factory=dict)
    defaults: Json = field(default_factory=dict)
    overrides: list[Json] = field(default_factory=list)
    transformations: list[Json] = field(default_factory=list)


@dataclass
class Row:
    title: str
    panels: list[Panel]


def stat(title: str, description: str, expr: str, unit: str, **defaults: Any) -> Panel:
    return Panel(
        "stat",
        title,
        description,
        [target(expr, title, instant=True)],
        width=4,
        height=4,
        unit=unit,
        options={
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value",
        },
        defaults={"color": {"mode": "thresholds"}, **defaults},
    )


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    unit: str,
    width: int = 12,
    *,
    stacked: bool = False,
    axis_label: str = "",
    overrides: list[Json] | None = None,
) -> Panel:
    custom: Json = {"drawStyle": "line", "fillOpacity": 10, "showPoints": "never"}
    if stacked:
        custom.update({"stacking": {"group": "A", "mode": "normal"}, "fillOpacity": 40})
    if axis_label:
        custom["axisLabel"] = axis_label
    return Panel(
        "timeseries",
        title,
        description,
        targets,
        width=width,
        height=8,
        unit=unit,
        options={
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        defaults={"custom": custom},
        overrides=overrides or [],
    )


def _percent(**extra: Any) -> Json:
    return {"min": 0, "max": 1, **extra}


def _thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def _color(name: str, color: str) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}],
    }


OUTCOME_COLORS = {
    "completed": "green",
    "incomplete": "yellow",
    "failed": "red",
    "error": "dark-red",
    "cancelled": "purple",
    "abandoned": "orange",
}

TRACEQL_FILTER = (
    'span.gen_ai.operation.name = "chat"'
    ' && resource.service.name =~ "${service:regex}"'
    ' && span.gen_ai.provider.name =~ "${provider:regex}"'
    ' && span.gen_ai.request.model =~ "${model:regex}"'
)


def overview(n: Names) -> list[Row]:
    """The "GenAI client overview" dashboard, top to bottom."""
    latency_note = (
        " Buckets are the conventions' 10 ms to 82 s powers of two, so percentiles are "
        "interpolated within a bucket."
    )
    return [
        Row(
            "Overview (whole time range)",
            [
                stat(
                    "Requests",
                    "Streams started in the selected time range, failed and abandoned ones "
                    f"included ({METRICS[n.naming]['duration'].name} count).",
                    total(f"{n.duration}_count", RANGE),
                    "short",
                    decimals=0,
                ),
                stat(
                    "Error rate",
                    "Share of operations that ended with an error.type: HTTP status, "
                    "transport error, or a failure the provider reported in the stream. "
                    "Abandoned and cancelled streams are not errors.",
                    error_ratio(n, RANGE),
                    "percentunit",
                    thresholds=_thresholds((None, "green"), (0.01, "orange"), (0.05, "red")),
                ),
                stat(
                    "p95 time to first chunk",
                    "95th percentile of the time from sending the request to the first "
                    "server-sent event." + latency_note,
                    quantile(0.95, n.ttfc, RANGE),
                    "s",
                ),
                stat(
                    "p95 operation duration",
                    "95th percentile of the whole operation, request to last event." + latency_note,
                    quantile(0.95, n.duration, RANGE),
                    "s",
                ),
                stat(
                    "Cache-hit ratio",
                    "Input tokens read from the provider's prompt cache ÷ all input tokens "
                    "(cached tokens are a subset of input tokens). Token-weighted.",
                    token_share(n, n.cache_read, "input", RANGE),
                    "percentunit",
                    **_percent(),
                ),
                stat(
                    "Reasoning-token share",
                    "Reasoning tokens ÷ all output tokens (reasoning tokens are a subset of "
                    "output tokens and are billed as output).",
                    token_share(n, n.reasoning, "output", RANGE),
                    "percentunit",
                    **_percent(),
                ),
            ],
        ),
        Row(
            "Traffic and outcomes",
            [
                timeseries(
                    "Requests/s by provider and model",
                    "Operations per second by provider and requested model.",
                    [
                        target(
                            total(f"{n.duration}_count", RATE, by=BY_MODEL),
                            "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                        )
                    ],
                    "reqps",
                    width=8,
                ),
                timeseries(
                    "Streams/s by outcome",
                    "How streams ended (spanstream.outcome): completed, incomplete (cut by a "
                    "limit), failed (the provider reported a failure), error (HTTP or "
                    "transport), cancelled (asyncio task cancelled), abandoned (the consumer "
                    "stopped early).",
                    [
                        target(
                            total(n.streams, RATE, by="spanstream_outcome"),
                            "{{spanstream_outcome}}",
                        )
                    ],
                    "reqps",
                    width=8,
                    stacked=True,
                    overrides=[_color(name, color) for name, color in OUTCOME_COLORS.items()],
                ),
                Panel(
                    "bargauge",
                    "Stream outcomes (whole time range)",
                    "Number of streams per outcome in the selected time range.",
                    [
                        target(
                            total(n.streams, RANGE, by="spanstream_outcome"),
                            "{{spanstream_outcome}}",
                            instant=True,
                        )
                    ],
                    width=8,
                    height=8,
                    options={
                        "displayMode": "basic",
                        "orientation": "horizontal",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "showUnfilled": True,
                    },
                    defaults={"decimals": 0},
                    overrides=[_color(name, color) for name, color in OUTCOME_COLORS.items()],
                ),
            ],
        ),
        Row(
            "Errors",
            [
                timeseries(
                    "Error rate by model",
                    "Failed ÷ all operations per requested model; a model without failures "
                    "shows 0 rather than no data.",
                    [target(error_ratio(n, RATE, BY_MODEL), "{{gen_ai_request_model}}")],
                    "percentunit",
                ),
                timeseries(
                    "Errors/s by error.type",
                    "Failed operations per second by error.type: an HTTP status code (429 "
                    "rate limited, 5xx provider error), the provider's error code from the "
                    "stream (e.g. insufficient_quota), or a client-side exception class.",
                    [
                        target(
                            total(f"{n.duration}_count", RATE, ERRORS, by="error_type"),
                            "{{error_type}}",
                        )
                    ],
                    "reqps",
                    stacked=True,
                ),
            ],
        ),
        Row(
            "Latency",
            [
                timeseries(
                    "Operation duration (p50 / p95 / p99, mean)",
                    "Request sent to stream end, failed streams included. Exemplars link "
                    "to the trace of a sampled slow stream." + latency_note,
                    [
                        target(quantile(q, n.duration, RATE), f"p{round(q * 100)}", exemplar=True)
                        for q in (0.5, 0.95, 0.99)
                    ]
                    + [target(mean(n.duration, RATE), "mean")],
                    "s",
                ),
                timeseries(
                    "Time to first chunk and first token (p50 / p95)",
                    "Time to first chunk: request sent to the first server-sent event "
                    "(semconv). Time to first token: to the first text, refusal or tool-call "
                    "delta (spanstream). Streaming calls only." + latency_note,
                    [
                        target(quantile(0.5, n.ttfc, RATE), "first chunk p50", exemplar=True),
                        target(quantile(0.95, n.ttfc, RATE), "first chunk p95", exemplar=True),
                        target(quantile(0.5, n.ttft, RATE), "first token p50", exemplar=True),
                        target(quantile(0.95, n.ttft, RATE), "first token p95", exemplar=True),
                    ],
                    "s",
                ),
                timeseries(
                    "Time per output chunk (p50 / p95)",
                    "Mean gap between server-sent events after the first, one value per "
                    "stream: how smoothly a stream arrives." + latency_note,
                    [
                        target(quantile(0.5, n.tpoc, RATE), "p50"),
                        target(quantile(0.95, n.tpoc, RATE), "p95"),
                    ],
                    "s",
                ),
                Panel(
                    "heatmap",
                    "Time to first chunk distribution",
                    "Streams per time-to-first-chunk bucket over time: shows two-mode "
                    "patterns (warm and cold prompt cache, queueing) that one percentile "
                    "hides.",
                    [
                        target(
                            f"sum by (le) ({_window('increase', f'{n.ttfc}_bucket', SEL, RATE)})",
                            "{{le}}",
                            heatmap=True,
                        )
                    ],
                    width=12,
                    height=8,
                    unit="s",
                    options={
                        "calculate": False,
                        "cellGap": 1,
                        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                        "yAxis": {"unit": "s"},
                        "tooltip": {"mode": "single", "yHistogram": True},
                    },
                ),
            ],
        ),
        Row(
            "Tokens and prompt cache",
            [
                timeseries(
                    "Tokens/s by type",
                    "Input and output tokens per second, and within them the tokens read "
                    "from or written to the prompt cache (part of input) and reasoning "
                    "tokens (part of output): do not add them to the totals.",
                    [
                        target(
                            n.tokens_by_type(RATE),
                            "{{gen_ai_token_type}}",
                        ),
                        target(total(n.cache_read, RATE), "cache read (part of input)"),
                        target(total(n.cache_write, RATE), "cache write (part of input)"),
                        target(total(n.reasoning, RATE), "reasoning (part of output)"),
                    ],
                    "short",
                    axis_label="tokens/s",
                ),
                timeseries(
                    "Cache-hit ratio by model",
                    "Cached input tokens ÷ input tokens per requested model.",
                    [
                        target(
                            token_share(n, n.cache_read, "input", RATE, "gen_ai_request_model"),
                            "{{gen_ai_request_model}}",
                        )
                    ],
                    "percentunit",
                    width=6,
                ),
                timeseries(
                    "Reasoning-token share by model",
                    "Reasoning tokens ÷ output tokens per requested model.",
                    [
                        target(
                            token_share(n, n.reasoning, "output", RATE, "gen_ai_request_model"),
                            "{{gen_ai_request_model}}",
                        )
                    ],
                    "percentunit",
                    width=6,
                ),
            ],
        ),
        Row(
            "Models",
            [
                Panel(
                    "table",
                    "Top models",
                    "Per provider and requested model over the selected time range, busiest "
                    "first: requests, error rate, p95 duration and time to first chunk, "
                    "tokens.",
                    [
                        target(total(f"{n.duration}_count", RANGE, by=BY_MODEL), table=True),
                        target(error_ratio(n, RANGE, BY_MODEL), table=True),
                        target(quantile(0.95, n.duration, RANGE, BY_MODEL), table=True),
                        target(quantile(0.95, n.ttfc, RANGE, BY_MODEL), table=True),
                        target(n.tokens("input", RANGE, BY_MODEL), table=True),
                        target(n.tokens("output", RANGE, BY_MODEL), table=True),
                    ],
                    width=16,
                    height=8,
                    options={
                        "showHeader": True,
                        "sortBy": [{"desc": True, "displayName": "Requests"}],
                    },
                    transformations=[
                        {"id": "merge", "options": {}},
                        {
                            "id": "organize",
                            "options": {
                                "excludeByName": {"Time": True},
                                "renameByName": {
                                    "gen_ai_provider_name": "Provider",
                                    "gen_ai_request_model": "Model",
                                    "Value #A": "Requests",
                                    "Value #B": "Error rate",
                                    "Value #C": "p95 duration",
                                    "Value #D": "p95 time to first chunk",
                                    "Value #E": "Input tokens",
                                    "Value #F": "Output tokens",
                                },
                            },
                        },
                    ],
                    overrides=[
                        _unit("Requests", "short", decimals=0),
                        _unit("Error rate", "percentunit"),
                        _unit("p95 duration", "s"),
                        _unit("p95 time to first chunk", "s"),
                        _unit("Input tokens", "short", decimals=0),
                        _unit("Output tokens", "short", decimals=0),
                    ],
                ),
                Panel(
                    "table",
                    "Requested vs response model",
                    "Which model actually answered each requested model (aliases such as "
                    "gpt-4o resolve to dated snapshots; a change here is a silent model swap).",
                    [
                        target(
                            total(
                                f"{n.duration}_count",
                                RANGE,
                                f'{SEL}, gen_ai_response_model!=""',
                                "gen_ai_request_model, gen_ai_response_model",
                            ),
                            table=True,
                        )
                    ],
                    width=8,
                    height=8,
                    options={"showHeader": True},
                    transformations=[
                        {
                            "id": "organize",
                            "options": {
                                "excludeByName": {"Time": True},
                                "renameByName": {
                                    "gen_ai_request_model": "Requested",
                                    "gen_ai_response_model": "Response",
                                    "Value": "Requests",
                                },
                            },
                        }
                    ],
                    defaults={"decimals": 0},
                ),
            ],
        ),
        Row(
            "Traces (Tempo)",
            [
                Panel(
                    "table",
                    "Slowest streams",
                    "Recent inference spans longer than the 'Slow stream threshold' "
                    "variable, slowest first; open one to see its whole trace.",
                    [
                        traceql(
                            "{" + TRACEQL_FILTER + " && duration >= ${slow_threshold}} | select("
                            "span.gen_ai.response.model, span.spanstream.outcome, "
                            "span.gen_ai.response.time_to_first_chunk, "
                            "span.gen_ai.usage.input_tokens, span.gen_ai.usage.output_tokens)"
                        )
                    ],
                    width=12,
                    height=10,
                    options={"sortBy": [{"desc": True, "displayName": "Duration"}]},
                ),
                Panel(
                    "table",
                    "Failed streams",
                    "Recent inference spans with status ERROR (failed or error outcome), "
                    "with their error.type.",
                    [
                        traceql(
                            "{" + TRACEQL_FILTER + " && status = error} | select(span.error.type, "
                            "span.spanstream.outcome, span.gen_ai.response.id)"
                        )
                    ],
                    width=12,
                    height=10,
                ),
            ],
        ),
    ]


def _unit(name: str, unit: str, decimals: int | None = None) -> Json:
    properties: list[Json] = [{"id": "unit", "value": unit}]
    if decimals is not None:
        properties.append({"id": "decimals", "value": decimals})
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


# -- variables -----------------------------------------------------------------------------------


def datasource_variable(kind: str, label: str, uid: str, text: str) -> Json:
    """A datasource variable defaulting to the datasource the stack provisions (its fixed uid)."""
    return {
        "name": f"{kind}_datasource",
        "label": label,
        "type": "datasource",
        "query": kind,
        "current": {"selected": False, "text": text, "value": uid},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_variable(name: str, label: str, query: str, description: str = "") -> Json:
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": query,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def custom_variable(name: str, label: str, values: list[str], default: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "current": {"selected": True, "text": default, "value": default},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [
            {"selected": value == default, "text": value, "value": value} for value in values
        ],
    }


def variables(n: Names) -> list[Json]:
    count = f"{n.duration}_count"
    return [
        datasource_variable("prometheus", "Prometheus data source", "prometheus", "Prometheus"),
        datasource_variable("tempo", "Tempo data source", "tempo", "Tempo"),
        query_variable("service", "Service", f"label_values({count}, service_name)"),
        query_variable(
            "provider",
            "Provider",
            f'label_values({count}{{service_name=~"$service"}}, gen_ai_provider_name)',
            "gen_ai.provider.name values seen: an OpenAI-compatible server the conventions "
            "name appears under its own name (deepseek, groq, x_ai, mistral_ai, "
            "azure.ai.openai, ...), others as the API they speak (openai, anthropic) unless "
            "the client was given provider_name.",
        ),
        query_variable(
            "model",
            "Model",
            f'label_values({count}{{service_name=~"$service", '
            f'gen_ai_provider_name=~"$provider"}}, gen_ai_request_model)',
        ),
        custom_variable(
            "slow_threshold",
            "Slow stream threshold",
            ["0s", "1s", "2s", "5s", "10s", "30s", "1m"],
            "0s",
        ),
    ]


# -- assembly ------------------------------------------------------------------------------------


def _layout(rows: list[Row]) -> Iterator[Json]:
    """Panels with ids and grid positions: each row starts a new line; panels flow left to
    right, wrapping at 24 columns."""
    panel_id = 0
    y = 0
    for row in rows:
        panel_id += 1
        yield {
            "type": "row",
            "id": panel_id,
            "title": row.title,
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        }
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                y += line_height
                x = line_height = 0
            panel_id += 1
            yield _panel_json(
                panel, panel_id, {"h": panel.height, "w": panel.width, "x": x, "y": y}
            )
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height


def _panel_json(panel: Panel, panel_id: int, grid: Json) -> Json:
    targets = [{**t, "refId": chr(ord("A") + index)} for index, t in enumerate(panel.targets)]
    datasource = targets[0]["datasource"]
    defaults: Json = {"unit": panel.unit, **panel.defaults}
    defaults.setdefault("color", {"mode": "palette-classic"})
    defaults.setdefault("thresholds", _thresholds((None, "green")))
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": datasource,
        "gridPos": grid,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        "options": panel.options,
        "transformations": panel.transformations,
    }


def overview_dashboard(n: Names = DEFAULT) -> Json:
    if n.latest:
        uid, title = "spanstream-genai-client-latest", "GenAI client overview (latest conventions)"
        names = (
            "latest GenAI semantic-convention metrics (gen_ai.client.inference.*, what spanstream "
            "emits with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental)"
        )
    else:
        uid, title = "spanstream-genai-client", "GenAI client overview"
        names = "GenAI semantic-convention metrics (v1.41 names)"
    return {
        "uid": uid,
        "title": title,
        "description": (
            "Streams made with spanstream: traffic, errors, latency, tokens, prompt cache and "
            f"reasoning share, per service, provider and model; traces in Tempo. Built on the "
            f"{names} plus spanstream's own counters."
        ),
        "tags": ["spanstream", "genai", "opentelemetry"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 41,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables(n)},
        "panels": list(_layout(overview(n))),
    }


DASHBOARDS = {
    "genai-client-overview.json": lambda: overview_dashboard(DEFAULT),
    "genai-client-overview-latest.json": lambda: overview_dashboard(LATEST),
}
"""File name -> builder; the file name says which naming set (see :data:`NAMING`)."""

NAMING = {"genai-client-overview.json": "default", "genai-client-overview-latest.json": "latest"}
"""File name -> the ``METRICS`` naming set its queries read."""


def render() -> dict[str, str]:
    """File name -> the exact text to commit (deterministic: sorted keys, fixed ids)."""
    return {
        name: json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if a committed dashboard is out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = HERE / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run make dashboards): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
