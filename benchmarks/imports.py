"""Import-time section: what ``import spanstream`` costs next to ``import httpx, pydantic``.

    python -m benchmarks --sections imports

Each statement runs in a fresh interpreter (``python -X importtime -c STATEMENT``), the statements
interleaved run by run so that the machine's drift hits them alike. A run's time is the sum of the
cumulative times ``-X importtime`` gives the top-level imports, i.e. what the statement imported
beyond the interpreter's own start-up; a second, plain run of each statement (no ``-X
importtime``, whose bookkeeping adds to every import) times it with ``time.perf_counter`` in the
child. Figures are the median (min-max) of the runs; the ratio is median over median.

A provider's parser and pydantic wire models are imported by the first stream of its API, and each
event type's validator is built when the type is first met, so part of what importing once cost
is now paid by a process's first stream: a child parses one recorded Responses stream (sans-IO)
twice after ``import spanstream``, and both times are reported.

For ``import spanstream``, the modules with the largest median self time (what each module's own
body took, its imports excluded) say where the time goes.

Bytecode. An installed package imports from bytecode (pip compiles it when it installs a wheel,
as it did httpx and pydantic), while a source checkout compiles its modules on every import if
nothing caches their bytecode (``PYTHONDONTWRITEBYTECODE=1``, as on the machine these figures
were first taken on, where that compile was most of ``import spanstream``'s time). So the cases
are measured as installed: every child reads bytecode from a cache directory of its own
(``PYTHONPYCACHEPREFIX``), filled once before the runs. The ``checkout`` row measures
``import spanstream`` as a source checkout without cached bytecode imports it: its dependencies
from their installed bytecode, spanstream compiled from source.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REFERENCE = "import httpx, pydantic"
SPANSTREAM = "import spanstream"
GOAL_RATIO = 1.5

# (key, statement, what it shows)
CASES = (
    ("reference", REFERENCE, "the reference: the HTTP client and validation library"),
    ("spanstream", SPANSTREAM, "the package, every client and event type"),
    (
        "configure",
        "import spanstream; spanstream.configure",
        "plus configure(): loads the OpenTelemetry SDK",
    ),
    ("testing", "import spanstream.testing", "the testing helpers (real SDK, in-memory)"),
)
# Measured as a source checkout without cached bytecode imports it (see the docstring).
CHECKOUT = ("checkout", SPANSTREAM, "spanstream compiled from source, its dependencies installed")
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


@dataclass
class Config:
    runs: int
    top_modules: int = 12


def _installed_env() -> dict[str, str]:
    """An environment whose children read every module's bytecode from a cache directory of
    their own, filled here by importing what the cases import, as installing does."""
    prefix = tempfile.mkdtemp(prefix="spanstream-bytecode-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    warm = "; ".join(statement for _, statement, _ in CASES) + "; " + _FIRST_STREAM_IMPORTS
    subprocess.run([sys.executable, "-c", warm], check=True, env=env)
    return env


def _checkout_env() -> dict[str, str]:
    """An environment that compiles spanstream from source on every import (its dependencies
    keep their installed bytecode): no bytecode of spanstream's is read or written."""
    import spanstream

    for cache in Path(spanstream.__file__).parent.rglob("__pycache__"):
        for compiled in cache.glob("*.pyc"):
            compiled.unlink()
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def _importtime(statement: str, env: dict[str, str] | None = None) -> tuple[float, dict[str, int]]:
    """One ``-X importtime`` run: total µs of the top-level imports, and every module's self µs."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    total = 0
    selfs: dict[str, int] = {}
    for line in err.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        own, cumulative, indent, name = int(match[1]), int(match[2]), match[3], match[4]
        selfs[name] = own
        if len(indent) == 1:
            total += cumulative
    return float(total), selfs


def _wall(statement: str, env: dict[str, str]) -> float:
    """One plain run: µs the statement took, timed inside the child."""
    code = f"import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    return float(out.strip().splitlines()[-1]) * 1e6


# A child that times the sans-IO parse of one recorded Responses stream twice: the first parse
# builds the validators of the event types it meets (the wire models are deferred), the second
# is the steady state.
_FIRST_STREAM_IMPORTS = (
    "import spanstream; from spanstream.providers.openai_responses import ResponsesParser;"
    " ResponsesParser(); from spanstream.sse import SSEDecoder"
)
_FIRST_STREAM = """
import time
from importlib import resources
import spanstream
from spanstream.providers.openai_responses import ResponsesParser
from spanstream.sse import SSEDecoder
body = resources.files("spanstream.testing").joinpath(
    "recordings/openai-responses/gpt-4.1-plain-text.sse").read_bytes()
