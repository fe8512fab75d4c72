"""Assertions that speak ``gen_ai``: inference spans, metric points, semantic-convention checks.

Every helper raises a plain ``AssertionError`` whose message lists, per attribute, what was
expected and what the span (or metric) actually holds, followed by all of its attributes, so a
failure reads without a debugger. None of them needs pytest::

    span = genai_telemetry.inference_span()
    assert_inference_span(span, model="gpt-4.1", input_tokens=13, outcome="completed")
    assert_semconv(span)
    assert_metric_point(genai_telemetry, "gen_ai.client.operation.duration", count=1)

The conventions checked by `check_semconv` are encoded below as data, from
``open-telemetry/semantic-conventions-genai`` @024a4f9 (``docs/gen-ai/client-inference.md``,
``gen-ai-spans.md``, ``openai.md``), ``docs/gen-ai/client-embeddings.md`` @88eccb1 for the
embeddings span, and, for deprecated names,
``open-telemetry/semantic-conventions`` ``model/gen-ai/deprecated/registry-deprecated.yaml``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from ..telemetry.attributes import use_latest_conventions
from ._values import show, type_name
from .capture import INFERENCE_OPERATIONS, GenAITelemetry, MetricPoint

__all__ = [
    "DEPRECATED_ATTRIBUTES",
    "EMBEDDINGS_ATTRIBUTES",
    "KNOWN_ATTRIBUTES",
    "Problem",
    "assert_inference_span",
    "assert_metric_point",
    "assert_semconv",
    "check_semconv",
]


class _Unset(enum.Enum):
    UNSET = "UNSET"


_UNSET: Final = _Unset.UNSET
_NotGiven = Literal[_Unset.UNSET]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Final = _Absent()

_CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"
_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"


# --- inference spans -------------------------------------------------------------------------


def assert_inference_span(
    span: ReadableSpan,
    *,
    model: str | _NotGiven | None = _UNSET,
    provider: str | _NotGiven | None = _UNSET,
    operation: str | _NotGiven | None = _UNSET,
    response_id: str | _NotGiven | None = _UNSET,
    response_model: str | _NotGiven | None = _UNSET,
    input_tokens: int | _NotGiven | None = _UNSET,
    output_tokens: int | _NotGiven | None = _UNSET,
    cached_tokens: int | _NotGiven | None = _UNSET,
    cache_write_tokens: int | _NotGiven | None = _UNSET,
    reasoning_tokens: int | _NotGiven | None = _UNSET,
    finish_reasons: Sequence[str] | _NotGiven | None = _UNSET,
    outcome: str | _NotGiven | None = _UNSET,
    error_type: str | _NotGiven | None = _UNSET,
    status: Literal["unset", "ok", "error"] | StatusCode | _NotGiven = _UNSET,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """Check the given fields of an inference span, and only those.

    Each keyword names a ``gen_ai`` attribute: ``model`` is ``gen_ai.request.model``,
    ``provider`` ``gen_ai.provider.name``, ``cached_tokens``
    ``gen_ai.usage.cache_read.input_tokens``, ``cache_write_tokens``
    ``gen_ai.usage.cache_write.input_tokens`` (or the released name
    ``gen_ai.usage.cache_creation.input_tokens``), ``reasoning_tokens``
    ``gen_ai.usage.reasoning.output_tokens``, ``outcome`` ``spanstream.outcome``,
    ``error_type`` ``error.type``; ``status`` is the span status (``"unset"``, ``"ok"``,
    ``"error"`` or a `StatusCode`). ``None`` means "must be absent". ``attributes`` checks any
    further attribute by name (``None`` again meaning absent). Raises AssertionError listing
    every mismatch::

        assert_inference_span(span, model="gpt-4.1", input_tokens=13, finish_reasons=["stop"],
                              outcome="completed", error_type=None, status="unset")
    """
    __tracebackhide__ = True
    actual = dict(span.attributes or {})
    expected: dict[str, object] = {}
    named = {
        "gen_ai.request.model": model,
        "gen_ai.provider.name": provider,
        "gen_ai.operation.name": operation,
        "gen_ai.response.id": response_id,
        "gen_ai.response.model": response_model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.usage.cache_read.input_tokens": cached_tokens,
        "gen_ai.usage.reasoning.output_tokens": reasoning_tokens,
        "gen_ai.response.finish_reasons": finish_reasons,
        "spanstream.outcome": outcome,
        "error.type": error_type,
    }
    expected.update({name: value for name, value in named.items() if value is not _UNSET})
    if cache_write_tokens is not _UNSET:
        # Whichever of the two names the span uses (it depends on OTEL_SEMCONV_STABILITY_OPT_IN).
        name = _CACHE_CREATION if _CACHE_CREATION in actual else _CACHE_WRITE
        expected[name] = cache_write_tokens
    expected.update(attributes or {})

    rows = [
        (name, want, actual.get(name, _ABSENT))
        for name, want in expected.items()
        if not _same(want, actual.get(name, _ABSENT))
    ]
    if status is not _UNSET:
        want_status = status if isinstance(status, StatusCode) else StatusCode[status.upper()]
        if span.status.status_code is not want_status:
            rows.append(("<span status>", want_status.name, span.status.status_code.name))
    if rows:
        checked = len(expected) + (status is not _UNSET)
        lines = [f"span {span.name!r} does not match ({len(rows)} of {checked} checks failed):"]
        lines += [f"  {name}: expected {show(want)}, got {show(got)}" for name, want, got in rows]
        raise AssertionError("\n".join([*lines, _describe(span)]))


def _same(expected: object, actual: object) -> bool:
    if expected is None:
        return actual is _ABSENT
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        return isinstance(actual, Sequence) and tuple(expected) == tuple(actual)
    return bool(actual == expected)


def _describe(span: ReadableSpan) -> str:
    """The span's kind, status and attributes, one per line, for failure messages."""
    status = span.status.status_code.name
    if span.status.description:
        status += f" {span.status.description!r}"
    kind = span.kind.name if span.kind is not None else "?"
    lines = [f"span {span.name!r} (kind {kind}, status {status}) has attributes:"]
    attributes = span.attributes or {}
    lines += [f"  {name} = {show(attributes[name])}" for name in sorted(attributes)]
    return "\n".join(lines)


