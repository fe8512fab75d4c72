"""The documentation stays true to the tree: every module is on the architecture map, every
link resolves, the README stays a front door, and nothing shipped points at documents that are
not shipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DOCS = ROOT / "docs"
README = ROOT / "README.md"
ARCHITECTURE = DOCS / "ARCHITECTURE.md"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]

# Markdown links [text](target), not images; the target up to the first space or parenthesis.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
# Documents that were never shipped: the first design's research notes, in ../shared.
UNSHIPPED = re.compile(r"\.\./shared|\bshared/(docs|bench)\b|SEMCONV\.md|PEERS\.md|DASHBOARDS\.md")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + len(heading) + 2)
    return text[start : end if end != -1 else len(text)]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_module_is_on_the_architecture_map() -> None:
    modules = {path.relative_to(ROOT).as_posix() for path in SRC.rglob("*.py")}
    table = _section(ARCHITECTURE.read_text(), "## Module map")
    mapped = set(re.findall(r"^\| `(src/[\w/]+\.py)` \|", table, re.M))
    assert sorted(modules - mapped) == [], "modules missing from docs/ARCHITECTURE.md's map"
    assert sorted(mapped - modules) == [], "docs/ARCHITECTURE.md maps modules that do not exist"


def test_the_map_check_sees_the_map() -> None:
    # Guard against a check that passes because its pattern matches nothing.
    assert "| `src/spanstream/sse.py` |" in ARCHITECTURE.read_text()


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        missing_anchor = bool(anchor) and resolved.suffix == ".md"
        if not resolved.exists() or (missing_anchor and anchor not in _anchors(resolved)):
            broken.append(target)
    assert broken == []


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    # Two screens: what it is, the two commands, one example per use, then links.
    assert len(text.splitlines()) <= 110
    setup = re.search(r"```sh\n(.*?)```", text, re.DOTALL)
    assert setup is not None
    commands = [line.split("#")[0].strip() for line in setup.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    for heading in ("## Stream a response", "## Trace to your collector", "## Testing your code"):
        assert f"\n{heading}\n" in text
    linked = {(README.parent / target).resolve() for target in LINK.findall(text)}
    assert [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked] == []


def test_every_make_target_the_docs_name_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    named = {
        name
        for path in MARKDOWN
        for name in re.findall(r"(?:`|^)make ([\w-]+)", path.read_text(), re.M)
    }
    assert sorted(named - targets) == []
    assert {"demo", "test"} <= named


def test_src_points_at_no_unshipped_document() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in SRC.rglob("*")
        if path.suffix in (".py", ".md")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNSHIPPED.search(line)
    ]
    assert offenders == []


def test_docs_name_the_first_design_only_as_superseded() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in MARKDOWN
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNSHIPPED.search(line) and "the first design, superseded" not in line
    ]
    assert offenders == []


def test_documents_named_in_src_exist() -> None:
    named = {
        match
        for path in SRC.rglob("*.py")
        for match in re.findall(r"(?<![\w./-])((?:docs|benchmarks)/[\w-]+\.md)\b", path.read_text())
    }
    assert named, "the check found no document names at all"
    assert sorted(name for name in named if not (ROOT / name).is_file()) == []
