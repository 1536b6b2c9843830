"""One per-route access layer for the HTTP app: each path prefix names its app and its rule.

    /approvals/   the approval page: its own rule (launch-code cookie or approver PIN, CSRF-checked
                  same-origin form POSTs), so no bearer token: a person's browser has none
    /api/approvals  with OAuth only: the authenticated approval API, each approver with their own
                  access token (`approval/remote.py`)
    /_sandbox/    the embedded sandbox's admin API (no credentials only): the MCP paths' bearer token when one
                  is set, the MCP endpoint's Host/Origin checks; with OAuth mounted on loopback binds only
    everything    the MCP transports (/mcp, /sse, /messages/): the static bearer token when one is set;
                  with OAuth the SDK's middleware inside the MCP app checks the access token and serves
                  the Protected Resource Metadata (`oauth.py`)
    /healthz, /readyz  probes (`ops/probes.py`): no Host, Origin or token check (a kubelet probes the pod IP)
    /metrics      Prometheus: TELCO_MCP_METRICS_TOKEN as a bearer, or without it a loopback socket peer only
    /webhooks/    sipgate's pushes: the secret path is the credential (`events/receiver.py`)

Later routes are added as entries here, not as another middleware around the whole app. The longest
matching prefix wins; lifespan events go to the default app (the MCP transport's, which owns the
server's lifespan).

Forwarded headers: every listener (the HTTP app, the stdio webhook and approval page listeners, the
standalone sandbox) runs uvicorn with `proxy_headers=False` and its app inside `ForwardedHeaders`,
which applies `X-Forwarded-For` and `X-Forwarded-Proto` only when the socket peer is one of
`TELCO_MCP_TRUSTED_PROXIES` (loopback is no exception). What it decides (`scope["client"]`,
`scope["scheme"]`) is what every route sees: the PIN's source, the webhook network check, Secure
cookies and the page's same-origin check.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterable, Sequence
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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> list[Network]:
    """Addresses and networks (`192.0.2.7`, `10.0.0.0/8`, `::1`) as networks; ValueError for anything else."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a peer or an `X-Forwarded-For` hop writes it (`192.0.2.7:4711`, `[2001:db8::1]:443`)."""
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port (an IPv6 address has several colons)
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _listed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in proxies)


def _header(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers") or [] if k.lower() == name]


def forwarded(scope: Scope, proxies: Sequence[Network]) -> tuple[str, str] | None:
    """The client address and scheme a request really came with, when its socket peer is a listed proxy
    and says so; None when the request is to be taken as it arrived.

    The address is the right-most `X-Forwarded-For` hop that is not itself a listed proxy: every hop left of
    it was written by someone we do not trust (the client can send any header it likes). The scheme is the
    right-most `X-Forwarded-Proto` value, as the listed proxy set or appended it.
    """
    peer = scope.get("client")
    if not proxies or not peer or not _listed(_ip(str(peer[0])), proxies):
        return None
    hops = [hop.strip() for value in _header(scope, b"x-forwarded-for") for hop in value.split(",") if hop.strip()]
    client = str(peer[0])
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:  # not an address: keep the peer's own (one source for all, the safe side for lockouts)
            client = str(peer[0])
            break
        client = str(ip)
        if not _listed(ip, proxies):
            break
    protos = [p.strip().lower() for value in _header(scope, b"x-forwarded-proto") for p in value.split(",")]
    scheme = str(scope.get("scheme", "http"))
    if protos and protos[-1] in ("http", "https"):
        secure = protos[-1] == "https"
        scheme = ("wss" if secure else "ws") if scope["type"] == "websocket" else protos[-1]
    return client, scheme


SOCKET_PEER = "telco_mcp.socket_peer"  # the scope key keeping the peer a forwarded address replaced


class ForwardedHeaders:
    """ASGI middleware around a listener's app: `scope["client"]` and `scope["scheme"]` from `forwarded`."""

    def __init__(self, app: ASGIApp, proxies: Sequence[Network]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (real := forwarded(scope, self.proxies)) is not None:
            client, scheme = real
            port = scope["client"][1] if client == scope["client"][0] else 0
            # the socket's own peer stays known: /metrics without a token admits a loopback socket only
            scope = dict(scope) | {"client": (client, port), "scheme": scheme, SOCKET_PEER: scope["client"]}
        await self.app(scope, receive, send)


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
    """Only a loopback socket peer (the address uvicorn accepted the connection from; it runs with
    proxy_headers=False) that forwards no other client: a forwarded address never admits."""

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        # both the socket's peer and the client a trusted proxy named: a local proxy forwarding a remote
        # client is refused, and so is a remote proxy's claim of a loopback client
        addresses = [scope.get("client"), scope.get(SOCKET_PEER) or scope.get("client")]
        if all(a and is_loopback(str(a[0])) for a in addresses):
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
