"""Arize Phoenix on loopback: ``make view``, and the server the Phoenix tests send spans to.

``make view`` runs this file: it installs Phoenix into its own virtual environment
(``scripts/phoenix-venv.sh``; Phoenix is never installed into the project's ``.venv``), starts it
on 127.0.0.1 with its database in a new temporary directory, replays ``spanstream demo`` and
``spanstream demo --agent`` into it over OTLP with content capture on, and prints the address
of each trace. Ctrl-C stops Phoenix and deletes its data. No Docker, no network beyond loopback.

The tests import :class:`Phoenix` from here (``tests/phoenix.py``), so what a user opens and
what CI checks is the same server, started the same way. Standard library only: it runs under
the project's interpreter and needs nothing of Phoenix's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
INSTALLER = REPO / "scripts" / "phoenix-venv.sh"
VENV = Path(os.environ.get("SPANSTREAM_PHOENIX_VENV", REPO / ".phoenix-venv"))
HOST = "127.0.0.1"

# Settings of the pinned release (phoenix/config.py): no analytics pixels (FullStory, Scarf),
# no request to the internet of Phoenix's own (web fonts, telemetry, the sandbox binary), and
# neither the LLM assistant nor the MCP server, which nothing here uses.
QUIET = {
    "PHOENIX_TELEMETRY_ENABLED": "false",
    "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    "PHOENIX_ENABLE_MCP_SERVER": "false",
}
# Uvicorn logs this once it listens, after the app's startup (which starts the OTLP gRPC
# server); its "Application startup complete" comes earlier, before the socket is bound.
READY_LINE = "Uvicorn running on"

Span = dict[str, Any]


class PhoenixUnavailable(RuntimeError):
    """Phoenix could not be installed or started; the message says why."""


def install(timeout: float = 1800) -> tuple[Path, float]:
    """The ``phoenix`` executable, installing it first if needed; and the seconds that took."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", str(INSTALLER)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "SPANSTREAM_PHOENIX_VENV": str(VENV)},
        )
    except subprocess.TimeoutExpired as exc:
        raise PhoenixUnavailable(f"{INSTALLER.name} took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise PhoenixUnavailable(f"{INSTALLER.name} failed:\n{done.stderr.strip()}")
    executable = VENV / "bin" / "phoenix"
    if not executable.is_file():
        raise PhoenixUnavailable(f"{INSTALLER.name} left no {executable}")
    return executable, time.monotonic() - started


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_or_free(preferred: int) -> int:
    """``preferred`` when nothing listens there, else a free port (0 means any free port)."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, preferred))
            except OSError:
                pass
            else:
                return preferred
    return free_port()


class PhoenixAPI:
    """Phoenix's REST API and UI addresses, for a server at ``base_url``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, raw: bool = False) -> Any:
        query = urllib.parse.urlencode(params or {}, doseq=True)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode("utf-8")
        return body if raw else json.loads(body)

    def spans(self, project: str = "default", **filters: Any) -> list[Span]:
        """Every span of ``project`` that matches the REST API's ``filters`` (all pages)."""
        found: list[Span] = []
        params: dict[str, Any] = {"limit": 1000, **filters}
        while True:
            page = self.get(f"/v1/projects/{urllib.parse.quote(project)}/spans", params)
            found.extend(page["data"])
            if not page.get("next_cursor"):
                return found
            params["cursor"] = page["next_cursor"]

    def wait_for_spans(
        self, count: int, *, timeout: float = 60, project: str = "default", **filters: Any
    ) -> list[Span]:
        """The matching spans once there are ``count`` of them.

        Phoenix answers an OTLP export before it writes the spans (it inserts them in batches),
        so the spans of an export that succeeded show up shortly afterwards; this polls.
        """
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(project, **filters)
            if len(spans) >= count or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)

    def trace_url(self, trace_id: str) -> str:
        """The UI's page of one trace (Phoenix redirects to its project)."""
        return f"{self.base_url}/redirects/traces/{trace_id}"

    def span_url(self, span_id: str) -> str:
        """The UI's page of one trace with this span selected."""
        return f"{self.base_url}/redirects/spans/{span_id}"


