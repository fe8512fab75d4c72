"""Tools from typed callables: schema, validation, sync and async calls."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from spanstream import ToolArgumentsError
from spanstream.tools import Tool, format_result, tool


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit.
    """
    return f"{city}: 20{unit}"


class Query(BaseModel):
    query: str
    limit: int


async def search(q: Query) -> list[str]:
    """Search the docs."""
    return [q.query] * q.limit


def test_schema_comes_from_signature_and_docstring() -> None:
    t = Tool.from_function(get_weather)
    assert t.name == "get_weather"
    assert t.description == "Current weather for a city."
    properties = t.parameters["properties"]
    assert isinstance(properties, dict)
    assert properties["city"]["type"] == "string"
    assert properties["city"]["description"] == 'City name, e.g. "Paris".'
    assert properties["unit"]["enum"] == ["C", "F"]
    assert t.parameters["required"] == ["city"]
    assert t.parameters["additionalProperties"] is False


def test_strict_only_when_every_parameter_is_required() -> None:
    assert Tool.from_function(get_weather).strict is False
    assert Tool.from_function(search).strict is True
    assert Tool.from_function(search, strict=False).strict is False


def test_a_single_pydantic_model_parameter_is_the_schema() -> None:
    t = Tool.from_function(search)
    assert t.parameters["required"] == ["query", "limit"]
    assert t.takes_model


def test_arguments_are_validated_before_the_call() -> None:
    calls: list[str] = []

    def record(city: str) -> str:
        calls.append(city)
        return city

    t = Tool.from_function(record)
    with pytest.raises(ToolArgumentsError, match="city: Input should be a valid string"):
        t.run_sync('{"city": 5}')
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        t.run_sync('{"city": ')
    with pytest.raises(ToolArgumentsError, match="Extra inputs are not permitted"):
        t.run_sync('{"city": "Oslo", "country": "NO"}')
    assert calls == []


def test_sync_tool_runs_sync_and_async() -> None:
    t = Tool.from_function(get_weather)
    assert t.run_sync('{"city": "Oslo", "unit": "F"}') == "Oslo: 20F"


async def test_async_tool_runs_in_the_loop() -> None:
    t = Tool.from_function(search)
    assert await t.run('{"query": "spans", "limit": 2}') == ["spans", "spans"]


async def test_sync_tool_runs_in_a_worker_thread_from_async() -> None:
    t = Tool.from_function(get_weather)
    assert await t.run({"city": "Rome"}) == "Rome: 20C"


def test_decorator_forms() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    @tool(name="lookup", description="Find a thing.")
    def find(key: str) -> str:
        return key

    assert isinstance(ping, Tool)
    assert ping.run_sync("") == "pong"
    assert (find.name, find.description) == ("lookup", "Find a thing.")


def test_results_are_text_for_the_model() -> None:
    assert format_result("plain") == "plain"
    assert format_result({"a": 1}) == '{"a": 1}'
    assert format_result(Query(query="x", limit=1)) == '{"query":"x","limit":1}'


def test_var_args_are_rejected() -> None:
    def bad(*cities: str) -> str:
        return ""

    with pytest.raises(TypeError, match="not supported"):
        Tool.from_function(bad)
