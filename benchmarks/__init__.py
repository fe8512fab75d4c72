"""spanstream's benchmark harness: ``python -m benchmarks`` (``make bench``); see README.md."""
