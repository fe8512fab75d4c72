"""The root exports what the README's examples type; everything else lives in its module, and a
name the root used to export is still found there with a warning that says where it went."""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import pytest

import spanstream

ROOT = Path(__file__).parent.parent.parent


def _doc_imports() -> set[str]:
    """Every name the README and docs/ import from the root."""
    names: set[str] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in re.finditer(r"^from spanstream import ([\w, ]+)$", path.read_text(), re.M):
            names.update(name.strip() for name in match.group(1).split(","))
    return names


def test_every_name_the_docs_import_from_the_root_is_exported() -> None:
    names = _doc_imports()
    assert {"Client", "TextDelta"} <= names
    assert names <= set(spanstream.__all__)


def test_the_root_exports_its_names_and_no_warning_for_them() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in spanstream.__all__:
            assert getattr(spanstream, name) is not None
    assert set(spanstream.__all__) <= set(dir(spanstream))


def test_the_event_vocabulary_is_in_spanstream_events() -> None:
    events = importlib.import_module("spanstream.events")
    for name in ("ToolCallDone", "ReasoningDelta", "ResponseDone", "TurnStarted", "ToolResult"):
        assert name in events.__all__
        assert name not in spanstream.__all__


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("ToolCallDone", "spanstream.events"),
        ("AgentRun", "spanstream.agent"),
        ("Outcome", "spanstream.results"),
        ("ContentCapture", "spanstream.telemetry"),
        ("ShardedTransport", "spanstream.transports"),
    ],
)
def test_a_moved_name_is_found_with_a_warning_naming_its_module(name: str, home: str) -> None:
    with pytest.warns(DeprecationWarning, match=re.escape(f"import it from {home}")):
        value = getattr(spanstream, name)
    assert value is getattr(importlib.import_module(home), name)
    assert name not in dir(spanstream)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        spanstream.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
