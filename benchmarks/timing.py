"""Samples, statistics and the machine description every section of the benchmark shares.

Adapted from ``../shared/bench/common.py`` (not imported). Wall time is ``time.perf_counter``;
CPU time is this process's user + system time, so that a sample slowed down by another process
on this shared machine shows up as wall time above CPU time.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads)."""
    return time.process_time()


@dataclass
class Samples:
    """Per-unit wall and CPU microseconds, one value per sample."""

    wall_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    calls_per_sample: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.wall_us)

    @property
    def low(self) -> float:
        return min(self.wall_us)

    @property
    def high(self) -> float:
        return max(self.wall_us)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_us)

    def to_json(self) -> dict[str, object]:
        return {
            "median_us": self.median,
            "min_us": self.low,
            "max_us": self.high,
            "cpu_median_us": self.cpu_median,
            "calls_per_sample": self.calls_per_sample,
            "wall_us": self.wall_us,
            "cpu_us": self.cpu_us,
        }


def fmt_us(x: float) -> str:
    if x != x:  # nan
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_span(s: Samples) -> str:
    return f"{fmt_us(s.median)} ({fmt_us(s.low)}-{fmt_us(s.high)})"


_PACKAGES = (
    "spanstream",
    "openai",
    "httpx",
    "httpx-sse",
    "pydantic",
    "pydantic-core",
    "opentelemetry-api",
    "opentelemetry-sdk",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine() -> dict[str, object]:
    """What the numbers were measured on (for the caveat in RESULTS.md)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "platform": platform.platform(terse=True),
        "packages": versions,
        "loadavg": loadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(),
    }


# The code a run measures, from the top of the checkout (the reports it writes are not).
_MEASURED = (":(top)src", ":(top)benchmarks", ":(top,exclude)benchmarks/RESULTS*")


def _commit() -> str:
    """The checkout's commit, with ``+changes`` when the work tree differs from it (so that two
    runs can be told apart, or known to measure the same code)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *_MEASURED],
            cwd=here,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
