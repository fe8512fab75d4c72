"""Multi-turn conversations in each API's own form, for the agent loop.

A conversation turns a provider-neutral :class:`~spanstream.events.Response` (the model's turn)
and the tool results back into what that API expects on the next request: Responses API input
items (``function_call`` / ``function_call_output``, reasoning items with their
``encrypted_content``), Chat Completions messages (``assistant`` with ``tool_calls``, ``tool``),
or Anthropic Messages content blocks (``thinking`` with its signature, ``tool_use``,
``tool_result``). Sans-IO, like the rest of ``providers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from ..events import Response, ToolResult

__all__ = [
    "AnthropicConversation",
    "ChatConversation",
    "Conversation",
    "ResponsesConversation",
    "ToolSpec",
]

Item = dict[str, object]
Api = Literal["responses", "chat", "anthropic"]


class ToolSpec(Protocol):
    """What a conversation needs of a tool to describe it to the model."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def parameters(self) -> dict[str, object]: ...
    @property
    def strict(self) -> bool: ...


class Conversation(Protocol):
    """The growing request of one agent run."""

    items: list[Item]

    def request(self) -> dict[str, object]:
        """Keyword arguments for the API's ``stream(...)`` call (besides ``model``)."""
        ...

    def add_assistant(self, response: Response) -> None:
        """Append the model's turn."""
        ...

    def add_tool_results(self, results: Sequence[ToolResult]) -> None:
        """Append the results of the turn's tool calls."""
        ...


def _user_items(user_input: str | Sequence[Mapping[str, object]]) -> list[Item]:
    if isinstance(user_input, str):
        return [{"role": "user", "content": user_input}]
    return [dict(item) for item in user_input]


class ResponsesConversation:
    """OpenAI Responses API: ``input`` items."""

    def __init__(
        self,
        user_input: str | Sequence[Mapping[str, object]],
        tools: Sequence[ToolSpec],
        instructions: str | None,
    ) -> None:
        self.items = _user_items(user_input)
        self._tools: list[Item] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": t.strict,
            }
            for t in tools
        ]
        self._instructions = instructions

    def request(self) -> dict[str, object]:
        request: dict[str, object] = {"input": list(self.items)}
        if self._tools:
            request["tools"] = self._tools
        if self._instructions is not None:
            request["instructions"] = self._instructions
        return request

    def add_assistant(self, response: Response) -> None:
        for reasoning in response.reasoning:
            item: Item = {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": s} for s in reasoning.summary],
            }
            if reasoning.id:
                item["id"] = reasoning.id
            if reasoning.encrypted_content:
                item["encrypted_content"] = reasoning.encrypted_content
            self.items.append(item)
        if response.text:
            self.items.append(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": response.text}],
                }
            )
        for call in response.tool_calls:
            self.items.append(
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            )

    def add_tool_results(self, results: Sequence[ToolResult]) -> None:
        for result in results:
            self.items.append(
                {
                    "type": "function_call_output",
                    "call_id": result.tool_call.call_id,
                    "output": result.output,
                }
            )


class ChatConversation:
    """OpenAI Chat Completions (and compatible servers): ``messages``."""

    def __init__(
        self,
        user_input: str | Sequence[Mapping[str, object]],
        tools: Sequence[ToolSpec],
        instructions: str | None,
    ) -> None:
        system: list[Item] = (
            [{"role": "system", "content": instructions}] if instructions is not None else []
        )
        self.items = system + _user_items(user_input)
        self._tools: list[Item] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": t.strict,
                },
            }
            for t in tools
        ]

    def request(self) -> dict[str, object]:
        request: dict[str, object] = {"messages": list(self.items)}
        if self._tools:
            request["tools"] = self._tools
        return request

    def add_assistant(self, response: Response) -> None:
        message: Item = {"role": "assistant", "content": response.text or None}
        if response.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in response.tool_calls
            ]
        self.items.append(message)

    def add_tool_results(self, results: Sequence[ToolResult]) -> None:
        for result in results:
            self.items.append(
                {
                    "role": "tool",
                    "tool_call_id": result.tool_call.call_id,
                    "content": result.output,
                }
            )


class AnthropicConversation:
    """Anthropic Messages: ``messages`` of content blocks, ``system`` apart."""

    def __init__(
        self,
        user_input: str | Sequence[Mapping[str, object]],
        tools: Sequence[ToolSpec],
        instructions: str | None,
    ) -> None:
        self.items = _user_items(user_input)
        self._tools: list[Item] = [
            {"name": t.name, "description": t.description or "", "input_schema": t.parameters}
            for t in tools
        ]
        self._system = instructions

    def request(self) -> dict[str, object]:
        request: dict[str, object] = {"messages": list(self.items)}
        if self._tools:
            request["tools"] = self._tools
        if self._system is not None:
            request["system"] = self._system
        return request

    def add_assistant(self, response: Response) -> None:
        blocks: list[Item] = []
        for reasoning in response.reasoning:
            if reasoning.redacted:
                blocks.append({"type": "redacted_thinking", "data": reasoning.encrypted_content})
            else:
                text = "".join(reasoning.content or reasoning.summary)
                block: Item = {"type": "thinking", "thinking": text}
                if reasoning.signature:
                    block["signature"] = reasoning.signature
                blocks.append(block)
        if response.text:
            blocks.append({"type": "text", "text": response.text})
        for call in response.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.call_id,
                    "name": call.name,
                    "input": call.parsed_arguments if call.parsed_arguments is not None else {},
                }
            )
        self.items.append({"role": "assistant", "content": blocks})

    def add_tool_results(self, results: Sequence[ToolResult]) -> None:
        self.items.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": result.tool_call.call_id,
                        "content": result.output,
                        "is_error": result.error is not None,
                    }
                    for result in results
                ],
            }
        )


CONVERSATIONS: dict[Api, type[ResponsesConversation | ChatConversation | AnthropicConversation]] = {
    "responses": ResponsesConversation,
    "chat": ChatConversation,
    "anthropic": AnthropicConversation,
}
