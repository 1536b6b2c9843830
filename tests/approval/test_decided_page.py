"""The approval page for a person who reloads and returns (issue 26): once a write no longer waits, the page's
heading is what became of it and the form is gone, on every path that shows it; the client is named as the
claim it is; times are UTC with "in N minutes" in the HTML (static/time.js turns them local in a browser).

Fetched through the real page app: the loopback listener (stdio, in-memory client) and the HTTP app's mount.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx2
import pytest

from .conftest import SMS, Browser, client, csrf_of, follow, forms_of, server_for, submit
from .test_approval_page import PIN, approvals_cli, pending_sms

pytestmark = pytest.mark.anyio
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DECIDED_FORM = re.compile(r'<form[^>]*action="[^"]*/decide"')


def heading(page: httpx2.Response) -> str:
    found = re.findall(r"<h1>(.*?)</h1>", page.text, re.S)
    assert len(found) == 1, page.text
    return html.unescape(found[0])


def assert_decided(page: httpx2.Response, expected: str) -> None:
    """A decided (or expired) write's page: its heading is the decision, and nothing on it asks or decides."""
    assert heading(page) == expected, page.text
    assert f"<title>{html.escape(expected, quote=False)} · telco-mcp</title>" in page.text
    assert not DECIDED_FORM.search(page.text) and "<button" not in page.text and not forms_of(page.text)
    assert "Not decided" not in page.text and "Approve this write?" not in page.text
    assert 'name="code"' not in page.text, "the used code is not handed back in a form"


def approval_of(link: str) -> str:
    return link.split("/approvals/a/", 1)[1].split("?", 1)[0]


async def test_a_pending_page_asks_names_the_client_as_its_claim_and_says_when_it_expires(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path, telco_mcp_confirm_ttl=600)
    async with client(server, name='<img src=x onerror="alert(1)">') as c:
        pending = await pending_sms(c)
        async with httpx2.AsyncClient() as http:
            page = await follow(http, browser.links()[0])
    assert heading(page) == "Approve this write?"
    assert ("decision", "approve") in forms_of(page.text)[0]["buttons"]
    assert "the client says it is &lt;img src=x onerror=&#34;alert(1)&#34;&gt; 1.0" in page.text, "escaped, a claim"
    assert "<img" not in page.text and "Asked by" not in page.text
    expires = datetime.fromisoformat(pending["expires_at"]).astimezone(UTC)
    iso = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    utc = expires.strftime("%H:%M:%S UTC")
    assert f'<time datetime="{iso}" data-local-time>{utc}</time>' in page.text, "UTC, which the script makes local"
    assert f'(<span data-until="{iso}">in 10 minutes</span>)' in page.text, "readable without JavaScript"
    assert '<script src="/approvals/static/time.js" defer></script>' in page.text


