"""spanstream: stream LLM responses inside an OpenTelemetry span, observable from the first byte.

>>> from spanstream import Client, TextDelta
>>> with Client().responses.stream(model="gpt-4.1", input="Say hi") as stream:
...     for event in stream:
...         if isinstance(event, TextDelta):
...             print(event.text, end="")

The root holds what the README's examples type: the clients and their streams, the final
:class:`Response`, the event most loops test for (:class:`TextDelta`), ``configure``, ``tool``,
``RetryPolicy`` and the errors an ``except`` clause names. The rest lives in its module:
every event in :mod:`spanstream.events`, agent runs in :mod:`spanstream.agent`, outcomes in
:mod:`spanstream.results`, content capture in :mod:`spanstream.telemetry`, the sharded pool in
:mod:`spanstream.transports`, test helpers in :mod:`spanstream.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from ._lazy import lazy_attributes
from .client import (
    AnthropicClient,
    AsyncAnthropicClient,
    AsyncAzureOpenAIClient,
    AsyncClient,
    AzureOpenAIClient,
    Client,
)
from .errors import (
    AgentRunError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    IncompleteToolCallsError,
    InvalidRequestError,
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
from .events import Response, StreamEvent, TextDelta, Usage
from .retry import RetryPolicy
from .stream import AsyncStream, Stream

if TYPE_CHECKING:
    # Imported on first use (``__getattr__`` below): configure() imports the OpenTelemetry SDK,
    # which a client never needs unless the application calls it; tools import pydantic.
    from .telemetry.setup import TelemetryHandle, configure
    from .tools import Tool, tool

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentRunError",
    "AnthropicClient",
    "AsyncAnthropicClient",
    "AsyncAzureOpenAIClient",
    "AsyncClient",
    "AsyncStream",
    "AzureOpenAIClient",
    "Client",
    "ConfigurationError",
    "IncompleteToolCallsError",
    "InvalidRequestError",
    "MalformedEventError",
    "MaxTurnsExceededError",
    "Response",
    "ResponseFailedError",
    "RetryPolicy",
    "SSEDecodeError",
    "SpanstreamError",
    "Stream",
    "StreamError",
    "StreamEvent",
    "TelemetryHandle",
    "TextDelta",
    "Tool",
    "ToolArgumentsError",
    "UnexpectedContentTypeError",
    "UnknownToolError",
    "Usage",
    "UsageError",
    "__version__",
    "configure",
    "tool",
]


_MOVED = {
    **dict.fromkeys(
        (
            "Citation",
            "CitationAdded",
            "ErrorReported",
            "ItemDone",
            "MessageDone",
            "ProviderError",
            "Reasoning",
            "ReasoningDelta",
            "ReasoningDone",
            "RefusalDelta",
            "ResponseDone",
            "ResponseStarted",
            "ToolCall",
            "ToolCallArgumentsDelta",
            "ToolCallDone",
            "ToolCallStarted",
            "ToolResult",
            "TurnStarted",
            "UnknownEvent",
            "UsageReported",
        ),
        "spanstream.events",
    ),
    **dict.fromkeys(
        ("Agent", "AgentEvent", "AgentRun", "AsyncAgent", "AsyncAgentRun"), "spanstream.agent"
    ),
    **dict.fromkeys(("Outcome", "StreamResult"), "spanstream.results"),
    **dict.fromkeys(("CaptureMode", "ContentCapture"), "spanstream.telemetry"),
    **dict.fromkeys(("AsyncShardedTransport", "ShardedTransport"), "spanstream.transports"),
}
"""Names the root exported in 0.1.0, now in their modules: still found here, with a
``DeprecationWarning`` that says where (removed in the next minor release)."""


if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_attributes(
        __name__,
        {
            "spanstream.telemetry.setup": ("TelemetryHandle", "configure"),
            "spanstream.tools": ("Tool", "tool"),
        },
        moved=_MOVED,
    )
