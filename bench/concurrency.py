"""Concurrency: 100 concurrent read calls over streamable HTTP, against the SDK doing the same work.

`telco-mcp serve --transport http` and the SDK's minimal `MCPServer` (bench/minimal_server.py, its
`sip_profile` tool: the same upstream GET with httpx2) run side by side against one standalone
sandbox that adds 100 ms to every upstream request (`PUT /_sandbox/latency`). Each run fires 100
concurrent calls at each, alternating which goes first (A B B A ...), so load from elsewhere hits
both; the target is at most 1.3x the minimal server's wall time, paired per run.

(The former target, 100 concurrent calls within 3x of one call, cannot be met on two cores: even the
SDK's minimal server takes 3.7x there. The ratio against one call is still reported, for information,
as are the upstream leg alone and the server's CPU time per call.)
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client

from bench.harness import (
    LOOPBACK,
    UPSTREAM_PATH,
    Stat,
    base_env,
    cpu_seconds,
    free_port,
    http_server,
    minimal_server_command,
    spawn,
    standalone_sandbox,
    state_dir,
    upstream_client,
    wait_http,
)
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
LATENCY_MS = 100
CONCURRENT = 100
SINGLES = 5
TIMEOUT = 60.0

Call = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Runs:
    singles: list[float] = field(default_factory=list)  # ms, median of SINGLES sequential calls
    walls: list[float] = field(default_factory=list)  # ms, CONCURRENT calls at once
    cpu_per_call: list[float] = field(default_factory=list)  # ms of the server process, during the burst


async def _one_run(one: Call, pid: int | None, out: Runs) -> None:
    times = []
    for _ in range(SINGLES):
        start = anyio.current_time()
        await one()
        times.append(anyio.current_time() - start)
    out.singles.append(statistics.median(times) * 1000)
    cpu_before = cpu_seconds(pid) if pid else 0.0
    start = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENT):
            tg.start_soon(one)
    out.walls.append((anyio.current_time() - start) * 1000)
    if pid:
        out.cpu_per_call.append((cpu_seconds(pid) - cpu_before) * 1000 / CONCURRENT)


def _caller(client: Client, tool: str, failures: list[str]) -> Call:
    async def one() -> None:
        result = await client.call_tool(tool, {})
        if result.is_error:
            failures.append(str(result.content)[:300])

    return one


async def _paired(ours_url: str, ours_pid: int, floor_url: str, floor_pid: int, runs: int) -> tuple[Runs, Runs]:
    ours, floor = Runs(), Runs()
    failures: list[str] = []
    async with AsyncExitStack() as stack:
        ours_client = await stack.enter_async_context(Client(ours_url, read_timeout_seconds=TIMEOUT))
        floor_client = await stack.enter_async_context(Client(floor_url, read_timeout_seconds=TIMEOUT))
        series = [
            (_caller(ours_client, TOOL, failures), ours_pid, ours),
            (_caller(floor_client, "sip_profile", failures), floor_pid, floor),
        ]
        with anyio.fail_after(TIMEOUT * (runs + 1) * 2):
            for one, _, _ in series:
                for _ in range(3):  # warm up: connections, the servers' upstream pools
                    await one()
            for run in range(runs):
                for one, pid, out in series if run % 2 == 0 else series[::-1]:
                    await _one_run(one, pid, out)
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[0]}")
    return ours, floor


async def _upstream(sandbox_url: str, runs: int) -> Runs:
    limits = httpx2.Limits(max_connections=CONCURRENT, max_keepalive_connections=20)
    out = Runs()
    async with upstream_client(sandbox_url, timeout=TIMEOUT, limits=limits) as http:

        async def one() -> None:
            (await http.get(UPSTREAM_PATH)).raise_for_status()

        with anyio.fail_after(TIMEOUT * (runs + 1)):
            for _ in range(runs):
                await _one_run(one, None, out)
    return out


def run(runs: int) -> list[Row]:
    with state_dir() as tmp, standalone_sandbox(tmp) as sandbox_url:
        httpx2.put(sandbox_url + "/_sandbox/latency", json={"ms": LATENCY_MS}, timeout=5).raise_for_status()
        port = free_port()
        env = base_env(tmp) | {"BENCH_UPSTREAM_URL": sandbox_url}
        with (
            http_server(tmp, sandbox_url) as (ours_url, ours_pid),
            spawn([*minimal_server_command(), "http", str(port)], env, tmp / "minimal-http.log") as floor_process,
        ):
            floor_url = f"http://{LOOPBACK}:{port}/mcp"
            wait_http(floor_url, floor_process)
            ours, floor = anyio.run(_paired, ours_url, ours_pid, floor_url, floor_process.pid, runs)
            upstream = anyio.run(_upstream, sandbox_url, runs)
    one_call = f"one call (median of {SINGLES})"
    return [
        _row(
            f"Concurrency: {CONCURRENT} concurrent read calls over streamable HTTP, upstream +{LATENCY_MS} ms",
            ours.walls,
            floor.walls,
            "the same burst against the SDK minimal MCPServer making the same upstream GET with httpx2, interleaved",
            max_ratio=1.3,
        ),
        _row("  same burst against one such call (the former target, ≤ 3x)", ours.walls, ours.singles, one_call),
        _row(
            "  the minimal server's burst against one of its calls (what the SDK and the machine allow)",
            floor.walls,
            floor.singles,
            one_call,
        ),
        _row(
            f"  the upstream leg alone: {CONCURRENT} concurrent GETs (+{LATENCY_MS} ms) with httpx2",
            upstream.walls,
            upstream.singles,
            "one such GET",
        ),
        _row(
            f"  server CPU per call during the {CONCURRENT} concurrent calls",
            ours.cpu_per_call,
            floor.cpu_per_call,
            "the SDK minimal server, same client, same upstream GET",
        ),
    ]


def _row(figure: str, ours: list[float], reference: list[float], label: str, max_ratio: float | None = None) -> Row:
    return Row(
        figure=figure,
        unit="ms",
        ours=Stat.of(ours),
        reference=Stat.of(reference),
        reference_label=label,
        ratio=Stat.of([o / r for o, r in zip(ours, reference, strict=True)]),
        max_ratio=max_ratio,
    )
