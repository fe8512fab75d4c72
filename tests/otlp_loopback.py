"""Loopback stand-ins for a collector: an OTLP/HTTP receiver, a black hole and a closed port."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body)


class OtlpReceiver:
    """Records every POST (path, headers, body size) and answers 200 with an empty OTLP
    response, or 404 for the paths in ``refuse`` (a backend that does not take that signal)."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.posts: list[Post] = []
        refused = frozenset(refuse)
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.append(Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(404 if self.path in refused else 200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def service_names(self, path: str = "/v1/traces") -> set[str]:
        """The ``service.name`` of every resource exported to ``path`` (OTLP protobuf)."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        names = set()
        for post in self.posts:
            if post.path == path and post.body:
                request = ExportTraceServiceRequest.FromString(post.body)
                for spans in request.resource_spans:
                    for attribute in spans.resource.attributes:
                        if attribute.key == "service.name":
                            names.add(attribute.value.string_value)
        return names

    def span_names(self, path: str = "/v1/traces") -> list[str]:
        """The name of every span exported to ``path`` (OTLP protobuf), in export order."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        return [
            span.name
            for post in self.posts
            if post.path == path and post.body
            for resource in ExportTraceServiceRequest.FromString(post.body).resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def paths(self) -> set[str]:
        """The paths that received a non-empty export."""
        return {post.path for post in self.posts if post.size > 0}

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class BlackHole:
    """A listening socket that accepts connections and never answers (a collector that hangs)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self._listener.close()
        for connection in self._held:
            connection.close()


def closed_port_endpoint() -> str:
    """An endpoint nothing listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}"
