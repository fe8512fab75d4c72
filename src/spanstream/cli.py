"""The ``spanstream`` command: ``demo`` (offline, no key), ``chat`` (a real endpoint, on any of
the three APIs) and ``replay`` (a recorded stream file, offline)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TextIO, cast, get_args

import httpx
from opentelemetry import _logs, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import __version__
from .agent import AgentEvent
from .client import AnthropicClient, Client
from .errors import ConfigurationError, SpanstreamError, SSEDecodeError
from .events import (
    CitationAdded,
    ReasoningDelta,
    RefusalDelta,
    Response,
    StreamEvent,
    TextDelta,
    ToolCallDone,
    ToolResult,
    TurnStarted,
)
from .providers.services import ANTHROPIC, OPENAI
from .sse import ServerSentEvent, SSEDecoder
from .stream import Stream
from .telemetry._environment import SIGNALS, check_environment
from .telemetry.setup import Exporters, TelemetryHandle, build_exporters
from .testing.replay import ReplayServer, Reply

__all__ = ["main"]

DEMO_RECORDING = "demo-o4-mini-reasoning.sse"
DEMO_MODEL = "o4-mini"
DEMO_PROMPT = "How many letters are in the word strawberry?"
DEMO_AGENT_RECORDINGS = ("demo-agent-turn-1.sse", "demo-agent-turn-2.sse")
DEMO_AGENT_MODEL = "deepseek-v4-flash"
DEMO_AGENT_PROMPT = "What is the temperature in Tokyo?"

ApiName = Literal["responses", "chat", "anthropic"]
APIS: tuple[ApiName, ...] = get_args(ApiName)
ANTHROPIC_MAX_TOKENS = 4096
"""``max_tokens`` sent to Anthropic Messages (which requires one) without --max-output-tokens;
the default of ``AnthropicClient.agent`` too."""
LOCAL_API_KEY = "sk-local"
"""Sent to a server on this machine when no key is set: local servers (llama.cpp, vLLM,
Ollama) usually need none, and the clients require one."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spanstream`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command not in ("demo", "chat", "replay"):
        parser.print_help()
        return 2
    telemetry = {"otlp_endpoint": args.otlp_endpoint, "verbose": args.verbose}
    try:
        if args.command == "demo":
            run = demo_agent if args.agent else demo
            return run(drip=args.drip, **telemetry)
        if args.command == "replay":
            return replay(args.file, api=args.api, model=args.model, drip=args.drip, **telemetry)
        return chat(
            args.prompt,
            model=args.model,
            api=args.api,
            base_url=args.base_url,
            instructions=args.instructions,
            max_output_tokens=args.max_output_tokens,
            temperature=args.temperature,
            stream=not args.no_stream,
            **telemetry,
        )
    except ConfigurationError as exc:
        sys.stderr.write(f"spanstream {args.command}: {exc}\n")
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spanstream",
        description="Stream LLM responses inside an OpenTelemetry span.",
    )
    parser.add_argument("--version", action="version", version=f"spanstream {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_cmd = commands.add_parser(
        "demo",
        help="replay a recorded Responses stream over loopback and print its span (no key)",
        description=(
            "Start a loopback HTTP server that replays a real recorded OpenAI Responses stream, "
            "stream it through the real client, print the tokens as they arrive, then print "
            "the finished spans with their gen_ai attributes. No API key, no network."
        ),
    )
    _telemetry_options(demo_cmd)
    demo_cmd.add_argument(
        "--agent",
        action="store_true",
        help="replay a recorded two-turn tool call through the agent loop instead",
    )
    _drip_option(demo_cmd, 0.004)
    chat_cmd = commands.add_parser(
        "chat",
        help="stream one answer (or, with --no-stream, ask for it whole) from a real endpoint "
        "and print its span",
        description=(
            "Stream one answer from a real endpoint (or, with --no-stream, ask for it whole) "
            "and print its span: OpenAI Responses (the default), Chat Completions or Anthropic "
            "Messages (--api), at OpenAI, Anthropic or any compatible server (--base-url). The "
            "key is OPENAI_API_KEY (ANTHROPIC_API_KEY for --api anthropic); a server on this "
            "machine (localhost, 127.0.0.1, ::1) needs none."
        ),
    )
    chat_cmd.add_argument("prompt", help="what to ask")
    chat_cmd.add_argument("-m", "--model", required=True, help="model name, e.g. gpt-4.1-mini")
    _api_option(chat_cmd, "responses")
    chat_cmd.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="API base URL, with /v1 (default: OPENAI_BASE_URL, or ANTHROPIC_BASE_URL for "
        "--api anthropic, else the provider's)",
    )
    chat_cmd.add_argument("--instructions", default=None, help="system instructions")
    chat_cmd.add_argument(
        "--max-output-tokens",
        type=int,
        default=None,
        metavar="N",
        help="output token limit: Responses max_output_tokens, Chat max_completion_tokens, "
        f"Anthropic max_tokens (default: the server's; {ANTHROPIC_MAX_TOKENS} for Anthropic, "
        "which requires one)",
    )
    chat_cmd.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature (default: the server's)",
    )
    chat_cmd.add_argument(
        "--no-stream",
        action="store_true",
        help="ask for the whole answer at once (create(): one JSON reply) and print it when it "
        "has arrived; its span has no gen_ai.request.stream and no time to first chunk",
    )
    _telemetry_options(chat_cmd)
    replay_cmd = commands.add_parser(
        "replay",
        help="replay a recorded SSE file through the client and print its span (no key)",
        description=(
            "Serve a recorded event stream (a .sse file: the response body as the server sent "
            "it) from a loopback server, stream it through the real client, print the text as "
            "it arrives, then the spans. No API key, no network."
        ),
    )
    replay_cmd.add_argument("file", type=Path, help="the recorded stream")
    _api_option(replay_cmd, None)
    replay_cmd.add_argument(
        "-m",
        "--model",
        default=None,
        help="the request's model (default: the model the recording names)",
    )
    _drip_option(replay_cmd, 0.0)
    _telemetry_options(replay_cmd)
    return parser


