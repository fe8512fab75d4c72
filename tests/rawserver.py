"""A loopback HTTP/1.1 server whose responses are written byte by byte by the test.

The ReplayServer speaks well-formed HTTP; the hardening tests need a server that does what a
hostile or broken one does at the byte level: keep a body open after the end, send comments
forever, an endless line, invalid UTF-8 in the middle of a write, a corrupt gzip body. Each
accepted connection runs ``handler(conn)`` in its own thread; the handler reads the request
with :meth:`Conn.request` and writes whatever it likes.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator
from types import TracebackType


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
SSE_HEADERS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


class Conn:
    """One accepted connection, as the handler sees it."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self._stop = stop
        self._buffer = b""
        self.client_left = threading.Event()

    def request(self) -> bytes | None:
        """Read one request (head and ``Content-Length`` body); ``None`` if the client left."""
        while b"\r\n\r\n" not in self._buffer:
            data = self._recv()
            if not data:
                return None
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            data = self._recv()
            if not data:
                return None
            rest += data
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.client_left.set()
            return False
        return True

    def wait_until_client_leaves(self, timeout: float = 30.0) -> bool:
        """Block until the client closes its side (or the server stops); True if it left."""
        remaining = timeout
        while remaining > 0 and not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], min(0.05, remaining))
            remaining -= 0.05
            if ready:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.client_left.set()
                    return True
                self._buffer += data
        return False

    def gone(self) -> bool:
        """Whether the client has closed its side (without blocking)."""
        ready, _, _ = select.select([self.sock], [], [], 0)
        if not ready:
            return False
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except OSError:
            data = b""
        if not data:
            self.client_left.set()
        return not data


class RawServer:
    """Serves every connection with ``handler``; records each connection's :class:`Conn`."""

    def __init__(self, handler: Callable[[Conn], None]) -> None:
        self._handler = handler
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.conns: list[Conn] = []
        self.done = threading.Semaphore(0)  # released when a handler returns
        self._accept = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> RawServer:
        self._accept.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        for thread in [self._accept, *self._threads]:
            thread.join(10)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock, self._stop)
            self.conns.append(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: Conn) -> None:
        try:
            self._handler(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            self.done.release()

    def wait_done(self, n: int = 1, timeout: float = 30.0) -> bool:
        """Wait until ``n`` handlers have returned."""
        return all(self.done.acquire(timeout=timeout) for _ in range(n))


def sse_frames(*frames: bytes) -> Iterator[bytes]:
    """Each frame as one chunk."""
    for frame in frames:
        yield chunk(frame)
