"""The approval page against forged requests the mutation review found untested (issue 22, section 5):
the sign-in's pre-session CSRF token, a launch code used for another approval, the sign-in's `next`
pointing off the page, and a second submit of an approval already decided with a password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from telco_mcp.approval.page import PRE_CSRF_COOKIE, SESSION_COOKIE

from .conftest import SMS, Browser, client, csrf_of, follow, server_for, submit, writes

pytestmark = pytest.mark.anyio
PIN = "5150-7342"


def base_of(link: str) -> str:
    return link.split("/approvals/", 1)[0]


async def sign_in(http: httpx2.AsyncClient, base: str, **form: str) -> httpx2.Response:
    """The sign-in form as the page serves it, posted with `form` over its fields (no redirects followed)."""
    page = await http.get(f"{base}/approvals/")
    assert page.status_code == 401 and 'type="password"' in page.text
    fields = {"csrf": csrf_of(page.text), "pin": PIN, "next": "/approvals/"} | form
    return await http.post(f"{base}/approvals/signin", data=fields, headers={"Origin": base})


async def test_the_sign_in_checks_its_pre_session_csrf_token(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        await c.call_tool("sipgate_send_sms", SMS)
        base = base_of(browser.links()[0])
        async with httpx2.AsyncClient() as http:
            guessed = await sign_in(http, base, csrf="guessed-token")
            assert guessed.status_code == 403 and SESSION_COOKIE not in guessed.cookies
            http.cookies.delete(PRE_CSRF_COOKIE)
            page = await http.get(f"{base}/approvals/")  # a fresh form; then the browser loses its cookie
            http.cookies.delete(PRE_CSRF_COOKIE)
            no_cookie = await http.post(
                f"{base}/approvals/signin", data={"csrf": csrf_of(page.text), "pin": PIN}, headers={"Origin": base}
            )
            assert no_cookie.status_code == 403 and SESSION_COOKIE not in no_cookie.cookies
            still = await http.get(f"{base}/approvals/")
            assert still.status_code == 401, "not signed in"
            signed_in = await sign_in(http, base)  # the form as served: signed in
            assert signed_in.status_code == 303 and SESSION_COOKIE in signed_in.cookies


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%2F%2Fevil.example",
        "\\\\evil.example",
        "//evil.example/approvals/",
        "/approvals//evil.example",
        "/approvals/../../\\evil.example",
        " //evil.example",
        "\t//evil.example",
        "http:evil.example",
        "/approvals/a/../../evil.example",
        "/approvals/%2e%2e/%2e%2e//evil.example",
    ],
)
async def test_the_sign_in_sends_the_approver_nowhere_but_the_approval_page(
    audit_path: Path, browser: Browser, target: str
) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        await c.call_tool("sipgate_send_sms", SMS)
        base = base_of(browser.links()[0])
        async with httpx2.AsyncClient() as http:
            answer = await sign_in(http, base, next=target)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location == "/approvals/", location
    assert "evil" not in location


async def test_the_sign_in_leads_to_the_approval_it_was_asked_for(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        asked = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        base = base_of(browser.links()[0])
        async with httpx2.AsyncClient() as http:
            answer = await sign_in(http, base, next=f"/approvals/a/{asked['approval_id']}")
    assert answer.status_code == 303 and answer.headers["location"] == f"/approvals/a/{asked['approval_id']}"


async def test_a_launch_code_opens_only_its_own_approval(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        a = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        b = (await c.call_tool("sipgate_send_sms", SMS | {"message": "another"})).structured_content
        links = browser.links(2)
        link_a = next(link for link in links if f"/a/{a['approval_id']}?" in link)
        code_a = link_a.split("code=", 1)[1]
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            crossed = await http.get(f"{base_of(link_a)}/approvals/a/{b['approval_id']}?code={code_a}")
            assert crossed.status_code == 403 and SESSION_COOKIE not in http.cookies
            page_b = await http.get(f"{base_of(link_a)}/approvals/a/{b['approval_id']}")
            assert page_b.status_code == 401 and 'value="approve"' not in page_b.text
    store = server.telco_runtime.approvals.store
    assert store.get(b["approval_id"]).status == "pending" and store.get(a["approval_id"]).status == "pending"
    assert writes(server) == []


async def test_a_second_submit_of_a_decided_approval_keeps_the_first_password(
    audit_path: Path, browser: Browser
) -> None:
    first, second = "Tr0ub4dor-and-3", "Correct-Horse-9"
    server = server_for(audit_path, telco_mcp_toolsets="all")
    create = {"username": "anna-desk", "caller_id": "Anna"}
    async with client(server) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", create)).structured_content
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
            page = await follow(http, browser.links()[0])

            async def approve_with(password: str) -> Any:
                return await submit(http, page, "approve", secret_mode="typed", secret=password, secret_repeat=password)

            assert "Approved" in (await approve_with(first)).text
            again = await approve_with(second)  # the back button, or a second tab
            assert again.status_code == 409, "its launch code approved once"
            assert "<h1>Approved — " in again.text and second not in again.text, "the page shows what was decided"
        retry = create | {"approval_id": pending["approval_id"]}
        applied = await c.call_tool("signalwire_create_sip_credential", retry)
    assert applied.structured_content["status"] == "applied", applied.content
    created = applied.structured_content["result"]
    assert server.telco_runtime.sandbox.state.signalwire.sip_passwords[created["id"]] == first
