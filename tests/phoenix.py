"""Arize Phoenix and headless Chromium for the Phoenix tests, or a skip that says why.

Phoenix is started by ``scripts/phoenix.py`` (what ``make view`` runs), imported from its path:
``scripts/`` is no package. A test that cannot have Phoenix (or Chromium) skips with the reason
locally; under CI (``CI=true``, or ``SPANSTREAM_REQUIRE_PHOENIX=1`` which ``.ci/run`` sets) it
fails instead, so a missing install step cannot pass as a skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / ".artifacts"
REQUIRE_PHOENIX_ENV = "SPANSTREAM_REQUIRE_PHOENIX"


@cache
def launcher() -> ModuleType:
    """``scripts/phoenix.py`` as a module."""
    name = "spanstream_scripts_phoenix"
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "phoenix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up there
    spec.loader.exec_module(module)
    return module


def required() -> bool:
    return os.environ.get(REQUIRE_PHOENIX_ENV) == "1" or os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    if required():
        pytest.fail(f"{reason}; CI requires these tests ({REQUIRE_PHOENIX_ENV}=1 or CI=true)")
    pytest.skip(reason)


@cache
def _installed() -> tuple[Path | None, float, str]:
    try:
        executable, seconds = launcher().install()
    except launcher().PhoenixUnavailable as exc:
        return None, 0.0, str(exc)
    record_timing("scripts/phoenix-venv.sh", seconds)
    return executable, seconds, ""


def phoenix_executable() -> Path:
    """The pinned Phoenix's ``phoenix`` command, installed by ``scripts/phoenix-venv.sh``."""
    executable, _, error = _installed()
    if executable is None:
        unavailable(f"Arize Phoenix could not be installed: {error}")
    return executable


def record_timing(name: str, seconds: float) -> None:
    """Keep a measured duration in ``.artifacts/phoenix-timings.txt`` (CI keeps the folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "phoenix-timings.txt").open("a", encoding="utf-8") as out:
        out.write(f"{name}: {seconds:.1f}s\n")


def chromium() -> str:
    """Debian's ``chromium``, which ``.ci/run`` installs."""
    path = shutil.which("chromium")
    if path is None:
        unavailable("`chromium` not found: apt-get install chromium to look at Phoenix's pages")
    return path


def chromium_command(binary: str, profile: Path) -> list[str]:
    """Headless Chromium that makes no request of its own: a fresh profile, no background
    networking, no component updates or sync, no QUIC; pages render in virtual time, so a
    page is read once its requests have settled (``--virtual-time-budget``), not after a delay.
    """
    return [
        binary,
        "--headless",
        "--no-sandbox",  # root in a container: the sandbox needs user namespaces
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        "--virtual-time-budget=30000",
    ]


def render(binary: str, profile: Path, url: str, *, screenshot: Path | None = None) -> str:
    """The DOM of ``url`` after its scripts ran; also a PNG of it when ``screenshot`` is given."""
    base = chromium_command(binary, profile)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        shot = subprocess.run(
            [*base, f"--screenshot={screenshot}", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert screenshot.is_file(), shot.stderr[-2000:]
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


class _Page(HTMLParser):
    """The text of a page, and the key/value rows of its tables (Phoenix's attribute table)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg"):
            self._skip += 1
        elif tag == "tr":
            self._cells = []
        elif tag == "td" and self._cells is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg"):
            self._skip -= 1
        elif tag == "td" and self._cells is not None and self._cell is not None:
            self._cells.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._cells is not None:
            self.rows.append(self._cells)
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def page_text_and_table(dom: str) -> tuple[str, dict[str, str]]:
    """The visible text of a rendered page (whitespace collapsed) and its two-cell rows."""
    page = _Page()
    page.feed(dom)
    text = " ".join(" ".join(page.text).split())
    table = {row[0]: row[1] for row in page.rows if len(row) == 2}
    return text, table
