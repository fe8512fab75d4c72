"""Memory section: peak memory while one N=100,000 stream is consumed, one fresh process per run.

    python -m benchmarks.memory --child KEY --n 100000     # one run, prints a JSON line

Each run (adapted from ``../shared/bench/bench_memory.py``) builds the stream and its ``net``
chunks, warms the path up on a 1,000-delta stream, drops the stream body (the chunks keep their
own copy) and then measures, on the big stream:

* ``rss_peak_delta``: peak RSS during one stream minus RSS just before it (Linux: the
  high-water mark is reset through ``/proc/self/clear_refs`` right before; elsewhere
  ``ru_maxrss`` is used, which can under-report);
* ``traced_peak``: the ``tracemalloc`` peak during a second stream, minus what was traced when
  it started (Python-heap allocations only: what pydantic-core allocates in Rust is not traced,
  which is why RSS is measured too).

The chunks (the ~27 MB body as the transport would deliver it) are allocated before the
baseline and not counted. Both peaks are compared with the size of the accumulated text: its
in-memory size (``sys.getsizeof`` of the final ``str``) and its UTF-8 size.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path as FsPath

from . import paths
from .ssegen import make_chunks, make_stream

ROOT = FsPath(__file__).resolve().parent.parent

# The openai SDK is left out: under tracemalloc one 100k stream takes a minute
# (../shared/bench/baseline/RESULTS.md has its peak: ~10 MiB RSS for create(stream=True)).
CASES = (paths.FLOOR, "s_core", paths.SPANSTREAM_SYNC_ON, paths.SPANSTREAM_ASYNC_ON)


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _runner(
    key: str, n: int
) -> tuple[Callable[[], object], Callable[[], object], int, dict[str, int]]:
    path = paths.BY_KEY[key]
    stream = make_stream(n)
    chunks = make_chunks(stream, "net")
    runner = path.make(stream, chunks)
    expected = path.expected(stream)
    text = {
        "text_chars": len(stream.text),
        "text_utf8_bytes": len(stream.text.encode()),
        "text_str_bytes": sys.getsizeof(stream.text),
        "stream_bytes": len(stream.body),
    }
    stream.body = b""  # the chunks hold their own copy
    if path.is_async:
        loop = asyncio.new_event_loop()
        arun = runner.arun
        assert arun is not None

        def run() -> object:
            return loop.run_until_complete(arun())

        def verify() -> object:
            return loop.run_until_complete(runner.verify())

        return run, verify, expected, text
    assert runner.run is not None
    return runner.run, runner.verify, expected, text


def child(key: str, n: int) -> dict[str, object]:
    # Warm-up on a small stream (imports, caches); the big one is first consumed when measured.
    run_small, verify_small, expected_small, _ = _runner(key, 1000)
    verify_small()
    assert run_small() == expected_small
    run, verify, expected, text = _runner(key, n)
    gc.collect()
    base_kib = _status_kib("VmRSS")
    reset = _reset_high_water_mark()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert run() == expected
    peak_kib = _status_kib("VmHWM") if reset else None
    if peak_kib is None or base_kib is None:
        rss_delta = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) * 1024
    else:
        rss_delta = (peak_kib - base_kib) * 1024
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    assert run() == expected
    traced_peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    verify()  # the result itself (text, usage), after the measurements
    return {
        "key": key,
        "n": n,
        "rss_peak_delta_bytes": rss_delta,
        "traced_peak_bytes": traced_peak,
        "hwm_reset": reset,
        **text,
    }


def _one(key: str, n: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", key, "--n", str(n)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory run {key} failed:\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(
    n: int, runs: int, workers: int, keys: list[str], log: Callable[[str], None]
) -> list[dict[str, object]]:
    jobs = [key for key in keys for _ in range(runs)]
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda key: _one(key, n), jobs))
    rows: list[dict[str, object]] = []
    for key in keys:
        mine = [r for r in results if r["key"] == key]
        rss = [float(r["rss_peak_delta_bytes"]) for r in mine]
        traced = [float(r["traced_peak_bytes"]) for r in mine]
        row = {
            "key": key,
            "label": paths.BY_KEY[key].label,
            "n": n,
            "runs": len(mine),
            "rss_peak_delta": _stats(rss),
            "traced_peak": _stats(traced),
            "hwm_reset": all(r["hwm_reset"] for r in mine),
            **{k: mine[0][k] for k in ("text_chars", "text_utf8_bytes", "text_str_bytes")},
            "stream_bytes": mine[0]["stream_bytes"],
        }
        rows.append(row)
        log(
            f"    {row['label']:<58} RSS peak Δ {row['rss_peak_delta']['median'] / 2**20:6.2f} MiB"
            f"  traced peak {row['traced_peak']['median'] / 2**20:6.2f} MiB"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.n)))


if __name__ == "__main__":
    main()
