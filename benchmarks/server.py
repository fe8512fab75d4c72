"""Minimal loopback HTTP/1.1 server streaming pre-built Responses API SSE bodies.

    python -m benchmarks.server --sizes 1000,100000 [--max-requests N] [--max-seconds S]

Adapted from ``../shared/bench/sse_server.py`` (copied, not imported). It listens on 127.0.0.1
only, on a port the OS picks, and prints ``READY <port>``. ``POST /n<N>/v1/responses`` gets the
generated N-token stream with chunked transfer encoding in 1-4 KiB HTTP chunks (the ``net``
chunking), written in 256 KiB slices as fast as the client reads. ``GET /stats`` returns this
process's CPU seconds. Keep-alive is supported. It exits by itself after ``--max-requests``
requests or ``--max-seconds``, whichever comes first, and on SIGTERM.

Why not :class:`spanstream.testing.ReplayServer`: it runs as a thread of the measured process
(its CPU time and its GIL hold would count as the client's), spawns a thread per connection and
sends one HTTP chunk per SSE frame with its own ``send`` call (100,000 syscalls for one stream).
That fidelity is what its tests need; here the server must cost next to nothing and live in its
own process so the client's CPU per event is the client's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import signal
import sys

from .ssegen import chunk_net, make_stream

HOST = "127.0.0.1"
HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\n"
    b"cache-control: no-cache\r\n"
    b"x-request-id: req_bench\r\n"
    b"\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
PATH = re.compile(rb"^/n(\d+)/v1/responses")
WRITE_SLICE = 256 * 1024


def build_payload(n: int) -> bytes:
    parts = [HEAD]
    for chunk in chunk_net(make_stream(n).body):
        parts += (b"%x\r\n" % len(chunk), chunk, b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class Server:
    def __init__(self, sizes: list[int], max_requests: int) -> None:
        self.payloads = {n: build_payload(n) for n in sizes}
        self.max_requests = max_requests
        self.requests = 0
        self.done = asyncio.Event()

    def _count(self) -> None:
        self.requests += 1
        if self.requests >= self.max_requests:
            self.done.set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self.done.is_set():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                line, _, rest = head.partition(b"\r\n")
                parts = line.split(b" ")
                path = parts[1] if len(parts) > 1 else b""
                length = 0
                for header in rest.split(b"\r\n"):
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                if path == b"/stats":
                    usage = resource.getrusage(resource.RUSAGE_SELF)
                    body = json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b"content-length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    await writer.drain()
                    continue
                match = PATH.match(path)
                payload = self.payloads.get(int(match.group(1))) if match else None
                if payload is None:
                    writer.write(NOT_FOUND)
                    await writer.drain()
                    self._count()
                    continue
                view = memoryview(payload)
                for i in range(0, len(view), WRITE_SLICE):
                    writer.write(view[i : i + WRITE_SLICE])
                    await writer.drain()
                self._count()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def serve(sizes: list[int], max_requests: int, max_seconds: float) -> None:
    server = Server(sizes, max_requests)
    listener = await asyncio.start_server(server.handle, HOST, 0, backlog=1024)
    port = listener.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.done.set)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.done.wait(), timeout=max_seconds)
    listener.close()
    print(f"served {server.requests} responses", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--max-seconds", type=float, default=1200.0)
    args = parser.parse_args()
    asyncio.run(serve([int(x) for x in args.sizes.split(",")], args.max_requests, args.max_seconds))


if __name__ == "__main__":
    main()
