"""HTTP transport abuse under load, against a real `telco-mcp serve --transport http` with a bearer token.

Single bad requests are covered in tests/clients/test_http_security.py; here they come in storms and
mixed with good traffic: every request is refused or served with its own right status while the
others are in flight, half-sent requests are abandoned, fifty sessions open at once, and afterwards
the same server process still serves a normal client and has logged no traceback.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.ports import free_port, wait_listening

from .conftest import LOOPBACK

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

TOKEN = "abuse-test-token-5d1f0c9a7e3b"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MIB = 1024 * 1024
STARTUP_TIMEOUT = 30.0
STORM_TIMEOUT = 90.0
SESSIONS = 50
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "abuse", "version": "0"}},
}


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/mcp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`telco-mcp serve --transport http` in sandbox mode with TELCO_MCP_HTTP_TOKEN, always stopped afterwards."""
    home = tmp_path_factory.mktemp("abuse")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(home / "state"),
        "TELCO_MCP_HTTP_TOKEN": TOKEN,
        "TELCO_MCP_LOG_LEVEL": "WARNING",
    }
    log = home / "server.log"
    telco_mcp = Path(sys.executable).parent / "telco-mcp"
    for _ in range(5):  # until it listens on a port nobody else took first
        port = free_port()
        command = [str(telco_mcp), "serve", "--transport", "http", "--port", str(port)]
        with log.open("wb") as errlog:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
        try:
            if wait_listening(process, port, STARTUP_TIMEOUT):
                break
        except TimeoutError:
            process.kill()
            process.wait(10)
            raise
        assert "address already in use" in log.read_text().lower(), f"the server exited at startup: {log.read_text()}"
    else:
        pytest.fail("no free port for the server in 5 attempts")
    try:
        yield ServerProcess(process, port, log)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: no SIGTERM drain
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


async def _assert_still_serving(server: ServerProcess) -> None:
    """The same process answers a normal client: list the tools and call a read."""
    assert server.process.poll() is None, "the server process died"
    async with (
        httpx2.AsyncClient(headers=BEARER, timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(server.url, http_client=http)) as client,
    ):
        tools = (await client.list_tools()).tools
        assert any(t.name == "sipgate_list_calls" for t in tools)
        result = await client.call_tool("sipgate_list_calls", {})
        assert not result.is_error, result
    log = server.log_text()
    # The SDK logs a client that disconnects mid-body at ERROR with a traceback (ClientDisconnect); any other
    # traceback is a crash.
    tracebacks = log.count("Traceback (most recent call last)")
    assert tracebacks == log.count("starlette.requests.ClientDisconnect"), log[-3000:]


# (expected statuses, headers, body) for each kind of request in the storm
def _storm_kinds(url: str) -> dict[str, tuple[set[int], dict[str, str], bytes]]:
    port = url.split("/")[2].rsplit(":", 1)[1]
    return {
        "good": ({200}, MCP_HEADERS | BEARER, _body(INITIALIZE)),
        "missing token": ({401}, MCP_HEADERS, _body(INITIALIZE)),
        "wrong token": ({401}, MCP_HEADERS | {"Authorization": f"Bearer {TOKEN[:-1]}x"}, _body(INITIALIZE)),
        "bad origin": ({403}, MCP_HEADERS | BEARER | {"Origin": "http://evil.example"}, _body(INITIALIZE)),
        "bad host": ({421}, MCP_HEADERS | BEARER | {"Host": "evil.example"}, _body(INITIALIZE)),
        "bad origin, no token": ({401}, MCP_HEADERS | {"Origin": "http://evil.example"}, _body(INITIALIZE)),
        "wrong content type": ({400, 415}, MCP_HEADERS | BEARER | {"Content-Type": "text/plain"}, _body(INITIALIZE)),
        "not JSON": ({400}, MCP_HEADERS | BEARER, b'{"jsonrpc": "2.0", "id": 1, "method": '),
        "oversized": ({413}, MCP_HEADERS | BEARER, b" " * (4 * MIB + 1)),
        "loopback alias": (
            {200},
            MCP_HEADERS | BEARER | {"Host": "localhost:" + port},
            _body(INITIALIZE),
        ),
    }


