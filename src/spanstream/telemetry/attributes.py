"""Normalized request/response data -> ``gen_ai.*`` span attributes.

Names come from ``opentelemetry-semantic-conventions`` where it defines them; the few names that
exist only on the newer ``semantic-conventions-genai`` main branch (pinned at
``docs/gen-ai/client-inference.md`` @024a4f9) live in the small table below.
Nothing here knows any provider: it reads :class:`~spanstream._request.RequestInfo` and
:class:`~spanstream.events.Response` only, and copies the attributes a provider adds to the
conventions (:class:`~spanstream._request.ProviderAttributes`) as the request gives them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.util.types import AttributeValue

from .._request import FETCH_RESPONSE, RequestInfo
from ..events import TOKEN_COUNT_MAX, Response, Usage, is_token_count

__all__ = [
    "LATEST_OPT_IN",
    "SPANSTREAM_OUTCOME",
    "SPANSTREAM_USAGE_ESTIMATED",
    "SPANSTREAM_USAGE_ESTIMATED_OUTPUT_TOKENS",
    "conventions_usage",
    "end_attributes",
    "finish_reasons",
    "start_attributes",
    "token_count",
    "use_latest_conventions",
]

logger = logging.getLogger("spanstream.telemetry")

# Names without a constant in opentelemetry-semantic-conventions 0.66b2.
GEN_AI_REQUEST_REASONING_LEVEL = "gen_ai.request.reasoning.level"
GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID = "gen_ai.request.previous_response.id"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_REQUEST_STREAM_CURSOR = "gen_ai.request.stream_cursor"
GEN_AI_RESPONSE_STATUS = "gen_ai.response.status"

# spanstream's own attributes (no convention covers them).
SPANSTREAM_OUTCOME = "spanstream.outcome"
SPANSTREAM_TIME_TO_FIRST_TOKEN = "spanstream.time_to_first_token"
SPANSTREAM_EVENTS_UNKNOWN = "spanstream.events.unknown"
SPANSTREAM_EVENTS_MALFORMED = "spanstream.events.malformed"
SPANSTREAM_EVENTS_IGNORED = "spanstream.events.ignored"
"""Events the server sent after the terminal event, in the read that brought it: not
delivered (the first terminal event wins)."""
SPANSTREAM_RETRIES = "spanstream.retries"
SPANSTREAM_USAGE_ESTIMATED = "spanstream.usage.estimated"
"""``true`` when the output token count is spanstream's estimate (``Usage.estimated``): on the
span, and on the output token metrics when the estimate goes into them (``estimate_usage``)."""
SPANSTREAM_USAGE_ESTIMATED_OUTPUT_TOKENS = "spanstream.usage.estimated_output_tokens"
"""The estimated output token count, whether or not ``gen_ai.usage.output_tokens`` carries it."""

_LEFT = frozenset({"cancelled", "abandoned"})  # outcomes of a consumer that stopped reading

LATEST_OPT_IN = "gen_ai_latest_experimental"

_FINISHED = frozenset({"completed", "incomplete"})
# Outcomes after which no finish reason is awaited: a consumer that left, or a response that
# settled while the server still says "in_progress" (a background response, just created).
_NO_REASON_AWAITED = _LEFT | _FINISHED


def use_latest_conventions() -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for the latest (unreleased) GenAI names."""
    opt_in = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    return LATEST_OPT_IN in {part.strip() for part in opt_in.split(",")}


