"""In-process section: every path of :mod:`benchmarks.paths` over the same in-memory stream.

Samples of the paths of one (N, chunking) group are interleaved (sample 1 of every path, then
sample 2 of every path, ...) so that a slow patch of this shared machine hits all of them alike
and the ratios of one run compare like with like.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import paths, sdkfloor
from .paths import Path, Runner
from .ssegen import SSEStream, chunk_split, make_chunks
from .timing import Samples, cpu_seconds, fmt_span


@dataclass
class Config:
    sizes: tuple[int, ...]
    chunkings: tuple[str, ...]
    repeats: dict[int, int]  # N -> samples
    target_s: float
    pairs: int  # telemetry on/off sample pairs
    pair_target_s: float
    floor_calls: int = 200  # SDK-floor replays per sample (7 samples)
    pairs_n: int = 1000  # the stream length of the telemetry pairs and the SDK floor
    apis: tuple[str, ...] = ("responses", "chat", "anthropic")


class _Timed:
    """One path prepared for sampling: a callable that runs ``calls`` whole streams."""

    def __init__(self, path: Path, runner: Runner, stream: SSEStream) -> None:
        self.path = path
        self.runner = runner
        self.expected = path.expected(stream)
        self.units = stream.n_events
        self.samples = Samples()
        self.loop: asyncio.AbstractEventLoop | None = None
        if path.is_async:
            self.loop = asyncio.new_event_loop()

    def _check(self, result: object) -> None:
        if result != self.expected:
            raise AssertionError(f"{self.path.key}: expected {self.expected} events, got {result}")

    def verify(self) -> None:
        if self.loop is not None:
            verify = self.runner.verify
            self.loop.run_until_complete(verify())
        else:
            self.runner.verify()

    def timed(self, calls: int) -> tuple[float, float]:
        """Run ``calls`` streams; return (wall, cpu) seconds."""
        if self.loop is not None:
            arun = self.runner.arun
            assert arun is not None

            async def batch() -> tuple[float, float, object]:
                c0, w0 = cpu_seconds(), time.perf_counter()
                result: object = None
                for _ in range(calls):
                    result = await arun()
                return time.perf_counter() - w0, cpu_seconds() - c0, result

            wall, cpu, result = self.loop.run_until_complete(batch())
        else:
            run = self.runner.run
            assert run is not None
            c0, w0 = cpu_seconds(), time.perf_counter()
            for _ in range(calls):
                result = run()
            wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
        self._check(result)
        return wall, cpu

    def sample(self) -> None:
        calls = self.samples.calls_per_sample
        gc.collect()
        wall, cpu = self.timed(calls)
        per = 1e6 / (calls * self.units)
        self.samples.wall_us.append(wall * per)
        self.samples.cpu_us.append(cpu * per)

    def close(self) -> None:
        if self.loop is not None:
            close = self.runner.close
            self.loop.run_until_complete(close())
            self.loop.close()
        else:
            self.runner.close()


def _prepare(
    path: Path, stream: SSEStream, chunks: list[bytes], *, warm: bool, target_s: float
) -> _Timed:
    timed = _Timed(path, path.make(stream, chunks), stream)
    timed.verify()
    if warm:
        wall, _ = timed.timed(1)
        timed.samples.calls_per_sample = max(1, math.ceil(target_s / max(wall, 1e-9)))
    return timed


def run_group(
    selected: list[Path],
    stream: SSEStream,
    chunks: list[bytes],
    *,
    repeats: int,
    warm: bool,
    target_s: float,
    log: Callable[[str], None],
) -> dict[str, Samples]:
    """Interleaved samples of every selected path over one stream and chunking."""
    prepared = [_prepare(p, stream, chunks, warm=warm, target_s=target_s) for p in selected]
    # Everything alive now (the openai SDK's thousands of models, the stream) is left out of
    # the collections before each sample: a full collection over it takes ~0.1 s.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeats):
            for timed in prepared:
                timed.sample()
    finally:
        gc.unfreeze()
        for timed in prepared:
            timed.close()
    for timed in prepared:
        s = timed.samples
        log(f"    {timed.path.label:<58} {fmt_span(s):>22} µs/ev  cpu {s.cpu_median:.2f}")
    return {t.path.key: t.samples for t in prepared}


def telemetry_pairs(
    stream: SSEStream,
    chunks: list[bytes],
    on: Path,
    off: Path,
    *,
    pairs: int,
    target_s: float,
) -> dict[str, object]:
    """Telemetry on vs off, as on/off ratios of back-to-back samples (order alternating)."""
    a = _prepare(on, stream, chunks, warm=True, target_s=target_s)
    b = _prepare(off, stream, chunks, warm=True, target_s=target_s)
    calls = max(a.samples.calls_per_sample, b.samples.calls_per_sample)
    a.samples.calls_per_sample = b.samples.calls_per_sample = calls
    ratios: list[float] = []
    gc.collect()
    gc.freeze()
    try:
        for i in range(pairs):
            first, second = (a, b) if i % 2 == 0 else (b, a)
            first.sample()
            second.sample()
            ratios.append(a.samples.wall_us[-1] / b.samples.wall_us[-1])
    finally:
        gc.unfreeze()
        a.close()
        b.close()
    cpu_ratios = [x / y for x, y in zip(a.samples.cpu_us, b.samples.cpu_us, strict=False)]
    return {
        "on": on.key,
        "off": off.key,
        "on_samples": a.samples.to_json(),
        "off_samples": b.samples.to_json(),
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "cpu_ratio_median": statistics.median(cpu_ratios),
        "streams_per_sample": calls,
    }


def run(config: Config, selected: list[Path], log: Callable[[str], None]) -> dict[str, object]:
    streams: dict[str, object] = {}
    rows: list[dict[str, object]] = []
    pairs: list[dict[str, object]] = []
    floor: dict[str, object] = {}
    chosen = {path.key for path in selected}
    for api in (paths.BY_API[key] for key in config.apis):
        for n in config.sizes:
            stream = api.make_stream(n)
            for chunking in config.chunkings:
                chunks = make_chunks(stream, chunking)
                info: dict[str, object] = {
                    "events": stream.n_events,
                    "bytes": len(stream.body),
                    "chunks": len(chunks),
                    "avg_chunk_bytes": round(len(stream.body) / len(chunks), 1),
                }
                if chunking == "split":
                    info.update(chunk_split(stream)[1])
                streams[f"{api.prefix}{n}/{chunking}"] = info
                big = n > 1000
                group = [
                    p
                    for p in api.paths
                    if p.key in chosen and (not big or chunking in p.big_chunkings)
                ]
                log(f"  {api.title} N={n:,} {chunking}: {info['chunks']:,} chunks")
                results = run_group(
                    group,
                    stream,
                    chunks,
                    repeats=config.repeats[n],
                    warm=not big,
                    target_s=config.target_s,
                    log=log,
                )
                for key, samples in results.items():
                    rows.append(
                        {
                            "key": key,
                            "api": api.key,
                            "label": paths.BY_KEY[key].label,
                            "n": n,
                            "chunking": chunking,
                            "samples": samples.to_json(),
                        }
                    )
            if api.key == "responses" and n == config.pairs_n:
                pairs, floor = _telemetry(config, stream, log)
    return {"streams": streams, "rows": rows, "telemetry_pairs": pairs, "sdk_floor": floor}


def _telemetry(
    config: Config, stream: SSEStream, log: Callable[[str], None]
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Telemetry on vs off (and its breakdown rows) as paired samples, and the SDK floor."""
    chunks = make_chunks(stream, "net")
    pairs = []
    for on, off in (
        (paths.SPANSTREAM_SYNC_ON, paths.SPANSTREAM_SYNC_OFF),
        (paths.SPANSTREAM_ASYNC_ON, paths.SPANSTREAM_ASYNC_OFF),
        (paths.SPANSTREAM_SYNC_TRACES, paths.SPANSTREAM_SYNC_OFF),
        (paths.SPANSTREAM_SYNC_METRICS, paths.SPANSTREAM_SYNC_OFF),
        (paths.SPANSTREAM_SYNC_BRIEF, paths.SPANSTREAM_SYNC_OFF),
        (paths.SPANSTREAM_SYNC_NO_CHUNK, paths.SPANSTREAM_SYNC_OFF),
    ):
        pair = telemetry_pairs(
            stream,
            chunks,
            paths.BY_KEY[on],
            paths.BY_KEY[off],
            pairs=config.pairs,
            target_s=config.pair_target_s,
        )
        pair.update(n=stream.n_tokens, chunking="net")
        pairs.append(pair)
        log(
            f"  telemetry on/off {on}: median ratio {pair['ratio_median']:.4f}"
            f" ({pair['ratio_min']:.4f}-{pair['ratio_max']:.4f})"
        )
    floor = sdkfloor.measure(stream, chunks, repeats=7, calls=config.floor_calls)
    floor.update(n=stream.n_tokens, chunking="net")
    us = floor["us"]
    assert isinstance(us, dict)
    log(
        f"  OTel SDK alone, same span and {floor['measurements']} measurements:"
        f" {us['both']:.1f} µs (span {us['span']:.1f}, metrics {us['metrics']:.1f};"
        f" per-chunk values in one call: {us['both_bulk']:.1f})"
    )
    return pairs, floor
