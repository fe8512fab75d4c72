"""``python -m benchmarks``: run every section and write ``benchmarks/RESULTS.md``.

    python -m benchmarks                 # full run (make bench): 7-20 min on 2 cores
    python -m benchmarks --quick         # seconds (make bench-quick, the smoke test): small N
    python -m benchmarks --sections inprocess,memory --output /tmp/R.md
    python -m benchmarks --sections imports --output /tmp/R.md   # import time only, ~1 min

Quick mode only needs the ``dev`` extra (rows whose packages are missing, e.g. httpx-sse, are
reported as skipped) and writes nowhere unless ``--output`` is given; its numbers are too short
to conclude anything from and its report says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path as FsPath
from typing import Any

from . import imports, inprocess, loopback, memory, paths, report
from .timing import loadavg, machine

HERE = FsPath(__file__).resolve().parent
SECTIONS = ("imports", "inprocess", "loopback", "memory")

FULL_INPROCESS = inprocess.Config(
    sizes=(100, 300, 1000, 100_000),
    chunkings=("net", "event", "split"),
    repeats={100: 7, 300: 7, 1000: 7, 100_000: 5},
    target_s=0.25,
    pairs=16,
    pair_target_s=0.25,
)
QUICK_INPROCESS = inprocess.Config(
    sizes=(300,),
    chunkings=("net", "event", "split"),
    repeats={300: 5},
    target_s=0.01,
    pairs=6,
    pair_target_s=0.01,
    floor_calls=10,
    pairs_n=300,
)
FULL_IMPORTS = imports.Config(runs=15)
QUICK_IMPORTS = imports.Config(runs=3)
FULL_LOOPBACK = loopback.Config(n_single=100_000, n_many=1000, streams=200, repeats=5)
QUICK_LOOPBACK = loopback.Config(n_single=1000, n_many=300, streams=10, repeats=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, few seconds")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--output", help="where to write the report (default: RESULTS.md here)")
    args = parser.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    output = FsPath(args.output) if args.output else None
    if output is None and not args.quick:
        output = HERE / "RESULTS.md"

    def log(line: str) -> None:
        print(line, flush=True)

    every = [p for api in paths.APIS for p in api.paths]
    selected = [p for p in every if p.available()]
    skipped = [p for p in every if not p.available()]
    results: dict[str, object] = {
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "skipped": {p.key: f"{p.requires} not installed" for p in skipped},
    }
    started = time.perf_counter()
    if "imports" in sections:
        log("== import time (fresh interpreter per run)")
        results["imports"] = imports.run(QUICK_IMPORTS if args.quick else FULL_IMPORTS, log)
    if "inprocess" in sections:
        log("== in-process (httpx MockTransport and direct)")
        for p in skipped:
            log(f"    {p.label}: skipped ({p.requires} not installed)")
        config = QUICK_INPROCESS if args.quick else FULL_INPROCESS
        results["inprocess"] = inprocess.run(config, selected, log)
    if "loopback" in sections:
        log("== loopback (127.0.0.1, server in its own process)")
        results["loopback"] = loopback.run(QUICK_LOOPBACK if args.quick else FULL_LOOPBACK, log)
    if "memory" in sections:
        log("== peak memory (fresh process per run)")
        keys = [k for k in memory.CASES if paths.BY_KEY[k].available()]
        if args.quick:
            results["memory"] = memory.run(10_000, 1, 1, [paths.SPANSTREAM_SYNC_ON], log)
        else:
            results["memory"] = memory.run(100_000, 5, 2, keys, log)
    results["elapsed_s"] = time.perf_counter() - started
    results["loadavg_end"] = loadavg()
    previous = _previous_run(output) if output is not None and not args.quick else None
    text = report.render(results, previous)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if previous is not None:
            # The run this one replaces stays beside it: RESULTS.md records both.
            kept = output.with_suffix(".previous.json")
            kept.write_text(json.dumps(previous, indent=1, default=str))
        output.write_text(text)
        output.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
        log(f"wrote {output} and {output.with_suffix('.json')}")
    return 0


def _previous_run(output: FsPath) -> dict[str, Any] | None:
    """The full run whose raw samples are at ``output``'s ``.json`` (the report about to be
    replaced), if any, with every section this report has."""
    try:
        previous = json.loads(output.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(previous, dict) or previous.get("mode") != "full":
        return None
    return previous


if __name__ == "__main__":
    sys.exit(main())
