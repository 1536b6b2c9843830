"""Without OAuth, approvals and grants are bound to the MCP session that asked, not to the client's
self-declared name (issue 22, section 3), checked against real transports.

- 2025-11-25 over streamable HTTP and SSE: a second session declaring the same client name and version
  neither redeems the first one's approval (it gets its own, asking for the same write) nor uses its grant;
  closing a session expires its pending approvals.
- stdio: the process. Two stdio servers sharing one Redis state are two principals.
- 2026-07-28 over HTTP (sessionless): every holder of the bearer token is one principal.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from telco_mcp import transports
from telco_mcp.server import build_server
from telco_mcp.settings import Settings
from tests.clients.conftest import TELCO_MCP, approvals_cli, clean_env
from tests.state.conftest import RedisServer

from .conftest import SMS, Browser, decide_in_browser, follow, writes

pytestmark = pytest.mark.anyio

TOKEN = "binding-test-bearer-token-0123456789"
SAME = Implementation(name="same-client", version="1.0")


@contextmanager
def http_server(audit: Path, transport: Literal["http", "sse"], **overrides: Any) -> Iterator[tuple[Any, str]]:
    """telco-mcp (embedded sandbox, bearer token) served by uvicorn on a loopback port in a thread."""
    values: dict[str, Any] = {"_env_file": None, "telco_mcp_audit_log": audit, "telco_mcp_http_token": TOKEN}
    settings = Settings(**(values | overrides))
    server: Any = build_server(settings)
    sock = transports.listen("127.0.0.1", 0)
    port = transports.bound_port(sock)
    app = transports.http_app(server, settings, transport=transport, host="127.0.0.1", port=port)
    uv = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.telco_runtime.approvals.stop()
        uv.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def session(base: str, transport: Literal["http", "sse"], mode: str = "legacy") -> AsyncIterator[Client]:
    """One MCP session of the SDK's client, declaring the same name and version as every other here."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if transport == "sse":
        async with Client(sse_client(base + "/sse", headers=headers), mode=mode, client_info=SAME) as c:  # type: ignore[arg-type]
            yield c
        return
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(base + "/mcp", http_client=http), mode=mode, client_info=SAME) as c,  # type: ignore[arg-type]
    ):
        yield c


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def status(result: Any) -> str:
    return (result.structured_content or {}).get("status") or ("error: " + text(result))


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server, shared by two stdio servers."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.close_clients()
        server.stop()


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_second_session_with_the_same_name_cannot_redeem_the_first_ones_approval(
    transport: Literal["http", "sse"], audit_path: Path, browser: Browser
) -> None:
    with http_server(audit_path, transport) as (server, base):
        async with session(base, transport) as first, session(base, transport) as second:
            mine = (await first.call_tool("sipgate_send_sms", SMS)).structured_content
            await decide_in_browser(browser.links()[0])
            # asking for the same write does not reveal the first session's approval: it opens another
            theirs = (await second.call_tool("sipgate_send_sms", SMS)).structured_content
            assert theirs["status"] == "approval_pending" and theirs["approval_id"] != mine["approval_id"]
            stolen = await second.call_tool("sipgate_send_sms", SMS | {"approval_id": mine["approval_id"]})
            assert stolen.is_error and "does not belong to this call" in text(stolen)
            assert writes(server) == []
            applied = await first.call_tool("sipgate_send_sms", SMS | {"approval_id": mine["approval_id"]})
            assert status(applied) == "applied"
        assert writes(server) == [("POST", "/v2/sessions/sms")]


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_grant_given_in_one_session_does_not_cover_another(
    transport: Literal["http", "sse"], audit_path: Path, browser: Browser
) -> None:
    with http_server(audit_path, transport) as (server, base):
        async with session(base, transport) as first, session(base, transport) as second:
            call_id = (await first.call_tool("sipgate_list_calls", {})).structured_content["calls"][0]["call_id"]
            hold = {"call_id": call_id, "value": True}
            asked = (await first.call_tool("sipgate_hold_call", hold)).structured_content
            await decide_in_browser(browser.links()[0], grant="1", grant_minutes="60")
            assert status(await first.call_tool("sipgate_hold_call", hold | {"approval_id": asked["approval_id"]})) == (
                "applied"
            )
            dtmf = {"call_id": call_id, "sequence": "1234"}
            assert status(await second.call_tool("sipgate_send_dtmf", dtmf)) == "approval_pending"
            assert status(await first.call_tool("sipgate_send_dtmf", dtmf)) == "applied", "the grant still holds"
        assert writes(server) == [("PUT", f"/v2/calls/{call_id}/hold"), ("POST", f"/v2/calls/{call_id}/dtmf")]


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_closing_a_session_expires_its_pending_approvals(
    transport: Literal["http", "sse"], audit_path: Path, browser: Browser
) -> None:
    with http_server(audit_path, transport) as (server, base):
        store = server.telco_runtime.approvals.store
        async with session(base, transport) as staying:
            kept = (await staying.call_tool("sipgate_send_sms", SMS)).structured_content["approval_id"]
            async with session(base, transport) as leaving:
                gone = (await leaving.call_tool("sipgate_send_sms", SMS)).structured_content["approval_id"]
                assert {a.id for a in store.pending()} == {kept, gone}
            deadline = time.monotonic() + 10  # the server sees the session end (DELETE, closed stream) shortly after
            while {a.id for a in store.pending()} != {kept} and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert {a.id for a in store.pending()} == {kept}, "the closed session's approval expired, the other not"
            links = browser.links(at_least=2)
            page = await decide_in_browser(next(link for link in links if f"/a/{kept}?" in link))
            assert "Approved" in page.text
            async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
                late = await follow(http, next(link for link in links if f"/a/{gone}?" in link))
            assert "<h1>Expired, nothing was sent</h1>" in late.text and 'value="approve"' not in late.text
        assert writes(server) == []


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_over_http_in_2026_07_28_every_holder_of_the_token_is_one_principal(
    transport: Literal["http", "sse"], audit_path: Path, browser: Browser
) -> None:
    """Sessionless: nothing but the bearer token tells callers apart, so two connections are one caller (the
    documented reason to use OAuth when several clients share a server)."""
    with http_server(audit_path, transport) as (server, base):
        async with session(base, transport, mode="auto") as one, session(base, transport, mode="auto") as two:
            asked = (await one.call_tool("sipgate_send_sms", SMS)).structured_content
            again = (await two.call_tool("sipgate_send_sms", SMS)).structured_content
            assert again["approval_id"] == asked["approval_id"], "one principal: the same pending approval"
            await decide_in_browser(browser.links()[0])
            assert status(await two.call_tool("sipgate_send_sms", SMS | {"approval_id": asked["approval_id"]})) == (
                "applied"
            )
        assert writes(server) == [("POST", "/v2/sessions/sms")]


