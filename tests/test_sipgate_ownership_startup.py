"""The startup log says which sipgate ownership applies (issue 27), without delaying startup or tools/list.

A configured TELCO_MCP_SIPGATE_OWNERSHIP is said at once, and nothing is looked up. Unset, the mode is looked up
in the background once the server is up (after the first tools/list is answered), within TELCO_MCP_TIMEOUT:
`account` when the token's user is an admin, else `user`; a lookup that fails or does not answer fails closed.
Servers without sipgate look nothing up. Tested in process (the sandbox, a fake sipgate) and through a real
`telco-mcp serve` over stdio.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from conftest import FakeUpstream, client_for, make_settings, response, signalwire_settings, sipgate_settings, text_of
from mcp import Client

from telco_mcp.sandbox import Sandbox
from telco_mcp.server import OWNERSHIP_LOOKUP_AFTER, build_server

pytestmark = pytest.mark.anyio

LOOKUP = ("/v2/authorization/userinfo", "/v2/users/w1")


async def said(caplog: pytest.LogCaptureFixture, text: str, within: float = 5.0) -> str:
    """The first log line holding `text`, waited for (the lookup runs in the background)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if text in r.getMessage()]
        if lines:
            return lines[0]
        await anyio.sleep(0.02)
    raise AssertionError(f"no log line with {text!r} within {within} s:\n{caplog.text}")


def fake_sipgate(admin: bool) -> FakeUpstream:
    fake = FakeUpstream()
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w1"}))
    fake.route("GET /v2/users/w1", response(200, {"id": "w1", "admin": admin}))
    return fake


@pytest.mark.parametrize(("admin", "line"), [
    (True, "sipgate ownership: account (the token's user w1 is an admin of the account)"),
    (False, "sipgate ownership: user (the token's user w1 is not an admin of the account): tools act only on"),
])  # fmt: skip
async def test_a_derived_mode_is_logged_with_its_reason_once_the_server_is_up(
    audit_path: Path, caplog: pytest.LogCaptureFixture, admin: bool, line: str
) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    fake = fake_sipgate(admin)
    settings = sipgate_settings(audit_path, telco_mcp_sipgate_ownership=None)
    async with client_for(settings, fake) as c:
        await c.list_tools()
        assert fake.requests == []  # nothing is sent before the first tools/list is answered
        await said(caplog, line)
    assert [r.url.path for r in fake.requests] == list(LOOKUP)  # two reads, once


async def test_the_lookup_and_a_first_call_share_one_answer(audit_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="telco_mcp")
    fake = fake_sipgate(admin=True)
    fake.route("GET /v2/calls", response(200, {"data": []}))
    settings = sipgate_settings(audit_path, telco_mcp_sipgate_ownership=None)
    async with client_for(settings, fake) as c:
        await c.list_tools()
        await said(caplog, "sipgate ownership: account (")
        listed = await c.call_tool("sipgate_list_calls", {})
    assert not listed.is_error, text_of(listed)
    assert [r.url.path for r in fake.requests] == [*LOOKUP, "/v2/calls"]  # the call used what startup read
    assert sum("sipgate ownership: account (" in r.getMessage() for r in caplog.records) == 1  # said once


