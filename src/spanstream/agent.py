"""A multi-turn streaming agent loop: stream a turn, run its tool calls, feed the results back.

>>> agent = client.agent(model="gpt-4.1", tools=[get_weather], instructions="Be brief.")
>>> with agent.stream("Weather in Paris?", max_turns=5) as run:
...     for event in run:
...         if isinstance(event, TextDelta):
...             print(event.text, end="")
>>> run.final_response().text

Each run is traced as an ``invoke_agent`` span holding one inference span per turn and one
``execute_tool {name}`` span per tool call. Tool calls of one turn run concurrently. A tool that
raises, or whose arguments do not validate, does not stop the run: the error text goes back to
the model as the tool's result and the tool span records ``error.type``. When the model still
asks for tools after ``max_turns`` turns, :class:`~spanstream.errors.MaxTurnsExceededError` carries
the history so far. A turn cut by a token limit or a filter ends the run: its text as the final
response (the run's outcome is then ``incomplete``), or, when it asked for tools, whose arguments
may be truncated, :class:`~spanstream.errors.IncompleteToolCallsError` without running any.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Union

from opentelemetry import context as otel_context

from ._text import usv
from .errors import IncompleteToolCallsError, MaxTurnsExceededError, UnknownToolError
from .events import Response, StreamEvent, ToolCall, ToolResult, TurnStarted, Usage
from .providers.base import Api, conversation_id_of
from .providers.conversations import CONVERSATIONS, Conversation
from .stream import AsyncStream, Stream
from .telemetry.agent import AgentSpan, ToolSpan
from .telemetry.span_observer import Instrumentation
from .tools import Tool, format_result

__all__ = ["Agent", "AgentEvent", "AgentRun", "AsyncAgent", "AsyncAgentRun"]

AgentEvent = Union[StreamEvent, TurnStarted, ToolResult]
"""What an agent run yields: the stream events of every turn, plus turn and tool markers."""

UserInput = Union[str, Sequence[Mapping[str, object]]]


class _AgentBase:
    def __init__(
        self,
        stream: Callable[..., Stream | AsyncStream],
        *,
        api: Api,
        provider: str,
        model: str,
        tools: Sequence[Tool | Callable[..., object]],
        instructions: str | None,
        name: str | None,
        instrumentation: Instrumentation,
        options: Mapping[str, object],
    ) -> None:
        self._stream = stream
        """Starts one turn's stream (the client's ``responses.stream`` or chat's)."""
        self.api = api
        self.provider = provider
        self.model = model
        self.tools = [t if isinstance(t, Tool) else Tool.from_function(t) for t in tools]
        self.instructions = instructions
        self.name = name
        self._instrumentation = instrumentation
        self._options = dict(options)
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")

    def _conversation(self, user_input: UserInput) -> Conversation:
        return CONVERSATIONS[self.api](user_input, self.tools, self.instructions)

    def _span(self) -> AgentSpan:
        options = self._options
        return AgentSpan(
            self._instrumentation,
            agent_name=self.name,
            provider=self.provider,
            model=self.model,
            parent=otel_context.get_current(),
            # The run's conversation, where it has one: the caller's id, or the Responses
            # conversation the turns are sent to (both also reach every turn's span).
            conversation_id=conversation_id_of(options.get("conversation_id"))
            or conversation_id_of(options.get("conversation")),
        )


class _RunState:
    """What a run has done so far (shared by the sync and async runs)."""

    def __init__(self, conversation: Conversation, max_turns: int) -> None:
        self.conversation = conversation
        self.max_turns = max_turns
        self.turns = 0
        self.responses: list[Response] = []

    @property
    def history(self) -> list[dict[str, object]]:
        """The conversation so far, in the provider's own message form."""
        return list(self.conversation.items)

    def record(self, response: Response) -> None:
        self.responses.append(response)
        self.conversation.add_assistant(response)

    def exceeded(self) -> MaxTurnsExceededError:
        return MaxTurnsExceededError(self.max_turns, self.history, list(self.responses))


@dataclass(frozen=True, slots=True)
class _StreamTurn:
    """Stream this turn, pass its events on, and send back its final response."""

    stream: Stream | AsyncStream


@dataclass(frozen=True, slots=True)
class _RunTools:
    """Run these tool calls and send back their results."""

    calls: Sequence[ToolCall]


_AgentFlow = Generator[Union[AgentEvent, _StreamTurn, _RunTools], object, None]


def _agent_flow(agent: _AgentBase, state: _RunState, span: AgentSpan) -> _AgentFlow:
    """The agent loop, with no I/O: it yields the events to pass on and the two things it
    needs done (stream a turn, run tools), and receives their results. The sync and async runs
    only perform those."""
    while state.turns < state.max_turns:
        state.turns += 1
        yield TurnStarted(state.turns)
        with span.activate():
            stream = agent._stream(
                model=agent.model, **state.conversation.request(), **agent._options
            )
        response = yield _StreamTurn(stream)
        assert isinstance(response, Response)
        if response.tool_calls and response.status == "incomplete":
            # A turn cut by a token limit or a filter: its last call's arguments are cut short
            # ('{"city":'), any call may be, and running it would act on a guess. The history
            # the error carries stops before this turn, whose calls can have no results.
            history = state.history
            state.responses.append(response)
            raise IncompleteToolCallsError(response, history, list(state.responses))
        state.record(response)
        if not response.tool_calls:
            return
        results = yield _RunTools(response.tool_calls)
        assert isinstance(results, list)
        yield from results
        state.conversation.add_tool_results(results)
    raise state.exceeded()


