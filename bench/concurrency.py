"""Concurrency: 100 concurrent read calls over streamable HTTP against one such call.

`telco-mcp serve --transport http` runs against a standalone sandbox that adds 100 ms to every
upstream request (`PUT /_sandbox/latency`). If nothing serialises behind one connection or lock,
100 concurrent calls take little more than one; the target is at most 3x.

For scale, the same experiment runs against the SDK's minimal server whose one tool waits 100 ms
instead of calling an upstream: what the SDK, the client and this machine allow at best.
"""

from __future__ import annotations

import statistics

import anyio
import httpx2
from mcp import Client

from bench.harness import (
    LOOPBACK,
    Stat,
    base_env,
    free_port,
    http_server,
    minimal_server_command,
    spawn,
    standalone_sandbox,
    state_dir,
    wait_http,
)
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
LATENCY_MS = 100
CONCURRENT = 100
SINGLES = 5
TIMEOUT = 60.0


async def _measure(mcp_url: str, tool: str, arguments: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    singles: list[float] = []
    walls: list[float] = []
    failures: list[str] = []
    async with Client(mcp_url, read_timeout_seconds=TIMEOUT) as client:

        async def one() -> None:
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                failures.append(str(result.content)[:300])

        with anyio.fail_after(TIMEOUT * (runs + 1)):
            for _ in range(3):  # warm up: connections, the server's upstream pool
                await one()
            for _ in range(runs):
                times = []
                for _ in range(SINGLES):
                    start = anyio.current_time()
                    await one()
                    times.append(anyio.current_time() - start)
                singles.append(statistics.median(times) * 1000)
                start = anyio.current_time()
                async with anyio.create_task_group() as tg:
                    for _ in range(CONCURRENT):
                        tg.start_soon(one)
                walls.append((anyio.current_time() - start) * 1000)
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[0]}")
    return singles, walls


def _row(figure: str, singles: list[float], walls: list[float], *, max_ratio: float | None, label: str) -> Row:
    return Row(
        figure=figure,
        unit="ms",
        ours=Stat.of(walls),
        reference=Stat.of(singles),
        reference_label=label,
        ratio=Stat.of([w / s for w, s in zip(walls, singles, strict=True)]),
        max_ratio=max_ratio,
    )


def run(runs: int) -> list[Row]:
    with state_dir() as tmp:
        with standalone_sandbox(tmp) as sandbox_url, http_server(tmp, sandbox_url) as mcp_url:
            httpx2.put(sandbox_url + "/_sandbox/latency", json={"ms": LATENCY_MS}, timeout=5).raise_for_status()
            ours = anyio.run(_measure, mcp_url, TOOL, {}, runs)
        port = free_port()
        env = base_env(tmp) | {"BENCH_ECHO_SLEEP_MS": str(LATENCY_MS)}
        with spawn([*minimal_server_command(), "http", str(port)], env, tmp / "minimal-http.log") as process:
            url = f"http://{LOOPBACK}:{port}/mcp"
            wait_http(url, process)
            floor = anyio.run(_measure, url, "echo", {"text": "ping"}, runs)
    return [
        _row(
            f"Concurrency: {CONCURRENT} concurrent read calls over streamable HTTP, upstream +{LATENCY_MS} ms",
            *ours,
            max_ratio=3.0,
            label=f"one such call (median of {SINGLES})",
        ),
        _row(
            f"  same, SDK minimal server whose tool waits {LATENCY_MS} ms (machine + SDK floor)",
            *floor,
            max_ratio=None,
            label="one such call",
        ),
    ]
