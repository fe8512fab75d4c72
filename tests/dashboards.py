"""Reading the committed Grafana dashboards (``dashboards/*.json``) and the stack's files.

Shared by the dashboard lint, the stack cross-checks and the real-Prometheus test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DASHBOARDS = REPO / "dashboards"
TELEMETRY = REPO / "telemetry"
RULES = sorted((TELEMETRY / "prometheus" / "rules").glob("*.yml"))

REQUIRE_PROMETHEUS_ENV = "SPANSTREAM_REQUIRE_PROMETHEUS"

Json = dict[str, Any]


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> Json:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def generator() -> ModuleType:
    """``dashboards/generate.py``, imported from its path (``dashboards/`` is no package)."""
    name = "spanstream_dashboards_generate"
    spec = importlib.util.spec_from_file_location(name, DASHBOARDS / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows included, and the panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class Query:
    """One target of one panel."""

    dashboard: str
    panel: Json
    target: Json
    file: str = ""
    """The dashboard's file name (which says the naming set its metrics come from)."""

    @property
    def key(self) -> str:
        """Panel title and refId: unique within one dashboard."""
        return f"{self.panel['title']}/{self.target['refId']}"

    @property
    def naming(self) -> str:
        """The ``METRICS`` naming set the dashboard reads (``default`` or ``latest``)."""
        naming: str = generator().NAMING[self.file]
        return naming

    @property
    def id(self) -> str:
        """A test id unique across dashboards."""
        return self.key if self.naming == "default" else f"{self.naming}:{self.key}"

    @property
    def text(self) -> str:
        return str(self.target.get("expr") or self.target.get("query") or "")

    @property
    def datasource_type(self) -> str:
        source = self.target.get("datasource") or self.panel.get("datasource") or {}
        return str(source.get("type", ""))


def queries(kind: str | None = None) -> list[Query]:
    """Every panel target of every committed dashboard, optionally of one datasource type."""
    found = []
    for path in dashboard_files():
        dashboard = load(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                query = Query(dashboard["title"], panel, target, path.name)
                if kind is None or query.datasource_type == kind:
                    found.append(query)
    return found


_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)")


def variables_used(text: str) -> set[str]:
    """Names of the ``$var`` / ``${var}`` / ``${var:format}`` references in a query."""
    return {a or b for a, b in _VARIABLE.findall(text)}


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variable references by ``values`` (unknown names are an error)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {text!r}")
        return values[name]

    return _VARIABLE.sub(replace, text)


def binary(name: str) -> str:
    """The path of a Prometheus tool; skip (or, when CI requires them, fail) if it is absent."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = (
        f"`{name}` not found: install Debian's `prometheus` package (apt-get install "
        "prometheus) to check the dashboards and the stack against a real Prometheus"
    )
    if os.environ.get(REQUIRE_PROMETHEUS_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_PROMETHEUS_ENV}=1 requires these tests", pytrace=False)
    pytest.skip(reason)
