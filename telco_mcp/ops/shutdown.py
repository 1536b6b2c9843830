"""Graceful shutdown of the HTTP transports: drain first, then uvicorn's own graceful exit.

uvicorn closes its listening socket as soon as SIGTERM arrives, so a balancer still sending traffic gets
connection errors instead of a 503 it could act on. `DrainingServer` handles the first SIGTERM itself:

  1. the runtime is marked draining: `/readyz` answers 503; a request that would open a new MCP session
     (2025-11-25 `initialize`, anything without `Mcp-Session-Id`, i.e. every 2026-07-28 request, and a new
     legacy SSE stream) gets a JSON-RPC error saying the server is stopping; calls in flight, and requests
     of sessions already open, continue;
  2. the server keeps listening for TELCO_MCP_SHUTDOWN_DRAIN seconds, so balancers see the 503;
  3. then uvicorn's exit runs with `timeout_graceful_shutdown` = TELCO_MCP_SHUTDOWN_GRACE: it stops
     accepting, waits for the requests in flight, then closes what is left.

A second SIGTERM or SIGINT (Ctrl-C) skips the drain, as uvicorn's own does. A write cut by the grace
period between its intent line and its answer stays `unknown` in the audit log; a write not yet sent
when draining began is sent only if its request was already in flight.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from telco_mcp.runtime import Runtime

logger = logging.getLogger(__name__)

STOPPING = -32000  # JSON-RPC server error: the server is stopping


class DrainGate:
    """In front of the MCP transport: while draining, no new session and no new sessionless request."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.runtime.draining and _opens_something(scope):
            await _refuse(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers") or [] if k.lower() == name), None)


def _opens_something(scope: Scope) -> bool:
    method, path = scope.get("method"), scope.get("path", "")
    if path.startswith("/messages"):  # legacy SSE: a message for a stream that is already open
        return False
    if method == "GET" and path.startswith("/sse"):
        return True
    return method == "POST" and _header(scope, b"mcp-session-id") is None


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    request_id: Any = None
    if scope.get("method") == "POST":
        body, more = b"", True
        while more and len(body) <= 65536:  # enough to find the id of any request worth answering
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            parsed = json.loads(body)
            request_id = parsed.get("id") if isinstance(parsed, dict) else None
        except ValueError:
            request_id = None
    payload = {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": STOPPING, "message": "the server is stopping: send this request again (another replica "
                  "will answer it)"},
    }  # fmt: skip
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def draining_server(config: Any, runtime: Runtime, drain: float, started: Callable[[], None] | None = None) -> Any:
    """A `uvicorn.Server` whose first SIGTERM drains for `drain` seconds before uvicorn's graceful exit.

    `started` runs once the application has started, with uvicorn's signal handlers in place: a "serving on"
    line said there means Ctrl-C from then on is a clean stop."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        _drain_until: float | None = None

        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if started is not None and not self.should_exit:
                started()

        def handle_exit(self, sig: int, frame: Any) -> None:
            runtime.draining = True
            if sig != signal.SIGTERM:  # Ctrl-C: uvicorn's own way (a second one forces the exit)
                super().handle_exit(sig, frame)
                return
            if self._drain_until is None and drain > 0 and not self.should_exit:
                self._drain_until = time.monotonic() + drain
                logger.warning(
                    "SIGTERM: draining for %g s (readiness 503, no new sessions), then stopping within %g s",
                    drain,
                    config.timeout_graceful_shutdown or 0,
                )
                return
            # Stop now. Not recorded as a captured signal: uvicorn would raise it again after its graceful exit,
            # and the process would die of SIGTERM instead of exiting 0 after a clean stop.
            self.should_exit = True

        async def on_tick(self, counter: int) -> bool:
            if self._drain_until is not None and time.monotonic() >= self._drain_until:
                self.should_exit = True
            return await super().on_tick(counter)

    return DrainingServer(config)