class _RunEnd:
    """Ends a run's span once, with the outcome of how the run's loop left: ``completed`` when
    the model asked for no more tools, ``incomplete`` when it did so in a turn cut by a token
    limit or a filter (its response's ``status``), ``error`` on an exception, ``cancelled`` when
    its task was cancelled, ``abandoned`` when the consumer stopped early."""

    def __init__(self, span: AgentSpan, state: _RunState) -> None:
        self.span = span
        self.state = state
        self.completed = False

    def __enter__(self) -> _RunEnd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error: BaseException | None = None
        state = self.state
        if exc is None:
            outcome = "abandoned"
            if self.completed:
                last = state.responses[-1] if state.responses else None
                outcome = "incomplete" if last and last.status == "incomplete" else "completed"
        elif isinstance(exc, asyncio.CancelledError):
            outcome, error = "cancelled", exc
        elif isinstance(exc, Exception):
            outcome, error = "error", exc
        else:  # GeneratorExit: the consumer closed the run
            outcome = "abandoned"
        self.span.end(outcome, state.turns, summed_usage(state.responses), error)


class _Steps:
    """The agent flow as a run iterates it: each step is a :class:`_StreamTurn`, a
    :class:`_RunTools` or an event to pass on; the run sets ``result`` before asking for the
    next. Its ``with`` block ends the run's span (:class:`_RunEnd`)."""

    def __init__(self, agent: _AgentBase, state: _RunState) -> None:
        self.span = agent._span()
        self._end = _RunEnd(self.span, state)
        self._flow = _agent_flow(agent, state, self.span)
        self.result: object = None

    def __enter__(self) -> _Steps:
        return self

    def __exit__(self, _: object, exc: BaseException | None, tb: object) -> None:
        self._end.__exit__(None, exc, None)

    def __iter__(self) -> _Steps:
        return self

    def __next__(self) -> AgentEvent | _StreamTurn | _RunTools:
        result, self.result = self.result, None
        try:
            return self._flow.send(result)
        except StopIteration:
            self._end.completed = True
            raise


class _RunBase:
    """What the sync and async runs share: their state and read-only views."""

    def __init__(self, agent: _AgentBase, user_input: UserInput, max_turns: int) -> None:
        self._agent = agent
        self._state = _RunState(agent._conversation(user_input), max_turns)

    @property
    def history(self) -> list[dict[str, object]]:
        """The conversation so far, in the provider's own message form."""
        return self._state.history

    @property
    def responses(self) -> list[Response]:
        """The response of every finished turn."""
        return list(self._state.responses)

    @property
    def usage(self) -> Usage:
        """Token usage summed over the finished turns."""
        return summed_usage(self._state.responses)


class _ToolExecution:
    """One tool call's lookup, span and outcome, as a ``with`` block around calling the
    function: an exception becomes the result sent back to the model (the run goes on), a
    cancellation ends the span ``cancelled`` and propagates. The sync and async runs differ
    only in how they call the function."""

    def __init__(self, agent: _AgentBase, call: ToolCall, span: AgentSpan) -> None:
        self.call = call
        self.tools = {t.name: t for t in agent.tools}
        found = self.tools.get(call.name)
        self.span = ToolSpan(
            agent._instrumentation,
            call,
            description=found.description if found else None,
            parent=span.context,
        )
        self._found = found
        self.result: ToolResult | None = None

    def __enter__(self) -> _ToolExecution:
        # Spans the tool function creates nest under its execute_tool span.
        self._token = otel_context.attach(self.span.context)
        return self

    def __exit__(self, _: object, exc: BaseException | None, tb: object) -> bool:
        otel_context.detach(self._token)
        if isinstance(exc, Exception):
            self._end(f"Error: {type(exc).__name__}: {exc}", exc)
            return True
        if exc is not None:
            self.span.end(None, exc, "cancelled")
        return False

    def tool(self) -> Tool:
        if self._found is None:
            raise UnknownToolError(self.call.name, list(self.tools))
        return self._found

    def succeeded(self, value: object) -> None:
        self._end(format_result(value), None)

    def _end(self, output: str, error: Exception | None) -> None:
        # The output goes back to the model in the next request, which could not be encoded
        # with a lone surrogate in it (the tool's own text or message; see _text.py).
        output = usv(output)
        if error is None:
            self.span.end(output, None, "completed")
            self.result = ToolResult(self.call, output)
        else:
            self.span.end(output, error, "error")
            self.result = ToolResult(self.call, output, type(error).__name__)

    def outcome(self) -> ToolResult:
        assert self.result is not None
        return self.result