async def test_a_mixed_storm_of_abusive_and_good_requests_gets_the_right_status_for_each(
    server: ServerProcess,
) -> None:
    kinds = _storm_kinds(server.url)
    plan = [name for name in kinds if name != "oversized"] * 20 + ["oversized"] * 8
    random.Random(0).shuffle(plan)  # interleave the kinds
    statuses: dict[str, Counter[int]] = {name: Counter() for name in kinds}
    limiter = anyio.Semaphore(50)
    limits = httpx2.Limits(max_connections=60, max_keepalive_connections=10)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), limits=limits) as http:

        async def send(name: str) -> None:
            expected, headers, body = kinds[name]
            async with limiter:
                response = await http.post(server.url, content=body, headers=headers)
            statuses[name][response.status_code] += 1

        with anyio.fail_after(STORM_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for name in plan:
                    tg.start_soon(send, name)

    wrong = {name: dict(got) for name, got in statuses.items() if not set(got) <= kinds[name][0]}
    assert wrong == {}, f"requests answered with the wrong status: {wrong}"
    assert sum(sum(c.values()) for c in statuses.values()) == len(plan)
    await _assert_still_serving(server)


async def test_fifty_sessions_opened_at_once_are_each_served_and_closed(server: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), limits=httpx2.Limits(max_connections=SESSIONS)) as http:

        async def open_session(sessions: list[str]) -> None:
            response = await http.post(server.url, content=_body(INITIALIZE), headers=MCP_HEADERS | BEARER)
            assert response.status_code == 200, response.text[:300]
            sessions.append(response.headers["mcp-session-id"])

        async def use_and_close(session: str, listed: list[int]) -> None:
            headers = MCP_HEADERS | BEARER | {"Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-11-25"}
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert (await http.post(server.url, content=_body(note), headers=headers)).status_code == 202
            listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
            response = await http.post(server.url, content=_body(listing), headers=headers)
            assert response.status_code == 200 and "sipgate_list_calls" in response.text
            listed.append(1)
            assert (await http.delete(server.url, headers=headers)).status_code in (200, 204)

        sessions: list[str] = []
        listed: list[int] = []
        with anyio.fail_after(STORM_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for _ in range(SESSIONS):
                    tg.start_soon(open_session, sessions)
            assert len(set(sessions)) == SESSIONS, "sessions were not all distinct"
            async with anyio.create_task_group() as tg:
                for session in sessions:
                    tg.start_soon(use_and_close, session, listed)
        assert len(listed) == SESSIONS

        closed = sessions[0]
        headers = MCP_HEADERS | BEARER | {"Mcp-Session-Id": closed, "Mcp-Protocol-Version": "2025-11-25"}
        gone = await http.post(
            server.url, content=_body({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}), headers=headers
        )
        assert gone.status_code == 404, "a closed session still answered"
    await _assert_still_serving(server)


async def test_clients_that_hang_up_mid_request_do_not_hurt_the_server(server: ServerProcess) -> None:
    """Fifty clients announce a body, send part of it and disconnect; others then get normal answers."""

    def abandon() -> None:
        with socket.create_connection((LOOPBACK, server.port), timeout=5) as sock:
            head = (
                f"POST /mcp HTTP/1.1\r\nHost: {LOOPBACK}:{server.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                "Content-Length: 100000\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"jsonrpc": "2.0", "id": 1, "method": "initia')

    with anyio.fail_after(STORM_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(anyio.to_thread.run_sync, abandon)
    await _assert_still_serving(server)


async def test_twenty_sdk_clients_at_once_are_all_served(server: ServerProcess) -> None:
    failures: list[str] = []

    async def one(n: int) -> None:
        async with (
            httpx2.AsyncClient(headers=BEARER, timeout=httpx2.Timeout(30.0)) as http,
            Client(streamable_http_client(server.url, http_client=http), mode="legacy" if n % 2 else "auto") as c,
        ):
            for _ in range(3):
                result = await c.call_tool("signalwire_get_sip_profile", {})
                if result.is_error:
                    failures.append(str(result.content)[:200])

    with anyio.fail_after(STORM_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(one, n)
    assert failures == []
    await _assert_still_serving(server)
