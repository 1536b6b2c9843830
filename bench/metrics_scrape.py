"""Per-call latency while Prometheus scrapes `/metrics` every second, against the same server unscraped.

Two `telco-mcp serve --transport http` processes against one standalone sandbox: one is scraped once a
second for the whole run (as a Prometheus with a 1 s interval would), the other never. One read tool call
each, alternately, so drift hits both alike; the ratio is scraped / unscraped median. Target: ≤ 1.05x.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import anyio
import httpx2
from mcp import Client

from bench.harness import Stat, http_server, percentile, standalone_sandbox, state_dir
from bench.report import Row

TOOL = "signalwire_get_sip_profile"
WARMUP = 30
TIMEOUT = 30.0


async def _measure(scraped_url: str, plain_url: str, runs: int, calls: int) -> tuple[list[float], list[float], int]:
    scrapes = 0
    metrics_url = scraped_url.removesuffix("/mcp") + "/metrics"

    async def scrape_every_second() -> None:
        nonlocal scrapes
        async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
            while True:
                answer = await http.get(metrics_url)
                answer.raise_for_status()
                scrapes += 1
                await anyio.sleep(1.0)

    scraped_medians: list[float] = []
    plain_medians: list[float] = []
    async with (
        Client(scraped_url, read_timeout_seconds=TIMEOUT) as scraped,
        Client(plain_url, read_timeout_seconds=TIMEOUT) as plain,
        anyio.create_task_group() as group,
    ):
        group.start_soon(scrape_every_second)
        clients = {"scraped": scraped, "plain": plain}
        for _ in range(WARMUP):
            for client in clients.values():
                await client.call_tool(TOOL, {})
        for _ in range(runs):
            samples: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(calls):
                for name, client in clients.items():
                    start = anyio.current_time()
                    result = await client.call_tool(TOOL, {})
                    samples[name].append((anyio.current_time() - start) * 1000)
                    if result.is_error:
                        raise RuntimeError(f"{TOOL} failed: {result.content!r:.300}")
            scraped_medians.append(percentile(samples["scraped"], 50.0))
            plain_medians.append(percentile(samples["plain"], 50.0))
        group.cancel_scope.cancel()
    return scraped_medians, plain_medians, scrapes


def run(runs: int, calls: int) -> list[Row]:
    with state_dir() as tmp, standalone_sandbox(tmp) as sandbox_url, ExitStack() as stack:
        (tmp / "scraped").mkdir()
        (tmp / "plain").mkdir()
        scraped_url, _ = stack.enter_context(http_server(Path(tmp / "scraped"), sandbox_url))
        plain_url, _ = stack.enter_context(http_server(Path(tmp / "plain"), sandbox_url))
        scraped, plain, scrapes = anyio.run(_measure, scraped_url, plain_url, runs, calls)
    if scrapes == 0:
        raise RuntimeError("/metrics was never scraped")
    return [
        Row(
            figure="Per-call median with /metrics scraped every second: read tool over streamable HTTP",
            unit="ms",
            ours=Stat.of(scraped),
            reference=Stat.of(plain),
            reference_label="the same server, unscraped, interleaved",
            ratio=Stat.of([s / p for s, p in zip(scraped, plain, strict=True)]),
            max_ratio=1.05,
            note=f"{calls} calls × {runs} runs, {scrapes} scrapes",
        )
    ]