def _api_option(command: argparse.ArgumentParser, default: ApiName | None) -> None:
    told = f"default: {default}" if default else "default: told by the recording's events"
    command.add_argument(
        "--api",
        choices=APIS,
        default=default,
        help=f"OpenAI Responses, OpenAI Chat Completions or Anthropic Messages ({told})",
    )


def _drip_option(command: argparse.ArgumentParser, default: float) -> None:
    command.add_argument(
        "--drip",
        type=float,
        default=default,
        metavar="SECONDS",
        help=f"pause between replayed events, so the stream is visible (default: {default})",
    )


def _telemetry_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--otlp-endpoint",
        default=None,
        metavar="URL",
        help="also send the spans and metrics over OTLP/HTTP to this base URL, e.g. "
        "http://127.0.0.1:4318 (the collector of `make stack-up`). Without it, they are sent "
        "when OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT or OTEL_TRACES_EXPORTER / "
        "OTEL_METRICS_EXPORTER is set, as by any OpenTelemetry SDK (protocol: "
        "OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL, default grpc); OTEL_SERVICE_NAME names the "
        "service",
    )
    command.add_argument(
        "--verbose",
        action="store_true",
        help="print every export error (default: one line per signal the collector refused)",
    )


def _asked_signals(signals: tuple[str, ...]) -> tuple[str, ...]:
    """The signals the environment asks to export: those with an exporter or an endpoint
    variable of their own, or all when the generic endpoint is set. A signal nobody named is
    not exported, so the demo never sends to a default localhost collector."""
    generic = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())
    return tuple(
        signal
        for signal in signals
        if generic
        or os.environ.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip()
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    )


