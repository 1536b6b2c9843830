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

pytestmark = [pytest.mark.anyio, pytest.mark.contract]  # the request check reads the cuts


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


async def test_phone_numbers_are_filtered_by_name_and_number_as_signalwire_does(audit_path: Path) -> None:
    server = sandbox_server(audit_path)
    numbers = list(server.telco_runtime.sandbox.state.signalwire.phone_numbers.values())
    named = next(n for n in numbers if n.get("name"))
    word, digits = named["name"].split()[0].lower(), named["number"][:6]
    async with Client(server) as c:
        by_name = (await c.call_tool("signalwire_list_phone_numbers", {"name": word, "limit": 100})).structured_content
        by_number = await c.call_tool("signalwire_list_phone_numbers", {"number": digits, "limit": 100})
        bad = await c.call_tool("signalwire_list_phone_numbers", {"number": "+1 555"})
    assert {n["id"] for n in by_name["items"]} == {n["id"] for n in numbers if word in (n.get("name") or "").lower()}
    assert {n["id"] for n in by_number.structured_content["items"]} == {
        n["id"] for n in numbers if digits in n["number"]
    }
    assert bad.is_error and "number" in text_of(bad)  # digits only, refused before anything is sent
    sent = [dict(r.query) for r in server.telco_runtime.sandbox.requests]
    assert sent[0]["filter_name"] == word and sent[1]["filter_number"] == digits and len(sent) == 2


async def test_logs_of_deleted_activity_and_one_day_are_asked_for(audit_path: Path) -> None:
    server = sandbox_server(audit_path)
    logs = list(server.telco_runtime.sandbox.state.signalwire.voice_logs.values())
    gone = next(g for g in logs if "discarded_at" in g)
    day = gone["created_at"][:10]
    that_day = {g["id"] for g in logs if g["created_at"][:10] == day}
    async with Client(server) as c:
        on_day = {"limit": 100, "created_on": day}
        plain = await c.call_tool("signalwire_list_voice_logs", on_day)
        every = await c.call_tool("signalwire_list_voice_logs", on_day | {"include_deleted": True})
        messages = await c.call_tool("signalwire_list_messaging_logs", {"created_on": day, "include_deleted": True})
    assert {g["id"] for g in every.structured_content["items"]} == that_day  # that day only, the deleted one too
    assert {g["id"] for g in plain.structured_content["items"]} == that_day - {gone["id"]}
    assert not messages.is_error, text_of(messages)
    sent = [r.query for r in server.telco_runtime.sandbox.requests]
    assert ("created_on", day) in sent[0] and ("include_deleted", "true") not in sent[0]
    assert {("created_on", day), ("include_deleted", "true")} <= set(sent[1]) & set(sent[2])


async def test_contacts_are_found_by_several_numbers(audit_path: Path) -> None:
    server = sandbox_server(audit_path)
    contacts = server.telco_runtime.sandbox.state.sipgate.contacts
    wanted = [c["numbers"][0]["number"] for c in contacts if c.get("numbers")][:2]
    async with Client(server) as c:
        found = (await c.call_tool("sipgate_list_contacts", {"phonenumbers": wanted})).structured_content["items"]
    assert len(wanted) == 2 and len(found) >= 2
    assert all(any(n["number"] in wanted for n in item["numbers"]) for item in found)
    (request,) = server.telco_runtime.sandbox.requests
    assert [v for k, v in request.query if k == "phonenumbers"] == [n.replace(" ", "") for n in wanted]
