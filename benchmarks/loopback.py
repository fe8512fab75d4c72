"""Loopback section: real sockets on 127.0.0.1, a server process and the client in this one.

The server (:mod:`benchmarks.server`) runs as its own process, so with 2 cores the client has
about one core to itself; the client's CPU time is this process's, the server's comes from its
``/stats`` endpoint. Scenarios, for every client path:

* ``single``: one stream of ``n_single`` deltas (the events/s goal);
* ``sequential``: ``streams`` streams of ``n_many`` deltas, one after the other;
* ``concurrent``: the same streams all at once (``asyncio.gather``).

``concurrent`` does the same work as ``sequential``, so with no per-stream slowdown beyond CPU
sharing its total events/s and CPU per event equal ``sequential``'s. The HTTP pool allows
``streams`` keep-alive connections, so both reuse their connections and neither measures TCP
connection set-up.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path as FsPath

import httpx

import spanstream

from .paths import MODEL, PROMPT, REQUEST_JSON, SPANSTREAM_FRAMING_EVENTS, Telemetry
from .ssegen import EVENT_FRAMING_COUNT
from .timing import cpu_seconds

ROOT = FsPath(__file__).resolve().parent.parent
TIMEOUT = 120.0

OneStream = Callable[[int], Awaitable[int]]


@dataclass
class Config:
    n_single: int
    n_many: int
    streams: int
    repeats: int


def _limits(streams: int) -> httpx.Limits:
    return httpx.Limits(max_connections=max(streams, 100), max_keepalive_connections=streams)


def _url(root: str, n: int) -> str:
    return f"{root}/n{n}/v1"


# ----------------------------------------------------------------------------- server


def start_server(sizes: list[int], max_requests: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.server",
            "--sizes",
            ",".join(map(str, sizes)),
            "--max-requests",
            str(max_requests),
            "--max-seconds",
            "1500",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"loopback server failed to start: {line!r}")
    return proc, int(line.split()[1])


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()  # this PID only
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def server_cpu_seconds(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stats")
        return float(json.loads(conn.getresponse().read())["cpu_s"])
    finally:
        conn.close()


# ----------------------------------------------------------------------------- clients


def _spanstream_client(
    root: str, streams: int, *, own_pool: bool
) -> tuple[OneStream, Callable[[], Awaitable[None]]]:
    """spanstream's AsyncClient: with the HTTP client it creates itself (its sharded pool) or,
    ``own_pool=False``, given one plain ``httpx.AsyncClient`` (one pool) as users may pass."""
    telemetry = Telemetry(on=True)
    http = None if own_pool else httpx.AsyncClient(limits=_limits(streams), timeout=TIMEOUT)
    clients: dict[int, spanstream.AsyncClient] = {}

    async def one(n: int) -> int:
        client = clients.get(n)
        if client is None:
            client = clients[n] = spanstream.AsyncClient(
                api_key="sk-bench",
                base_url=_url(root, n),
                http_client=http,
                timeout=TIMEOUT,
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
                max_retries=0,
            )
        count = 0
        async with client.responses.stream(model=MODEL, input=PROMPT) as events:
            async for _event in events:
                count += 1
            response = await events.final_response()
        if response.status != "completed":
            raise AssertionError(response.status)
        telemetry.clear()
        return count

    async def aclose() -> None:
        for client in clients.values():
            await client.aclose()
        if http is not None:
            await http.aclose()

    return one, aclose


def spanstream_client(root: str, streams: int) -> tuple[OneStream, Callable[[], Awaitable[None]]]:
    return _spanstream_client(root, streams, own_pool=True)


def spanstream_one_pool_client(
    root: str, streams: int
) -> tuple[OneStream, Callable[[], Awaitable[None]]]:
    return _spanstream_client(root, streams, own_pool=False)


def httpx_sse_client(root: str, streams: int) -> tuple[OneStream, Callable[[], Awaitable[None]]]:
    from httpx_sse import aconnect_sse

    http = httpx.AsyncClient(limits=_limits(streams), timeout=TIMEOUT)
    loads = json.loads

    async def one(n: int) -> int:
        count = 0
        url = _url(root, n) + "/responses"
        async with aconnect_sse(http, "POST", url, json=REQUEST_JSON) as source:
            async for sse in source.aiter_sse():
                loads(sse.data)
                count += 1
        return count

    return one, http.aclose


async def _asplit_and_load(chunks: AsyncIterator[bytes]) -> int:
    """:func:`benchmarks.paths.split_and_load` over an async byte iterator."""
    buf = bytearray()
    n = 0
    loads = json.loads
    async for chunk in chunks:
        start_search = len(buf) - 1 if buf else 0
        buf += chunk
        pos = buf.find(b"\n\n", start_search)
        if pos < 0:
            continue
        start = 0
        while pos >= 0:
            d = buf.find(b"data: ", start, pos)
            loads(buf[d + 6 : pos])
            n += 1
            start = pos + 2
            pos = buf.find(b"\n\n", start)
        del buf[:start]
    return n


def httpx_floor_client(root: str, streams: int) -> tuple[OneStream, Callable[[], Awaitable[None]]]:
    http = httpx.AsyncClient(limits=_limits(streams), timeout=TIMEOUT)

    async def one(n: int) -> int:
        url = _url(root, n) + "/responses"
        async with http.stream("POST", url, json=REQUEST_JSON) as response:
            return await _asplit_and_load(response.aiter_bytes())

    return one, http.aclose


@dataclass(frozen=True)
class Client:
    key: str
    label: str
    make: Callable[[str, int], tuple[OneStream, Callable[[], Awaitable[None]]]]
    expected: Callable[[int], int]
    requires: str | None = None


def _sse_count(n: int) -> int:
    return n + EVENT_FRAMING_COUNT


def _spanstream_count(n: int) -> int:
    return n + SPANSTREAM_FRAMING_EVENTS


CLIENTS = (
    Client(
        "lb_spanstream",
        "**spanstream AsyncClient, telemetry on**",
        spanstream_client,
        _spanstream_count,
    ),
    Client(
        "lb_spanstream_one_pool",
        "spanstream AsyncClient on a given httpx.AsyncClient (one pool), telemetry on",
        spanstream_one_pool_client,
        _spanstream_count,
    ),
    Client(
        "lb_httpx_sse",
        "httpx.AsyncClient + httpx-sse + json.loads",
        httpx_sse_client,
        _sse_count,
        requires="httpx_sse",
    ),
    Client(
        "lb_httpx_floor",
        "httpx.AsyncClient aiter_bytes + floor json.loads",
        httpx_floor_client,
        _sse_count,
    ),
)


# ----------------------------------------------------------------------------- measuring


async def _sample(
    one: OneStream, n: int, streams: int, concurrent: bool, expected: int, port: int
) -> dict[str, float]:
    durations: list[float] = []

    async def timed(n: int) -> int:
        t0 = time.perf_counter()
        count = await one(n)
        durations.append(time.perf_counter() - t0)
        return count

    gc.collect()
    s0 = server_cpu_seconds(port)
    c0, w0 = cpu_seconds(), time.perf_counter()
    if concurrent:
        counts = await asyncio.gather(*[timed(n) for _ in range(streams)])
    else:
        counts = [await timed(n) for _ in range(streams)]
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    server = server_cpu_seconds(port) - s0
    if any(c != expected for c in counts):
        raise AssertionError(f"expected {expected} events per stream, got {sorted(set(counts))}")
    events = (n + EVENT_FRAMING_COUNT) * streams
    return {
        "wall_s": wall,
        "events_per_s": events / wall,
        "wall_us_per_event": wall * 1e6 / events,
        "client_cpu_us_per_event": cpu * 1e6 / events,
        "server_cpu_us_per_event": server * 1e6 / events,
        "stream_s_median": statistics.median(durations),
        "stream_s_max": max(durations),
    }


def _summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "median": statistics.median(s[key] for s in samples),
            "min": min(s[key] for s in samples),
            "max": max(s[key] for s in samples),
        }
        for key in samples[0]
    }


def _sync_single(root: str, n: int, repeats: int, port: int) -> list[dict[str, float]]:
    """spanstream's sync Client on one stream (no event loop involved)."""
    telemetry = Telemetry(on=True)
    expected = _spanstream_count(n)
    samples = []
    with spanstream.Client(
        api_key="sk-bench",
        base_url=_url(root, n),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        max_retries=0,
    ) as client:

        def once() -> int:
            count = 0
            with client.responses.stream(model=MODEL, input=PROMPT) as events:
                for _event in events:
                    count += 1
            telemetry.clear()
            return count

        once()
        for _ in range(repeats):
            gc.collect()
            s0 = server_cpu_seconds(port)
            c0, w0 = cpu_seconds(), time.perf_counter()
            count = once()
            wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
            server = server_cpu_seconds(port) - s0
            assert count == expected, (count, expected)
            events = n + EVENT_FRAMING_COUNT
            samples.append(
                {
                    "wall_s": wall,
                    "events_per_s": events / wall,
                    "wall_us_per_event": wall * 1e6 / events,
                    "client_cpu_us_per_event": cpu * 1e6 / events,
                    "server_cpu_us_per_event": server * 1e6 / events,
                    "stream_s_median": wall,
                    "stream_s_max": wall,
                }
            )
    return samples


