"""The docker compose stack of ``telemetry/``, checked without Docker (none runs here or in CI).

``promtool`` (Debian's ``prometheus`` package, 2.42) checks the Prometheus config and rules the
stack ships; the compose file and the collector, Jaeger, Tempo and Grafana provisioning files
are parsed and cross-checked: pinned images, loopback-only ports, every file a container
mounts exists, every address one component sends to is one another listens on, every
datasource UID a dashboard or a link refers to is provisioned.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ..dashboards import DASHBOARDS, RULES, TELEMETRY, binary, dashboard_files, load, panels

COMPOSE = yaml.safe_load((TELEMETRY / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
COLLECTOR = yaml.safe_load((TELEMETRY / "otel-collector" / "config.yaml").read_text())
JAEGER = yaml.safe_load((TELEMETRY / "jaeger" / "config.yaml").read_text())
TEMPO = yaml.safe_load((TELEMETRY / "tempo" / "tempo.yaml").read_text())
PROMETHEUS_CONFIG = TELEMETRY / "prometheus" / "prometheus.yml"
GRAFANA = TELEMETRY / "grafana" / "provisioning"
DATASOURCES_FILE = GRAFANA / "datasources" / "datasources.yaml"
DATASOURCES = {d["uid"]: d for d in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}
DASHBOARD_PROVIDERS = yaml.safe_load((GRAFANA / "dashboards" / "spanstream.yaml").read_text())

# Keys of prometheus.yml that only Prometheus 3 knows: removed before Debian's promtool 2.42
# checks the rest ("field otlp not found in type config.plain" otherwise).
PROMETHEUS_3_ONLY = {"otlp"}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# -- Prometheus -----------------------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = binary("promtool")
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert set(config) >= PROMETHEUS_3_ONLY
    for key in PROMETHEUS_3_ONLY:
        del config[key]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "rules").mkdir()
    for rules in RULES:
        (tmp_path / "rules" / rules.name).write_text(rules.read_text())
    checked = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(RULES)} rule files found" in checked.stdout + checked.stderr


@pytest.mark.parametrize("rules", RULES, ids=lambda path: path.name)
def test_promtool_accepts_the_recording_rules(rules: Path) -> None:
    checked = _run(binary("promtool"), "check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_prometheus_receives_otlp_with_the_names_the_dashboards_use() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert "service.name" in config["otlp"]["promote_resource_attributes"]
    assert config["otlp"]["translation_strategy"] == "UnderscoreEscapingWithSuffixes"
    assert config["rule_files"] == ["rules/*.yml"]
    command = SERVICES["prometheus"]["command"]
    assert "--web.enable-otlp-receiver" in command
    assert "--enable-feature=exemplar-storage" in command
    assert "./prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command


# -- compose --------------------------------------------------------------------------------------


def test_the_stack_has_every_component() -> None:
    assert {"otel-collector", "jaeger", "tempo", "prometheus", "grafana"} <= set(SERVICES)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_images_are_pinned_to_a_version(service: str) -> None:
    image = SERVICES[service]["image"]
    name, _, tag = image.rpartition(":")
    assert name, f"{image} has no tag"
    assert "/" not in tag, f"{image} has no tag"
    assert tag != "latest", image
    # A full version, optionally with the image's variant (busybox's statically linked -musl).
    assert re.fullmatch(r"v?\d+\.\d+\.\d+(-[a-z]+)?", tag), f"{image}: pin a full version"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_published_ports_are_bound_to_loopback_only(service: str) -> None:
    for port in SERVICES[service].get("ports", []):
        assert isinstance(port, str), port
        assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", port), f"{service}: {port}"


def _published(service: str) -> dict[int, int]:
    """Container port -> host port."""
    ports = {}
    for port in SERVICES[service].get("ports", []):
        _, host, container = port.split(":")
        ports[int(container)] = int(host)
    return ports


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mounted_file_exists(service: str) -> None:
    for volume in SERVICES[service].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (TELEMETRY / source).exists(), f"{service}: {source}"
        else:
            assert source in COMPOSE["volumes"], f"{service}: undeclared volume {source}"


def test_ports_users_need_are_published() -> None:
    assert _published("otel-collector").keys() >= {4317, 4318}
    assert 16686 in _published("jaeger")
    assert 3000 in _published("grafana")
    assert 9090 in _published("prometheus")
    # Jaeger and Tempo receive OTLP from the collector only: no clash with its host ports.
    assert 4317 not in _published("jaeger")
    assert 4317 not in _published("tempo")


# Services that run once and exit (they prepare a volume); every other one runs for good.
ONE_SHOT = {"tempo-init", "healthcheck-tool"}
LONG_RUNNING = sorted(set(SERVICES) - ONE_SHOT)


def test_one_shot_services_are_the_ones_that_exit() -> None:
    for service in ONE_SHOT:
        assert "restart" not in SERVICES[service], service
        assert "entrypoint" in SERVICES[service], service
    for service in LONG_RUNNING:
        assert SERVICES[service]["restart"] == "unless-stopped", service


def _health_url(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD", f"{service}: exec form, no shell (not every image has one)"
    (url,) = [part for part in test if part.startswith("http://")]
    return str(url)


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck_on_its_own_port(service: str) -> None:
    check = SERVICES[service]["healthcheck"]
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in check, f"{service}: {key}"
    parts = urlsplit(_health_url(service))
    assert parts.hostname == "127.0.0.1", "the check runs inside the service's own container"
    health_ports = {
        "otel-collector": int(COLLECTOR["extensions"]["health_check"]["endpoint"].rsplit(":")[1]),
        "jaeger": int(JAEGER["extensions"]["healthcheckv2"]["http"]["endpoint"].rsplit(":")[1]),
    }
    if service in health_ports:
        assert parts.port == health_ports[service], service
    else:
        assert parts.port in _listens(service), service
    assert parts.path in {"/", "/status", "/ready", "/-/ready", "/api/health"}, parts.path


def test_the_collector_check_runs_the_busybox_the_one_shot_service_provides() -> None:
    """The collector image is FROM scratch (no shell, no wget): its check runs a static
    busybox that healthcheck-tool copies into a shared volume before the collector starts."""
    test = SERVICES["otel-collector"]["healthcheck"]["test"]
    tool = SERVICES["healthcheck-tool"]
    assert tool["image"].endswith("-musl"), "a statically linked busybox"
    (volume,) = tool["volumes"]
    name, target = volume.split(":")[:2]
    assert tool["entrypoint"] == ["cp", "/bin/busybox", f"{target}/busybox"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["otel-collector"]["volumes"]}
    assert mounts[str(Path(test[1]).parent)] == name
    assert test[1:3] == [f"{target}/busybox", "wget"]
    condition = SERVICES["otel-collector"]["depends_on"]["healthcheck-tool"]["condition"]
    assert condition == "service_completed_successfully"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_services_start_after_what_they_need_is_healthy(service: str) -> None:
    depends_on = SERVICES[service].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{service}: a bare list waits only for the start"
    for dependency, how in depends_on.items():
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert how["condition"] == expected, f"{service} -> {dependency}"


def test_each_service_waits_for_the_services_it_sends_to() -> None:
    assert set(SERVICES["otel-collector"]["depends_on"]) >= {"jaeger", "tempo", "prometheus"}
    assert set(SERVICES["jaeger"]["depends_on"]) >= {"prometheus"}  # its Monitor tab
    assert set(SERVICES["grafana"]["depends_on"]) >= set(DATASOURCES)
    assert set(SERVICES["tempo"]["depends_on"]) == {"tempo-init"}


def test_grafana_has_no_settings_grafana_13_removed() -> None:
    environment = SERVICES["grafana"]["environment"]
    removed = {"GF_USERS_VIEWERS_CAN_EDIT", "GF_USERS_EDITORS_CAN_ADMIN"}
    assert not removed & set(environment), removed & set(environment)


def test_grafana_admin_password_has_no_default() -> None:
    environment = SERVICES["grafana"]["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


# -- collector ------------------------------------------------------------------------------------


def _kind(component: str) -> str:
    return component.split("/")[0]


def test_collector_pipelines_use_only_defined_components_and_all_of_them() -> None:
    pipelines = COLLECTOR["service"]["pipelines"]
    defined = {
        section: set(COLLECTOR.get(section) or {})
        for section in ("receivers", "processors", "exporters", "connectors")
    }
    used: dict[str, set[str]] = {section: set() for section in defined}
    for name, pipeline in pipelines.items():
        for component in pipeline["receivers"]:
            section = "connectors" if component in defined["connectors"] else "receivers"
            assert component in defined[section], f"{name}: {component}"
            used[section].add(component)
        for component in pipeline["processors"]:
            assert component in defined["processors"], f"{name}: {component}"
            used["processors"].add(component)
        for component in pipeline["exporters"]:
            section = "connectors" if component in defined["connectors"] else "exporters"
            assert component in defined[section], f"{name}: {component}"
            used[section].add(component)
        # memory_limiter first, so it refuses data before anything buffers it; batch after.
        assert pipeline["processors"][0] == "memory_limiter", name
        assert "batch" in pipeline["processors"], name
    assert used == defined, "a component is defined but unused"
    assert set(COLLECTOR["service"]["extensions"]) == set(COLLECTOR["extensions"])


def test_collector_uses_current_component_names() -> None:
    """Old aliases work but log a deprecation warning at every start (collector 0.144+)."""
    kinds = {_kind(c) for c in COLLECTOR["exporters"]} | {_kind(c) for c in COLLECTOR["connectors"]}
    assert not kinds & {"otlp", "otlphttp", "spanmetrics", "logging"}, kinds


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", duration)
    assert match, duration
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2)]


def test_span_metrics_buckets_reach_long_streams() -> None:
    """The connector's default buckets stop at 15 s: a longer stream would fall in +Inf and
    cap the p95 Jaeger's Monitor tab shows. Explicit buckets, ascending, up to 300 s."""
    histogram = COLLECTOR["connectors"]["span_metrics"]["histogram"]
    assert histogram["unit"] == "ms"
    buckets = [_seconds(b) for b in histogram["explicit"]["buckets"]]
    assert buckets == sorted(set(buckets)), "ascending, no duplicates"
    assert buckets[-1] >= 300
    assert buckets[0] <= 0.01
    assert sum(1 for b in buckets if b > 15) >= 3, "resolution above the old 15 s ceiling"


