"""Contract findings of issue 22 against the sandbox: documented answers mapped, fields kept, filters offered.

Every request the tools send here is also checked against the providers' documents (tests/spec_requests.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import spec_requests
from conftest import accept, make_settings, text_of
from mcp import Client

from telco_mcp.server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _requests_match_the_spec() -> Iterator[None]:
    yield from spec_requests.check_watched()


def sandbox_server(audit_path: Path, **settings: Any) -> Any:
    every = {"telco_mcp_sandbox": True, "telco_mcp_toolsets": "all", "telco_mcp_allow_writes": True}
    server = build_server(make_settings(audit_path, **(every | settings)))
    spec_requests.watch(server.telco_runtime.sandbox)  # type: ignore[attr-defined]
    return server


async def test_blocking_a_number_already_blocked_says_so(audit_path: Path) -> None:
    """sipgate documents 409 "IncomingEntry already exists": a clear answer, not "unexpected status 409"."""
    async with Client(sandbox_server(audit_path), elicitation_callback=accept) as c:
        first = await c.call_tool("sipgate_block_number", {"phone_number": "+49 30 111222"})
        again = await c.call_tool("sipgate_block_number", {"phone_number": "+49 30 111222"})
    assert first.structured_content["status"] == "applied", text_of(first)
    assert again.is_error
    words = text_of(again)
    assert "[conflict]" in words and "+4930111222 is already on the incoming blacklist" in words, words
    assert "unexpected" not in words and "Nothing was changed" in words


async def test_a_pushed_call_event_keeps_sipgates_full_user_ids(audit_path: Path) -> None:
    """sipgate pushes fullUserId[] with newCall and fullUserId with answer: both reach the event."""
    import httpx2

    server = sandbox_server(audit_path)
    runtime = server.telco_runtime
    user = runtime.sandbox.state.sipgate.users[0]
    full = f"{runtime.sandbox.state.sipgate.userinfo['masterSipId']}{user['id']}"
    transport = httpx2.ASGITransport(app=runtime.sandbox.app)
    async with Client(server) as c, httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test") as sb:
        call_id = (await sb.post("/_sandbox/sipgate/ring", json={"from": "+49 30 1234567"})).json()["callId"]
        await sb.post(f"/_sandbox/sipgate/calls/{call_id}/answer", json={"user": user["id"]})
        wait = {"call_id": call_id, "after_sequence": 0, "timeout_seconds": 5}
        new = (await c.call_tool("sipgate_wait_for_call_event", wait | {"events": ["newCall"]})).structured_content
        answer = (await c.call_tool("sipgate_wait_for_call_event", wait | {"events": ["answer"]})).structured_content
    assert full in new["event"]["full_user_ids"], new
    assert answer["event"]["answering_full_user_id"] == full, answer
