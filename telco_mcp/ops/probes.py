"""Probes and the metrics endpoint: small ASGI apps the access layer (`access.py`) routes to by exact path.

    GET /healthz   200 while the process serves: no upstream call, no shared-state call
    GET /readyz    200 only when the settings are valid, the shared state answers within READY_TIMEOUT
                   (with TELCO_MCP_STATE_URL), a provider is configured (or the sandbox serves) and the
                   server is not draining; else 503 naming what is missing, and nothing else
    GET /metrics   the Prometheus exposition: with TELCO_MCP_METRICS_TOKEN set, that bearer token; without
                   it, only a loopback socket peer (never an address a forwarded header claims)

None of them needs a Host, Origin or MCP bearer check: a kubelet or balancer probes the pod's address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from starlette.types import Receive, Scope, Send

from telco_mcp.access import BearerToken, LoopbackPeer, Rule
from telco_mcp.errors import StateUnavailable

if TYPE_CHECKING:
    from telco_mcp.runtime import Runtime

logger = logging.getLogger(__name__)

READY_TIMEOUT = 0.5  # seconds the shared state has to answer a readiness probe


async def _answer(send: Send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json(data: dict[str, object]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class Probe:
    """One exact path, GET or HEAD only: `check()` returns what is missing (empty: ready)."""

    def __init__(self, path: str, check: Callable[[], Awaitable[list[str]]]) -> None:
        self.path = path
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await _answer(send, 404, _json({"error": "not found"}))
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _answer(send, 405, _json({"error": "method not allowed"}))
            return
        missing = await self.check()
        if missing:
            await _answer(send, 503, _json({"status": "not ready", "missing": missing}))
        else:
            await _answer(send, 200, _json({"status": "ok"}))


async def _nothing_missing() -> list[str]:
    return []


def healthz() -> Probe:
    return Probe("/healthz", _nothing_missing)


def readyz(runtime: Runtime) -> Probe:
    async def check() -> list[str]:
        missing: list[str] = []
        if runtime.settings.problems():
            missing.append("settings")
        if not runtime.providers:
            missing.append("providers")
        if runtime.draining:
            missing.append("draining")
        if runtime.settings.telco_mcp_state_url is not None and not await _state_answers(runtime):
            missing.append("shared_state")
        return missing

    return Probe("/readyz", check)


async def _state_answers(runtime: Runtime) -> bool:
    with anyio.move_on_after(READY_TIMEOUT):
        try:
            await anyio.to_thread.run_sync(runtime.state_ping, abandon_on_cancel=True)
        except StateUnavailable:
            return False
        return True
    return False


async def serve_metrics(scope: Scope, receive: Receive, send: Send) -> None:
    """`/metrics` (the access layer has admitted the scraper: `metrics_rule`)."""
    if scope["type"] != "http" or scope.get("path") != "/metrics":
        await _answer(send, 404, _json({"error": "not found"}))
        return
    if scope.get("method") not in ("GET", "HEAD"):
        await _answer(send, 405, _json({"error": "method not allowed"}))
        return
    from telco_mcp.ops.metrics import metrics

    body, content_type = metrics().exposition()
    await _answer(send, 200, body, content_type.encode())


def metrics_rule(token: str | None) -> Rule:
    """TELCO_MCP_METRICS_TOKEN as a bearer token; without it, a loopback socket peer only."""
    return BearerToken(token, setting="TELCO_MCP_METRICS_TOKEN") if token else LoopbackPeer()