def test_collector_routes_traces_to_jaeger_and_tempo_and_metrics_to_prometheus() -> None:
    pipelines = COLLECTOR["service"]["pipelines"]
    exporters = COLLECTOR["exporters"]
    traces = {exporters[e]["endpoint"] for e in pipelines["traces"]["exporters"] if e in exporters}
    assert traces == {"jaeger:4317", "tempo:4317"}
    assert "span_metrics" in pipelines["traces"]["exporters"]
    assert "span_metrics" in pipelines["metrics"]["receivers"]
    (metrics,) = pipelines["metrics"]["exporters"]
    assert exporters[metrics]["endpoint"] == "http://prometheus:9090/api/v1/otlp"


def test_collector_receives_on_every_interface_of_its_container_on_published_ports() -> None:
    published = _published("otel-collector")
    for protocol in COLLECTOR["receivers"]["otlp"]["protocols"].values():
        host, port = protocol["endpoint"].rsplit(":", 1)
        assert host == "0.0.0.0"
        assert int(port) in published
    host, port = COLLECTOR["extensions"]["health_check"]["endpoint"].rsplit(":", 1)
    assert int(port) in published


def _listens(service: str) -> set[int]:
    """Ports a backend's own config listens on, inside the compose network."""
    if service == "jaeger":
        otlp = JAEGER["receivers"]["otlp"]["protocols"]
        query = JAEGER["extensions"]["jaeger_query"]
        endpoints = [p["endpoint"] for p in otlp.values()] + [query["http"]["endpoint"]]
        return {int(e.rsplit(":", 1)[1]) for e in endpoints}
    if service == "tempo":
        otlp = TEMPO["distributor"]["receivers"]["otlp"]["protocols"]
        ports = {int(p["endpoint"].rsplit(":", 1)[1]) for p in otlp.values()}
        return ports | {TEMPO["server"]["http_listen_port"]}
    if service == "prometheus":
        return {9090}
    if service == "grafana":
        return {3000}
    raise AssertionError(service)