async def test_approved_then_reloaded_reopened_and_used_the_page_says_what_happened(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        pending = await pending_sms(c)
        link = browser.links()[0]
        async with httpx2.AsyncClient() as http, httpx2.AsyncClient() as later:
            page = await follow(http, link)
            stale_tab = await follow(later, link)  # the same link, opened in a second tab before the decision
            decided = await submit(http, page, "approve")
            assert decided.status_code == 303, "POST-redirect-GET: a reload is a GET"
            assert decided.headers["location"] == "/approvals/" + link.split("/approvals/", 1)[1], "with its code"
            shown = await http.get(str(decided.url.join(decided.headers["location"])))
            reloaded = await http.get(str(shown.url))
            reopened = await later.get(link)  # the launch link, later, in a fresh browser
            pressed_again = await submit(later, stale_tab, "deny")
            await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
            after_use = await later.get(link)
    approved = "Approved — your assistant can send it to sipgate (sandbox)"
    for response in (shown, reloaded, reopened):
        assert response.status_code == 200
        assert_decided(response, approved)
        assert re.search(r"Approved on the approval page at <time datetime=\"[^\"]+\" data-local-time>", response.text)
        assert "send this once, until <time" in response.text and "<h2>What was asked</h2>" in response.text
    assert pressed_again.status_code == 409
    assert_decided(pressed_again, approved)
    assert server.telco_runtime.approvals.store.get(pending["approval_id"]).status == "used", "the deny changed nothing"
    assert_decided(after_use, "Approved — used by your assistant")


async def test_a_denied_write_reloaded_and_reopened_says_denied(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        await pending_sms(c)
        link = browser.links()[0]
        async with httpx2.AsyncClient(follow_redirects=True) as http, httpx2.AsyncClient() as later:
            denied = await submit(http, await follow(http, link), "deny")
            reloaded = await http.get(str(denied.url))
            reopened = await later.get(link)
    for response in (denied, reloaded, reopened):
        assert_decided(response, "Denied")
        assert "Denied on the approval page at <time" in response.text and "Nothing was sent" in response.text


async def test_an_expired_write_says_so_and_offers_nothing(audit_path: Path, browser: Browser) -> None:
    """The session that asked closed: its approval expired undecided (the same page as one past its expiry)."""
    server = server_for(audit_path)
    async with client(server, mode="legacy") as c:
        pending = await pending_sms(c)
        link = browser.links()[0]
    async with client(server, mode="legacy") as staying:  # the page listens again once the server has work
        await pending_sms(staying)
        base = server.telco_runtime.approvals.base_url  # (a new port: it stopped when nothing waited)
        async with httpx2.AsyncClient() as http:
            page = await follow(http, base + "/approvals/" + link.split("/approvals/", 1)[1])
    assert server.telco_runtime.approvals.store.get(pending["approval_id"]).status == "pending"
    assert_decided(page, "Expired, nothing was sent")
    assert "has to ask again" in page.text and re.search(r"It expired at <time datetime=\"[^\"]+\" data-loc", page.text)


async def test_with_the_pin_a_write_decided_in_the_terminal_shows_the_decision_on_the_page(
    audit_path: Path, browser: Browser
) -> None:
    """Served by the HTTP app's mount: the page a person reopens names the channel that decided."""
    from starlette.testclient import TestClient

    from telco_mcp.transports import http_app

    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    app = http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8765)
    async with client(server, name="Claude <Code>") as c:
        first = await pending_sms(c)
        second = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        done = await anyio.to_thread.run_sync(
            lambda: approvals_cli("deny", first["approval_id"], "--pin-stdin", stdin=PIN + "\n")
        )
        assert done.returncode == 0, done.stderr
    with TestClient(app, base_url="http://127.0.0.1:8765") as http:
        signin = http.get("/approvals/")
        listing = http.post(
            "/approvals/signin",
            data={"csrf": csrf_of(signin.text), "pin": PIN, "next": "/approvals/"},
            headers={"Origin": "http://127.0.0.1:8765"},
        )
        reopened = http.get(f"/approvals/a/{first['approval_id']}")
        page = http.get(f"/approvals/a/{second['approval_id']}")
        approved = http.post(
            f"/approvals/a/{second['approval_id']}/decide",
            data={"csrf": csrf_of(page.text), "decision": "approve", "pin": PIN},
            headers={"Origin": "http://127.0.0.1:8765"},
        )
        reloaded = http.get(f"/approvals/a/{second['approval_id']}")
    assert "the client says it is Claude &lt;Code&gt; 1.0" in listing.text and "asked by" not in listing.text
    assert first["approval_id"] not in listing.text, "the list holds only what waits"
    assert_decided(reopened, "Denied")
    assert "Denied in a terminal (telco-mcp approvals) at <time" in reopened.text
    assert [r.status_code for r in approved.history] == [303]
    for response in (approved, reloaded):
        assert_decided(response, "Approved — your assistant can send it to sipgate (sandbox)")


def test_in_n_minutes_rounds_up_and_says_expired_once_past() -> None:
    """The server's words for a page read without JavaScript (static/time.js says the same in the browser)."""
    from telco_mcp.approval.page import _until

    assert [_until(1000 + s, 1000) for s in (-1, 0, 1, 60, 61, 600)] == [
        "expired", "expired", "in 1 minute", "in 1 minute", "in 2 minutes", "in 10 minutes",
    ]  # fmt: skip


async def test_a_bulk_decision_redirects_and_a_reload_shows_it_without_deciding_again(audit_path: Path) -> None:
    """Approve selected / deny everything: 303 to the list, which shows what became of those approvals as the
    store says now (not as the URL says), so a reload decides nothing and a later reload shows their use."""
    from starlette.testclient import TestClient

    from telco_mcp.transports import http_app

    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    app = http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8765)
    origin = {"Origin": "http://127.0.0.1:8765"}
    async with client(server) as c:
        first = await pending_sms(c)
        second = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        third = (await c.call_tool("sipgate_send_sms", SMS | {"message": "third"})).structured_content
        store = server.telco_runtime.approvals.store
        with TestClient(app, base_url="http://127.0.0.1:8765") as http:
            signin = http.get("/approvals/")
            listing = http.post(
                "/approvals/signin", data={"csrf": csrf_of(signin.text), "pin": PIN, "next": "/approvals/"},
                headers=origin,
            )  # fmt: skip
            csrf = csrf_of(listing.text)
            picked = [("csrf", csrf), ("action", "approve"), ("pin", PIN)]
            picked += [("id", first["approval_id"]), ("id", second["approval_id"])]
            approved = http.post(
                "/approvals/bulk", content=urlencode(picked), headers=origin | FORM, follow_redirects=False
            )
            assert approved.status_code == 303
            shown = http.get(approved.headers["location"])
            assert heading(shown) == "2 approved" and "<title>2 approved · telco-mcp</title>" in shown.text
            assert shown.text.count("Approved — your assistant can send it to sipgate (sandbox)") == 2
            assert "third" in shown.text and 'name="id"' in shown.text, "what still waits is listed below"
            states = [store.get(a["approval_id"]).status for a in (first, second, third)]
            reloaded = http.get(approved.headers["location"])  # a reload is this GET, never the POST again
            assert [store.get(a["approval_id"]).status for a in (first, second, third)] == states
            assert heading(reloaded) == "2 approved"
            used = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": first["approval_id"]})
            assert (used.structured_content or {})["status"] == "applied"
            later = http.get(approved.headers["location"])
            assert "Approved — used by your assistant" in later.text, "what the store says now"
            denied = http.post(
                "/approvals/bulk", data={"csrf": csrf, "action": "deny_all"}, headers=origin, follow_redirects=False
            )
            assert denied.status_code == 303
            assert heading(http.get(denied.headers["location"])) == "1 denied"
            assert store.get(third["approval_id"]).status == "denied"
            again = http.post("/approvals/bulk", data={"csrf": csrf, "action": "deny_all"}, headers=origin)
            assert heading(again) == "Nothing was decided", "nothing waited any more"
            forged = http.get(f"/approvals/?decided=apr_unknown&decided={'x' * 500}&decided=<b>")
            assert heading(forged) == "Nothing was decided" and "<b>" not in forged.text
            plain = http.get("/approvals/")
            assert heading(plain) == "Nothing to approve", "the list alone, without a bulk result"
