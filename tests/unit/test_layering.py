"""The layers of docs/ARCHITECTURE.md keep their import rules: the protocol layers (SSE decoder,
provider parsers) know nothing about OpenTelemetry, the stream knows telemetry only as an
observer, telemetry knows no wire format, and the I/O-free layers do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "spanstream"
PROTOCOL_MODULES = sorted([SRC / "sse.py", *(SRC / "providers").rglob("*.py")])


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _path_of(module: str) -> Path | None:
    relative = Path(*module.split("."))
    for candidate in (
        SRC.parent / relative.with_suffix(".py"),
        SRC.parent / relative / "__init__.py",
    ):
        if candidate.is_file():
            return candidate
    return None


def _reachable_imports(path: Path) -> set[str]:
    """Every module imported by ``path`` and, transitively, by the spanstream modules it
    imports (a package's ``__init__`` only when imported as such)."""
    seen: set[Path] = set()
    found: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in _imports(current):
            found.add(name)
            if name.startswith("spanstream"):
                target = _path_of(name)
                if target is not None and target != SRC / "__init__.py":
                    todo.append(target)
    return found


@pytest.mark.parametrize("path", PROTOCOL_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_protocol_module_does_not_import_opentelemetry(path: Path) -> None:
    offenders = sorted(n for n in _reachable_imports(path) if n.split(".")[0] == "opentelemetry")
    assert offenders == []


def test_the_layering_check_sees_telemetry_imports() -> None:
    # Guard against a check that passes because it sees nothing.
    assert "opentelemetry.trace" in _reachable_imports(SRC / "telemetry" / "span_observer.py")


# The layer rules docs/ARCHITECTURE.md states, beyond the protocol modules above.
STREAM_MODULES = [SRC / name for name in ("stream.py", "_watchdog.py", "_secrets.py", "results.py")]
VOCABULARY = ("events.py", "errors.py", "_request.py", "accumulate.py", "results.py")
IO_FREE_MODULES = sorted([*(SRC / name for name in VOCABULARY), *PROTOCOL_MODULES])
# A clock counts as I/O: the timings are the stream's to keep, never a parser's.
IO_MODULES = {"httpx", "httpcore", "socket", "ssl", "select", "selectors", "threading", "asyncio"}
IO_MODULES |= {"time"}
PROVIDER_PACKAGES = sorted(p.parent.name for p in (SRC / "providers").glob("*/__init__.py"))


@pytest.mark.parametrize("path", STREAM_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_stream_knows_telemetry_only_as_an_observer(path: Path) -> None:
    offenders = sorted(
        n
        for n in _reachable_imports(path)
        if n.split(".")[0] == "opentelemetry" or n.startswith("spanstream.telemetry")
    )
    assert offenders == []


@pytest.mark.parametrize(
    "path", sorted((SRC / "telemetry").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_telemetry_module_knows_no_wire_format(path: Path) -> None:
    offenders = sorted(
        n
        for n in _reachable_imports(path)
        if any(n.startswith(f"spanstream.providers.{package}") for package in PROVIDER_PACKAGES)
    )
    assert offenders == []


@pytest.mark.parametrize("path", IO_FREE_MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_io_free_module_does_no_io(path: Path) -> None:
    offenders = sorted(n for n in _reachable_imports(path) if n.split(".")[0] in IO_MODULES)
    assert offenders == []


def test_the_layer_checks_see_providers_and_io() -> None:
    assert PROVIDER_PACKAGES == [
        "anthropic_messages",
        "openai_chat",
        "openai_embeddings",
        "openai_responses",
    ]
    assert "httpx" in _reachable_imports(SRC / "stream.py")
    assert "spanstream.providers.openai_responses" in _reachable_imports(SRC / "client.py")


@pytest.mark.parametrize(
    "path",
    sorted([*(SRC / "telemetry").rglob("*.py"), SRC / "results.py", SRC / "_request.py"]),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_telemetry_imports_no_provider_package(path: Path) -> None:
    # What telemetry learns of a request (RequestInfo, ProviderAttributes) lives in the neutral
    # spanstream._request: not even providers/base.py is reached from telemetry.
    offenders = sorted(n for n in _reachable_imports(path) if n.startswith("spanstream.providers"))
    assert offenders == []


def test_telemetry_names_no_provider() -> None:
    # A provider's own attributes reach the span as data (ProviderAttributes): telemetry never
    # compares gen_ai.provider.name with a provider it knows (identity.py names providers from
    # hosts, which is its job).
    for path in sorted((SRC / "telemetry").rglob("*.py")):
        if path.name == "identity.py":
            continue
        tree = ast.parse(path.read_text())
        compared = [
            ast.unparse(node)
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(
                isinstance(side, ast.Constant) and side.value in {"openai", "anthropic"}
                for side in [node.left, *node.comparators]
            )
        ]
        assert compared == [], path.name
