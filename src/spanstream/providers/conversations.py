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
from typing import Protocol

from ..events import Response, ToolResult
from .base import Api

__all__ = [
    "AnthropicConversation",
    "ChatConversation",
    "Conversation",
    "ResponsesConversation",
    "ToolSpec",
]

Item = dict[str, object]


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


class _Conversation:
    """What every API's conversation keeps: the history (:attr:`items`, sent as the request's
    :attr:`history` field), the tools in the API's form (:meth:`_tool`), and the instructions,
    sent with every turn as :attr:`instructions_field` (or, without one, as the history's first
    message, a ``system`` message)."""

    history = "messages"
    """The request field that carries the history."""
    instructions_field: str | None = None
    """The request field that carries the instructions (``None``: a ``system`` message)."""

    def __init__(
        self,
        user_input: str | Sequence[Mapping[str, object]],
        tools: Sequence[ToolSpec],
        instructions: str | None,
    ) -> None:
        if isinstance(user_input, str):
            self.items: list[Item] = [{"role": "user", "content": user_input}]
        else:
            self.items = [dict(item) for item in user_input]
        self._tools = [self._tool(tool) for tool in tools]
        self._fields: dict[str, object] = {}
        if instructions is not None and self.instructions_field is not None:
            self._fields[self.instructions_field] = instructions
        elif instructions is not None:
            self.items.insert(0, {"role": "system", "content": instructions})

    @staticmethod
    def _tool(tool: ToolSpec) -> Item:
        """A tool as the API describes it to the model."""
        raise NotImplementedError

    def request(self) -> dict[str, object]:
        request: dict[str, object] = {self.history: list(self.items)}
        if self._tools:
            request["tools"] = self._tools
        request.update(self._fields)
        return request


class ResponsesConversation(_Conversation):
    """OpenAI Responses API: ``input`` items."""

    history = "input"
    instructions_field = "instructions"

    @staticmethod
    def _tool(tool: ToolSpec) -> Item:
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": tool.strict,
        }

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


class ChatConversation(_Conversation):
    """OpenAI Chat Completions (and compatible servers): ``messages``."""

    @staticmethod
    def _tool(tool: ToolSpec) -> Item:
        return {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                "strict": tool.strict,
            },
        }

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


class AnthropicConversation(_Conversation):
    """Anthropic Messages: ``messages`` of content blocks, ``system`` apart."""

    instructions_field = "system"

    @staticmethod
    def _tool(tool: ToolSpec) -> Item:
        return {
            "name": tool.name,
            "description": tool.description or "",
            "input_schema": tool.parameters,
        }

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
