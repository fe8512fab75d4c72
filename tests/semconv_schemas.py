"""Validation of captured content against the GenAI conventions' JSON schemas (tests/schemas)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).parent / "schemas"
NAMING_SETS = {False: "semconv-v1.41.1", True: "semconv-genai-main"}
"""``latest`` (as ``use_latest_conventions()`` says) -> the schemas of that naming set."""
CONTENT = {
    "gen_ai.input.messages": "gen-ai-input-messages.json",
    "gen_ai.output.messages": "gen-ai-output-messages.json",
    "gen_ai.system_instructions": "gen-ai-system-instructions.json",
}


@cache
def validator(latest: bool, attribute: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / NAMING_SETS[latest] / CONTENT[attribute]).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_content_conforms(attributes: Mapping[str, Any], *, latest: bool = False) -> int:
    """Validate every content attribute present (a JSON string on a span, a structured value
    on an event) against the schema of the naming set; return how many were checked."""
    checked = 0
    for name in CONTENT:
        if name not in attributes:
            continue
        value = attributes[name]
        if isinstance(value, str):
            value = json.loads(value)
        errors = [error.message for error in validator(latest, name).iter_errors(_plain(value))]
        assert not errors, f"{name} does not conform to {NAMING_SETS[latest]}: {errors}"
        checked += 1
    return checked


def _plain(value: Any) -> Any:
    """Tuples (how the SDK may hand back sequences) as lists, for the schema's "array"."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