# -- sync -----------------------------------------------------------------------------------------


class Agent(_AgentBase):
    """An agent bound to a client (see :meth:`spanstream.Client.agent`)."""

    def stream(self, user_input: UserInput, *, max_turns: int = 5) -> AgentRun:
        """Run the agent on ``user_input``, streaming every turn's events."""
        return AgentRun(self, user_input, max_turns)


class AgentRun(_RunBase, Iterator[AgentEvent]):
    """One run of an :class:`Agent`: a context manager and iterator of :data:`AgentEvent`."""

    _events: Generator[AgentEvent, None, None] | None = None

    def __enter__(self) -> AgentRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> AgentRun:
        return self

    def __next__(self) -> AgentEvent:
        if self._events is None:
            self._events = self._run()
        return next(self._events)

    def close(self) -> None:
        """Stop the run; spans still open end as ``abandoned``."""
        if self._events is not None:
            self._events.close()

    def final_response(self) -> Response:
        """Run to the end and return the last turn's response."""
        for _ in self:
            pass
        return self._state.responses[-1]

    def _run(self) -> Generator[AgentEvent, None, None]:
        with _Steps(self._agent, self._state) as steps:
            for step in steps:
                if isinstance(step, _StreamTurn):
                    stream = step.stream
                    assert isinstance(stream, Stream)
                    with stream:
                        yield from stream
                        steps.result = stream.final_response()
                elif isinstance(step, _RunTools):
                    steps.result = self._run_tools(step.calls, steps.span)
                else:
                    yield step

    def _run_tools(self, calls: Sequence[ToolCall], span: AgentSpan) -> list[ToolResult]:
        if len(calls) == 1:
            return [self._run_tool(calls[0], span)]
        with ThreadPoolExecutor(max_workers=min(len(calls), 16)) as pool:
            return list(pool.map(lambda call: self._run_tool(call, span), calls))

    def _run_tool(self, call: ToolCall, span: AgentSpan) -> ToolResult:
        with _ToolExecution(self._agent, call, span) as execution:
            execution.succeeded(execution.tool().run_sync(call.arguments))
        return execution.outcome()


# -- async ----------------------------------------------------------------------------------------


class AsyncAgent(_AgentBase):
    """An agent bound to an async client (see :meth:`spanstream.AsyncClient.agent`)."""

    def stream(self, user_input: UserInput, *, max_turns: int = 5) -> AsyncAgentRun:
        """Run the agent on ``user_input``, streaming every turn's events."""
        return AsyncAgentRun(self, user_input, max_turns)


class AsyncAgentRun(_RunBase, AsyncIterator[AgentEvent]):
    """The ``asyncio`` twin of :class:`AgentRun`."""

    _events: AsyncGenerator[AgentEvent, None] | None = None

    async def __aenter__(self) -> AsyncAgentRun:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncAgentRun:
        return self

    async def __anext__(self) -> AgentEvent:
        if self._events is None:
            self._events = self._run()
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop the run; spans still open end as ``abandoned``."""
        if self._events is not None:
            await self._events.aclose()

    async def final_response(self) -> Response:
        """Run to the end and return the last turn's response."""
        async for _ in self:
            pass
        return self._state.responses[-1]

    async def _run(self) -> AsyncGenerator[AgentEvent, None]:
        with _Steps(self._agent, self._state) as steps:
            for step in steps:
                if isinstance(step, _StreamTurn):
                    astream = step.stream
                    assert isinstance(astream, AsyncStream)
                    async with astream:
                        async for event in astream:
                            yield event
                        steps.result = await astream.final_response()
                elif isinstance(step, _RunTools):
                    steps.result = await self._run_tools(step.calls, steps.span)
                else:
                    yield step

    async def _run_tools(self, calls: Sequence[ToolCall], span: AgentSpan) -> list[ToolResult]:
        tasks = [asyncio.ensure_future(self._run_tool(call, span)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            # Let every tool observe its cancellation and end its span before we go on.
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _run_tool(self, call: ToolCall, span: AgentSpan) -> ToolResult:
        with _ToolExecution(self._agent, call, span) as execution:
            execution.succeeded(await execution.tool().run(call.arguments))
        return execution.outcome()


def summed_usage(responses: Sequence[Response]) -> Usage:
    """Token usage added up over the turns of a run (estimated if any turn's is)."""

    def total(values: list[int | None]) -> int | None:
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    usages = [r.usage for r in responses if r.usage is not None]
    return Usage(
        input_tokens=total([u.input_tokens for u in usages]),
        output_tokens=total([u.output_tokens for u in usages]),
        total_tokens=total([u.total_tokens for u in usages]),
        cache_read_input_tokens=total([u.cache_read_input_tokens for u in usages]),
        cache_write_input_tokens=total([u.cache_write_input_tokens for u in usages]),
        reasoning_output_tokens=total([u.reasoning_output_tokens for u in usages]),
        estimated=any(u.estimated for u in usages),
    )