def start_attributes(
    info: RequestInfo, server_address: str | None, server_port: int | None
) -> dict[str, AttributeValue]:
    """Attributes known when the request starts (the sampling-relevant ones among them)."""
    attributes: dict[str, AttributeValue] = {
        gen_ai.GEN_AI_OPERATION_NAME: info.operation,
        gen_ai.GEN_AI_PROVIDER_NAME: info.provider,
    }
    if info.stream:
        # Conditionally Required "if and only if the request is streaming"; unset means not
        # streamed (client-inference.md @024a4f9), and the embeddings span has no such attribute.
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    if info.model is not None:
        attributes[gen_ai.GEN_AI_REQUEST_MODEL] = info.model
    if server_address:
        attributes[server_attributes.SERVER_ADDRESS] = server_address
        if server_port is not None:
            attributes[server_attributes.SERVER_PORT] = server_port
    optional: dict[str, AttributeValue | None] = {
        gen_ai.GEN_AI_REQUEST_MAX_TOKENS: info.max_tokens,
        gen_ai.GEN_AI_REQUEST_TEMPERATURE: info.temperature,
        gen_ai.GEN_AI_REQUEST_TOP_P: info.top_p,
        gen_ai.GEN_AI_REQUEST_TOP_K: info.top_k,
        gen_ai.GEN_AI_REQUEST_SEED: info.seed,
        gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY: info.frequency_penalty,
        gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY: info.presence_penalty,
        gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES: list(info.stop_sequences)
        if info.stop_sequences
        else None,
        gen_ai.GEN_AI_REQUEST_CHOICE_COUNT: info.choice_count
        if info.choice_count not in (None, 1)
        else None,
        gen_ai.GEN_AI_OUTPUT_TYPE: info.output_type,
        GEN_AI_REQUEST_REASONING_LEVEL: info.reasoning_level,
        GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID: info.previous_response_id,
        gen_ai.GEN_AI_RESPONSE_ID: info.response_id,  # a fetch: known before it starts
        GEN_AI_REQUEST_STREAM_CURSOR: info.stream_cursor,
        gen_ai.GEN_AI_CONVERSATION_ID: info.conversation_id,
        gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS: list(info.encoding_formats)
        if info.encoding_formats
        else None,
        gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: info.dimension_count,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    attributes.update(info.request_attributes())
    return attributes


def end_attributes(
    info: RequestInfo,
    response: Response,
    *,
    outcome: str,
    error_type: str | None,
    time_to_first_chunk: float | None,
    time_to_first_token: float | None,
    latest: bool,
    estimates: bool = False,
) -> dict[str, AttributeValue]:
    """Attributes known when the stream ends, on whatever path it ended (``latest``: the
    name set chosen by :func:`use_latest_conventions` when the client was made; ``estimates``:
    whether an estimated output count goes into ``gen_ai.usage.output_tokens``, see
    :func:`usage_attributes`)."""
    attributes: dict[str, AttributeValue] = {SPANSTREAM_OUTCOME: outcome}
    if response.id:
        attributes[gen_ai.GEN_AI_RESPONSE_ID] = response.id
    if response.model:
        attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = response.model
    reasons = received_finish_reasons(response)
    if reasons:
        attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    elif (
        outcome not in _NO_REASON_AWAITED
        and response.status not in _FINISHED
        and info.family == "inference"
    ):
        # The conventions ask for "error" where a finish reason was expected but never came
        # because the response did not finish (failed, cut); no other family has finish reasons.
        attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = ["error"]
    # None is invented otherwise: a finished response whose server gave no reason (a Chat
    # stream ended by [DONE], an Anthropic message_stop without stop_reason), a background
    # response just created (still in progress: create(background=True)), or a consumer
    # that left (cancelled, abandoned) and expected no reason any more, so that an answer a
    # user cut short is not counted as an error by finish reason (the attribute is
    # Recommended, so it may be omitted; the metrics give such a stream no error.type either).
    if info.operation == FETCH_RESPONSE:
        # A fetch reports the response's status and never its token usage (openai.md @024a4f9).
        attributes[GEN_AI_RESPONSE_STATUS] = response.status
    elif response.usage is not None:
        attributes.update(usage_attributes(response.usage, latest=latest, estimates=estimates))
    if response.dimension_count is not None:
        # The count the reply states wins over the one the request asked for.
        attributes[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = response.dimension_count
    if error_type:
        attributes[error_attributes.ERROR_TYPE] = error_type
    if time_to_first_chunk is not None:
        attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = time_to_first_chunk
    if time_to_first_token is not None:
        attributes[SPANSTREAM_TIME_TO_FIRST_TOKEN] = time_to_first_token
    attributes.update(info.response_attributes(response))
    return attributes


def received_finish_reasons(response: Response) -> list[str]:
    """The finish reasons the provider gave: one per choice, in choice order (or none)."""
    if response.finish_reasons:
        return list(response.finish_reasons)
    return [response.finish_reason] if response.finish_reason else []


_STATUS_REASONS = {"completed": "stop", "incomplete": "length"}


def finish_reasons(response: Response) -> list[str]:
    """The finish reasons where a value is required (an output message's ``finish_reason``):
    those received, else the reason the status implies (``stop`` for a completed response
    whose server named none, ``length`` for an incomplete one), else ``error``, as the
    conventions ask for a reason that never came (client-inference.md @024a4f9)."""
    return received_finish_reasons(response) or [_STATUS_REASONS.get(response.status, "error")]


_REFUSED: set[str] = set()  # names a bad count was refused for (each is logged once)


def token_count(name: str, value: object) -> int | None:
    """``value`` if it is a token count telemetry can record (an ``int`` in
    ``0..TOKEN_COUNT_MAX``), else ``None``: the last guard before a span attribute or a metric
    (issue #6), whatever built the usage (a parser guards too; an agent sums turns; a user's
    observer builds its own). Refusals are logged once per ``name``: an out-of-range count in a
    cumulative metric would make every later OTLP export of it fail, for all streams."""
    if value is None:
        return None
    if is_token_count(value):
        return value
    if name not in _REFUSED:
        _REFUSED.add(name)
        logger.warning(
            "not recording %s: a %s that is not a token count in 0..%d (logged once)",
            name,
            type(value).__name__,
            TOKEN_COUNT_MAX,
        )
    return None


def conventions_usage(usage: Usage, *, estimates: bool) -> Usage:
    """The usage the conventions' attributes and metrics may carry: an estimated output count
    (and the total built on it) only if ``estimates`` (the client's ``estimate_usage``), since
    they mean the provider's count; the counts the server reported always."""
    if not usage.estimated or estimates:
        return usage
    return replace(usage, output_tokens=None, total_tokens=None)


def usage_attributes(
    usage: Usage, *, latest: bool, estimates: bool = False
) -> dict[str, AttributeValue]:
    """Token counts under the conventions' names (cache write per the selected name set); a
    value :func:`token_count` refuses is left out. An estimated output count is marked
    (:data:`SPANSTREAM_USAGE_ESTIMATED`, :data:`SPANSTREAM_USAGE_ESTIMATED_OUTPUT_TOKENS`) and
    is ``gen_ai.usage.output_tokens`` only if ``estimates`` (:func:`conventions_usage`)."""
    marks: dict[str, int | None] = {}
    if usage.estimated:
        marks[SPANSTREAM_USAGE_ESTIMATED_OUTPUT_TOKENS] = usage.output_tokens
        usage = conventions_usage(usage, estimates=estimates)
    cache_write = (
        GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
        if latest
        else gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
    )
    values: dict[str, int | None] = {
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_input_tokens,
        cache_write: usage.cache_write_input_tokens,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage.reasoning_output_tokens,
    }
    values.update(marks)
    counts = {name: token_count(name, value) for name, value in values.items()}
    attributes: dict[str, AttributeValue] = {
        name: value for name, value in counts.items() if value is not None
    }
    if marks:
        attributes[SPANSTREAM_USAGE_ESTIMATED] = True
    return attributes
