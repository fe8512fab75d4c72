"""Spans of an agent run: ``invoke_agent`` (the run), ``execute_tool {name}`` (each tool call).

The inference span of every turn is created by the client as usual; it nests under the agent
span because the agent makes its span current while it starts each turn's stream. Attributes
follow semantic-conventions-genai gen-ai-spans.md @024a4f9 and gen-ai-agent-spans.md: the
in-process agent span is INTERNAL; tool spans are INTERNAL with ``gen_ai.tool.*``; arguments
and results are recorded only when content capture is on.

The agent span follows the naming set the client uses. The released conventions (core semconv
v1.41.x) require ``gen_ai.provider.name`` on every ``invoke_agent`` span; the latest ones
(semantic-conventions-genai main) no longer list it, nor the cache token counts, for the
in-process span (#571, #469): there it carries the operation, the agent, the conversation, the
model and the input and output tokens.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from ..events import ToolCall, Usage
from .attributes import SPANSTREAM_OUTCOME, usage_attributes
from .span_observer import Instrumentation, error_status

__all__ = ["AgentSpan", "ToolSpan"]

SPANSTREAM_AGENT_TURNS = "spanstream.agent.turns"

# The token counts the latest in-process agent span lists (no cache counts: #469).
_LATEST_USAGE = (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS)
_SPANSTREAM = "spanstream."  # spanstream's own marks (an estimated output count) stay


class AgentSpan:
    """The ``invoke_agent`` span of one run."""

    def __init__(
        self,
        instrumentation: Instrumentation,
        *,
        agent_name: str | None,
        provider: str,
        model: str,
        parent: otel_context.Context | None,
        conversation_id: str | None = None,
    ) -> None:
        self._instrumentation = instrumentation
        attributes: dict[str, AttributeValue] = {
            gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
            gen_ai.GEN_AI_REQUEST_MODEL: model,
        }
        if not instrumentation.latest:
            attributes[gen_ai.GEN_AI_PROVIDER_NAME] = provider
        if agent_name:
            attributes[gen_ai.GEN_AI_AGENT_NAME] = agent_name
        if conversation_id:
            attributes[gen_ai.GEN_AI_CONVERSATION_ID] = conversation_id
        self.span = instrumentation.tracer.start_span(
            f"invoke_agent {agent_name}" if agent_name else "invoke_agent",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        self.context = trace.set_span_in_context(self.span, parent)
        self._ended = False

    def activate(self) -> AbstractContextManager[object]:
        """Make the agent span current (while a turn's stream is created)."""
        return trace.use_span(self.span, end_on_exit=False, record_exception=False)

    def end(
        self, outcome: str, turns: int, usage: Usage, error: BaseException | None = None
    ) -> None:
        """End the span once with the run's outcome and its usage summed over the turns."""
        if self._ended:
            return
        self._ended = True
        span = self.span
        latest = self._instrumentation.latest
        tokens = usage_attributes(
            usage, latest=latest, estimates=self._instrumentation.estimate_usage
        )
        if latest:
            tokens = {
                name: value
                for name, value in tokens.items()
                if name in _LATEST_USAGE or name.startswith(_SPANSTREAM)
            }
        span.set_attributes({**tokens, SPANSTREAM_OUTCOME: outcome, SPANSTREAM_AGENT_TURNS: turns})
        if error is not None and outcome == "error":
            span.set_attribute(error_attributes.ERROR_TYPE, _error_type(error))
            span.set_status(error_status(str(error)))
        if error is not None:
            span.record_exception(error)
        span.end()


class ToolSpan:
    """The ``execute_tool {name}`` span of one call."""

    def __init__(
        self,
        instrumentation: Instrumentation,
        call: ToolCall,
        *,
        description: str | None,
        parent: otel_context.Context,
    ) -> None:
        self._capture = instrumentation.content.enabled
        attributes: dict[str, AttributeValue] = {
            gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
            gen_ai.GEN_AI_TOOL_NAME: call.name,
            gen_ai.GEN_AI_TOOL_CALL_ID: call.call_id,
            gen_ai.GEN_AI_TOOL_TYPE: "function",
        }
        if description:
            attributes[gen_ai.GEN_AI_TOOL_DESCRIPTION] = description
        if self._capture:
            attributes[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = call.arguments
        self.span = instrumentation.tracer.start_span(
            f"execute_tool {call.name}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        self.context = trace.set_span_in_context(self.span, parent)

    def end(self, result: str | None, error: BaseException | None, outcome: str) -> None:
        """End the span: ``outcome`` is ``completed``, ``error`` or ``cancelled``."""
        span = self.span
        span.set_attribute(SPANSTREAM_OUTCOME, outcome)
        if result is not None and self._capture:
            span.set_attribute(gen_ai.GEN_AI_TOOL_CALL_RESULT, result)
        if error is not None:
            span.record_exception(error)
            if outcome == "error":
                span.set_attribute(error_attributes.ERROR_TYPE, _error_type(error))
                span.set_status(error_status(str(error)))
        span.end()


def _error_type(error: BaseException) -> str:
    return type(error).__qualname__
