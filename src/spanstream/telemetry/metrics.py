"""GenAI client metrics, recorded once per stream when it ends.

Two name sets, one table (:data:`METRICS`): the last released conventions (core semconv
v1.41, what ``opentelemetry-semantic-conventions`` and most dashboards use; the default) and the
latest ``semantic-conventions-genai`` main (``gen_ai.client.inference.*``; switched on with
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``). Names the conventions do not have
(time to first token; cache and reasoning token totals in the released set) are ``spanstream.*``.

Nothing is recorded per event: the stream keeps a few timestamps and counts (and one gap per
network read in a flat buffer), and the instruments are fed at the end, also for failed,
cancelled and abandoned streams.

An embeddings request (``RequestInfo.family``) records its duration and its input tokens only,
under the embeddings names of each set (``gen_ai.client.embeddings.*`` in the latest,
client-embeddings.md @88eccb1).

The duration and token metrics also carry the response attributes a provider adds to the
conventions (:class:`~spanstream._request.ProviderAttributes`): for OpenAI,
``openai.response.service_tier`` and ``openai.response.system_fingerprint`` when the response
states them (the OpenAI refinement of these metrics, Recommended).

"Chunk" (undefined by the conventions for SSE) is one server-sent event.
``time_to_first_chunk`` runs from sending the request to the first event;
``time_per_output_chunk`` is recorded once for each event after the first, from the end of the
previous event to the end of this one, as the conventions define it (metrics.yaml: "for each
chunk received after the first"); events that came in the same network read as the one before
them are 0 s apart (see :meth:`~spanstream.results.StreamTimings.output_chunk_gaps`). The values
are buffered during the stream and recorded when it ends, so the hot path has no histogram
update; into the OpenTelemetry SDK they go in one call (:mod:`spanstream.telemetry._bulk`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from opentelemetry import context as otel_context
from opentelemetry import metrics
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.util.types import AttributeValue

from .. import __version__
from .._record import Record
from .._request import FETCH_RESPONSE, RequestInfo
from ..results import StreamResult
from ._bulk import record_many
from .attributes import (
    SPANSTREAM_OUTCOME,
    SPANSTREAM_USAGE_ESTIMATED,
    conventions_usage,
    token_count,
)

__all__ = ["DURATION_BUCKETS", "METRICS", "TOKEN_BUCKETS", "MetricSpec", "StreamMetrics"]

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

GEN_AI_TOKEN_MODALITY = "gen_ai.token.modality"  # latest conventions only

Measure = Literal[
    "streams",
    "duration",
    "operation_duration",
    "time_to_first_chunk",
    "time_per_output_chunk",
    "time_to_first_token",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "reasoning_output_tokens",
    "operation_input_tokens",
    "operation_output_tokens",
    "embeddings_duration",
    "embeddings_input_tokens",
]


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class MetricSpec(Record):
    """One instrument: its name, kind, unit and buckets, and the extra attributes it carries."""

    name: str
    kind: Literal["histogram", "counter"]
    unit: str
    description: str
    buckets: tuple[float, ...] | None = None
    extra: tuple[tuple[str, str], ...] = ()


def _seconds(name: str, description: str) -> MetricSpec:
    return MetricSpec(name, "histogram", "s", description, DURATION_BUCKETS)


def _token_histogram(name: str, description: str, token_type: str | None = None) -> MetricSpec:
    extra = ((gen_ai.GEN_AI_TOKEN_TYPE, token_type),) if token_type else ()
    return MetricSpec(name, "histogram", "{token}", description, TOKEN_BUCKETS, extra)


def _token_counter(name: str, description: str, modality: bool) -> MetricSpec:
    extra = ((GEN_AI_TOKEN_MODALITY, "unknown"),) if modality else ()
    return MetricSpec(name, "counter", "{token}", description, None, extra)


_STREAMS = MetricSpec(
    "spanstream.client.streams",
    "counter",
    "{stream}",
    "Streams by how they ended (spanstream.outcome: completed, incomplete, failed, error, "
    "cancelled, abandoned).",
)

_TTFT = _seconds(
    "spanstream.client.operation.time_to_first_token",
    "Time from sending the request to the first output delta (text, refusal or tool call).",
)

_OPERATION_DURATION = _seconds(
    gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION, "GenAI operation duration."
)

METRICS: Mapping[str, Mapping[Measure, MetricSpec]] = {
    # Core semconv v1.41.x: the last released GenAI conventions.
    "default": {
        "streams": _STREAMS,
        "duration": _OPERATION_DURATION,
        "operation_duration": _OPERATION_DURATION,
        "time_to_first_chunk": _seconds(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            "Time to receive the first chunk (server-sent event) of a streamed response.",
        ),
        "time_per_output_chunk": _seconds(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
            "Time between consecutive chunks (server-sent events), one value per chunk after "
            "the first.",
        ),
        "time_to_first_token": _TTFT,
        "input_tokens": _token_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, "Number of input tokens used.", "input"
        ),
        "output_tokens": _token_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, "Number of output tokens used.", "output"
        ),
        "cache_read_input_tokens": _token_counter(
            "spanstream.client.usage.cache_read.input_tokens",
            "Input tokens served from the provider's cache (a subset of input tokens).",
            modality=False,
        ),
        "cache_write_input_tokens": _token_counter(
            "spanstream.client.usage.cache_write.input_tokens",
            "Input tokens written to the provider's cache (a subset of input tokens).",
            modality=False,
        ),
        "reasoning_output_tokens": _token_counter(
            "spanstream.client.usage.reasoning.output_tokens",
            "Reasoning tokens (a subset of output tokens).",
            modality=False,
        ),
        # Embeddings report on the operation duration and the token usage (input only).
        "embeddings_duration": _OPERATION_DURATION,
        "embeddings_input_tokens": _token_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, "Number of input tokens used.", "input"
        ),
    },
    # semantic-conventions-genai main (@024a4f9 / token metrics @066d4a7).
    "latest": {
        "streams": _STREAMS,
        "duration": _seconds("gen_ai.client.inference.duration", "GenAI inference duration."),
        # Operations other than inference (a fetch) keep the operation duration.
        "operation_duration": _OPERATION_DURATION,
        "time_to_first_chunk": _seconds(
            "gen_ai.client.inference.time_to_first_chunk",
            "Time to receive the first chunk (server-sent event) of a streamed response.",
        ),
        "time_per_output_chunk": _seconds(
            "gen_ai.client.inference.time_per_output_chunk",
            "Time between consecutive chunks (server-sent events), one value per chunk after "
            "the first.",
        ),
        "time_to_first_token": _TTFT,
        "input_tokens": _token_counter(
            "gen_ai.client.inference.usage.input_tokens", "Input tokens.", modality=True
        ),
        "output_tokens": _token_counter(
            "gen_ai.client.inference.usage.output_tokens", "Output tokens.", modality=True
        ),
        "cache_read_input_tokens": _token_counter(
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            "Input tokens read from the cache.",
            modality=True,
        ),
        "cache_write_input_tokens": _token_counter(
            "gen_ai.client.inference.usage.cache_write.input_tokens",
            "Input tokens written to the cache.",
            modality=True,
        ),
        "reasoning_output_tokens": _token_counter(
            "gen_ai.client.inference.usage.reasoning.output_tokens",
            "Reasoning output tokens.",
            modality=True,
        ),
        "operation_input_tokens": _token_histogram(
            "gen_ai.client.inference.operation.input_tokens", "Input tokens per operation."
        ),
        "operation_output_tokens": _token_histogram(
            "gen_ai.client.inference.operation.output_tokens", "Output tokens per operation."
        ),
        # client-embeddings.md @88eccb1: embeddings have their own two metrics.
        "embeddings_duration": _seconds(
            "gen_ai.client.embeddings.duration", "GenAI client embeddings operation duration."
        ),
        "embeddings_input_tokens": _token_histogram(
            "gen_ai.client.embeddings.operation.input_tokens",
            "The number of input tokens used per embeddings operation.",
        ),
    },
}


class StreamMetrics:
    """The instruments of one name set, created once per client."""

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None,
        *,
        latest: bool,
        per_chunk: bool = True,
        estimates: bool = False,
    ) -> None:
        meter = metrics.get_meter("spanstream", __version__, meter_provider)
        self.latest = latest
        self.estimates = estimates
        """Whether an estimated output count is recorded (marked), or left out as unknown."""
        self._specs = METRICS["latest" if latest else "default"]
        if not per_chunk:
            # One histogram value per event is the conventions' definition. Into the OTel SDK
            # they go in one call (_bulk.py); a meter provider of another kind gets a record()
            # per value, and a service that needs that CPU more than this metric leaves it out.
            self._specs = {
                m: spec for m, spec in self._specs.items() if m != "time_per_output_chunk"
            }
        made: dict[str, metrics.Histogram | metrics.Counter] = {}
        self._instruments: dict[Measure, tuple[MetricSpec, metrics.Histogram | metrics.Counter]]
        self._instruments = {}
        for measure, spec in self._specs.items():
            instrument = made.get(spec.name)
            if instrument is None:
                instrument = made[spec.name] = _create(meter, spec)
            self._instruments[measure] = (spec, instrument)
        self._extra = {measure: dict(spec.extra) for measure, spec in self._specs.items()}
        # A no-op meter provider (telemetry off) records nothing: nothing to build for it.
        self._noop = all(
            isinstance(instrument, (metrics.NoOpHistogram, metrics.NoOpCounter))
            for _, instrument in self._instruments.values()
        )

    def record(
        self,
        info: RequestInfo,
        result: StreamResult,
        server_address: str | None,
        server_port: int | None,
        context: otel_context.Context | None = None,
    ) -> None:
        """Record one finished stream."""
        if self._noop:
            return
        common: dict[str, AttributeValue] = {
            gen_ai.GEN_AI_OPERATION_NAME: info.operation,
            gen_ai.GEN_AI_PROVIDER_NAME: info.provider,
        }
        if info.model is not None:
            common[gen_ai.GEN_AI_REQUEST_MODEL] = info.model
        if result.response.model:
            common[gen_ai.GEN_AI_RESPONSE_MODEL] = result.response.model
        if server_address:
            common[server_attributes.SERVER_ADDRESS] = server_address
            if server_port is not None:
                common[server_attributes.SERVER_PORT] = server_port
        with_error = dict(common)
        if result.error_type:
            with_error[error_attributes.ERROR_TYPE] = result.error_type
        streams = (1, {**with_error, SPANSTREAM_OUTCOME: result.outcome})
        timings = result.timings
        if info.operation == FETCH_RESPONSE:
            # Not an inference: its duration only, no token usage (openai.md, client-inference.md).
            self._record(
                {"streams": streams, "operation_duration": (timings.duration, with_error)}, context
            )
            return
        # Duration and token metrics also carry the provider's own response attributes (the
        # OpenAI refinement recommends its openai.response.* ones there).
        refined = {**with_error, **info.response_attributes(result.response)}
        if info.family == "embeddings":
            # The duration, and the input tokens when the reply states them (no error.type on
            # them: client-embeddings.md @88eccb1, "when the count is readily available").
            stated = result.response.usage
            inputs = stated.input_tokens if stated is not None else None
            self._record(
                {
                    "streams": streams,
                    "embeddings_duration": (timings.duration, refined),
                    "embeddings_input_tokens": (inputs, common),
                },
                context,
            )
            return

        values: dict[Measure, tuple[float | int | None, dict[str, AttributeValue]]] = {
            "streams": streams,
            "duration": (timings.duration, refined),
            "time_to_first_chunk": (timings.time_to_first_chunk, common),
            "time_to_first_token": (timings.time_to_first_token, common),
        }
        usage = result.response.usage
        output = refined
        if usage is not None:
            if usage.estimated and self.estimates:
                output = {**refined, SPANSTREAM_USAGE_ESTIMATED: True}
            usage = conventions_usage(usage, estimates=self.estimates)
        if self.latest:
            # Token metrics for every inference, failed ones included; 0 when no usage came.
            inputs = (usage.input_tokens if usage else None) or 0
            outputs = (usage.output_tokens if usage else None) or 0
            values.update(
                {
                    "input_tokens": (inputs, refined),
                    "output_tokens": (outputs, output),
                    "operation_input_tokens": (inputs, refined),
                    "operation_output_tokens": (outputs, output),
                }
            )
        elif usage is not None:
            values["input_tokens"] = (usage.input_tokens, refined)
            values["output_tokens"] = (usage.output_tokens, output)
        if usage is not None:
            values["cache_read_input_tokens"] = (usage.cache_read_input_tokens, refined)
            values["cache_write_input_tokens"] = (usage.cache_write_input_tokens, refined)
            values["reasoning_output_tokens"] = (usage.reasoning_output_tokens, refined)
        self._record(values, context)
        gaps, zeros = timings.output_chunk_gap_parts()
        self._record_each("time_per_output_chunk", gaps, zeros, common, context)

    def _record_each(
        self,
        measure: Measure,
        values: Sequence[float],
        zeros: int,
        attributes: dict[str, AttributeValue],
        context: otel_context.Context | None,
    ) -> None:
        """Record many values of one histogram with the same attributes: ``values``, then
        ``zeros`` values of 0."""
        entry = self._instruments.get(measure)
        if entry is None:
            return
        instrument = entry[1]
        if not isinstance(instrument, metrics.Histogram):
            return
        # The span's context goes with the first value only: with it the SDK's trace-based
        # exemplar filter would sample every value into the bucket's reservoir, to keep one
        # exemplar per bucket all the same. record_many gives the others no span, and records
        # them in one call where the SDK allows it (see _bulk.py).
        record_many(instrument, values, attributes, context, zeros=zeros)

    def _record(
        self,
        values: Mapping[Measure, tuple[float | int | None, dict[str, AttributeValue]]],
        context: otel_context.Context | None,
    ) -> None:
        for measure, (value, attributes) in values.items():
            entry = self._instruments.get(measure)
            if entry is None or value is None:
                continue
            spec, instrument = entry
            if spec.unit == "{token}":
                value = token_count(spec.name, value)
                if value is None:
                    continue
            if spec.extra:
                attributes = {**attributes, **self._extra[measure]}
            if isinstance(instrument, metrics.Histogram):
                instrument.record(value, attributes, context=context)
            else:
                instrument.add(value, attributes, context=context)


def _create(meter: metrics.Meter, spec: MetricSpec) -> metrics.Histogram | metrics.Counter:
    if spec.kind == "counter":
        return meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
    return meter.create_histogram(
        spec.name,
        unit=spec.unit,
        description=spec.description,
        explicit_bucket_boundaries_advisory=list(spec.buckets or ()),
    )
