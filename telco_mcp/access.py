"""One per-route access layer for the HTTP app: each path prefix names its app and its rule.

    /approvals/   the approval page: its own rule (launch-code cookie or approver PIN, CSRF-checked
                  same-origin form POSTs), so no bearer token: a person's browser has none
    /api/approvals  with OAuth only: the authenticated approval API, each approver with their own
                  access token (`approval/remote.py`)
    everything    the MCP transports (/mcp, /sse, /messages/): the static bearer token when one is set;
                  with OAuth the SDK's middleware inside the MCP app checks the access token and serves
                  the Protected Resource Metadata (`oauth.py`)

Later routes (webhooks behind a secret path, health and metrics) are added as entries here, not
as another middleware around the whole app. The longest matching prefix wins; lifespan events go
to the default app (the MCP transport's, which owns the server's lifespan).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from telco_mcp.errors import ConfigError

logger = logging.getLogger(__name__)


class Rule(Protocol):
    """Decides whether a request may reach its app; answers the refusal itself when not."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> bool: ...


class OwnAuth:
    """The app authenticates its requests itself (the approval page)."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _digest(value: bytes) -> bytes:
    # Comparing fixed-length digests keeps even the token's length out of the timing.
    return hashlib.sha256(value).digest()


class BearerToken:
    """`Authorization: Bearer <token>`, compared in constant time; websockets are refused outright."""

    def __init__(self, token: str, *, setting: str = "TELCO_MCP_HTTP_TOKEN") -> None:
        if not token:
            raise ConfigError(f"{setting} is empty; set a long random value")
        self._expected = _digest(token.encode())

    def _authorized(self, scope: Scope) -> bool:
        values = [v for k, v in scope.get("headers") or [] if k.lower() == b"authorization"]
        if len(values) != 1:
            supplied = b""
        else:
            scheme, _, credentials = values[0].strip().partition(b" ")
            supplied = credentials.strip() if scheme.lower() == b"bearer" else b""
        # Always compare, so a missing header costs the same as a wrong one.
        return hmac.compare_digest(_digest(supplied), self._expected)

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        if self._authorized(scope):
            return True
        client = scope.get("client")
        logger.warning(
            "401: missing or wrong bearer token for %s %s from %s",
            scope.get("method", "WEBSOCKET"),
            scope.get("path", "?"),
            client[0] if client else "?",
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return False
        body = b'{"error":"invalid_token","error_description":"missing or wrong bearer token"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="telco-mcp", error="invalid_token"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return False


class LoopbackPeer:
    """Only a loopback socket peer: the address uvicorn accepted the connection from, never one a
    forwarded header names (uvicorn runs with proxy_headers=False)."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        peer = scope.get("client")
        if peer and is_loopback(str(peer[0])):
            return True
        body = b'{"error":"forbidden","error_description":"served to loopback only"}'
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return False


@dataclass(frozen=True)
class Entry:
    prefix: str  # "" matches everything
    app: ASGIApp
    rule: Rule


class AccessRouter:
    """Dispatch each request to the entry with the longest matching path prefix, after its rule."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: len(e.prefix), reverse=True)
        if not any(e.prefix == "" for e in self.entries):
            raise ValueError("an access router needs a default entry (prefix '')")

    def route(self, path: str) -> Entry:
        return next(e for e in self.entries if path == e.prefix.rstrip("/") or path.startswith(e.prefix))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self.route(scope.get("path", "")) if scope["type"] in ("http", "websocket") else self.route("")
        if scope["type"] in ("http", "websocket") and not await entry.rule.admit(scope, receive, send):
            return
        await entry.app(scope, receive, send)
