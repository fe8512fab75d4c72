"""The ``spanstream`` command: ``demo`` (offline, no key) and ``chat`` (a real endpoint)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import TextIO

from opentelemetry import _logs, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import __version__
from .agent import AgentEvent
from .client import Client
from .errors import ConfigurationError, SpanstreamError
from .events import (
    CitationAdded,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCallDone,
    ToolResult,
    TurnStarted,
)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spanstream`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command not in ("demo", "chat"):
        parser.print_help()
        return 2
    telemetry = {"otlp_endpoint": args.otlp_endpoint, "verbose": args.verbose}
    try:
        if args.command == "demo":
            run = demo_agent if args.agent else demo
            return run(drip=args.drip, **telemetry)
        return chat(
            args.prompt,
            model=args.model,
            base_url=args.base_url,
            instructions=args.instructions,
            max_output_tokens=args.max_output_tokens,
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
    demo_cmd.add_argument(
        "--drip",
        type=float,
        default=0.004,
        metavar="SECONDS",
        help="pause between replayed events, so the stream is visible (default: 0.004)",
    )
    chat_cmd = commands.add_parser(
        "chat",
        help="stream one answer from a real endpoint (needs OPENAI_API_KEY)",
        description=(
            "Stream one answer from the OpenAI Responses API, or any compatible server given by "
            "--base-url / OPENAI_BASE_URL, and print its span. Needs OPENAI_API_KEY."
        ),
    )
    chat_cmd.add_argument("prompt", help="what to ask")
    chat_cmd.add_argument("-m", "--model", required=True, help="model name, e.g. gpt-4.1-mini")
    chat_cmd.add_argument(
        "--base-url", default=None, help="API base URL (default: OPENAI_BASE_URL or OpenAI)"
    )
    chat_cmd.add_argument("--instructions", default=None, help="system instructions")
    chat_cmd.add_argument("--max-output-tokens", type=int, default=None, help="output token limit")
    _telemetry_options(chat_cmd)
    return parser


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

    def client(self, base_url: str | None, api_key: str | None = None) -> Client:
        return Client(
            api_key=api_key,
            base_url=base_url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    def finish(self, out: TextIO, *, heading: bool = True) -> None:
        if heading:
            out.write("\n\nSpans:\n")
        print_span_tree(self.exporter.get_finished_spans(), out)
        # Flushes the exporters, if any, for at most the handle's shutdown timeout.
        self.handle.shutdown()
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
        # The application's own span: the inference span nests under it.
        with client, tracer.start_as_current_span("handle_question"):
            stream = client.responses.stream(
                model=DEMO_MODEL, input=DEMO_PROMPT, reasoning={"summary": "auto"}
            )
            with stream:
                _print_stream(stream, out)
    telemetry.finish(out)
    return 0


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
        agent = client.agent(model=DEMO_AGENT_MODEL, tools=[get_temperature], name="weather")
        with client, agent.stream(DEMO_AGENT_PROMPT) as run:
            _print_stream(run, out)
    telemetry.finish(out)
    return 0


def chat(
    prompt: str,
    *,
    model: str,
    base_url: str | None = None,
    instructions: str | None = None,
    max_output_tokens: int | None = None,
    out: TextIO | None = None,
    otlp_endpoint: str | None = None,
    verbose: bool = False,
) -> int:
    """Stream one answer from a real endpoint and print its span."""
    out = out or sys.stdout
    if not os.environ.get("OPENAI_API_KEY"):
        sys.stderr.write(
            "spanstream chat: OPENAI_API_KEY is not set. Export your key (and OPENAI_BASE_URL "
            "for an OpenAI-compatible server), or run `spanstream demo` to see a recorded "
            "stream without one.\n"
        )
        return 2
    telemetry = _CliTelemetry("chat", otlp_endpoint, verbose)
    try:
        with (
            telemetry.client(base_url) as client,
            client.responses.stream(
                model=model,
                input=prompt,
                instructions=instructions,
                max_output_tokens=max_output_tokens,
            ) as stream,
        ):
            _print_stream(stream, out)
    except SpanstreamError as exc:
        sys.stderr.write(f"\nspanstream chat: {type(exc).__name__}: {exc}\n")
        telemetry.finish(out, heading=False)
        return 1
    telemetry.finish(out)
    return 0


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