times = []
for _ in range(2):
    t = time.perf_counter()
    parser = ResponsesParser()
    for event in SSEDecoder().feed(body):
        parser.feed(event)
    times.append(time.perf_counter() - t)
assert parser.done
print(times[0], times[1])
"""


def _first_stream(env: dict[str, str]) -> tuple[float, float]:
    """µs of the first and of the second parse of one recorded stream in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_STREAM], capture_output=True, text=True, check=True, env=env
    ).stdout
    first, second = out.strip().splitlines()[-1].split()
    return float(first) * 1e6, float(second) * 1e6


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(config: Config, log: Callable[[str], None]) -> dict[str, object]:
    importtime: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    selfs: dict[str, list[int]] = defaultdict(list)
    first_stream: list[float] = []
    second_stream: list[float] = []
    installed, checkout = _installed_env(), _checkout_env()
    checkout_runs: list[float] = []
    for _ in range(config.runs):
        for key, statement, _what in CASES:
            total, modules = _importtime(statement, installed)
            importtime[key].append(total)
            if key == "spanstream":
                for name, own in modules.items():
                    selfs[name].append(own)
            wall[key].append(_wall(statement, installed))
        checkout_runs.append(_importtime(CHECKOUT[1], checkout)[0])
        first, second = _first_stream(installed)
        first_stream.append(first)
        second_stream.append(second)
    rows = []
    reference = statistics.median(importtime["reference"])
    reference_wall = statistics.median(wall["reference"])
    for key, statement, what in CASES:
        row = {
            "key": key,
            "statement": statement,
            "what": what,
            "importtime_us": _stats(importtime[key]),
            "wall_us": _stats(wall[key]),
            "ratio": statistics.median(importtime[key]) / reference,
            "wall_ratio": statistics.median(wall[key]) / reference_wall,
            "samples_importtime_us": importtime[key],
            "samples_wall_us": wall[key],
        }
        rows.append(row)
        log(
            f"    {statement:<42} {row['importtime_us']['median'] / 1e3:7.1f} ms"
            f" ({row['ratio']:.2f}x)   plain {row['wall_us']['median'] / 1e3:7.1f} ms"
            f" ({row['wall_ratio']:.2f}x)"
        )
    key, statement, what = CHECKOUT
    checkout_row = {
        "key": key,
        "statement": statement,
        "what": what,
        "importtime_us": _stats(checkout_runs),
        "ratio": statistics.median(checkout_runs) / reference,
        "samples_importtime_us": checkout_runs,
    }
    log(
        f"    {statement + ' (checkout)':<42} {statistics.median(checkout_runs) / 1e3:7.1f} ms"
        f" ({checkout_row['ratio']:.2f}x)"
    )
    # A module absent from a run (imported at start-up there) counts as 0 in that run.
    top = sorted(
        (
            (statistics.median(values + [0] * (config.runs - len(values))), name)
            for name, values in selfs.items()
        ),
        reverse=True,
    )[: config.top_modules]
    log(
        f"    first recorded Responses stream parsed after import"
        f" {statistics.median(first_stream) / 1e3:.2f} ms, the second"
        f" {statistics.median(second_stream) / 1e3:.2f} ms"
    )
    return {
        "first_stream_us": _stats(first_stream),
        "second_stream_us": _stats(second_stream),
        "runs": config.runs,
        "goal_ratio": GOAL_RATIO,
        "rows": rows,
        "checkout": checkout_row,
        "top_self_us": [{"module": name, "self_us": us} for us, name in top],
        "spanstream_self_us": sum(
            statistics.median(v + [0] * (config.runs - len(v)))
            for name, v in selfs.items()
            if name == "spanstream" or name.startswith("spanstream.")
        ),
    }
