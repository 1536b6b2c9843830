"""`python -m bench [--quick] [--only FIGURES] [--output PATH]`: every figure in one run, as a table.

Prints the markdown table and writes it (with the machine it ran on) to bench/results/latest.md.
The exit status is 0 even when a figure misses its target: the table is the result.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import call_events, cold_start, concurrency, memory, metrics_scrape, per_call, replicas, report, tokens
from bench.harness import HERE
from bench.report import Row


@dataclass(frozen=True)
class Plan:
    cold_runs: int
    call_runs: int
    calls: int
    concurrency_runs: int
    memory_runs: int
    replica_runs: int


FULL = Plan(cold_runs=15, call_runs=5, calls=200, concurrency_runs=5, memory_runs=3, replica_runs=4)
QUICK = Plan(cold_runs=3, call_runs=3, calls=60, concurrency_runs=2, memory_runs=1, replica_runs=2)


def figures(plan: Plan) -> dict[str, Callable[[], list[Row]]]:
    return {
        "cold": lambda: cold_start.run(plan.cold_runs),
        "call": lambda: per_call.run(plan.call_runs, plan.calls),
        "concurrency": lambda: concurrency.run(plan.concurrency_runs),
        "tokens": tokens.run,
        "memory": lambda: memory.run(plan.memory_runs),
        "replicas": lambda: replicas.run(plan.replica_runs),
        "events": lambda: call_events.run(plan.call_runs, plan.calls // 2),
        "metrics": lambda: metrics_scrape.run(plan.call_runs, plan.calls),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of: cold, call, concurrency, tokens, memory, replicas, events, metrics",
    )
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.md", help="where to write the table")
    args = parser.parse_args(argv)

    # The SDK's MCPServer configures INFO logging for the process; the bench's own output is the table.
    logging.basicConfig(level=logging.WARNING, force=True)
    logging.getLogger("httpx2").setLevel(logging.WARNING)

    plan = QUICK if args.quick else FULL
    available = figures(plan)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(available)
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}")

    start = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:
        began = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows += available[name]()
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        print(f"bench: {name} done in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    text = report.document(rows, quick=args.quick, seconds=time.perf_counter() - start)
    report.write(args.output, text)
    report.echo(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