# --- metric points ---------------------------------------------------------------------------


def assert_metric_point(
    telemetry: GenAITelemetry,
    name: str,
    *,
    attributes: Mapping[str, object] | None = None,
    count: int | _NotGiven = _UNSET,
    sum: object = _UNSET,
    value: object = _UNSET,
    min: object = _UNSET,
    max: object = _UNSET,
) -> MetricPoint:
    """Find the one point of metric ``name`` whose attributes include ``attributes`` and check
    the given fields; returns it.

    ``count``, ``sum``, ``min`` and ``max`` are a histogram's; ``value`` (and ``sum``) a
    counter's, ``value`` a gauge's. Expected values may be anything that compares equal, such
    as ``pytest.approx(0.5)``. Raises AssertionError listing the points collected when no point
    or several points match, or the fields that differ::

        assert_metric_point(genai_telemetry, "gen_ai.client.token.usage",
                            attributes={"gen_ai.token.type": "input"}, sum=13)
    """
    __tracebackhide__ = True
    wanted = dict(attributes or {})
    points = telemetry.metric_points(name)
    if not points:
        recorded = telemetry.metric_names()
        raise AssertionError(f"no metric named {name!r} was recorded; recorded: {recorded}")
    matching = [
        p for p in points if all(_same(v, p.attributes.get(k, _ABSENT)) for k, v in wanted.items())
    ]
    if len(matching) != 1:
        listing = "\n".join(f"  {_show_point(p)}" for p in points)
        raise AssertionError(
            f"expected one point of {name!r} with attributes {wanted}, "
            f"found {len(matching)}; points of {name!r}:\n{listing}"
        )
    point = matching[0]
    fields = {"count": count, "sum": sum, "value": value, "min": min, "max": max}
    rows = [
        (field, want, getattr(point, field))
        for field, want in fields.items()
        if want is not _UNSET and getattr(point, field) != want
    ]
    if rows:
        lines = [f"metric point {name!r} {dict(point.attributes)} does not match:"]
        lines += [f"  {field}: expected {want!r}, got {got!r}" for field, want, got in rows]
        lines.append(f"point: {_show_point(point)}")
        raise AssertionError("\n".join(lines))
    return point


