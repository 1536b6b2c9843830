"""Replicas: the same client load against one replica and against three, sharing state in Redis.

Three `telco-mcp serve --transport http` processes run against one `redis-server`
(`TELCO_MCP_STATE_URL`, `TELCO_MCP_CONFIRM_SECRET`) and one standalone sandbox with no added
latency, so the work is CPU-bound. The load is `WORKERS` concurrent workers making `CALLS` read
calls in all; "one replica" sends every call to the first process, "three" rotates the workers over
all three (a client-side round robin, so no proxy hop is measured). The two alternate run by run.

On a 2-core machine expect little gain, and say why: the client, the sandbox and the replicas share
the same two cores, so a second and third server process mostly compete for CPU the first one
already had; the figure is the scaling a team would see on hardware with cores to spare only in
direction, not in size. It is reported for information (no target).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path

import anyio
from mcp import Client

from bench.harness import (
    LOOPBACK,
    Stat,
    free_port,
    sandbox_env,
    spawn,
    standalone_sandbox,
    state_dir,
    telco_mcp_command,
    wait_http,
)
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
WORKERS = 30
CALLS = 600
SECRET = "bench-replicas-confirm-secret-0123456789abcdef"


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Debian's `redis-server` on a free loopback port, no persistence; yields its URL."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "the replicas figure needs Debian's redis-server: make replicas (apt-get install redis-server)"
        )
    port = free_port()
    command = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
    with (workdir / "redis.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        with redis.Redis(host=LOOPBACK, port=port) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        yield f"redis://{LOOPBACK}:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def _burst(urls: list[str]) -> float:
    """Seconds for CALLS calls made by WORKERS workers, worker i on urls[i % len(urls)]."""
    failures: list[str] = []
    async with Clients(urls) as clients:
        remaining = CALLS

        async def worker(client: Client) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                result = await client.call_tool(TOOL, {})
                if result.is_error:
                    failures.append(str(result.content)[:300])

        for client in clients:  # warm up each replica's connections and upstream pool
            await client.call_tool(TOOL, {})
        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for i in range(WORKERS):
                tg.start_soon(worker, clients[i % len(clients)])
        elapsed = anyio.current_time() - start
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[0]}")
    return elapsed


class Clients:
    """One MCP client per URL, opened together and closed together."""

    def __init__(self, urls: list[str]) -> None:
        self._urls = urls
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> list[Client]:
        return [await self._stack.enter_async_context(Client(url, read_timeout_seconds=60)) for url in self._urls]

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


def run(runs: int) -> list[Row]:
    one: list[float] = []
    three: list[float] = []
    with (
        state_dir() as tmp,
        standalone_sandbox(tmp) as sandbox_url,
        redis_server(tmp) as redis_url,
        ExitStack() as stack,
    ):
        urls = []
        for i in range(3):
            port = free_port()
            env = sandbox_env(tmp / f"r{i}", sandbox_url) | {
                "TELCO_MCP_STATE_URL": redis_url,
                "TELCO_MCP_CONFIRM_SECRET": SECRET,
            }
            command = telco_mcp_command("serve", "--transport", "http", "--port", str(port))
            process = stack.enter_context(spawn(command, env, tmp / f"replica-{i}.log"))
            url = f"http://{LOOPBACK}:{port}/mcp"
            wait_http(url, process)
            urls.append(url)
        for run_index in range(runs):
            order = [(urls[:1], one), (urls, three)]
            for targets, out in order if run_index % 2 == 0 else order[::-1]:
                out.append(CALLS / anyio.run(_burst, targets))
    return [
        Row(
            figure=f"Replicas: read calls per second, {WORKERS} concurrent workers, {CALLS} calls, three replicas",
            unit="calls/s",
            ours=Stat.of(three),
            reference=Stat.of(one),
            reference_label="the same load against one replica (same processes, Redis state on)",
            ratio=Stat.of([t / o for t, o in zip(three, one, strict=True)]),
            note="2 cores shared by client, sandbox and replicas: see bench/README.md",
        )
    ]
