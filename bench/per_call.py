"""Per-call overhead: one read tool call over stdio, against the two floors it is built on.

* ours: `signalwire_get_sip_profile` through an MCP stdio client to `telco-mcp serve`, whose
  upstream is a standalone sandbox (`telco-mcp sandbox`) on a loopback port;
* SDK floor: a trivial `echo` tool of the minimal `MCPServer`, same client, same transport;
* upstream floor: the same upstream GET made directly with a keep-alive `httpx2.AsyncClient`.

The three are called round-robin, one of each per iteration, so drift hits all alike. Each run
yields a median and a p95 per series; the ratio is ours / (SDK floor + upstream floor).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters, stdio_client

from bench.harness import (
    UPSTREAM_PATH,
    Stat,
    base_env,
    minimal_server_command,
    percentile,
    sandbox_env,
    standalone_sandbox,
    state_dir,
    telco_mcp_command,
    upstream_client,
)
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
WARMUP = 30

Series = dict[str, list[float]]


def _params(command: list[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


async def _measure(workdir: Path, sandbox_url: str, runs: int, calls: int) -> list[Series]:
    ours_params = _params(telco_mcp_command("serve"), sandbox_env(workdir, sandbox_url))
    floor_params = _params(minimal_server_command(), base_env(workdir))
    with (workdir / "stdio-ours.log").open("w") as ours_log, (workdir / "stdio-floor.log").open("w") as floor_log:
        async with (
            Client(stdio_client(ours_params, errlog=ours_log), read_timeout_seconds=30) as ours,
            Client(stdio_client(floor_params, errlog=floor_log), read_timeout_seconds=30) as floor,
            upstream_client(sandbox_url, timeout=30) as upstream,
        ):

            async def call_ours() -> None:
                result = await ours.call_tool(TOOL, {})
                if result.is_error:
                    raise RuntimeError(f"{TOOL} failed: {result.content!r:.300}")

            async def call_floor() -> None:
                result = await floor.call_tool("echo", {"text": "ping"})
                if result.is_error:
                    raise RuntimeError(f"echo failed: {result.content!r:.300}")

            async def call_upstream() -> None:
                (await upstream.get(UPSTREAM_PATH)).raise_for_status()

            series: dict[str, Callable[[], Awaitable[None]]] = {
                "ours": call_ours,
                "sdk": call_floor,
                "upstream": call_upstream,
            }
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
        floors = [percentile(s["sdk"], q) + percentile(s["upstream"], q) for s in measured]
        sdk = [percentile(s["sdk"], q) for s in measured]
        upstream = [percentile(s["upstream"], q) for s in measured]
        rows.append(
            Row(
                figure=f"Per-call {label}: read tool over stdio",
                unit="ms",
                ours=Stat.of(ours),
                reference=Stat.of(floors),
                reference_label=(
                    f"SDK echo floor {Stat.of(sdk).median:.2f} ms + upstream httpx2 floor "
                    f"{Stat.of(upstream).median:.2f} ms"
                ),
                ratio=Stat.of([o / f for o, f in zip(ours, floors, strict=True)]),
                max_ratio=1.2,
                note=f"{calls} calls × {runs} runs",
            )
        )
    return rows