def _show_point(point: MetricPoint) -> str:
    if point.kind == "histogram":
        data = f"count={point.count} sum={point.sum} min={point.min} max={point.max}"
    else:
        data = f"value={point.value}"
    return f"{point.kind} {dict(point.attributes)} {data}"


# --- semantic conventions --------------------------------------------------------------------

#: Attribute name -> type, for the attributes of GenAI spans: the inference span
#: (client-inference.md @024a4f9, with the latest-only names), the OpenAI fetch-response span
#: (openai.md) and the tool, agent and embeddings spans (gen-ai-spans.md). Types: string,
#: int, double, boolean, string[], and any (structured content, a JSON string on Python spans).
KNOWN_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # 2.1 inference span
        "gen_ai.operation.name": "string",
        "gen_ai.provider.name": "string",
        "error.type": "string",
        "gen_ai.conversation.id": "string",
        "gen_ai.output.type": "string",
        "gen_ai.prompt.name": "string",
        "gen_ai.prompt.version": "string",
        "gen_ai.request.choice.count": "int",
        "gen_ai.request.model": "string",
        "gen_ai.request.seed": "int",
        "gen_ai.request.stream": "boolean",
        "gen_ai.request.top_k": "int",
        "server.port": "int",
        "openai.request.service_tier": "string",
        "openai.response.service_tier": "string",
        "gen_ai.conversation.compacted": "boolean",
        "gen_ai.request.frequency_penalty": "double",
        "gen_ai.request.max_tokens": "int",
        "gen_ai.request.presence_penalty": "double",
        "gen_ai.request.previous_response.id": "string",
        "gen_ai.request.reasoning.level": "string",
        "gen_ai.request.stop_sequences": "string[]",
        "gen_ai.request.temperature": "double",
        "gen_ai.request.top_p": "double",
        "gen_ai.response.finish_reasons": "string[]",
        "gen_ai.response.id": "string",
        "gen_ai.response.model": "string",
        "gen_ai.response.time_to_first_chunk": "double",
        "gen_ai.usage.input_tokens": "int",
        "gen_ai.usage.output_tokens": "int",
        "gen_ai.usage.cache_read.input_tokens": "int",
        "gen_ai.usage.cache_write.input_tokens": "int",
        "gen_ai.usage.reasoning.output_tokens": "int",
        **{
            f"gen_ai.usage.{modality}.{kind}": "int"
            for modality in ("text", "image", "audio")
            for kind in ("input_tokens", "output_tokens", "cache_read.input_tokens")
        },
        "server.address": "string",
        "openai.api.type": "string",
        "openai.response.system_fingerprint": "string",
        "gen_ai.input.messages": "any",
        "gen_ai.output.messages": "any",
        "gen_ai.system_instructions": "any",
        "gen_ai.tool.definitions": "any",
        # 3 fetch response span
        "gen_ai.request.stream_cursor": "any",
        "gen_ai.response.status": "string",
        # 5 other spans
        "gen_ai.tool.name": "string",
        "gen_ai.tool.call.id": "string",
        "gen_ai.tool.description": "string",
        "gen_ai.tool.type": "string",
        "gen_ai.tool.call.arguments": "any",
        "gen_ai.tool.call.result": "any",
        "gen_ai.agent.name": "string",
        "gen_ai.agent.id": "string",
        "gen_ai.agent.description": "string",
        "gen_ai.embeddings.dimension.count": "int",
        "gen_ai.request.encoding_formats": "string[]",
    }
)

#: Deprecated name -> replacement (registry-deprecated.yaml). Any other ``gen_ai.openai.*`` name
#: is deprecated too (moved to ``openai.*``), as are the indexed ``gen_ai.prompt.<n>.*`` /
#: ``gen_ai.completion.<n>.*`` forms of the removed ``gen_ai.prompt`` / ``gen_ai.completion``.
DEPRECATED_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "gen_ai.system": "gen_ai.provider.name",
        "gen_ai.usage.prompt_tokens": "gen_ai.usage.input_tokens",
        "gen_ai.usage.completion_tokens": "gen_ai.usage.output_tokens",
        "gen_ai.prompt": "gen_ai.input.messages",
        "gen_ai.completion": "gen_ai.output.messages",
        "gen_ai.openai.request.service_tier": "openai.request.service_tier",
        "gen_ai.openai.response.service_tier": "openai.response.service_tier",
        "gen_ai.openai.response.system_fingerprint": "openai.response.system_fingerprint",
        "gen_ai.openai.request.seed": "gen_ai.request.seed",
        "gen_ai.openai.request.response_format": "gen_ai.output.type",
    }
)