def _addresses() -> list[tuple[str, str]]:
    """(who, address) of every in-network address the stack's configs send to."""
    found = [
        (f"collector {name}", exporter["endpoint"])
        for name, exporter in COLLECTOR["exporters"].items()
        if "endpoint" in exporter
    ]
    backends = JAEGER["extensions"]["jaeger_storage"]["metric_backends"]
    found += [(f"jaeger {n}", b["prometheus"]["endpoint"]) for n, b in backends.items()]
    found += [(f"grafana {uid}", source["url"]) for uid, source in DATASOURCES.items()]
    found += [("prometheus scrape", t) for t in _scrape_targets() if not t.startswith("localhost")]
    return found


def _scrape_targets() -> list[str]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return [
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]


@pytest.mark.parametrize(("who", "address"), _addresses())
def test_every_address_a_component_sends_to_is_one_another_listens_on(
    who: str, address: str
) -> None:
    parts = urlsplit(address if "//" in address else f"//{address}")
    assert parts.hostname in SERVICES, f"{who}: {address}"
    if parts.hostname == "otel-collector":
        pull = COLLECTOR["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
        assert parts.port == pull["prometheus"]["port"]
        assert pull["prometheus"]["host"] == "0.0.0.0"
    else:
        assert parts.port in _listens(parts.hostname), f"{who}: {address}"


# -- Jaeger and Tempo -----------------------------------------------------------------------------


def test_jaeger_pipeline_uses_defined_components_and_binds_outside_localhost() -> None:
    pipeline = JAEGER["service"]["pipelines"]["traces"]
    assert set(pipeline["receivers"]) <= set(JAEGER["receivers"])
    assert set(pipeline["processors"]) <= set(JAEGER["processors"])
    assert set(pipeline["exporters"]) <= set(JAEGER["exporters"])
    assert set(JAEGER["service"]["extensions"]) == set(JAEGER["extensions"])
    query = JAEGER["extensions"]["jaeger_query"]
    storage = JAEGER["extensions"]["jaeger_storage"]
    assert query["storage"]["traces"] in storage["backends"]
    assert query["storage"]["metrics"] in storage["metric_backends"]
    assert JAEGER["exporters"]["jaeger_storage_exporter"]["trace_storage"] in storage["backends"]
    assert query["http"]["endpoint"] == "0.0.0.0:16686"


def test_tempo_config_is_a_tempo_3_monolith() -> None:
    assert not {"ingester", "ingester_client", "compactor", "metrics_generator_client"} & set(
        TEMPO
    ), "Tempo 3.0 removed these blocks"
    assert "ingest" not in TEMPO, "a monolith needs no Kafka"
    for protocol in TEMPO["distributor"]["receivers"]["otlp"]["protocols"].values():
        assert protocol["endpoint"].startswith("0.0.0.0:")
    assert TEMPO["storage"]["trace"]["backend"] == "local"
    volumes = SERVICES["tempo"]["volumes"]
    assert any(v.endswith(":/var/tempo") for v in volumes)
    assert TEMPO["storage"]["trace"]["local"]["path"].startswith("/var/tempo/")


# -- Grafana --------------------------------------------------------------------------------------


def test_datasources_have_the_fixed_uids_and_types() -> None:
    assert {uid: source["type"] for uid, source in DATASOURCES.items()} == {
        "prometheus": "prometheus",
        "tempo": "tempo",
        "jaeger": "jaeger",
    }
    assert DATASOURCES["prometheus"]["isDefault"] is True


def test_datasource_links_point_at_provisioned_datasources() -> None:
    prometheus = DATASOURCES["prometheus"]["jsonData"]
    destinations = prometheus["exemplarTraceIdDestinations"]
    assert {d["datasourceUid"] for d in destinations if "datasourceUid" in d} <= set(DATASOURCES)
    jaeger_urls = [d["url"] for d in destinations if "url" in d]
    assert all(
        u.startswith(f"http://127.0.0.1:{_published('jaeger')[16686]}/") for u in jaeger_urls
    )
    for uid in ("tempo", "jaeger"):
        links = DATASOURCES[uid]["jsonData"]["tracesToMetrics"]
        assert links["datasourceUid"] in DATASOURCES
        assert {tag["value"] for tag in links["tags"]} <= {"service_name", "gen_ai_request_model"}


def test_grafana_macros_are_escaped_from_env_expansion() -> None:
    """Grafana expands ``$VAR``/``${VAR}`` in provisioning files: its own macros need ``$$``."""
    for path in GRAFANA.rglob("*.yaml"):
        for value in _strings(yaml.safe_load(path.read_text())):
            assert not re.search(r"(?<!\$)\$\{?__", value), f"unescaped in {path}: {value}"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_dashboards_are_provisioned_from_the_dashboards_folder() -> None:
    (provider,) = DASHBOARD_PROVIDERS["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    mounts = dict(
        (volume.split(":")[1], (TELEMETRY / volume.split(":")[0]).resolve())
        for volume in SERVICES["grafana"]["volumes"]
    )
    path = provider["options"]["path"]
    assert mounts[path] == DASHBOARDS.resolve()
    assert mounts["/etc/grafana/provisioning"] == GRAFANA.resolve()
    assert list(DASHBOARDS.glob("*.json"))
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DASHBOARDS / Path(home).relative_to(path)).is_file()


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda path: path.name)
def test_dashboards_refer_only_to_provisioned_datasources(path: Path) -> None:
    dashboard = load(path)
    assert "${DS_" not in path.read_text(), "import placeholders break file provisioning"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    references = [p["datasource"] for p in panels(dashboard) if "datasource" in p]
    references += [t["datasource"] for p in panels(dashboard) for t in p.get("targets", [])]
    references += [v["datasource"] for v in variables.values() if "datasource" in v]
    assert references
    for reference in references:
        uid = reference["uid"]
        match = re.fullmatch(r"\$\{(\w+)\}", uid)
        if match:
            variable = variables[match.group(1)]
            assert variable["type"] == "datasource"
            uid = variable["current"]["value"]
        assert uid in DATASOURCES, f"{reference} -> {uid}"
        assert DATASOURCES[uid]["type"] == reference["type"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