class _CliTelemetry:
    """Spans kept in memory for the printed tree, and exported too when asked (by
    ``--otlp-endpoint`` or the OpenTelemetry variables; never to a default localhost collector,
    so the demo stays offline)."""

    def __init__(self, command: str, otlp_endpoint: str | None, verbose: bool) -> None:
        self.command = command
        self.exporter = InMemorySpanExporter()
        resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: f"spanstream-{command}"}))
        check_environment()
        # Only spans and metrics: the CLI captures no content, so it emits no log events.
        signals = ("traces", "metrics")
        built = Exporters()
        if otlp_endpoint:
            built = build_exporters("otlp-http", otlp_endpoint, signals=signals)
        elif asked := _asked_signals(signals):
            built = build_exporters(None, signals=asked)
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        for processor in built.span_processors:
            self.tracer_provider.add_span_processor(processor)
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=built.metric_readers, shutdown_on_exit=False
        )
        self.handle = TelemetryHandle(
            self.tracer_provider,
            self.meter_provider,
            _logs.NoOpLoggerProvider(),
            owned=True,
            created=frozenset(signals),
        )
        self.errors = None if verbose else _ExportErrors()

    def client(
        self, base_url: str | None, api_key: str | None = None, *, api: ApiName = "responses"
    ) -> Client | AnthropicClient:
        kind = AnthropicClient if api == "anthropic" else Client
        return kind(
            api_key=api_key,
            base_url=base_url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    def run(self, body: Callable[[], object], out: TextIO) -> int:
        """Run a command's ``body``, then print the spans and flush the exporters, however it
        ended: 0 when it ran; 1 after a :class:`SpanstreamError`, printed in one line; 130
        (the shell's code for SIGINT) after Ctrl-C, whose spans (the stream's ends as
        ``abandoned``) are printed and exported all the same. Any other error propagates once
        the exporters are flushed."""
        code = 0
        try:
            body()
        except SpanstreamError as exc:
            sys.stderr.write(f"\nspanstream {self.command}: {type(exc).__name__}: {exc}\n")
            code = 1
        except KeyboardInterrupt:
            sys.stderr.write(f"\nspanstream {self.command}: interrupted\n")
            code = 130
        except BaseException:
            self._shutdown()
            raise
        out.write("\n\nSpans:\n")
        print_span_tree(self.exporter.get_finished_spans(), out)
        self._shutdown()
        return code

    def _shutdown(self) -> None:
        # Flushes the exporters, if any, for at most the handle's shutdown timeout; then the
        # SDK's loggers get their handlers back.
        try:
            self.handle.shutdown()
        finally:
            if self.errors is not None:
                self.errors.report(f"spanstream {self.command}")


class _ExportErrors(logging.Handler):
    """Holds back the SDK exporters' error logs (a collector that accepts traces but not
    metrics logs an error per export), to report one line per signal at the end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failed: dict[str, int] = {}
        self._logger = logging.getLogger("opentelemetry")
        self._logger.addHandler(self)
        self._propagate = self._logger.propagate
        self._logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        module = record.name.rsplit(".", 1)[-1].strip("_")
        signal = next((signal for signal in SIGNALS if module.startswith(signal[:-1])), "telemetry")
        self.failed[signal] = self.failed.get(signal, 0) + 1

    def report(self, prefix: str) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate
        for signal in (*SIGNALS, "telemetry"):
            if signal in self.failed:
                sys.stderr.write(
                    f"{prefix}: {self.failed[signal]} {signal} export error(s) (the collector "
                    "is unreachable or refuses this signal; --verbose shows them)\n"
                )


def demo(
    *,
    drip: float = 0.004,
    out: TextIO | None = None,
    otlp_endpoint: str | None = None,
    verbose: bool = False,
) -> int:
    """Replay the embedded recording through the real client and print the span tree."""
    out = out or sys.stdout
    body = resources.files("spanstream.data").joinpath(DEMO_RECORDING).read_bytes()
    telemetry = _CliTelemetry("demo", otlp_endpoint, verbose)
    tracer = telemetry.tracer_provider.get_tracer("spanstream.demo")
    with ReplayServer(default=Reply.sse(body, drip_interval=drip)) as server:
        out.write(f"Replaying a recorded {DEMO_MODEL} stream from {server.base_url}\n")
        out.write(f"> {DEMO_PROMPT}\n\n")
        client = telemetry.client(server.base_url, "demo-key")
        assert isinstance(client, Client)

        def run() -> None:
            # The application's own span: the inference span nests under it.
            with client, tracer.start_as_current_span("handle_question"):
                stream = client.responses.stream(
                    model=DEMO_MODEL, input=DEMO_PROMPT, reasoning={"summary": "auto"}
                )
                with stream:
                    _print_stream(stream, out)

        return telemetry.run(run, out)


def demo_agent(
    *,
    drip: float = 0.004,
    out: TextIO | None = None,
    otlp_endpoint: str | None = None,
    verbose: bool = False,
) -> int:
    """Replay a recorded two-turn tool call through the agent loop and print the span tree."""
    out = out or sys.stdout
    data = resources.files("spanstream.data")
    turns = [data.joinpath(name).read_bytes() for name in DEMO_AGENT_RECORDINGS]
    telemetry = _CliTelemetry("demo", otlp_endpoint, verbose)

    def get_temperature(city: str) -> float:
        """Get the current temperature in a city."""
        return 21.0

    with ReplayServer() as server:
        server.enqueue(*(Reply.sse(body, drip_interval=drip) for body in turns))
        out.write(f"Replaying a recorded two-turn tool call from {server.base_url}\n")
        out.write(f"> {DEMO_AGENT_PROMPT}\n")
        client = telemetry.client(server.base_url, "demo-key")
        assert isinstance(client, Client)
        agent = client.agent(model=DEMO_AGENT_MODEL, tools=[get_temperature], name="weather")

        def run() -> None:
            with client, agent.stream(DEMO_AGENT_PROMPT) as turns:
                _print_stream(turns, out)

        return telemetry.run(run, out)


def chat(
    prompt: str,
    *,
    model: str,
    api: ApiName = "responses",
    base_url: str | None = None,
    instructions: str | None = None,
    max_output_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = True,
    out: TextIO | None = None,
    otlp_endpoint: str | None = None,
    verbose: bool = False,
) -> int:
    """Stream one answer from a real endpoint on ``api`` (``stream=False``: ask for it whole,
    with ``create()``) and print its span. The key comes from the provider's variable; a server
    on this machine gets :data:`LOCAL_API_KEY` without one."""
    out = out or sys.stdout
    provider = ANTHROPIC if api == "anthropic" else OPENAI
    url = base_url or os.environ.get(provider.base_url_env) or provider.default_base_url or ""
    api_key = os.environ.get(provider.api_key_env) or (LOCAL_API_KEY if is_local(url) else None)
    if not api_key:
        sys.stderr.write(
            f"spanstream chat: {provider.api_key_env} is not set. Export your key (and "
            f"{provider.base_url_env} for a compatible server; a server on this machine needs "
            "no key), or run `spanstream demo` to see a recorded stream without one.\n"
        )
        return 2
    telemetry = _CliTelemetry("chat", otlp_endpoint, verbose)
    request = _Request(prompt, model, instructions, max_output_tokens, temperature)
    client = telemetry.client(url, api_key, api=api)
    return _stream_and_print(telemetry, client, api, request, out, stream=stream)


def replay(
    file: str | os.PathLike[str],
    *,
    api: ApiName | None = None,
    model: str | None = None,
    drip: float = 0.0,
    out: TextIO | None = None,
    otlp_endpoint: str | None = None,
    verbose: bool = False,
) -> int:
    """Replay a recorded SSE file through the real client over loopback and print its span.
    ``api`` and ``model`` default to what the recording's events say."""
    out = out or sys.stdout
    try:
        body = Path(file).read_bytes()
    except OSError as exc:
        sys.stderr.write(f"spanstream replay: cannot read {file}: {exc.strerror or exc}\n")
        return 2
    found_api, found_model = recorded_api_and_model(body)
    api = api or found_api
    if api is None:
        sys.stderr.write(
            f"spanstream replay: {file} has no Responses, Chat Completions or Anthropic "
            "Messages event; name its API with --api\n"
        )
        return 2
    model = model or found_model or "unknown"
    telemetry = _CliTelemetry("replay", otlp_endpoint, verbose)
    with ReplayServer(default=Reply.sse(body, drip_interval=drip)) as server:
        out.write(f"Replaying {file} ({api}, {model}) from {server.base_url}\n\n")
        client = telemetry.client(server.base_url, "replay-key", api=api)
        return _stream_and_print(telemetry, client, api, _Request("(replayed)", model), out)


class _Request:
    """What ``chat`` asks, in each API's own request form (:meth:`stream`)."""

    def __init__(
        self,
        prompt: str,
        model: str,
        instructions: str | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        self.prompt = prompt
        self.model = model
        self.instructions = instructions
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature

    def stream(self, client: Client | AnthropicClient, api: ApiName) -> Stream:
        """The request, streamed."""
        resource, params = self._api(client, api)
        return cast(Stream, resource.stream(**params))

    def create(self, client: Client | AnthropicClient, api: ApiName) -> Response:
        """The request, not streamed: the whole answer."""
        resource, params = self._api(client, api)
        return cast(Response, resource.create(**params))

    def _api(self, client: Client | AnthropicClient, api: ApiName) -> tuple[Any, dict[str, Any]]:
        """The client's resource for ``api`` and the request's parameters in its form."""
        messages: list[dict[str, object]] = [{"role": "user", "content": self.prompt}]
        if isinstance(client, AnthropicClient):
            return client.messages, {
                "model": self.model,
                "messages": messages,
                "system": self.instructions,
                "max_tokens": self.max_output_tokens or ANTHROPIC_MAX_TOKENS,
                "temperature": self.temperature,
            }
        if api == "chat":
            if self.instructions:
                messages.insert(0, {"role": "system", "content": self.instructions})
            return client.chat.completions, {
                "model": self.model,
                "messages": messages,
                "max_completion_tokens": self.max_output_tokens,
                "temperature": self.temperature,
            }
        return client.responses, {
            "model": self.model,
            "input": self.prompt,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "temperature": self.temperature,
        }


def _stream_and_print(
    telemetry: _CliTelemetry,
    client: Client | AnthropicClient,
    api: ApiName,
    request: _Request,
    out: TextIO,
    *,
    stream: bool = True,
) -> int:
    """Stream ``request``, print it as it arrives, then the spans (see
    :meth:`_CliTelemetry.run` for the exit code). ``stream=False``: ask for the whole answer
    (``create()``) and print it once it is in."""

    def run() -> None:
        with client:
            if stream:
                with request.stream(client, api) as events:
                    _print_stream(events, out)
            else:
                _print_stream(_answer_events(request.create(client, api)), out)

    return telemetry.run(run, out)


def is_local(base_url: str) -> bool:
    """Whether ``base_url`` names this machine: ``localhost`` or a loopback address."""
    try:
        host = httpx.URL(base_url).host
    except httpx.InvalidURL:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ANTHROPIC_EVENTS = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "message_delta", "ping"}
)


