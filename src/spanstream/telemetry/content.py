"""Opt-in capture of message content: off unless asked for.

Modes follow the Python GenAI instrumentations'
setting ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``:
``NO_CONTENT`` (default), ``SPAN_ONLY``, ``EVENT_ONLY``, ``SPAN_AND_EVENT``; the older boolean
form is accepted too (``true`` = ``SPAN_ONLY``, ``false`` = ``NO_CONTENT``). On the span, content
is a JSON string (the Python SDK has no structured attributes); on the
``gen_ai.client.inference.operation.details`` event it is structured, in its attributes. Text
longer than ``max_length`` characters is cut with a visible ``…[truncated N chars]`` marker,
keeping the JSON valid; a ``hook`` sees the content first and may redact it (or return ``None``
to drop it).
"""

from __future__ import annotations

import enum
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from .._record import Record
from ..events import Response
from .attributes import finish_reasons

__all__ = ["CaptureMode", "CapturedContent", "ContentCapture", "output_messages"]

logger = logging.getLogger("spanstream")

ENV_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_EMIT_EVENT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"

JSON = object
Message = dict[str, JSON]


class CaptureMode(enum.Enum):
    """Where captured content goes."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (CaptureMode.SPAN_ONLY, CaptureMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (CaptureMode.EVENT_ONLY, CaptureMode.SPAN_AND_EVENT)

    @classmethod
    def parse(cls, value: str | bool | CaptureMode | None) -> CaptureMode:
        """Read a mode from a setting: an enum member, a bool, or its name (any case)."""
        if isinstance(value, CaptureMode):
            return value
        if value is None or value is False:
            return cls.NO_CONTENT
        if value is True:
            return cls.SPAN_ONLY
        text = value.strip().upper()
        if text in ("TRUE", "1", "YES", "ON"):
            return cls.SPAN_ONLY
        if text in ("", "FALSE", "0", "NO", "OFF"):
            return cls.NO_CONTENT
        try:
            return cls(text)
        except ValueError:
            logger.warning("unknown content capture mode %r: capturing no content", value)
            return cls.NO_CONTENT


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CapturedContent(Record):
    """What one inference said, in the shapes of the GenAI conventions' gen-ai-*.json schemas."""

    input_messages: list[Message]
    output_messages: list[Message]
    system_instructions: list[Message] | None = None
    tool_definitions: list[Message] | None = None


ContentHook = Callable[[CapturedContent], "CapturedContent | None"]
"""Sees the content before it is recorded; returns it (possibly redacted) or ``None``."""


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ContentCapture(Record):
    """Content capture settings: mode, size limit, redaction hook, event emission."""

    mode: CaptureMode = CaptureMode.NO_CONTENT
    max_length: int = 8192
    hook: ContentHook | None = None
    emit_event: bool | None = None
    """Emit the details event; default: whenever the mode includes events."""

    @classmethod
    def from_env(cls) -> ContentCapture:
        """The settings the standard environment variables describe."""
        emit = os.environ.get(ENV_EMIT_EVENT)
        return cls(
            mode=CaptureMode.parse(os.environ.get(ENV_CAPTURE)),
            emit_event=None if emit is None else emit.strip().lower() in ("true", "1", "yes"),
        )

    @classmethod
    def of(cls, value: ContentCapture | CaptureMode | str | bool | None) -> ContentCapture:
        """Settings from a client argument: ``None`` means "from the environment"."""
        if isinstance(value, ContentCapture):
            return value
        if value is None:
            return cls.from_env()
        return cls(mode=CaptureMode.parse(value))

    @property
    def enabled(self) -> bool:
        return self.mode is not CaptureMode.NO_CONTENT

    @property
    def emits_event(self) -> bool:
        return self.emit_event if self.emit_event is not None else self.mode.on_event

    def prepare(self, content: CapturedContent) -> CapturedContent | None:
        """Run the hook, then truncate."""
        if self.hook is not None:
            try:
                hooked = self.hook(content)
            except Exception:
                logger.exception("content hook failed: content dropped")
                return None
            if hooked is None:
                return None
            content = hooked
        limit = self.max_length
        return replace(
            content,
            input_messages=_truncate_messages(content.input_messages, limit),
            output_messages=_truncate_messages(content.output_messages, limit),
            system_instructions=_truncate_parts(content.system_instructions, limit),
        )


_ANSWERED = frozenset({"completed", "incomplete"})


def output_messages(response: Response, *, outcome: str, latest: bool) -> list[Message]:
    """The response as one assistant message whose parts are its reasoning, text, refusal and
    tool calls, in that order (one generation = one output message).

    Under the released conventions (core semconv v1.41.1, the default name set) the message
    carries ``finish_reason``, which their ``gen-ai-output-messages.json`` requires (consumers
    that validate against it, such as Arize Phoenix, drop the whole attribute without it); the
    latest conventions deprecate it in favour of ``gen_ai.response.finish_reasons``
    (semantic-conventions-genai #363), so it is left out there. A stream that ended without an
    answer (failed, errored, cancelled, abandoned) and produced no part has no output message:
    the model said nothing, and an empty assistant message would claim it did.
    """
    parts: list[Message] = []
    for reasoning in response.reasoning:
        text = "\n\n".join(reasoning.summary or reasoning.content)
        if text:
            parts.append({"type": "reasoning", "content": text})
    if response.text:
        parts.append({"type": "text", "content": response.text})
    if response.refusal:
        parts.append({"type": "generic", "generic_type": "refusal", "content": response.refusal})
    for call in response.tool_calls:
        arguments: JSON = (
            call.parsed_arguments if call.parsed_arguments is not None else call.arguments
        )
        parts.append(
            {"type": "tool_call", "id": call.call_id, "name": call.name, "arguments": arguments}
        )
    if not parts and outcome not in _ANSWERED:
        return []
    message: Message = {"role": "assistant", "parts": parts}
    if not latest:
        message["finish_reason"] = finish_reasons(response)[0]
    return [message]


def to_json(value: JSON) -> str:
    """Compact JSON for a span attribute."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _truncate_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


def _truncate_parts(parts: list[Message] | None, limit: int) -> list[Message] | None:
    if parts is None:
        return None
    out: list[Message] = []
    for part in parts:
        content = part.get("content")
        if isinstance(content, str) and len(content) > limit:
            part = {**part, "content": _truncate_text(content, limit)}
        out.append(part)
    return out


def _truncate_messages(messages: list[Message], limit: int) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        parts = message.get("parts")
        if isinstance(parts, list):
            message = {**message, "parts": _truncate_parts(parts, limit)}
        out.append(message)
    return out
