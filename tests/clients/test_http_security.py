"""HTTP transports fit for a network, tested with real HTTP requests against real servers on 127.0.0.1.

Bearer token (missing or wrong -> 401, on /mcp and on /sse + /messages/), bad Origin -> 403, bad
Host -> 421, oversized body -> 413, wrong content type -> 400, the server keeps serving after each;
a non-loopback bind without token and allowed hosts refuses to start; logs go to stderr only.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import Message

from telco_mcp import access, transports
from telco_mcp.errors import ConfigError
from telco_mcp.server import build_server
from telco_mcp.settings import Settings

from .conftest import (
    TELCO_MCP,
    ServerProcess,
    clean_env,
    free_port,
    port_open,
    running_server,
    settings,
    stop_process,
)

TOKEN = "tok-3f9c2b7e1d8a4c6f9e0b5a7d2c4e6f80"
MIB = 1024 * 1024
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "httpx2", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"TELCO_MCP_HTTP_TOKEN": TOKEN, "TELCO_MCP_LOG_LEVEL": "INFO"}
    with running_server(tmp_path_factory.mktemp("token-http"), "http", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def token_sse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("token-sse"), "sse", env={"TELCO_MCP_HTTP_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=httpx2.Timeout(15.0)) as client:
        yield client


def initialize(http: httpx2.Client, url: str, **headers: str) -> httpx2.Response:
    return http.post(url, json=INITIALIZE, headers=MCP_HEADERS | headers)


def assert_serves(http: httpx2.Client, server: ServerProcess, **headers: str) -> None:
    """A well-formed request from an allowed client gets a real MCP answer."""
    response = initialize(http, server.url, **headers)
    assert response.status_code == 200, response.text
    assert '"name":"telco-mcp"' in response.text.replace(" ", ""), response.text[:300]


BEARER = {"Authorization": f"Bearer {TOKEN}"}


# ------------------------------------------------------------------ bearer token
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        "Bearer",
        TOKEN,
    ],
    ids=["missing", "wrong", "prefix", "longer", "basic", "other-scheme", "empty", "no-scheme"],
)
def test_missing_or_wrong_token_gets_401(
    http: httpx2.Client, token_server: ServerProcess, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = initialize(http, token_server.url, **headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"] == "invalid_token"
    assert TOKEN not in response.text
    assert_serves(http, token_server, **BEARER)


def test_token_guards_every_method_and_path(http: httpx2.Client, token_server: ServerProcess) -> None:
    assert http.get(token_server.url, headers={"Accept": "text/event-stream"}).status_code == 401
    assert http.delete(token_server.url).status_code == 401
    assert http.get(token_server.base + "/anything-else").status_code == 401
    # two Authorization headers are ambiguous, even if one of them is right
    response = http.post(
        token_server.url,
        json=INITIALIZE,
        headers=[*MCP_HEADERS.items(), ("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")],
    )
    assert response.status_code == 401


def test_right_token_works(http: httpx2.Client, token_server: ServerProcess) -> None:
    assert_serves(http, token_server, **BEARER)
    assert_serves(http, token_server, Authorization=f"bearer {TOKEN}")  # the scheme is case-insensitive


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_with_token(token_server: ServerProcess, mode: str) -> None:
    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(headers=BEARER, timeout=httpx2.Timeout(30, read=60)) as http_client,
            Client(streamable_http_client(token_server.url, http_client=http_client), mode=mode) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "sipgate_list_calls" in names
            result = await client.call_tool("sipgate_list_calls", {})
            assert result.structured_content is not None and result.structured_content["calls"]


def test_sse_transport_requires_the_token(http: httpx2.Client, token_sse_server: ServerProcess) -> None:
    assert http.get(token_sse_server.url, headers={"Accept": "text/event-stream"}).status_code == 401
    response = http.post(token_sse_server.base + "/messages/?session_id=0123456789abcdef", json=INITIALIZE)
    assert response.status_code == 401
    with http.stream("GET", token_sse_server.url, headers={"Accept": "text/event-stream", **BEARER}) as stream:
        assert stream.status_code == 200
        first = next(stream.iter_lines())
        assert first == "event: endpoint"


@pytest.mark.anyio
async def test_sdk_client_over_sse_with_token(token_sse_server: ServerProcess) -> None:
    with anyio.fail_after(60):
        async with Client(sse_client(token_sse_server.url, headers=BEARER, timeout=10), mode="legacy") as client:
            result = await client.call_tool("signalwire_get_sip_profile", {})
            assert result.structured_content is not None and result.structured_content["domain"]


# ------------------------------------------------------------------ Origin and Host
@pytest.mark.parametrize("origin", ["http://evil.example", "https://127.0.0.1.evil.example", "null"])
def test_bad_origin_gets_403(http: httpx2.Client, http_server: ServerProcess, origin: str) -> None:
    assert initialize(http, http_server.url, Origin=origin).status_code == 403
    assert_serves(http, http_server, Origin=f"http://127.0.0.1:{http_server.port}")
    assert_serves(http, http_server, Origin=f"http://localhost:{http_server.port}")


def test_bad_origin_gets_403_even_with_the_token(http: httpx2.Client, token_server: ServerProcess) -> None:
    assert initialize(http, token_server.url, Origin="http://evil.example", **BEARER).status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example:8000"])
def test_bad_host_gets_421(http: httpx2.Client, http_server: ServerProcess, host: str) -> None:
    assert initialize(http, http_server.url, Host=host).status_code == 421
    assert_serves(http, http_server, Host=f"localhost:{http_server.port}")


def test_bad_host_on_sse_gets_421(http: httpx2.Client, sse_server: ServerProcess) -> None:
    response = http.get(sse_server.url, headers={"Host": "evil.example", "Accept": "text/event-stream"})
    assert response.status_code == 421


# ------------------------------------------------------------------ bodies
def test_oversized_body_gets_413_and_server_keeps_serving(http: httpx2.Client, http_server: ServerProcess) -> None:
    padding = "x" * (4 * MIB + 1)
    big = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "padding": padding}}).encode()
    assert http.post(http_server.url, content=big, headers=MCP_HEADERS).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold for a streamed body too
        for _ in range(5):
            yield b" " * MIB

    assert http.post(http_server.url, content=chunks(), headers=MCP_HEADERS).status_code == 413
    assert_serves(http, http_server)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_rejected(
    http: httpx2.Client, http_server: ServerProcess, content_type: str | None
) -> None:
    headers = {"Accept": MCP_HEADERS["Accept"]}
    if content_type:
        headers["Content-Type"] = content_type
    response = http.post(http_server.url, content=json.dumps(INITIALIZE).encode(), headers=headers)
    assert response.status_code in (400, 415)
    assert_serves(http, http_server)


# ------------------------------------------------------------------ binding beyond loopback
@pytest.mark.parametrize(
    ("env", "named", "not_named"),
    [
        ({}, ["TELCO_MCP_HTTP_TOKEN", "TELCO_MCP_ALLOWED_HOSTS"], []),
        ({"TELCO_MCP_HTTP_TOKEN": TOKEN}, ["TELCO_MCP_ALLOWED_HOSTS"], ["TELCO_MCP_HTTP_TOKEN"]),
        ({"TELCO_MCP_ALLOWED_HOSTS": "mcp.example.com"}, ["TELCO_MCP_HTTP_TOKEN"], ["TELCO_MCP_ALLOWED_HOSTS"]),
        ({"TELCO_MCP_HTTP_TOKEN": " ", "TELCO_MCP_ALLOWED_HOSTS": "mcp.example.com"}, ["TELCO_MCP_HTTP_TOKEN"], []),
    ],
    ids=["nothing", "token-only", "hosts-only", "blank-token"],
)
@pytest.mark.parametrize("transport", ["http", "sse"])
def test_non_loopback_bind_refuses_to_start(
    tmp_path: Path, env: dict[str, str], named: list[str], not_named: list[str], transport: str
) -> None:
    port = free_port()
    err_path = tmp_path / "stderr"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(TELCO_MCP), "serve", "--transport", transport, "--host", "0.0.0.0", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=clean_env(tmp_path / "state") | env,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            assert not port_open(port), "the server bound a non-loopback address without token and allowed hosts"
            assert time.monotonic() < deadline, "telco-mcp serve did not exit"
            time.sleep(0.05)
        out = proc.stdout.read() if proc.stdout else b""
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()
    stderr = err_path.read_text()
    assert proc.returncode != 0
    assert "Refusing to serve on the network" in stderr
    for name in named:
        assert name in stderr
    for name in not_named:
        assert f"requires {name}" not in stderr
    assert TOKEN not in stderr
    assert out == b""
    assert not port_open(port)


def _network_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telco_mcp_sandbox": True,
        "telco_mcp_audit_log": tmp_path / "audit.jsonl",
        "telco_mcp_http_token": TOKEN,
        "telco_mcp_allowed_hosts": "mcp.example.com,mcp.example.com:*",
        "telco_mcp_allowed_origins": "https://app.example.com",
    }
    return settings(**(values | overrides))


def test_network_settings_checks() -> None:
    ok = settings(telco_mcp_http_token=TOKEN, telco_mcp_allowed_hosts="mcp.example.com")
    transports.check_network_settings(ok, "0.0.0.0")
    transports.check_network_settings(ok, "192.0.2.10")
    security = transports.security_settings(ok, "0.0.0.0", 8000)
    assert security.enable_dns_rebinding_protection
    assert security.allowed_hosts == ["mcp.example.com"]  # no loopback names on a network bind
    assert security.allowed_origins == []  # browsers refused unless listed

    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        transports.check_network_settings(settings(), host)
    for host in ("0.0.0.0", "::", "192.0.2.10", "mcp.example.com"):
        with pytest.raises(ConfigError, match="TELCO_MCP_HTTP_TOKEN"):
            transports.check_network_settings(settings(), host)

    local = transports.security_settings(settings(), "127.0.0.2", 8000)
    assert "127.0.0.2:*" in local.allowed_hosts and "127.0.0.1:*" in local.allowed_hosts
    assert "http://127.0.0.2:*" in local.allowed_origins

    with pytest.raises(ConfigError, match="empty"):
        access.BearerToken("")


@pytest.mark.anyio
async def test_network_bind_config_over_real_http(tmp_path: Path) -> None:
    """The app built for a 0.0.0.0 bind (token + allowed hosts/origins), served here on 127.0.0.1 only."""
    settings = _network_settings(tmp_path)
    port = free_port()
    app = transports.http_app(build_server(settings), settings, transport="http", host="0.0.0.0", port=port)
    config: Any = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    url = f"http://127.0.0.1:{port}/mcp"
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg, httpx2.AsyncClient(timeout=15) as http:
            tg.start_soon(server.serve)
            try:
                while not server.started:
                    await anyio.sleep(0.05)

                async def post(**headers: str) -> httpx2.Response:
                    return await http.post(url, json=INITIALIZE, headers=MCP_HEADERS | headers)

                good = {"Host": "mcp.example.com", **BEARER}
                assert (await post(**good)).status_code == 200
                assert (await post(**good, Origin="https://app.example.com")).status_code == 200
                assert (await post(Host="mcp.example.com")).status_code == 401
                assert (await post(**good, Origin="https://evil.example")).status_code == 403
                assert (await post(**good, Origin=f"http://127.0.0.1:{port}")).status_code == 403
                assert (await post(**BEARER, Host=f"127.0.0.1:{port}")).status_code == 421
                assert (await post(**BEARER, Host="evil.example")).status_code == 421
            finally:
                server.should_exit = True


def test_token_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request, with or without a header, goes through hmac.compare_digest on equal-length digests."""
    seen: list[tuple[int, int]] = []
    real = access.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    middleware = access.AccessRouter([access.Entry("", app, access.BearerToken(TOKEN))])
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def run() -> None:
        for headers in ([], [(b"authorization", b"Bearer x")], [(b"authorization", f"Bearer {TOKEN}".encode())]):
            await middleware({"type": "http", "path": "/mcp", "method": "POST", "headers": headers}, receive, send)

    anyio.run(run)
    assert len(seen) == 3 and all(a == b == 32 for a, b in seen)
    assert reached == ["/mcp"]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [401, 401]


