"""spanstream: stream LLM responses inside an OpenTelemetry span, observable from the first byte.

>>> from spanstream import Client, TextDelta
>>> with Client().responses.stream(model="gpt-4.1", input="Say hi") as stream:
...     for event in stream:
...         if isinstance(event, TextDelta):
...             print(event.text, end="")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from ._anthropic import AnthropicClient, AsyncAnthropicClient
from ._lazy import lazy_attributes
from ._pool import AsyncShardedTransport, ShardedTransport
from ._retry import RetryPolicy
from .client import AsyncClient, Client
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    MalformedEventError,
    MaxTurnsExceededError,
    ResponseFailedError,
    SpanstreamError,
    SSEDecodeError,
    StreamError,
    ToolArgumentsError,
    UnexpectedContentTypeError,
    UnknownToolError,
    UsageError,
)
from .events import (
    Citation,
    CitationAdded,
    ErrorReported,
    ItemDone,
    MessageDone,
    ProviderError,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    RefusalDelta,
    Response,
    ResponseDone,
    ResponseStarted,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolResult,
    TurnStarted,
    UnknownEvent,
    Usage,
    UsageReported,
)
from .results import Outcome, StreamResult
from .stream import AsyncStream, Stream
from .telemetry import CaptureMode, ContentCapture

if TYPE_CHECKING:
    # Imported on first use (``__getattr__`` below): configure() and TelemetryHandle import the
    # OpenTelemetry SDK, which a client never needs unless the application calls configure();
    # the agent and tools serve the applications that run one.
    from .agent import Agent, AgentEvent, AgentRun, AsyncAgent, AsyncAgentRun
    from .telemetry.setup import TelemetryHandle, configure
    from .tools import Tool, tool

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentRun",
    "AsyncAgent",
    "AsyncAgentRun",
    "MaxTurnsExceededError",
    "Tool",
    "ToolArgumentsError",
    "ToolResult",
    "TurnStarted",
    "UnknownToolError",
    "tool",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicClient",
    "AsyncAnthropicClient",
    "AsyncClient",
    "AsyncShardedTransport",
    "AsyncStream",
    "CaptureMode",
    "Citation",
    "CitationAdded",
    "Client",
    "ConfigurationError",
    "ContentCapture",
    "ErrorReported",
    "ItemDone",
    "MalformedEventError",
    "MessageDone",
    "Outcome",
    "ProviderError",
    "Reasoning",
    "ReasoningDelta",
    "ReasoningDone",
    "RefusalDelta",
    "Response",
    "ResponseDone",
    "ResponseFailedError",
    "ResponseStarted",
    "RetryPolicy",
    "SSEDecodeError",
    "ShardedTransport",
    "SpanstreamError",
    "Stream",
    "StreamError",
    "UnexpectedContentTypeError",
    "UsageError",
    "StreamEvent",
    "StreamResult",
    "TelemetryHandle",
    "TextDelta",
    "ToolCall",
    "ToolCallArgumentsDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "UnknownEvent",
    "Usage",
    "UsageReported",
    "__version__",
    "configure",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_attributes(
        __name__,
        {
            "spanstream.agent": ["Agent", "AgentEvent", "AgentRun", "AsyncAgent", "AsyncAgentRun"],
            "spanstream.telemetry.setup": ["TelemetryHandle", "configure"],
            "spanstream.tools": ["Tool", "tool"],
        },
    )