# The released conventions (core v1.40-v1.41) name cache writes ``cache_creation``; the latest
# (semconv-genai main, PR #440) renamed it ``cache_write``. Known under the released set only.
_RELEASED_ONLY: Final[Mapping[str, str]] = MappingProxyType({_CACHE_CREATION: "int"})

_LEGACY_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.\d+(\.|$)")
_PROMPT_VARIABLE = "gen_ai.prompt.variable."

# Span kind and name per gen_ai.operation.name (client-inference.md, gen-ai-spans.md): the attribute
# whose value follows the operation in the span name, and the attributes Required for it.
_SpanRule = tuple[SpanKind | None, str | None, tuple[str, ...]]
_INFERENCE_RULE: Final[_SpanRule] = (
    SpanKind.CLIENT,
    "gen_ai.request.model",
    ("gen_ai.provider.name",),
)
_SPAN_RULES: Final[Mapping[str, _SpanRule]] = MappingProxyType(
    {
        **dict.fromkeys(INFERENCE_OPERATIONS, _INFERENCE_RULE),
        "embeddings": (SpanKind.CLIENT, "gen_ai.request.model", ("gen_ai.provider.name",)),
        "execute_tool": (SpanKind.INTERNAL, "gen_ai.tool.name", ("gen_ai.tool.name",)),
        "fetch_response": (SpanKind.CLIENT, None, ("gen_ai.response.id",)),
    }
)

#: The attributes of the embeddings span (client-embeddings.md @88eccb1): no other ``gen_ai.*`` /
#: ``openai.*`` name belongs on it (no output tokens, finish reasons, streaming flag or content).
EMBEDDINGS_ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "error.type",
        "gen_ai.request.model",
        "server.address",
        "server.port",
        "gen_ai.embeddings.dimension.count",
        "gen_ai.request.encoding_formats",
        "gen_ai.response.model",
        "gen_ai.usage.input_tokens",
    }
)

ProblemKind = Literal["missing", "type", "deprecated", "unknown", "value", "span_kind", "span_name"]


@dataclass(frozen=True)
class Problem:
    """One way a span departs from the GenAI semantic conventions.

    ``kind``: ``missing`` (a Required attribute is absent), ``type`` (wrong attribute type),
    ``deprecated``, ``unknown`` (a ``gen_ai.*`` / ``openai.*`` name the conventions do not
    define), ``value`` (a value the conventions rule out), ``span_kind``, ``span_name``.
    ``attribute`` is the attribute concerned, if any.
    """

    kind: ProblemKind
    attribute: str | None
    message: str

    def __str__(self) -> str:
        return self.message


def check_semconv(span: ReadableSpan, *, latest: bool | None = None) -> list[Problem]:
    """Every departure of a GenAI span from the conventions (an empty list when it conforms).

    Checks Required attributes (``gen_ai.operation.name``, ``gen_ai.provider.name``,
    ``gen_ai.request.model`` for OpenAI, ``error.type`` when the status is ERROR), span kind and
    name (``"{operation} {model}"`` for inference), attribute types, deprecated names and
    unknown ``gen_ai.*`` / ``openai.*`` names against `KNOWN_ATTRIBUTES` (against
    `EMBEDDINGS_ATTRIBUTES` for an ``embeddings`` span). ``latest`` selects the
    latest (unreleased) name set instead of the released one; by default it follows
    ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` as spanstream itself does.
    """
    if latest is None:
        latest = use_latest_conventions()
    attributes = dict(span.attributes or {})
    problems = _check_span_shape(span, attributes)
    for name, value in sorted(attributes.items()):
        problems += _check_attribute(name, value, attributes, latest)
    return problems


