"""Form bodies (SignalWire's Compatibility API) through the approval wing: what a person approved is what is sent.

The approval page and the CLI's API show the form fields in the order they are sent, the request digest the
approval carries covers them, and the body the sandbox receives is the body the person read; a body that would
differ from the approved one (the provider's state changed meanwhile) is refused, and nothing is sent.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from telco_mcp.approval.store import request_digest

from .conftest import Browser, client, follow, server_for, submit, writes

pytestmark = pytest.mark.anyio

START = {
    "to_number": "+1 202 555 0123",
    "url": "https://sandbox.signalwire.com/laml-bins/on-call",
    "status_callback": "https://sandbox.signalwire.com/laml-bins/status",
    "timeout": 25,
}


async def _approve_on_the_page(link: str) -> str:
    """A person opens the page, reads it and presses Approve; the page's text as they read it."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
        page = await follow(http, link)
        assert page.status_code == 200, page.text
        decided = await submit(http, page, "approve")  # the launch code rides in the form
        assert decided.status_code == 200, decided.text
        return html.unescape(page.text)


async def _our_number(c: Any) -> str:
    numbers = (await c.call_tool("signalwire_list_phone_numbers", {})).structured_content["items"]
    return next(n["number"] for n in numbers if "voice" in (n.get("capabilities") or []))


async def test_the_form_body_a_person_approved_is_the_body_sent(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_toolsets="all")
    sandbox = server.telco_runtime.sandbox
    async with client(server) as c:
        args = START | {"from_number": await _our_number(c)}
        pending = (await c.call_tool("signalwire_start_call", args)).structured_content
        assert pending["status"] == "approval_pending" and writes(server) == []
        [approval] = server.telco_runtime.approvals.store.pending()
        page = await _approve_on_the_page(browser.links()[0])
        applied = await c.call_tool("signalwire_start_call", args | {"approval_id": pending["approval_id"]})
    assert applied.structured_content["status"] == "applied", applied.content

    approved = [tuple(pair) for pair in approval.form]
    sent = [r for r in sandbox.requests if r.method == "POST"]
    assert [r.path.rsplit("/", 1)[-1] for r in sent] == ["Calls"]
    assert sent[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert [tuple(pair) for pair in sent[0].form] == approved  # the same fields, values and order
    assert [name for name, _ in approved] == ["To", "From", "Url", "StatusCallback", "Timeout"]
    # the page showed each field as it was sent, in that order
    shown = [f"{name} = {value}" for name, value in approved]
    assert all(line in page for line in shown), page
    assert sorted(shown, key=page.index) == shown
    # and the digest the person approved covers those fields: a body differing in any of them, or in their
    # order, has another digest
    assert approval.request_digest == request_digest(approval.method, approval.url, None, approval.form)
    swapped = [approved[1], approved[0], *approved[2:]]
    changed = [*approved[:-1], ("Timeout", "60")]
    for other in (swapped, changed, None):
        assert request_digest(approval.method, approval.url, None, other) != approval.request_digest


async def test_a_body_that_changed_since_the_approval_is_refused_and_nothing_is_sent(
    audit_path: Path, browser: Browser
) -> None:
    """A hang-up approved while the call rang (Status=canceled) would be sent as Status=completed once it is
    answered: another body than the one approved, so nothing is sent."""
    server = server_for(audit_path, telco_mcp_toolsets="all")
    sandbox = server.telco_runtime.sandbox
    async with client(server) as c:
        started = await _start_in_the_sandbox(server, c)
        args = {"call_sid": started, "action": "hangup"}
        pending = (await c.call_tool("signalwire_update_call", args)).structured_content
        [approval] = server.telco_runtime.approvals.store.pending()
        assert approval.form == [("Status", "canceled")]
        await _approve_on_the_page(browser.links()[0])
        sandbox.state.signalwire.laml["calls"][started]["status"] = "in-progress"  # answered meanwhile
        late = await c.call_tool("signalwire_update_call", args | {"approval_id": pending["approval_id"]})
    text = "\n".join(getattr(block, "text", "") for block in late.content)
    assert late.is_error and "differs from what was approved" in text, text
    assert [(m, p.rsplit("/", 1)[-1]) for m, p in writes(server)] == [("POST", "Calls")]  # the start only
    assert sandbox.state.signalwire.laml["calls"][started]["status"] == "in-progress"


async def _start_in_the_sandbox(server: Any, c: Any) -> str:
    """A call started through the sandbox's own API (no approval needed for the setup)."""
    sandbox = server.telco_runtime.sandbox
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://sandbox") as http:
        from telco_mcp.sandbox import SIGNALWIRE_API_TOKEN, SIGNALWIRE_PROJECT_ID

        answer = await http.post(
            f"/api/laml/2010-04-01/Accounts/{SIGNALWIRE_PROJECT_ID}/Calls",
            data={"To": "+12025550123", "From": await _our_number(c), "Url": "https://sandbox.signalwire.com/x"},
            auth=(SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN),
        )
    assert answer.status_code == 200, answer.text
    return str(json.loads(answer.content)["sid"])


async def test_the_confirmation_token_preview_shows_the_form_body_that_is_then_sent(audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_toolsets="all", telco_mcp_confirm="token")
    sandbox = server.telco_runtime.sandbox
    async with client(server) as c:
        args = START | {"from_number": await _our_number(c)}
        preview = (await c.call_tool("signalwire_start_call", args)).structured_content
        assert preview["status"] == "confirmation_required" and writes(server) == []
        applied = await c.call_tool("signalwire_start_call", args | {"confirm_token": preview["confirm_token"]})
    assert applied.structured_content["status"] == "applied", applied.content
    shown = preview["request"]
    assert shown["method"] == "POST" and "body" not in shown
    [sent] = [r for r in sandbox.requests if r.method == "POST"]
    assert [list(pair) for pair in sent.form] == shown["form"]
    # the audit log's intent line holds the body as sent, its numbers masked as the audit masks them
    intent = next(json.loads(line) for line in audit_path.read_text().splitlines() if '"intent"' in line)
    form = intent["request"]["body"]
    assert [name for name, _ in form] == ["To", "From", "Url", "StatusCallback", "Timeout"]
    assert form[0][1].startswith("+1 202") and form[0][1].endswith("0123") and "5550123" not in form[0][1]
