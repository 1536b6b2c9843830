"""Every approver act on record: sign-ins (successful and failed), lockouts, and decisions on the page, in
bulk, on the terminal and through the approval API, each naming its channel and factor.

Read back from the audit log file itself. The source address and the page session appear only as
references (keyed HMACs, `h:...`): never the address, the cookie, or the cookie's plain hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from telco_mcp.approval.page import SESSION_COOKIE
from telco_mcp.approval.sessions import hashed

from .conftest import Browser, client, csrf_of, follow, forms_of, server_for, submit
from .test_approval_page import PIN, approvals_cli, page_base, pending_sms

pytestmark = pytest.mark.anyio


def records(path: Path, event: str) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["event"] == event]


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("h:") and len(value) == 26


async def test_page_sign_ins_lockouts_and_decisions_are_on_record(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    sessions: list[str] = []
    async with client(server) as c:
        one, two = await pending_sms(c), (await c.call_tool("sipgate_send_sms", {**SMS2})).structured_content
        base = page_base(browser.links()[0])
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await http.get(f"{base}/approvals/")
            page = await http.post(
                f"{base}/approvals/signin", data={"csrf": csrf_of(page.text), "pin": "000000"}, headers={"Origin": base}
            )
            assert "wrong PIN" in page.text
            page = await http.post(
                f"{base}/approvals/signin", data={"csrf": csrf_of(page.text), "pin": PIN}, headers={"Origin": base}
            )
            assert "Pending approvals" in page.text
            sessions.append(http.cookies[SESSION_COOKIE])
            detail = await http.get(f"{base}/approvals/a/{one['approval_id']}")
            await http.post(
                f"{base}/approvals/a/{one['approval_id']}/decide",
                data={"csrf": csrf_of(detail.text), "decision": "approve", "pin": PIN},
                headers={"Origin": base},
            )
            listing = await http.get(f"{base}/approvals/")
            bulk = await http.post(
                f"{base}/approvals/bulk",
                data={"csrf": csrf_of(listing.text), "action": "deny_all"},
                headers={"Origin": base},
            )
            assert "1 denied" in bulk.text
        async with httpx2.AsyncClient(follow_redirects=True) as mallory:  # another browser guesses until locked out
            page = await mallory.get(f"{base}/approvals/")
            for guess in ("111111", "222222", "333333", "444444", "555555"):
                page = await mallory.post(
                    f"{base}/approvals/signin",
                    data={"csrf": csrf_of(page.text), "pin": guess},
                    headers={"Origin": base},
                )
    sign_ins = records(audit_path, "sign_in")
    assert [(r["channel"], r["factor"], r["outcome"]) for r in sign_ins[:2]] == [
        ("approval-page", "pin", "wrong_pin"),
        ("approval-page", "pin", "ok"),
    ]
    ok = sign_ins[1]
    assert is_ref(ok["source"]) and is_ref(ok["session"])
    assert sign_ins[0]["source"] == ok["source"] and "session" not in sign_ins[0]
    after = [r["outcome"] for r in sign_ins[2:]]
    assert after == ["wrong_pin"] * 4 + ["locked"]  # with the 1st wrong PIN, 5 in the window: the 6th is locked
    (lockout,) = records(audit_path, "lockout")
    assert lockout["channel"] == "approval-page" and lockout["factor"] == "pin" and lockout["source"] == ok["source"]
    assert lockout["seconds"] > 0
    single, bulk_line = records(audit_path, "decision")
    assert (single["approval"], single["status"], single["channel"], single["factor"]) == (
        one["approval_id"], "approved", "approval-page", "pin",
    )  # fmt: skip
    assert single["session"] == ok["session"] and single["source"] == ok["source"] and "bulk" not in single
    assert (bulk_line["approval"], bulk_line["status"], bulk_line["bulk"]) == (two["approval_id"], "denied", True)
    assert bulk_line["channel"] == "approval-page" and bulk_line["session"] == ok["session"]
    assert_nothing_raw(audit_path, sessions)


SMS2 = {"recipient": "+4915799912345", "message": "The second trunk is down"}


async def test_a_launch_code_decision_names_the_factor_and_a_used_code_only_shows_the_decision(
    audit_path: Path, browser: Browser
) -> None:
    """The launch code is no sign-in: it rides in the page's form and is used by the approval POST, whose decision
    line names it; presenting it again shows the decision (no sign-in, nothing to decide), and a code that was
    never this approval's is a refused sign-in on record."""
    server = server_for(audit_path)
    async with client(server) as c:
        pending = await pending_sms(c)
        link = browser.links()[0]
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await follow(http, link)
            assert SESSION_COOKIE not in http.cookies, "no cookie"
            await submit(http, page, "approve")
            replay = await http.get(link)  # the code decides once; reopened, its link shows the decision
            assert replay.status_code == 200 and "<h1>Approved — " in replay.text and not forms_of(replay.text)
            wrong = await http.get(link.rsplit("code=", 1)[0] + "code=not-the-code")
            assert wrong.status_code == 403
    (refused,) = records(audit_path, "sign_in")
    assert (refused["channel"], refused["factor"], refused["outcome"], refused["approval"]) == (
        "approval-page", "launch-code", "refused", pending["approval_id"],
    )  # fmt: skip
    (decision,) = records(audit_path, "decision")
    assert (decision["channel"], decision["factor"], decision["status"]) == ("approval-page", "launch-code", "approved")
    assert "session" not in decision and is_ref(decision["source"])
    assert_nothing_raw(audit_path, [link.rsplit("code=", 1)[1]])


async def test_terminal_sign_ins_and_decisions_are_on_record(audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        pending = await pending_sms(c)
        approval_id = pending["approval_id"]
        wrong = await anyio.to_thread.run_sync(
            lambda: approvals_cli("approve", approval_id, "--pin-stdin", stdin="000000\n")
        )
        assert wrong.returncode != 0
        right = await anyio.to_thread.run_sync(
            lambda: approvals_cli("approve", approval_id, "--pin-stdin", stdin=PIN + "\n")
        )
        assert right.returncode == 0, right.stderr
    sign_ins = records(audit_path, "sign_in")
    assert {(r["channel"], r["factor"]) for r in sign_ins} == {("cli", "pin")}
    assert "wrong_pin" in [r["outcome"] for r in sign_ins] and sign_ins[-1]["outcome"] == "ok"
    assert all(is_ref(r["source"]) for r in sign_ins) and len({r["source"] for r in sign_ins}) == 1
    (decision,) = records(audit_path, "decision")
    assert (decision["channel"], decision["factor"], decision["decided_by"]) == ("cli", "pin", "cli")
    assert decision["source"] == sign_ins[-1]["source"]
    assert "terminal@" not in audit_path.read_text()


def assert_nothing_raw(audit_path: Path, sessions: list[str]) -> None:
    text = audit_path.read_text()
    assert "127.0.0.1" not in text and "localhost" not in text  # the page's clients' address
    for sid in sessions:
        assert sid not in text and hashed(sid) not in text
