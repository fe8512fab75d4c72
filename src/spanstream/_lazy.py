"""Names a module exports but imports on first use (PEP 562), for what is costly to import and
not needed until used: ``configure`` and ``TelemetryHandle`` import the OpenTelemetry SDK, which
streaming never needs; a provider's parser imports its pydantic wire models; the agent and tools
are for the applications that run one."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module: str, sources: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A ``__getattr__`` and a ``__dir__`` for ``module`` that give the names of each source
    module (``{source: names}``), imported on the first lookup of one of them (later lookups
    are plain attribute reads).

    Assign them under ``if not TYPE_CHECKING:`` and import the names under ``if TYPE_CHECKING:``:
    type checkers then see the real names, and a misspelt one stays an error.
    """
    lazy = {name: source for source, names in sources.items() for name in names}

    def __getattr__(name: str) -> Any:
        source = lazy.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | lazy.keys())

    return __getattr__, __dir__