def recorded_api_and_model(body: bytes) -> tuple[ApiName | None, str | None]:
    """The API a recorded stream speaks and the model it names, read off its events: a
    ``response.*`` type is Responses, a ``message_start`` (or another Messages event)
    Anthropic, a ``chat.completion.chunk`` (or ``choices``) Chat Completions."""
    try:
        events = SSEDecoder(max_event_size=None).feed(body + b"\n\n")
    except SSEDecodeError as exc:
        events = [event for event in exc.events if isinstance(event, ServerSentEvent)]
    api: ApiName | None = None
    model: str | None = None
    for event in events:
        try:
            data = json.loads(event.data)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        if api is None:
            if isinstance(kind, str) and kind.startswith("response."):
                api = "responses"
            elif kind in _ANTHROPIC_EVENTS:
                api = "anthropic"
            elif data.get("object") == "chat.completion.chunk" or "choices" in data:
                api = "chat"
        if model is None:
            holder = data.get("response") or data.get("message") or data
            found = holder.get("model") if isinstance(holder, dict) else None
            model = found if isinstance(found, str) and found else None
        if api is not None and model is not None:
            break
    return api, model


def _print_stream(events: Iterable[AgentEvent], out: TextIO) -> None:
    """Print events as they arrive, one labelled section per kind of output."""
    section: tuple[str, int] | None = None
    for event in events:
        kind, text = _printable(event)
        if kind is None:
            continue
        part = event.part if isinstance(event, ReasoningDelta) else 0
        if section is None or kind != section[0] or kind in _ONE_PER_SECTION:
            out.write(f"\n\n[{kind}] " if section else f"[{kind}] ")
        elif part != section[1]:
            out.write("\n\n")
        section = (kind, part)
        out.write(text)
        out.flush()


