"""Transports: stdio (default), streamable HTTP and the legacy SSE transport.

HTTP binds 127.0.0.1 by default with the SDK's DNS-rebinding protection (bad Host -> 421, bad
Origin -> 403). Binding anything else requires `TELCO_MCP_HTTP_TOKEN` (a bearer token compared in
constant time; missing or wrong -> 401) and an explicit `TELCO_MCP_ALLOWED_HOSTS` list.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from telco_mcp.errors import ConfigError
from telco_mcp.settings import Settings, split_list

logger = logging.getLogger(__name__)

Transport = Literal["stdio", "http", "sse"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerTokenMiddleware:
    """Require `Authorization: Bearer <token>` on every HTTP request (constant-time comparison)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(supplied, self._expected):
            body = b'{"error":"invalid_token","error_description":"missing or wrong bearer token"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer error="invalid_token"'),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def security_settings(settings: Settings, host: str, port: int) -> TransportSecuritySettings:
    hosts = split_list(settings.telco_mcp_allowed_hosts)
    origins = split_list(settings.telco_mcp_allowed_origins)
    if is_loopback(host):
        hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *hosts]
        origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *origins]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def check_network_settings(settings: Settings, host: str) -> None:
    if is_loopback(host):
        return
    problems = []
    if settings.telco_mcp_http_token is None:
        problems.append(f"binding {host} (not loopback) requires TELCO_MCP_HTTP_TOKEN (a bearer token)")
    if not split_list(settings.telco_mcp_allowed_hosts):
        problems.append(
            f"binding {host} (not loopback) requires TELCO_MCP_ALLOWED_HOSTS, e.g. mcp.example.com,mcp.example.com:*"
        )
    if problems:
        raise ConfigError("Refusing to serve on the network:\n  - " + "\n  - ".join(problems))


def http_app(
    server: MCPServer, settings: Settings, *, transport: Literal["http", "sse"], host: str, port: int
) -> ASGIApp:
    """The ASGI app for an HTTP transport, with host/origin checks and the bearer token if configured."""
    check_network_settings(settings, host)
    security = security_settings(settings, host, port)
    app: ASGIApp
    if transport == "http":
        app = server.streamable_http_app(transport_security=security, host=host)
    else:
        app = server.sse_app(transport_security=security, host=host)
    token = settings.telco_mcp_http_token
    if token is not None:
        app = BearerTokenMiddleware(app, token.get_secret_value())
    return app


def serve(server: MCPServer, settings: Settings, transport: Transport, host: str, port: int) -> None:
    if transport == "stdio":
        server.run("stdio")
        return
    import anyio
    import uvicorn

    app = http_app(server, settings, transport=transport, host=host, port=port)
    path = "/mcp" if transport == "http" else "/sse"
    logger.info("serving %s on http://%s:%d%s", "streamable HTTP" if transport == "http" else "SSE", host, port, path)
    config: Any = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)
