"""Concurrency: 100 concurrent read calls over streamable HTTP against one such call.

`telco-mcp serve --transport http` runs against a standalone sandbox that adds 100 ms to every
upstream request (`PUT /_sandbox/latency`). If nothing serialises behind one connection or lock,
100 concurrent calls take little more than one; the target is at most 3x.

What is left above one call is CPU: on a 2-core machine the client, the server and the sandbox
share two cores. So the same run also reports, for information,
- the SDK's minimal server whose one tool waits 100 ms instead of calling an upstream (what the
  SDK, the client and this machine allow at best),
- the upstream leg alone: 100 concurrent GETs straight to the sandbox with an `httpx2` client
  pooled like the server's, against one such GET,
- the server process's CPU time per call (from /proc), ours against the SDK's minimal server.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Coroutine
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


@dataclass
class Runs:
    singles: list[float] = field(default_factory=list)  # ms, median of SINGLES sequential calls
    walls: list[float] = field(default_factory=list)  # ms, CONCURRENT calls at once
    cpu_per_call: list[float] = field(default_factory=list)  # ms of the server process, during the burst


async def _runs(one: Callable[[], Coroutine[Any, Any, None]], runs: int, pid: int | None) -> Runs:
    out = Runs()
    with anyio.fail_after(TIMEOUT * (runs + 1)):
        for _ in range(3):  # warm up: connections, the server's upstream pool
            await one()
        for _ in range(runs):
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
    return out


async def _mcp(url: str, tool: str, arguments: dict[str, str], runs: int, pid: int) -> Runs:
    failures: list[str] = []
    async with Client(url, read_timeout_seconds=TIMEOUT) as client:

        async def one() -> None:
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                failures.append(str(result.content)[:300])

        measured = await _runs(one, runs, pid)
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[0]}")
    return measured


async def _upstream(sandbox_url: str, runs: int) -> Runs:
    limits = httpx2.Limits(max_connections=CONCURRENT, max_keepalive_connections=20)
    async with upstream_client(sandbox_url, timeout=TIMEOUT, limits=limits) as http:

        async def one() -> None:
            (await http.get(UPSTREAM_PATH)).raise_for_status()

        return await _runs(one, runs, None)


def _row(figure: str, measured: Runs, *, max_ratio: float | None, label: str) -> Row:
    return Row(
        figure=figure,
        unit="ms",
        ours=Stat.of(measured.walls),
        reference=Stat.of(measured.singles),
        reference_label=label,
        ratio=Stat.of([w / s for w, s in zip(measured.walls, measured.singles, strict=True)]),
        max_ratio=max_ratio,
    )


def run(runs: int) -> list[Row]:
    with state_dir() as tmp:
        with standalone_sandbox(tmp) as sandbox_url, http_server(tmp, sandbox_url) as (mcp_url, pid):
            httpx2.put(sandbox_url + "/_sandbox/latency", json={"ms": LATENCY_MS}, timeout=5).raise_for_status()
            ours = anyio.run(_mcp, mcp_url, TOOL, {}, runs, pid)
            upstream = anyio.run(_upstream, sandbox_url, runs)
        port = free_port()
        env = base_env(tmp) | {"BENCH_ECHO_SLEEP_MS": str(LATENCY_MS)}
        with spawn([*minimal_server_command(), "http", str(port)], env, tmp / "minimal-http.log") as process:
            url = f"http://{LOOPBACK}:{port}/mcp"
            wait_http(url, process)
            floor = anyio.run(_mcp, url, "echo", {"text": "ping"}, runs, process.pid)
    return [
        _row(
            f"Concurrency: {CONCURRENT} concurrent read calls over streamable HTTP, upstream +{LATENCY_MS} ms",
            ours,
            max_ratio=3.0,
            label=f"one such call (median of {SINGLES})",
        ),
        _row(
            f"  same, SDK minimal server whose tool waits {LATENCY_MS} ms (machine + SDK floor)",
            floor,
            max_ratio=None,
            label="one such call",
        ),
        _row(
            f"  the upstream leg alone: {CONCURRENT} concurrent GETs to the sandbox (+{LATENCY_MS} ms) with httpx2",
            upstream,
            max_ratio=None,
            label="one such GET",
        ),
        Row(
            figure=f"  server CPU per call during the {CONCURRENT} concurrent calls",
            unit="ms",
            ours=Stat.of(ours.cpu_per_call),
            reference=Stat.of(floor.cpu_per_call),
            reference_label="the SDK minimal server, same client (its tool makes no upstream request)",
            ratio=Stat.of([o / f for o, f in zip(ours.cpu_per_call, floor.cpu_per_call, strict=True)]),
        ),
    ]