class Phoenix(PhoenixAPI):
    """One ``phoenix serve`` process on loopback, its data in ``workdir``; ``base_url`` serves
    the UI, the REST and GraphQL APIs and OTLP over HTTP (``/v1/traces``).

    >>> with Phoenix(executable, workdir) as phoenix:
    ...     phoenix.wait_for_spans(trace_id, 5)
    """

    def __init__(
        self,
        executable: Path,
        workdir: Path,
        *,
        port: int = 0,
        grpc_port: int = 0,
        startup_timeout: float = 180,
    ) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = _port_or_free(port)
        self.grpc_port = _port_or_free(grpc_port)
        super().__init__(f"http://{HOST}:{self.port}")
        self.startup_timeout = startup_timeout
        self.log_path = workdir / "phoenix.log"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._pump: threading.Thread | None = None

    @property
    def grpc_endpoint(self) -> str:
        """OTLP over gRPC (plaintext)."""
        return f"http://{HOST}:{self.grpc_port}"

    def environment(self) -> dict[str, str]:
        # None of the caller's OTEL_* or PHOENIX_* settings: Phoenix would read them (it traces
        # itself when OTEL_EXPORTER_OTLP_ENDPOINT is set, for one).
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "PHOENIX_"))
        }
        env.update(QUIET)
        env["PYTHONUNBUFFERED"] = "1"  # its log lines as they happen (the ready line above all)
        env.update(
            PHOENIX_WORKING_DIR=str(self.workdir),
            PHOENIX_HOST=HOST,
            PHOENIX_PORT=str(self.port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
        )
        return env

    def start(self) -> Phoenix:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [str(self.executable), "serve"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=self.environment(),
            cwd=self.workdir,
            # Out of the terminal's process group: Ctrl-C reaches only its owner, which stops
            # it (and knows it asked, rather than taking the exit for a crash).
            start_new_session=True,
        )
        assert self._process.stdout is not None
        self._pump = threading.Thread(
            target=self._copy_log, args=(self._process.stdout,), name="phoenix-log", daemon=True
        )
        self._pump.start()
        # The log pump sets the event on the ready line, or when Phoenix exits.
        ready = self._ready.wait(self.startup_timeout)
        if not ready or self._process.poll() is not None:
            self.stop()
            why = "exited" if ready else f"was not ready after {self.startup_timeout:.0f}s"
            raise PhoenixUnavailable(f"phoenix serve {why}; its log ends:\n{self.log_tail()}")
        self.startup_seconds = time.monotonic() - started
        try:
            health = self.get("/healthz", raw=True)
        except OSError as exc:
            health = str(exc)
        if health != "OK":
            self.stop()
            raise PhoenixUnavailable(f"/healthz answered {health!r}; log:\n{self.log_tail()}")
        return self

    def _copy_log(self, output: IO[str]) -> None:
        with self.log_path.open("w", encoding="utf-8") as log:
            for line in output:
                log.write(line)
                log.flush()
                if READY_LINE in line:
                    self._ready.set()
        self._ready.set()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._pump is not None:
            self._pump.join(timeout=10)

    def wait(self) -> int:
        """Block until Phoenix exits (by itself or on a signal); its exit code."""
        assert self._process is not None, "not started"
        return self._process.wait()

    def __enter__(self) -> Phoenix:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- make view ------------------------------------------------------------------------------------

DEMOS = (("spanstream demo", ()), ("spanstream demo --agent", ("--agent",)))


def replay_demos(phoenix: Phoenix) -> list[tuple[str, Span]]:
    """Run each demo with its spans sent to ``phoenix``; each demo's root span there."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    roots: list[tuple[str, Span]] = []
    for title, flags in DEMOS:
        command = [sys.executable, "-m", "spanstream.cli", "demo", *flags]
        command += ["--drip", "0", "--otlp-endpoint", phoenix.base_url]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, check=False
        )
        if done.returncode != 0:
            raise PhoenixUnavailable(f"{title} failed:\n{done.stdout}\n{done.stderr}")
        (phoenix.workdir / f"{title.replace(' ', '-')}.out").write_text(done.stdout)
        # Demos run one after another: the newest root span is this one's.
        roots_now = phoenix.wait_for_spans(len(roots) + 1, parent_id="null")
        if len(roots_now) <= len(roots):
            raise PhoenixUnavailable(f"the spans of {title} did not reach Phoenix")
        newest = max(roots_now, key=lambda span: span["start_time"])
        roots.append((title, newest))
    return roots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make view",
        description="Start Arize Phoenix on 127.0.0.1, replay the spanstream demos into it and "
        "print where to look. Ctrl-C stops it and deletes its data.",
    )
    parser.add_argument("--port", type=int, default=6006, help="UI and OTLP/HTTP (default 6006)")
    parser.add_argument("--grpc-port", type=int, default=4317, help="OTLP/gRPC (default 4317)")
    args = parser.parse_args(argv)
    print(
        "Arize Phoenix: installing into .phoenix-venv unless there (the first time takes a few "
        "minutes)...",
        flush=True,
    )
    try:
        executable, _ = install()
    except PhoenixUnavailable as exc:
        print(f"make view: {exc}", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="spanstream-phoenix-"))
    # Ctrl-C and a plain kill both stop Phoenix and delete the data (SIGINT too when this was
    # started with it ignored, as a shell does for a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    phoenix = Phoenix(executable, workdir, port=args.port, grpc_port=args.grpc_port)
    try:
        with phoenix:
            roots = replay_demos(phoenix)
            print(f"\nPhoenix is running: {phoenix.base_url}", flush=True)
            for title, root in roots:
                print(f"  {title}: {phoenix.trace_url(root['context']['trace_id'])}")
            print(
                "\nSend your own spans to it (OTLP/HTTP):\n"
                f"  OTEL_EXPORTER_OTLP_ENDPOINT={phoenix.base_url} "
                "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n"
                f"or over gRPC: OTEL_EXPORTER_OTLP_ENDPOINT={phoenix.grpc_endpoint} "
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n"
                f"\nData and log in {workdir} (deleted on exit). Press Ctrl-C to stop.",
                flush=True,
            )
            phoenix.wait()
            print(f"Phoenix exited; its log ends:\n{phoenix.log_tail()}", file=sys.stderr)
            return 1
    except PhoenixUnavailable as exc:
        print(f"make view: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