# ------------------------------------------------------------------ logs
def test_http_logs_go_to_stderr_at_the_configured_level(
    http: httpx2.Client, token_server: ServerProcess, http_server: ServerProcess
) -> None:
    assert initialize(http, token_server.url).status_code == 401
    assert_serves(http, token_server, **BEARER)
    log = token_server.stderr()
    assert f"serving streamable HTTP on http://127.0.0.1:{token_server.port}/mcp" in log
    assert "bearer token: required" in log
    assert "401: missing or wrong bearer token for POST /mcp from 127.0.0.1" in log
    assert TOKEN not in log
    assert token_server.stdout() == ""

    assert initialize(http, http_server.url, Host="evil.example").status_code == 421
    quiet = http_server.stderr()  # TELCO_MCP_LOG_LEVEL=WARNING: no INFO lines, but the rejection is logged
    assert " INFO " not in quiet and "serving streamable HTTP" not in quiet
    assert "Invalid Host header: evil.example" in quiet
    assert http_server.stdout() == ""


def test_the_approval_page_has_its_own_rule_while_the_mcp_path_keeps_the_token(
    http: httpx2.Client, token_server: ServerProcess
) -> None:
    """One access layer, a rule per route: a person's browser has no bearer token, the page has its own sign-in."""
    page = http.get(f"{token_server.base}/approvals/")
    assert page.status_code == 401 and 'type="password"' in page.text  # the approver PIN's sign-in
    assert page.headers["cache-control"] == "no-store" and "www-authenticate" not in page.headers
    assert http.get(f"{token_server.base}/approvals/", headers={"Host": "evil.example"}).status_code == 421
    assert initialize(http, token_server.url).status_code == 401
    assert initialize(http, token_server.url).headers["www-authenticate"].startswith("Bearer")
