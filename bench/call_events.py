"""Call events: from the sandbox's webhook POST to the waiting tool's result, against a bare floor.

* ours: `sipgate_wait_for_call_event` is waiting (called through the SDK's in-memory client); the
  sandbox rings an inbound call and POSTs its `newCall` webhook over loopback to the server's HTTP
  app (`telco-mcp serve --transport http`'s, under uvicorn), whose receiver answers, records the
  event and wakes the waiting tool. Timed from just before the sandbox starts its POST until the
  client has the tool's result. The MCP transport is left out on purpose: what a tool call costs
  over stdio or HTTP is the per-call figure's (over streamable HTTP within one process every tool
  call took ~45 ms here, far more than the whole path measured, and would hide it).
* floor: the same loopback POST, made with the same `httpx2` client library, to a bare Starlette
  route that sets an `asyncio.Event` a task is waiting on. Timed from just before the POST until
  that task wakes: what a webhook costs on this machine at the least.

Both run in this one process and event loop (servers under uvicorn on free loopback ports), one of
each per iteration in alternating order (A B B A ...), so that load from elsewhere hits both.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import uvicorn
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.harness import LOOPBACK, Stat, state_dir
from bench.report import Row

WAIT = "sipgate_wait_for_call_event"
CALLER = "+49 30 1234567"
WARMUP = 10
TIMEOUT = 30.0


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def _served(app: Any, lifespan: Literal["on", "off"]) -> AsyncIterator[str]:
    """`app` under uvicorn on a free loopback port of this event loop; yields its base URL."""
    sock = _socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan=lifespan, log_config=None))
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: server.serve(sockets=[sock]))
        with anyio.fail_after(TIMEOUT):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
    sock.close()


# ------------------------------------------------------------------ the floor
class Floor:
    """A bare webhook: POST sets an asyncio.Event; the waiter notes when it woke."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        await request.body()
        self.event.set()
        return Response(status_code=200)

    async def once(self, client: httpx2.AsyncClient, url: str) -> float:
        self.event.clear()
        woke: list[float] = []

        async def waiter() -> None:
            await self.event.wait()
            woke.append(anyio.current_time())

        start = 0.0
        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.sleep(0)  # the waiter is waiting
            start = anyio.current_time()
            response = await client.post(url, data={"event": "newCall", "callId": "F1"})
            response.raise_for_status()
        return (woke[0] - start) * 1000


# ------------------------------------------------------------------ ours
async def _ours_once(client: Client, runtime: Any, last: int) -> tuple[float, int]:
    done: list[Any] = []
    start = 0.0

    async def wait() -> None:
        args = {"direction": "in", "events": ["newCall"], "after_sequence": last, "timeout_seconds": 10}
        done.append(await client.call_tool(WAIT, args))
        done.append(anyio.current_time())

    relay_only = runtime.events.subscribers  # the server's own relay of resource notifications
    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        with anyio.fail_after(TIMEOUT):
            while runtime.events.subscribers <= relay_only:  # the tool is waiting before the call rings
                await anyio.sleep(0.001)
        start = anyio.current_time()
        await runtime.sandbox.ring(CALLER)
    result, finished = done
    if result.is_error or result.structured_content["status"] != "event":
        raise RuntimeError(f"{WAIT} did not return the event: {result.content!r:.300}")
    return (finished - start) * 1000, int(result.structured_content["event"]["sequence"])


async def _measure(workdir: Path, runs: int, calls: int) -> list[dict[str, list[float]]]:
    import os

    os.environ["XDG_STATE_HOME"] = str(workdir / "state")  # the webhook secret is kept there
    from telco_mcp.server import build_server
    from telco_mcp.settings import Settings
    from telco_mcp.transports import http_app

    settings = Settings(_env_file=None, telco_mcp_audit_log=workdir / "audit.jsonl")  # pyright: ignore[reportCallIssue]
    server = build_server(settings)
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    app = http_app(server, runtime.settings, transport="http", host=LOOPBACK, port=0)
    floor = Floor()
    async with _served(app, "on") as base, _served(floor.app, "off") as floor_base:
        # The sandbox posts over real loopback to the server's receiver (not in-process as when embedded).
        runtime.sandbox.configure_push(base + runtime.webhooks.path)
        async with Client(server) as client, httpx2.AsyncClient(trust_env=False) as http:
            last = 0
            series: dict[str, Callable[[], Awaitable[float]]] = {}

            async def ours() -> float:
                nonlocal last
                elapsed, last = await _ours_once(client, runtime, last)
                return elapsed

            series = {"ours": ours, "floor": lambda: floor.once(http, floor_base + "/hook")}
            for _ in range(WARMUP):
                for fn in series.values():
                    await fn()
            results: list[dict[str, list[float]]] = []
            for _ in range(runs):
                samples: dict[str, list[float]] = {name: [] for name in series}
                for i in range(calls):
                    order = list(series.items()) if i % 2 == 0 else list(reversed(series.items()))
                    for name, fn in order:
                        samples[name].append(await fn())
                results.append(samples)
    return results


def run(runs: int, calls: int) -> list[Row]:
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    with state_dir() as tmp:
        measured = anyio.run(_measure, tmp, runs, calls)
    ours = [statistics.median(s["ours"]) for s in measured]
    floors = [statistics.median(s["floor"]) for s in measured]
    return [
        Row(
            figure="Call event: sandbox webhook POST → waiting tool's result",
            unit="ms",
            ours=Stat.of(ours),
            reference=Stat.of(floors),
            reference_label="loopback POST to a bare Starlette route setting an asyncio.Event (httpx2, uvicorn)",
            ratio=Stat.of([o / f for o, f in zip(ours, floors, strict=True)]),
            note=f"median of {calls} events × {runs} runs",
        )
    ]


if __name__ == "__main__":
    from bench.report import table

    print(table(run(2, 20)))