async def _run_clients(
    config: Config, root: str, port: int, log: Callable[[str], None]
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    plan = {
        "single": (config.n_single, 1, False),
        "sequential": (config.n_many, config.streams, False),
        "concurrent": (config.n_many, config.streams, True),
    }
    for client in CLIENTS:
        if client.requires and not _importable(client.requires):
            log(f"    {client.label}: skipped ({client.requires} not installed)")
            continue
        one, aclose = client.make(root, config.streams)
        gc.collect()
        gc.freeze()  # see benchmarks.inprocess.run_group
        try:
            for scenario in plan:
                n, streams, concurrent = plan[scenario]
                expected = client.expected(n)
                await _sample(one, n, streams, concurrent, expected, port)  # warm-up
                samples = [
                    await _sample(one, n, streams, concurrent, expected, port)
                    for _ in range(config.repeats)
                ]
                rows.append(_row(client.key, client.label, scenario, n, streams, samples))
                log(_line(rows[-1]))
        finally:
            gc.unfreeze()
            await aclose()
    return rows


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _row(
    key: str, label: str, scenario: str, n: int, streams: int, samples: list[dict[str, float]]
) -> dict[str, object]:
    return {
        "key": key,
        "label": label,
        "scenario": scenario,
        "n": n,
        "streams": streams,
        "samples": samples,
        "summary": _summary(samples),
    }


def _line(row: dict[str, object]) -> str:
    summary = row["summary"]
    assert isinstance(summary, dict)
    rate = summary["events_per_s"]
    return (
        f"    {row['label']:<50} {row['scenario']:<10} {rate['median']:>9,.0f} ev/s"
        f" ({rate['min']:,.0f}-{rate['max']:,.0f})"
        f"  client cpu {summary['client_cpu_us_per_event']['median']:.2f} µs/ev"
    )


def run(config: Config, log: Callable[[str], None]) -> dict[str, object]:
    sizes = sorted({config.n_single, config.n_many})
    budget = (config.repeats + 1) * (3 + 2 * config.streams) * len(CLIENTS) + 100
    proc, port = start_server(sizes, budget)
    root = f"http://127.0.0.1:{port}"
    try:
        rows = asyncio.run(_run_clients(config, root, port, log))
        samples = _sync_single(root, config.n_single, config.repeats, port)
        rows.insert(
            1,
            _row(
                "lb_spanstream_sync",
                "spanstream Client (sync), telemetry on",
                "single",
                config.n_single,
                1,
                samples,
            ),
        )
        log(_line(rows[1]))
    finally:
        stop_server(proc)
    return {
        "rows": rows,
        "server": "benchmarks.server: raw asyncio HTTP/1.1, chunked, 1-4 KiB chunks, 127.0.0.1",
    }
