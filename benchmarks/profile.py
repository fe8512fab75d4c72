"""Profile one in-process path with pyinstrument (the ``bench`` extra) before optimizing it.

    python -m benchmarks.profile                               # spanstream Client, N=100,000, net
    python -m benchmarks.profile --path s_async_on --chunking event --n 10000 --streams 3

Prints pyinstrument's call tree for ``--streams`` whole streams (after one untimed stream). The
keys are those of :data:`benchmarks.paths.BY_KEY` (``a_floor``, ``s_core``, ``s_sync_on``,
``s_async_on``, ``d_openai_create``, ``chat_s_sync_on``, ``anthropic_s_core``...).
"""

from __future__ import annotations

import argparse
import asyncio

from . import paths
from .ssegen import make_chunks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--path", default=paths.SPANSTREAM_SYNC_ON, choices=sorted(paths.BY_KEY))
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--chunking", default="net", choices=("net", "event", "split"))
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0002, help="sampling interval (s)")
    args = parser.parse_args()

    from pyinstrument import Profiler

    path = paths.BY_KEY[args.path]
    api = next((api for api in paths.APIS if path in api.paths), paths.BY_API["responses"])
    stream = api.make_stream(args.n)
    runner = path.make(stream, make_chunks(stream, args.chunking))
    if path.is_async:
        loop = asyncio.new_event_loop()
        arun = runner.arun
        assert arun is not None

        def run() -> object:
            return loop.run_until_complete(arun())

    else:
        assert runner.run is not None
        run = runner.run
    run()
    profiler = Profiler(interval=args.interval)
    profiler.start()
    for _ in range(args.streams):
        run()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
