"""Stable snapshots of spans for golden-file tests.

`span_snapshot` turns a finished span (and its children) into plain JSON-able data without the
parts that change from run to run -- ids, timestamps, durations, ephemeral ports, measured
latencies, stack traces -- so it can be compared with a committed golden file by
`assert_snapshot`::

    assert_snapshot(genai_telemetry.snapshot(), Path(__file__).parent / "golden/chat.json")

Set ``SPANSTREAM_UPDATE_SNAPSHOTS=1`` to (re)write golden files from the current output.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.util.types import Attributes

from ._values import type_name

__all__ = [
    "UPDATE_SNAPSHOTS_ENV",
    "VOLATILE_ATTRIBUTES",
    "Snapshot",
    "assert_snapshot",
    "root_snapshots",
    "span_snapshot",
]

#: Attributes whose value differs between runs; snapshots keep their type only (``"<double>"``).
VOLATILE_ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.response.time_to_first_chunk",
        "spanstream.time_to_first_token",
        "server.port",
        "exception.stacktrace",
    }
)

#: Environment variable that makes `assert_snapshot` write the golden file instead of failing.
UPDATE_SNAPSHOTS_ENV: Final = "SPANSTREAM_UPDATE_SNAPSHOTS"

Snapshot = dict[str, object]
"""A span as plain data: name, kind, scope, status, attributes, events, children."""


def span_snapshot(
    span: ReadableSpan,
    spans: Iterable[ReadableSpan] = (),
    *,
    volatile: Collection[str] = VOLATILE_ATTRIBUTES,
) -> Snapshot:
    """``span`` as stable, JSON-able data, with its descendants among ``spans`` nested under
    ``"children"`` in start order.

    Kept: name, kind, instrumentation scope name, status (code and description), attributes
    (sorted; sequences as lists; names in ``volatile`` replaced by ``"<type>"``), events (name
    and attributes). Left out: trace/span ids, timestamps, durations, resource, scope version.
    """
    candidates = list(spans)
    children = sorted(
        (
            other
            for other in candidates
            if other.parent is not None
            and span.context is not None
            and other.parent.span_id == span.context.span_id
            and other.context is not None
            and other.context.trace_id == span.context.trace_id
        ),
        key=lambda child: (child.start_time or 0, child.name),
    )
    status = span.status
    return {
        "name": span.name,
        "kind": span.kind.name,
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "status": {"code": status.status_code.name, "description": status.description},
        "attributes": _attributes(span.attributes, volatile),
        "events": [
            {"name": event.name, "attributes": _attributes(event.attributes, volatile)}
            for event in span.events
        ],
        "children": [span_snapshot(child, candidates, volatile=volatile) for child in children],
    }


def root_snapshots(
    spans: Iterable[ReadableSpan], *, volatile: Collection[str] = VOLATILE_ATTRIBUTES
) -> list[Snapshot]:
    """Snapshots of every span of ``spans`` whose parent is not among them, children nested,
    in start order."""
    candidates = list(spans)
    ids = {span.context.span_id for span in candidates if span.context is not None}
    roots = [span for span in candidates if span.parent is None or span.parent.span_id not in ids]
    roots.sort(key=lambda span: (span.start_time or 0, span.name))
    return [span_snapshot(root, candidates, volatile=volatile) for root in roots]


def assert_snapshot(actual: object, golden: str | os.PathLike[str]) -> None:
    """AssertionError with a unified diff when ``actual`` differs from the JSON in ``golden``.

    ``actual`` is compared as JSON (tuples become lists). A missing golden file is written and
    the assertion fails, so that a new golden file is always reviewed; with
    ``SPANSTREAM_UPDATE_SNAPSHOTS=1`` the file is rewritten and the assertion passes.
    """
    __tracebackhide__ = True
    path = Path(golden)
    text = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE_SNAPSHOTS_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        raise AssertionError(f"golden file {path} did not exist; wrote it: review and commit it")
    expected = path.read_text(encoding="utf-8")
    if json.loads(expected) != json.loads(text):
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{path} (golden)",
            tofile="actual",
        )
        raise AssertionError(
            f"snapshot differs from {path} (set {UPDATE_SNAPSHOTS_ENV}=1 to accept):\n"
            + "".join(diff)
        )


def _attributes(attributes: Attributes, volatile: Collection[str]) -> dict[str, object]:
    result: dict[str, object] = {}
    for name in sorted(attributes or {}):
        value = (attributes or {})[name]
        if name in volatile:
            result[name] = f"<{type_name(value)}>"
        elif isinstance(value, tuple | list):
            result[name] = list(value)
        else:
            result[name] = value
    return result
