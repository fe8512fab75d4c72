"""Names a module exports but imports on first use (PEP 562), for what is costly to import and
not needed until used: ``configure`` and ``TelemetryHandle`` import the OpenTelemetry SDK, which
streaming never needs; a provider's parser imports its pydantic wire models; tools import
pydantic. Also the names a module used to export, found with a ``DeprecationWarning`` that says
where they went."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["first_use_module", "lazy_attributes"]


class _FirstUseModule:
    """A module a module names but imports when it is first used: the first attribute read
    imports it and puts it in this stand-in's place among the owner module's globals, so that
    every later read (``wire.X`` in a method) is a plain module attribute."""

    __slots__ = ("_alias", "_name", "_owner")

    def __init__(self, owner: str, name: str, alias: str) -> None:
        self._owner = owner
        self._name = name
        self._alias = alias

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self._name)
        setattr(sys.modules[self._owner], self._alias, module)
        return getattr(module, attribute)


def first_use_module(owner: str, name: str, alias: str | None = None) -> Any:
    """The module ``name``, imported when an attribute of it is first read, for the module
    ``owner``, which must hold it under ``alias`` (default: the last part of its name). Assign
    it under ``if not TYPE_CHECKING:`` and import the module itself (``as alias``) under ``if
    TYPE_CHECKING:``."""
    return _FirstUseModule(owner, name, alias or name.rpartition(".")[2])


def lazy_attributes(
    module: str,
    sources: Mapping[str, Iterable[str]],
    *,
    moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A ``__getattr__`` and a ``__dir__`` for ``module`` that give the names of each source
    module (``{source: names}``), imported on the first lookup of one of them (later lookups
    are plain attribute reads), and each name of ``moved`` from the module it maps to, with a
    ``DeprecationWarning`` (``dir()`` does not list those).

    Assign them under ``if not TYPE_CHECKING:`` and import the names under ``if TYPE_CHECKING:``:
    type checkers then see the real names, and a misspelt one stays an error.
    """
    lazy = {name: source for source, names in sources.items() for name in names}
    homes = dict(moved or {})

    def __getattr__(name: str) -> Any:
        source = lazy.get(name)
        if source is not None:
            value = getattr(importlib.import_module(source), name)
            setattr(sys.modules[module], name, value)
            return value
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} moved: import it from {home}", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(home), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | lazy.keys())

    return __getattr__, __dir__
