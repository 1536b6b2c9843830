"""Transports: stdio (default), streamable HTTP and the legacy SSE transport.

HTTP binds 127.0.0.1 by default with the SDK's DNS-rebinding protection (bad Host -> 421, bad
Origin -> 403, POST without `Content-Type: application/json` -> 400, body over 4 MiB -> 413).
Binding anything else requires `TELCO_MCP_HTTP_TOKEN` (a bearer token compared in constant time;
missing or wrong -> 401) and an explicit `TELCO_MCP_ALLOWED_HOSTS` list; browser origins are
refused unless listed in `TELCO_MCP_ALLOWED_ORIGINS`. The token, when set, guards the MCP paths
of both transports (`/mcp`, and `/sse` plus `/messages/`); the approval page under `/approvals/`
has its own rule (see `access.py` and `approval/page.py`).

Logs go to stderr only, at `TELCO_MCP_LOG_LEVEL` (uvicorn's own access log would go to stdout,
so uvicorn is pointed at the root logger instead).
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from telco_mcp.access import AccessRouter, BearerToken, Entry, ForwardedHeaders, OwnAuth, is_loopback, networks
from telco_mcp.errors import ConfigError
from telco_mcp.settings import Settings, split_list

logger = logging.getLogger(__name__)

Transport = Literal["stdio", "http", "sse"]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (0 picks a free port), or a one-line `ConfigError` saying why not.

    Binding happens before anything announces the server, so a port in use or out of range stops the
    command with that one line and nothing that looks like success before it.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port: use 1-65535, or 0 for any free port")
    bare = host.strip("[]")
    try:
        family = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: the address does not resolve ({exc.strerror})") from None
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are
    # TCP, and with Nagle on, a response written as headers then body waits for the client's delayed ACK:
    # about 40 ms on every request of a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((bare, port))
        sock.listen(2048)  # connections queue from now on, so the port is usable as soon as it is announced
    except OSError as exc:
        sock.close()
        where = f"{_host_entry(host)}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"cannot listen on {where}: address already in use (another server is running there; "
                "stop it or choose another --port)"
            ) from None
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return sock


def bound_port(sock: socket.socket) -> int:
    return sock.getsockname()[1]


def _host_entry(host: str) -> str:
    """`host` as it appears in a Host header (IPv6 literals in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def security_settings(settings: Settings, host: str, port: int) -> TransportSecuritySettings:
    """Host/Origin allow-lists: loopback names on a loopback bind, plus whatever is configured."""
    hosts = split_list(settings.telco_mcp_allowed_hosts)
    origins = split_list(settings.telco_mcp_allowed_origins)
    if is_loopback(host):
        local = list(dict.fromkeys([*_LOOPBACK_HOSTS, _host_entry(host)]))
        hosts = [*(f"{h}:*" for h in local), *hosts]
        origins = [*(f"http://{h}:*" for h in local), *origins]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def check_network_settings(settings: Settings, host: str) -> None:
    """Refuse a non-loopback bind without a bearer token and an explicit list of allowed hosts."""
    if is_loopback(host):
        return
    problems = []
    token = settings.telco_mcp_http_token
    if (token is None or not token.get_secret_value().strip()) and not settings.oauth_enabled:
        problems.append(
            f"binding {host} (not loopback) requires TELCO_MCP_HTTP_TOKEN (a bearer token) or OAuth "
            "(TELCO_MCP_OAUTH_ISSUER, TELCO_MCP_OAUTH_RESOURCE, TELCO_MCP_OAUTH_JWKS_URL)"
        )
    if not split_list(settings.telco_mcp_allowed_hosts):
        problems.append(
            f"binding {host} (not loopback) requires TELCO_MCP_ALLOWED_HOSTS, e.g. mcp.example.com,mcp.example.com:*"
        )
    if problems:
        raise ConfigError("Refusing to serve on the network:\n  - " + "\n  - ".join(problems))


def http_app(
    server: MCPServer, settings: Settings, *, transport: Literal["http", "sse"], host: str, port: int
) -> ASGIApp:
    """The ASGI app for an HTTP transport: the per-route access layer in front of the MCP transport
    (host/origin checks, the bearer token if configured) and the approval page under `/approvals/`, inside
    `ForwardedHeaders` (X-Forwarded-* only from TELCO_MCP_TRUSTED_PROXIES)."""
    from telco_mcp.approval.page import page_app
    from telco_mcp.ops.probes import healthz, metrics_rule, readyz, serve_metrics
    from telco_mcp.ops.shutdown import DrainGate

    check_network_settings(settings, host)
    if settings.telco_mcp_dynamic_toolsets and not settings.oauth_enabled:
        raise ConfigError(
            "TELCO_MCP_DYNAMIC_TOOLSETS=1 over HTTP needs OAuth (TELCO_MCP_OAUTH_ISSUER and the rest): an enabled "
            "toolset applies to the person who enabled it, and without OAuth callers cannot be told apart. Use "
            "--transport stdio, OAuth, or TELCO_MCP_TOOLSETS"
        )
    security = security_settings(settings, host, port)
    mcp: ASGIApp
    if transport == "http":
        mcp = server.streamable_http_app(transport_security=security, host=host)
    else:
        mcp = server.sse_app(transport_security=security, host=host)
    token = settings.telco_mcp_http_token
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    mcp = DrainGate(mcp, runtime)
    runtime.approvals.mounted_base = settings.telco_mcp_public_url or f"http://{_host_entry(host)}:{port}"
    approvals = page_app(runtime.approvals, allowed_hosts=list(security.allowed_hosts))
    metrics_token = settings.telco_mcp_metrics_token
    entries = [
        Entry("/approvals/", approvals, OwnAuth()),
        # probes and the scrape: no Host/Origin check, no MCP bearer token (a kubelet probes the pod IP)
        Entry("/healthz", healthz(), OwnAuth()),
        Entry("/readyz", readyz(runtime), OwnAuth()),
        Entry("/metrics", serve_metrics, metrics_rule(metrics_token.get_secret_value() if metrics_token else None)),
    ]
    if runtime.webhooks is not None and "sipgate" in runtime.providers:
        # sipgate sends no bearer token: the secret path is the webhook's credential (events/receiver.py)
        entries.append(Entry("/webhooks/", runtime.webhooks.app, OwnAuth()))
    if runtime.sandbox is not None and (runtime.token_verifier is None or is_loopback(host)):
        # the embedded sandbox's admin API (ring a call, latency, faults), behind the MCP paths' bearer token when
        # one is set; with OAuth only on a loopback bind, since an access token is no rule for it (docs/sandbox.md)
        from telco_mcp.sandbox.admin import ADMIN_PREFIX, mounted_admin

        rule = BearerToken(token.get_secret_value()) if token else OwnAuth()
        entries.append(Entry(ADMIN_PREFIX + "/", mounted_admin(runtime.sandbox, security), rule))
    if runtime.token_verifier is not None:
        # OAuth: the SDK's middleware inside the MCP app checks every token (and serves the PRM document);
        # the approval API checks the approver's token the same way.
        from telco_mcp.approval.remote import approval_metadata_app, approval_metadata_path, remote_api_app

        remote = remote_api_app(runtime.approvals, settings, runtime.token_verifier)
        entries.append(Entry("/api/approvals", remote, OwnAuth()))
        if (metadata := approval_metadata_path(settings)) is not None:  # the approval API's own PRM (RFC 9728)
            entries.append(Entry(metadata + "/", approval_metadata_app(settings), OwnAuth()))
        router = AccessRouter([*entries, Entry("", mcp, OwnAuth())])
    else:
        router = AccessRouter([*entries, Entry("", mcp, BearerToken(token.get_secret_value()) if token else OwnAuth())])
    return ForwardedHeaders(router, networks(settings.trusted_proxies))


def serve(
    server: MCPServer,
    settings: Settings,
    transport: Transport,
    host: str,
    port: int,
    sock: socket.socket | None = None,
) -> None:
    """Serve `server`; an HTTP transport listens on `sock` when given (see `listen`), else binds `host:port`."""
    import anyio
    import uvicorn

    if transport == "stdio":
        runtime = server.telco_runtime  # type: ignore[attr-defined]
        if runtime.webhooks is None or "sipgate" not in runtime.providers:
            server.run("stdio")
            return
        anyio.run(lambda: _stdio_with_webhooks(server, settings, runtime.webhooks))
        return

    if sock is None:
        sock = listen(host, port)
    port = bound_port(sock)
    sockets = [sock]
    if settings.telco_mcp_approver_factor == "passkey" and sock.family == socket.AF_INET and is_loopback(host):
        # links say localhost (passkeys need a host name): hold the port on ::1 too, so no local process can
        # serve its own page there on the same origin (issue 24)
        from telco_mcp.approval.listeners import hold_loopback6

        sockets += hold_loopback6(port)
    app = http_app(server, settings, transport=transport, host=host, port=port)
    path = "/mcp" if transport == "http" else "/sse"
    shown = _host_entry(host)
    security = security_settings(settings, host, port)
    if settings.oauth_enabled:
        auth = f"OAuth: access tokens from {settings.telco_mcp_oauth_issuer} for {settings.telco_mcp_oauth_resource}"
    elif settings.telco_mcp_http_token is not None:
        auth = "bearer token: required"
    else:
        auth = "bearer token: not configured (loopback only)"

    def serving() -> None:
        """Said once the app has started: what waits for this line may rely on it (and on Ctrl-C stopping it)."""
        kind = "streamable HTTP" if transport == "http" else "SSE"
        logger.info("serving %s on http://%s:%d%s", kind, shown, port, path)
        logger.info(
            "%s; allowed hosts: %s; allowed origins: %s",
            auth,
            ", ".join(security.allowed_hosts),
            ", ".join(security.allowed_origins) or "none (browsers refused)",
        )

    level = settings.telco_mcp_log_level
    config: Any = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep uvicorn on our stderr handler; its default config logs access lines to stdout
        log_level=level.lower(),
        access_log=level == "DEBUG",
        lifespan="on",
        timeout_graceful_shutdown=settings.telco_mcp_shutdown_grace,
        proxy_headers=False,  # uvicorn would trust X-Forwarded-* from loopback: ForwardedHeaders decides instead
    )
    from telco_mcp.ops.shutdown import draining_server

    runtime = server.telco_runtime  # type: ignore[attr-defined]
    uv = draining_server(config, runtime, settings.telco_mcp_shutdown_drain, started=serving)
    anyio.run(lambda: uv.serve(sockets=sockets))


