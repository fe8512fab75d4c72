"""Names a module exports but imports on first use (PEP 562), for what is costly to import and
rarely needed: ``configure`` and ``TelemetryHandle`` import the OpenTelemetry SDK, which streaming
never needs."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module: str, source: str, names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A ``__getattr__`` and a ``__dir__`` for ``module`` that give ``names`` from ``source``,
    imported on the first lookup of one of them (later lookups are plain attribute reads).

    Assign them under ``if not TYPE_CHECKING:`` and import the names under ``if TYPE_CHECKING:``:
    type checkers then see the real names, and a misspelt one stays an error.
    """
    lazy = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name not in lazy:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | lazy)

    return __getattr__, __dir__