def assert_semconv(span: ReadableSpan, *, latest: bool | None = None) -> None:
    """AssertionError listing every `check_semconv` problem of ``span``, if it has any."""
    __tracebackhide__ = True
    problems = check_semconv(span, latest=latest)
    if problems:
        lines = [f"span {span.name!r} departs from the GenAI semantic conventions:"]
        lines += [f"  [{problem.kind}] {problem.message}" for problem in problems]
        raise AssertionError("\n".join([*lines, _describe(span)]))


def _check_span_shape(span: ReadableSpan, attributes: Mapping[str, object]) -> list[Problem]:
    problems: list[Problem] = []
    operation = attributes.get("gen_ai.operation.name")
    required = ["gen_ai.operation.name"]
    rule: _SpanRule
    if operation is None:
        rule = _INFERENCE_RULE  # most likely an inference span missing its operation name
    else:
        rule = _SPAN_RULES.get(str(operation), (None, None, ()))
    kind, name_from, rule_required = rule
    required += rule_required
    if attributes.get("gen_ai.provider.name") == "openai" and rule is _INFERENCE_RULE:
        required.append("gen_ai.request.model")  # the OpenAI refinement (openai.md @024a4f9)
    if span.status.status_code is StatusCode.ERROR:
        required.append("error.type")
    problems += [
        Problem("missing", name, f"{name} is Required and missing")
        for name in required
        if name not in attributes
    ]
    if kind is not None and span.kind is not kind:
        actual = span.kind.name if span.kind is not None else None
        problems.append(Problem("span_kind", None, f"span kind is {actual}, expected {kind.name}"))
    if operation is not None and name_from is not None:
        subject = attributes.get(name_from)
        expected = f"{operation} {subject}" if subject is not None else str(operation)
        if span.name != expected:
            rule_text = f"{{gen_ai.operation.name}} {{{name_from}}}"
            message = f"span name is {span.name!r}, expected {expected!r} ({rule_text})"
            problems.append(Problem("span_name", None, message))
    return problems


def _check_attribute(
    name: str, value: object, attributes: Mapping[str, object], latest: bool
) -> list[Problem]:
    if not name.startswith(("gen_ai.", "openai.")) and name not in KNOWN_ATTRIBUTES:
        return []
    replacement = DEPRECATED_ATTRIBUTES.get(name)
    if replacement is None and name.startswith("gen_ai.openai."):
        replacement = name.removeprefix("gen_ai.")
    if replacement is None and _LEGACY_INDEXED.match(name):
        replacement = "gen_ai.input.messages / gen_ai.output.messages"
    if replacement is None and latest and name == _CACHE_CREATION:
        replacement = _CACHE_WRITE
    if replacement is not None:
        return [Problem("deprecated", name, f"{name} is deprecated: use {replacement}")]
    if (
        attributes.get("gen_ai.operation.name") == "embeddings"
        and name not in EMBEDDINGS_ATTRIBUTES
    ):
        message = f"{name} is not an attribute of the embeddings span"
        return [Problem("unknown", name, message)]
    expected_type = KNOWN_ATTRIBUTES.get(name) or (None if latest else _RELEASED_ONLY.get(name))
    if expected_type is None and name.startswith(_PROMPT_VARIABLE):
        expected_type = "string"
    if expected_type is None:
        return [Problem("unknown", name, f"{name} is not defined by the GenAI conventions")]
    problems: list[Problem] = []
    if not _has_type(value, expected_type):
        got = f"{type_name(value)} {show(value)}"
        problems.append(Problem("type", name, f"{name} must be {expected_type}, got {got}"))
    if name.startswith("openai.") and attributes.get("gen_ai.provider.name") != "openai":
        message = f"{name} is only for gen_ai.provider.name 'openai'"
        problems.append(Problem("value", name, message))
    if name in ("gen_ai.request.stream", "gen_ai.conversation.compacted") and value is False:
        message = f"{name} is set only as true, never false (leave it unset instead)"
        problems.append(Problem("value", name, message))
    if (
        name.startswith("gen_ai.usage.")
        and attributes.get("gen_ai.operation.name") == "fetch_response"
    ):
        problems.append(Problem("value", name, f"{name}: fetch_response reports no token usage"))
    return problems


def _has_type(value: object, expected: str) -> bool:
    if expected == "any":
        return True
    if expected == "string[]":
        return (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and all(isinstance(item, str) for item in value)
        )
    return type_name(value) == expected
