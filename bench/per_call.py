"""Per-call overhead: one read tool call over stdio, against one interleaved floor.

* ours: `signalwire_get_sip_profile` through an MCP stdio client to `telco-mcp serve`, whose
  upstream is a standalone sandbox (`telco-mcp sandbox`) on a loopback port;
* floor: the minimal `MCPServer`'s `sip_profile` tool, which makes the same upstream GET with a
  keep-alive `httpx2.AsyncClient` against the same sandbox, over the same client and transport.

The two are called alternately, one of each per iteration, so drift hits both alike. Each run
yields a median and a p95 per series; the ratio is ours / floor. (It replaces the sum of two
separately measured floors, an SDK echo plus a direct GET, which came out above our own figure.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters, stdio_client

from bench.harness import (
    Stat,
    base_env,
    minimal_server_command,
    percentile,
    sandbox_env,
    standalone_sandbox,
    state_dir,
    telco_mcp_command,
)
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
WARMUP = 30

Series = dict[str, list[float]]


def _params(command: list[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


async def _measure(workdir: Path, sandbox_url: str, runs: int, calls: int) -> list[Series]:
    ours_params = _params(telco_mcp_command("serve"), sandbox_env(workdir, sandbox_url))
    floor_params = _params(minimal_server_command(), base_env(workdir) | {"BENCH_UPSTREAM_URL": sandbox_url})
    with (workdir / "stdio-ours.log").open("w") as ours_log, (workdir / "stdio-floor.log").open("w") as floor_log:
        async with (
            Client(stdio_client(ours_params, errlog=ours_log), read_timeout_seconds=30) as ours,
            Client(stdio_client(floor_params, errlog=floor_log), read_timeout_seconds=30) as floor,
        ):

            async def call_ours() -> None:
                result = await ours.call_tool(TOOL, {})
                if result.is_error:
                    raise RuntimeError(f"{TOOL} failed: {result.content!r:.300}")

            async def call_floor() -> None:
                result = await floor.call_tool("sip_profile", {})
                if result.is_error:
                    raise RuntimeError(f"sip_profile failed: {result.content!r:.300}")

            series: dict[str, Callable[[], Awaitable[None]]] = {"ours": call_ours, "floor": call_floor}
            for _ in range(WARMUP):
                for fn in series.values():
                    await fn()
            results: list[Series] = []
            for _ in range(runs):
                samples: Series = {name: [] for name in series}
                for _ in range(calls):
                    for name, fn in series.items():
                        start = anyio.current_time()
                        await fn()
                        samples[name].append((anyio.current_time() - start) * 1000)
                results.append(samples)
            return results


def run(runs: int, calls: int) -> list[Row]:
    with state_dir() as tmp, standalone_sandbox(tmp) as sandbox_url:
        measured = anyio.run(_measure, tmp, sandbox_url, runs, calls)
    rows: list[Row] = []
    for label, q in (("median", 50.0), ("p95", 95.0)):
        ours = [percentile(s["ours"], q) for s in measured]
        floors = [percentile(s["floor"], q) for s in measured]
        rows.append(
            Row(
                figure=f"Per-call {label}: read tool over stdio",
                unit="ms",
                ours=Stat.of(ours),
                reference=Stat.of(floors),
                reference_label="SDK minimal MCPServer making the same upstream GET with httpx2, interleaved",
                ratio=Stat.of([o / f for o, f in zip(ours, floors, strict=True)]),
                max_ratio=1.2,
                note=f"{calls} calls × {runs} runs",
            )
        )
    return rows
