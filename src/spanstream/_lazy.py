"""Names a module exports but imports on first use (PEP 562), for what is costly to import and
rarely needed: ``configure`` and ``TelemetryHandle`` import the OpenTelemetry SDK, which streaming
never needs. Also the names a module used to export, found with a ``DeprecationWarning`` that
says where they went."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module: str, source: str, names: Iterable[str], *, moved: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A ``__getattr__`` and a ``__dir__`` for ``module`` that give ``names`` from ``source``,
    imported on the first lookup of one of them (later lookups are plain attribute reads), and
    each name of ``moved`` from the module it maps to, with a ``DeprecationWarning`` (``dir()``
    does not list those).

    Assign them under ``if not TYPE_CHECKING:`` and import the names under ``if TYPE_CHECKING:``:
    type checkers then see the real names, and a misspelt one stays an error.
    """
    lazy = frozenset(names)
    moved = dict(moved or {})

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(source), name)
            setattr(sys.modules[module], name, value)
            return value
        new_home = moved.get(name)
        if new_home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} moved: import it from {new_home}", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(new_home), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | lazy)

    return __getattr__, __dir__