@asynccontextmanager
async def stdio_server(state_home: Path, workdir: Path, redis: RedisServer, mode: str) -> AsyncIterator[Client]:
    env = clean_env(
        state_home,
        TELCO_MCP_STATE_URL=redis.url,
        TELCO_MCP_CONFIRM_SECRET="binding-test-confirm-secret-0123456789abcdef",
        BROWSER="true",
    )
    params = StdioServerParameters(command=str(TELCO_MCP), args=["serve"], env=env, cwd=workdir)
    with (workdir / "stdio-server.stderr").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, client_info=SAME) as c:  # type: ignore[arg-type]
            yield c


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_over_stdio_approvals_are_bound_to_the_process(mode: str, tmp_path: Path, redis: RedisServer) -> None:
    """Two stdio servers share one Redis: the same client name in the other process is another principal."""
    state_home = tmp_path / "state"
    state_home.mkdir()
    async with (
        stdio_server(state_home, tmp_path, redis, mode) as first,
        stdio_server(state_home, tmp_path, redis, mode) as second,
    ):
        mine = (await first.call_tool("sipgate_send_sms", SMS)).structured_content
        assert mine["status"] == "approval_pending"
        decided = await asyncio.to_thread(approvals_cli, state_home, "approve", mine["approval_id"])
        assert decided.returncode == 0, decided.stderr
        theirs = (await second.call_tool("sipgate_send_sms", SMS)).structured_content
        assert theirs["approval_id"] != mine["approval_id"]
        stolen = await second.call_tool("sipgate_send_sms", SMS | {"approval_id": mine["approval_id"]})
        assert stolen.is_error and "does not belong to this call" in text(stolen)
        assert status(await first.call_tool("sipgate_send_sms", SMS | {"approval_id": mine["approval_id"]})) == (
            "applied"
        )
