"""`python -m bench` runs every benchmark; `python -m bench NAME [NAME ...]` runs the named ones."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "relay": "bench.relay",
    "roster": "bench.roster",
    "pages": "bench.pages",
    "redis": "bench.redis_relay",
    "idle": "bench.idle",
    "call": "bench.call_setup",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"=== {name} ===", flush=True)
        status |= importlib.import_module(BENCHMARKS[name]).main()
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
