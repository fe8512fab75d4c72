"""Tools from typed Python callables: JSON schema from the signature, arguments validated by
pydantic before the call.

>>> def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
...     '''Current weather for a city.
...
...     Args:
...         city: City name, e.g. "Paris".
...         unit: Temperature unit.
...     '''
>>> tool = Tool.from_function(get_weather)
>>> tool.parameters["required"]
['city']

A function may instead take one pydantic model, whose schema becomes the tool's parameters.
Sync and async functions are both accepted.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

from . import _text
from .errors import ToolArgumentsError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Tool", "tool"]


@dataclass(frozen=True)
class Tool:
    """A function the model may call."""

    name: str
    description: str | None
    parameters: dict[str, object]
    """JSON Schema of the arguments object."""
    function: Callable[..., object] = field(repr=False)
    model: type[BaseModel] = field(repr=False)
    takes_model: bool = field(default=False, repr=False)
    """Whether the function takes the model instance itself (else keyword arguments)."""
    strict: bool = False
    """Ask the provider to follow the schema exactly (OpenAI ``strict``); only offered when
    every parameter is required, as strict mode demands."""

    @classmethod
    def from_function(
        cls,
        function: Callable[..., object],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = True,
    ) -> Tool:
        """Build a tool from a function's signature, type hints and docstring."""
        # pydantic's models are imported by the first tool, not by ``import spanstream``.
        from pydantic import BaseModel, ConfigDict, Field, create_model

        doc = inspect.getdoc(function) or ""
        summary, arg_docs = _parse_docstring(doc)
        hints = get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        params = [p for p in signature.parameters.values() if p.name != "self"]
        single = params[0] if len(params) == 1 else None
        model: type[BaseModel]
        takes_model = False
        if (
            single is not None
            and isinstance(hints.get(single.name), type)
            and issubclass(hints[single.name], BaseModel)
        ):
            model = hints[single.name]
            takes_model = True
        else:
            fields: dict[str, Any] = {}
            for param in params:
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    raise TypeError(f"tool {function.__name__}: *args/**kwargs are not supported")
                annotation = hints.get(param.name, Any)
                default = ... if param.default is inspect.Parameter.empty else param.default
                fields[param.name] = (
                    annotation,
                    Field(default, description=arg_docs.get(param.name)),
                )
            model = create_model(
                f"{function.__name__}_arguments",
                __config__=ConfigDict(extra="forbid"),
                **fields,
            )
        schema = model.model_json_schema()
        schema.pop("title", None)
        all_required = set(schema.get("required", [])) == set(schema.get("properties", {}))
        return cls(
            name=name or function.__name__,
            description=description or summary or None,
            parameters=_strict_schema(schema) if strict and all_required else schema,
            function=function,
            model=model,
            takes_model=takes_model,
            strict=strict and all_required,
        )

    @property
    def is_async(self) -> bool:
        """Whether calling the function returns an awaitable."""
        return inspect.iscoroutinefunction(self.function)

    def validate(self, arguments: str | Mapping[str, object]) -> BaseModel:
        """Decode and validate the model's arguments (raises :class:`ToolArgumentsError`)."""
        if isinstance(arguments, str):
            try:
                decoded = _text.loads(arguments) if arguments.strip() else {}
            except (ValueError, RecursionError) as exc:
                raise ToolArgumentsError(self.name, f"not valid JSON ({exc})") from None
        else:
            decoded = dict(arguments)
        from pydantic import ValidationError  # imported with the model (from_function)

        try:
            return self.model.model_validate(decoded)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise ToolArgumentsError(self.name, problems) from None

    async def run(self, arguments: str | Mapping[str, object]) -> object:
        """Validate, then call the function (a sync one runs in a worker thread)."""
        validated = self.validate(arguments)
        args, kwargs = self._call_args(validated)
        if self.is_async:
            result = self.function(*args, **kwargs)
            assert isinstance(result, Awaitable)
            return await result
        return await asyncio.to_thread(self.function, *args, **kwargs)

    def run_sync(self, arguments: str | Mapping[str, object]) -> object:
        """Validate, then call the function in this thread (an async one gets its own loop)."""
        validated = self.validate(arguments)
        args, kwargs = self._call_args(validated)
        result = self.function(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_await(result))
        return result

    def _call_args(self, validated: BaseModel) -> tuple[tuple[object, ...], dict[str, object]]:
        if self.takes_model:
            return (validated,), {}
        return (), {name: getattr(validated, name) for name in type(validated).model_fields}


def tool(
    function: Callable[..., object] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
) -> Any:
    """Decorator form of :meth:`Tool.from_function` (``@tool`` or ``@tool(name=...)``)."""

    def wrap(fn: Callable[..., object]) -> Tool:
        return Tool.from_function(fn, name=name, description=description, strict=strict)

    return wrap(function) if function is not None else wrap


def format_result(value: object) -> str:
    """A tool's return value as the text sent back to the model."""
    if isinstance(value, str):
        return value
    # A pydantic model instance means pydantic is imported; nothing else needs it here.
    pydantic_main = sys.modules.get("pydantic.main")
    if pydantic_main is not None and isinstance(value, pydantic_main.BaseModel):
        return value.model_dump_json()  # type: ignore[no-any-return]
    return json.dumps(value, ensure_ascii=False, default=str)


async def _await(value: Awaitable[object]) -> object:
    return await value


_ARG_LINE = re.compile(r"^\s{2,}(\*{0,2}\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Summary (text before any section) and Google-style ``Args:`` descriptions."""
    summary_lines: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.rstrip(":") in ("Args", "Arguments", "Parameters", "Returns", "Raises"):
            section = stripped.rstrip(":")
            current = None
            continue
        if section is None:
            summary_lines.append(line)
        elif section in ("Args", "Arguments", "Parameters"):
            match = _ARG_LINE.match(line)
            if match:
                current = match.group(1).lstrip("*")
                args[current] = match.group(2).strip()
            elif current and stripped:
                args[current] = f"{args[current]} {stripped}".strip()
    return " ".join(" ".join(summary_lines).split()), args


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict mode: every object closed to extra properties (recursively)."""

    def close(node: object) -> object:
        if isinstance(node, dict):
            out = {key: close(value) for key, value in node.items()}
            if out.get("type") == "object":
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [close(item) for item in node]
        return node

    closed = close(schema)
    assert isinstance(closed, dict)
    return closed
