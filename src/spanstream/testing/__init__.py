"""Test helpers shipped with spanstream: assert the GenAI spans and metrics of your code offline.

* `GenAITelemetry` -- isolated in-memory tracer and meter providers (the ``genai_telemetry``
  pytest fixture), with spanstream client factories wired to them;
* `ReplayServer` / `Reply` -- a loopback server replaying recorded SSE streams with fault
  injection (the ``sse_replay_server`` fixture), and JSON replies such as `embeddings_body`;
  `recording` finds the bundled recordings;
* `assert_inference_span`, `assert_metric_point`, `check_semconv` / `assert_semconv` --
  assertions that speak ``gen_ai`` and fail with a per-attribute diff;
* `span_snapshot` / `assert_snapshot` -- stable span snapshots for golden-file tests.

The pytest fixtures come from `spanstream.testing.plugin`, registered automatically.
"""

from .assertions import (
    DEPRECATED_ATTRIBUTES,
    EMBEDDINGS_ATTRIBUTES,
    KNOWN_ATTRIBUTES,
    Problem,
    assert_inference_span,
    assert_metric_point,
    assert_semconv,
    check_semconv,
)
from .capture import INFERENCE_OPERATIONS, GenAITelemetry, MetricPoint
from .recordings import recording, recording_names
from .replay import (
    FETCH_ROUTE,
    MALFORMED_DATA,
    ROUTES,
    RecordedRequest,
    ReplayServer,
    Reply,
    ReplyOutcome,
    embeddings_body,
)
from .snapshot import (
    UPDATE_SNAPSHOTS_ENV,
    VOLATILE_ATTRIBUTES,
    Snapshot,
    assert_snapshot,
    root_snapshots,
    span_snapshot,
)

__all__ = [
    "DEPRECATED_ATTRIBUTES",
    "EMBEDDINGS_ATTRIBUTES",
    "INFERENCE_OPERATIONS",
    "KNOWN_ATTRIBUTES",
    "FETCH_ROUTE",
    "MALFORMED_DATA",
    "ROUTES",
    "GenAITelemetry",
    "MetricPoint",
    "ReplyOutcome",
    "Problem",
    "RecordedRequest",
    "ReplayServer",
    "Reply",
    "Snapshot",
    "UPDATE_SNAPSHOTS_ENV",
    "VOLATILE_ATTRIBUTES",
    "assert_inference_span",
    "assert_metric_point",
    "assert_semconv",
    "assert_snapshot",
    "check_semconv",
    "embeddings_body",
    "recording",
    "recording_names",
    "root_snapshots",
    "span_snapshot",
]
