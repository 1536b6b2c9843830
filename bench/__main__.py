"""`python -m bench [--quick] [--only FIGURES] [--output PATH]`: every figure in one run, as a table.

Prints the markdown table and writes it (with the machine it ran on) to bench/results/latest.md.
The exit status is 0 even when a figure misses its target: the table is the result. A figure that
could not be measured (it raised, or a child timed out) is marked FAILED in its row with the reason,
the other figures are still measured and the table still written; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import (
    call_events,
    cold_start,
    concurrency,
    memory,
    metrics_scrape,
    per_call,
    replicas,
    report,
    stdio_exit,
    tokens,
)
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
        "exit": lambda: stdio_exit.run(plan.cold_runs),
    }


# What a figure's row is called when it failed before it could name its rows.
TITLES = {
    "cold": "Cold start: spawn → tools/list over stdio",
    "call": "Per-call: read tool over stdio",
    "concurrency": "Concurrency: 100 concurrent read calls over streamable HTTP",
    "tokens": "Tokens",
    "memory": "Memory: RSS after 10,000 in-process tool calls",
    "replicas": "Replicas: read calls per second",
    "events": "Call event: sandbox webhook POST → waiting tool's result",
    "metrics": "Per-call median with /metrics scraped every second",
    "exit": stdio_exit.FIGURE,
}


def why_failed(exc: BaseException) -> str:
    """One line for a figure that raised: a timeout says after how long."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"timeout after {exc.timeout:.0f} s"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return f"timeout: {text}"[:200]
    return f"{type(exc).__name__}: {text}"[:200].replace("|", "/")


def measure(names: list[str], available: dict[str, Callable[[], list[Row]]]) -> list[Row]:
    """Every figure in turn; one that raises becomes a FAILED row and the next one is measured."""
    rows: list[Row] = []
    for name in names:
        began = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            rows += available[name]()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            rows.append(Row.failure(TITLES.get(name, name), why_failed(exc)))
            print(f"bench: {name} FAILED after {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
            continue
        finally:
            logging.getLogger("httpx2").setLevel(logging.WARNING)
        print(f"bench: {name} done in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of: cold, call, concurrency, tokens, memory, replicas, events, metrics, exit",
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
    rows = measure(chosen, available)
    text = report.document(rows, quick=args.quick, seconds=time.perf_counter() - start)
    report.write(args.output, text)
    report.echo(text)
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