def _answer_events(response: Response) -> list[StreamEvent]:
    """A whole answer as the events :func:`_print_stream` prints of a stream: its reasoning,
    text, refusal, tool calls and sources."""
    events: list[StreamEvent] = []
    for reasoning in response.reasoning:
        events += [
            ReasoningDelta(text, reasoning.id, "summary", i)
            for i, text in enumerate(reasoning.summary)
        ]
        events += [
            ReasoningDelta(text, reasoning.id, "text", i)
            for i, text in enumerate(reasoning.content)
        ]
    if response.text:
        events.append(TextDelta(response.text))
    if response.refusal:
        events.append(RefusalDelta(response.refusal))
    events += [ToolCallDone(call) for call in response.tool_calls]
    events += [CitationAdded(citation) for citation in response.citations]
    return events


_ONE_PER_SECTION = frozenset({"turn", "tool call", "tool result", "source"})


def _printable(event: AgentEvent) -> tuple[str | None, str]:
    if isinstance(event, TextDelta):
        return "answer", event.text
    if isinstance(event, ReasoningDelta):
        return ("reasoning summary" if event.kind == "summary" else "reasoning"), event.text
    if isinstance(event, RefusalDelta):
        return "refusal", event.text
    if isinstance(event, ToolCallDone):
        call = event.tool_call
        return "tool call", f"{call.name}({call.arguments})"
    if isinstance(event, CitationAdded):
        cited = event.citation
        name = cited.title or cited.cited_text or cited.kind
        return "source", f"{name} <{cited.url}>" if cited.url else name
    if isinstance(event, TurnStarted):
        return "turn", str(event.turn)
    if isinstance(event, ToolResult):
        return "tool result", event.output
    return None, ""


def print_span_tree(spans: Sequence[ReadableSpan], out: TextIO) -> None:
    """Print finished spans as an indented tree with durations and attributes."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {span.context.span_id for span in spans if span.context is not None}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        by_parent.setdefault(parent if parent in ids else None, []).append(span)

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time or 0):
            pad = "  " * depth
            duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            kind = span.kind.name if isinstance(span.kind, trace.SpanKind) else str(span.kind)
            status = span.status.status_code.name
            out.write(f"{pad}- {span.name}  [{kind}, {duration:.1f} ms, status {status}]\n")
            for key, value in sorted((span.attributes or {}).items()):
                shown = f"{value:.4f}" if isinstance(value, float) else value
                if isinstance(value, tuple):
                    shown = list(value)
                out.write(f"{pad}    {key} = {shown}\n")
            if span.context is not None:
                walk(span.context.span_id, depth + 1)

    walk(None, 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