async def test_a_failed_lookup_is_logged_as_failing_closed_and_calls_are_refused(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    fake = FakeUpstream()
    fake.route("GET /v2/authorization/userinfo", response(401, {"message": "token revoked"}))
    fake.route("GET /v2/calls", response(200, {"data": []}))
    settings = sipgate_settings(audit_path, telco_mcp_sipgate_ownership=None)
    async with client_for(settings, fake) as c:
        tools = await c.list_tools()
        assert tools.tools
        line = await said(caplog, "sipgate ownership: user, failing closed")
        listed = await c.call_tool("sipgate_list_calls", {})
    assert "lookup of the token's user failed" in line and "TELCO_MCP_SIPGATE_OWNERSHIP" in line
    assert listed.is_error and "fail closed" in text_of(listed), text_of(listed)


async def test_a_lookup_that_does_not_answer_delays_neither_startup_nor_tools_list(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    asked: list[str] = []

    async def never(request: httpx2.Request) -> httpx2.Response:
        asked.append(request.url.path)
        await anyio.sleep(3600)
        raise AssertionError("unreachable")

    settings = sipgate_settings(audit_path, telco_mcp_sipgate_ownership=None, telco_mcp_timeout=2.0)
    server = build_server(settings, transports={"sipgate": httpx2.MockTransport(never)})
    started = time.monotonic()
    async with Client(server) as c:
        await c.list_tools()
        listed_after = time.monotonic() - started
        await c.list_tools()  # the second list is not held up by the lookup in flight either
        line = await said(caplog, "sipgate ownership: user, failing closed")
    assert listed_after < 1.0, listed_after  # the lookup alone takes 2 s (TELCO_MCP_TIMEOUT)
    assert "no answer within 2 s (TELCO_MCP_TIMEOUT)" in line and asked == ["/v2/authorization/userinfo"]
    assert time.monotonic() - started < 5  # the server stopped at once, the hung request cancelled


async def test_a_configured_mode_is_said_at_once_and_nothing_is_looked_up(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    fake = fake_sipgate(admin=True)
    settings = sipgate_settings(audit_path, telco_mcp_sipgate_ownership="user")
    async with client_for(settings, fake) as c:
        assert "sipgate ownership: user (TELCO_MCP_SIPGATE_OWNERSHIP)" in caplog.text  # before any request
        await c.list_tools()
        await anyio.sleep(OWNERSHIP_LOOKUP_AFTER + 0.5)
    assert fake.requests == []


async def test_without_sipgate_nothing_is_looked_up(audit_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    fake = FakeUpstream()
    settings = signalwire_settings(audit_path, telco_mcp_sipgate_ownership=None)
    async with client_for(settings, fake) as c:
        await c.list_tools()
        await anyio.sleep(OWNERSHIP_LOOKUP_AFTER + 0.5)
    assert fake.requests == []
    assert "sipgate ownership" not in caplog.text


async def test_no_tools_list_the_lookup_starts_anyway(audit_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An HTTP server no client has listed tools from yet still says its mode shortly after it started."""
    caplog.set_level(logging.INFO, logger="telco_mcp")
    settings = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_sipgate_ownership=None)
    server = build_server(settings)
    sandbox: Any = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    sandbox.state.sipgate.userinfo["sub"] = "w1"
    async with Client(server):
        await said(caplog, "sipgate ownership: user (the token's user w1 is not an admin", OWNERSHIP_LOOKUP_AFTER + 5)
    assert {r.path for r in sandbox.requests} == set(LOOKUP)  # the sandbox's answer, through its API


# ------------------------------------------------------------------ a real `telco-mcp serve` over stdio
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once the socket is closed


SANDBOX = {"TELCO_MCP_SANDBOX": "1"}
CANARY = {"SIPGATE_TOKEN_ID": "token-CANARY", "SIPGATE_TOKEN": "canary-sipgate-pat-2b9e6c1d", "TELCO_MCP_TIMEOUT": "2"}


@pytest.mark.parametrize(("upstream", "line"), [
    ("sandbox", "sipgate ownership: account (the token's user w0 is an admin of the account)"),
    ("unreachable", "sipgate ownership: user, failing closed: the lookup of the token's user failed"),
    ("silent", "failing closed: the lookup of the token's user failed (no answer within 2 s (TELCO_MCP_TIMEOUT))"),
])  # fmt: skip
def test_the_stdio_server_logs_the_mode_and_its_reason_after_answering_tools_list(
    tmp_path: Path, upstream: str, line: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_MCP_", "SIPGATE_", "SIGNALWIRE_"))}
    env |= {"XDG_STATE_HOME": str(tmp_path / "state"), "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
            **(SANDBOX if upstream == "sandbox" else CANARY)}  # fmt: skip
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    if upstream != "sandbox":
        port = closed_port() if upstream == "unreachable" else silent.getsockname()[1]
        env["SIPGATE_BASE_URL"] = f"http://127.0.0.1:{port}/v2"
    with (tmp_path / "stderr.log").open("wb") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-m", "telco_mcp", "serve", "--transport", "stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, env=env, cwd=tmp_path,
        )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None

    def ask(message: dict[str, Any]) -> dict[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(message) + "\n").encode())
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    try:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
        ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
        process.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        asked = time.monotonic()
        listed = ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        assert listed["result"]["tools"] and time.monotonic() - asked < 1.5  # not held up by the lookup
        ask({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}})  # nor while it runs
        deadline = time.monotonic() + 20
        while line not in (tmp_path / "stderr.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()
            time.sleep(0.05)
    finally:
        process.stdin.close()
        process.wait(20)
        process.stdout.close()
        silent.close()
    log = (tmp_path / "stderr.log").read_text()
    startup = log.index("account if the token's user is an admin, else user (TELCO_MCP_SIPGATE_OWNERSHIP unset)")
    assert startup < log.index(line)
    assert "canary-sipgate-pat" not in log
    assert process.returncode == 0, log