def webhook_listener(settings: Settings, receiver: Any) -> tuple[Any, socket.socket]:
    """The receiver's own uvicorn server under stdio, on TELCO_MCP_WEBHOOK_HOST:TELCO_MCP_WEBHOOK_PORT."""
    import uvicorn

    host, port = settings.telco_mcp_webhook_host, settings.telco_mcp_webhook_port
    sock = listen(host, port)
    level = settings.telco_mcp_log_level
    config: Any = uvicorn.Config(
        ForwardedHeaders(receiver.app, networks(settings.trusted_proxies)),
        http=_webhook_http_protocol,  # type: ignore[arg-type]  # a factory: uvicorn calls it per connection
        log_config=None,
        log_level=level.lower(),
        access_log=level == "DEBUG",
        lifespan="off",
        proxy_headers=False,  # see serve()
    )
    logger.info(
        "sipgate webhooks: listening on http://%s:%d%s*** (`telco-mcp doctor` shows the full URL)",
        _host_entry(host),
        bound_port(sock),
        "/webhooks/sipgate/",
    )
    return uvicorn.Server(config), sock


def _webhook_http_protocol(**kwargs: Any) -> Any:
    """uvicorn's HTTP protocol (h11) for one connection to the stdio webhook receiver."""
    # imported at the first connection: the HTTP parser is not needed to answer initialize and tools/list
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return AutoHTTPProtocol(**kwargs)


async def _stdio_with_webhooks(server: MCPServer, settings: Settings, receiver: Any) -> None:
    """stdio, plus the webhook receiver on its own port: one event loop, so events reach waiting tools."""
    import anyio

    listener, sock = webhook_listener(settings, receiver)
    with sock:
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: listener.serve(sockets=[sock]))
            try:
                await server.run_stdio_async()
            finally:
                # The client is gone (stdin closed), so no tool waits for an event any more: the receiver stops
                # now, not at uvicorn's next should_exit check (every 0.1 s) and its graceful shutdown.
                group.cancel_scope.cancel()
