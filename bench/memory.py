"""Memory: resident set size after 10,000 in-process tool calls against after 1,000.

Each run is a fresh child process (`python -m bench.memory --worker`) that builds the server on the
embedded sandbox, connects the SDK's in-memory client and calls two read tools alternately,
reading its own RSS from /proc after 1,000 and after 10,000 calls. Target: within 10%.

The embedded sandbox records every upstream request it serves (`Sandbox.requests`, its test log).
The main figure trims that log every 500 calls, so it measures the server; a second figure leaves
it alone, i.e. `telco-mcp serve` in sandbox mode exactly as shipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys

from bench.harness import HERE, Stat, base_env, rss_kib, state_dir, time_budget
from bench.report import Row

CHECKPOINTS = (1_000, 10_000)
TOOLS = ("signalwire_get_sip_profile", "sipgate_list_calls")
TRIM_EVERY = 500
SECONDS_PER_CALL = 0.02  # several times a read call (per-call p95 over stdio is about 3 ms), plus start-up


async def _worker(trim: bool) -> dict[int, int]:
    from mcp import Client

    from telco_mcp.server import build_server
    from telco_mcp.settings import Settings

    server = build_server(Settings(_env_file=None, telco_mcp_sandbox=True))  # pyright: ignore[reportCallIssue]
    logging.disable(logging.INFO)  # the SDK configures INFO logging; one line per request is not the point here
    sandbox = server.telco_runtime.sandbox  # pyright: ignore[reportAttributeAccessIssue]
    rss: dict[int, int] = {}
    async with Client(server) as client:
        for i in range(1, CHECKPOINTS[-1] + 1):
            result = await client.call_tool(TOOLS[i % len(TOOLS)], {})
            if result.is_error:
                raise RuntimeError(f"call {i} failed: {result.content!r:.300}")
            if trim and i % TRIM_EVERY == 0:
                sandbox.requests.clear()
            if i in CHECKPOINTS:
                rss[i] = rss_kib()
    return rss


def _run_worker(trim: bool) -> dict[int, int]:
    with state_dir() as tmp:
        command = [sys.executable, "-m", "bench.memory", "--worker"] + (["--trim"] if trim else [])
        done = subprocess.run(
            command,
            env=base_env(tmp),
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=time_budget(CHECKPOINTS[-1], SECONDS_PER_CALL, floor=60),
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"memory worker failed ({done.returncode}): {done.stderr[-2000:]}")
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def run(runs: int) -> list[Row]:
    rows = []
    for trim, figure in (
        (True, "Memory: RSS after 10,000 in-process tool calls (sandbox request log trimmed)"),
        (False, "Memory: same, embedded sandbox as shipped (request log kept)"),
    ):
        results = [_run_worker(trim) for _ in range(runs)]
        first = [r[CHECKPOINTS[0]] / 1024 for r in results]
        last = [r[CHECKPOINTS[-1]] / 1024 for r in results]
        rows.append(
            Row(
                figure=figure,
                unit="MiB",
                ours=Stat.of(last),
                reference=Stat.of(first),
                reference_label="RSS after 1,000 calls",
                ratio=Stat.of([b / a for a, b in zip(first, last, strict=True)]),
                max_ratio=1.10,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help="run one measurement in this process")
    parser.add_argument("--trim", action="store_true", help="trim the sandbox request log every 500 calls")
    args = parser.parse_args()
    if not args.worker:
        parser.error("run `python -m bench` for the table; --worker is one measurement")
    import anyio

    rss = anyio.run(_worker, args.trim)
    print(json.dumps(rss))


if __name__ == "__main__":
    main()
