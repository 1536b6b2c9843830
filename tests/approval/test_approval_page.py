"""The approval page and the terminal as a person (and an attacker) meets them.

The page is served on a loopback listener (stdio and the in-memory client) or under `/approvals/`
of the HTTP app; `telco-mcp approvals` is run as a second process of the same user.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from markupsafe import escape

from .conftest import (
    SMS,
    Browser,
    client,
    csrf_of,
    decide_in_browser,
    first_call_id,
    follow,
    forms_of,
    server_for,
    submit,
    writes,
)

pytestmark = pytest.mark.anyio
PIN = "418-2093"


def approvals_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`telco-mcp approvals ...` from a second process (same user, same XDG_STATE_HOME as this test)."""
    return subprocess.run(
        [sys.executable, "-m", "telco_mcp", "approvals", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def pending_sms(c: Any) -> dict[str, Any]:
    result = await c.call_tool("sipgate_send_sms", SMS)
    assert result.structured_content["status"] == "approval_pending", result
    return result.structured_content


def page_base(link: str) -> str:
    return link.split("/approvals/", 1)[0]


async def test_every_page_is_uncacheable_unframable_and_locked_to_its_own_origin(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        await pending_sms(c)
        link = browser.links()[0]
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await http.get(link)
            css = await http.get(page_base(link) + "/approvals/static/page.css")
            script = await http.get(page_base(link) + "/approvals/static/time.js")
            evil_host = await http.get(str(page.url), headers={"Host": "evil.example"})
    for response in (page, css, script):
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/approvals/static/time.js" defer>'], "own only"
    assert script.headers["content-type"].startswith("text/javascript") and "data-until" in script.text
    assert not re.search(r'(?:src|href|action)="(?:https?:)?//', page.text), "no third-party assets or targets"
    assert 'lang="en"' in page.text and 'name="viewport"' in page.text
    assert page.status_code == 200 and "Approve" in page.text
    assert "set-cookie" not in page.headers, "a launch link is no cookie: its code rides in the form"
    assert evil_host.status_code == 421


async def test_the_page_shows_exactly_what_will_be_sent(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server, name="ops-desk") as c:
        pending = await pending_sms(c)
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = (await follow(http, browser.links()[0])).text
    assert str(escape(pending["summary"])) in page  # autoescaped (Jinja2: markupsafe)
    assert "POST" in page and "/v2/sessions/sms" in page
    assert "+4915799912345" in page, "destinations in full"
    assert "The trunk is down" in page
    assert "The guardrails allow it" in page, "the guardrails' verdict"
    assert "ops-desk 1.0" in page, "which client asked"
    assert "Expires" in page
    assert "Authorization" not in page, "credentials are never on the page"


async def test_a_launch_link_works_until_its_approval_post_uses_it_once(audit_path: Path, browser: Browser) -> None:
    """The code rides in the page's form (never a cookie) until the approval POST takes it: a second approval POST
    with it decides nothing, and another page view shows the decision, read only."""
    server = server_for(audit_path)
    async with client(server) as c:
        await pending_sms(c)
        link = browser.links()[0]
        async with httpx2.AsyncClient() as first, httpx2.AsyncClient() as second:
            opened = await first.get(link)
            assert opened.status_code == 200 and "set-cookie" not in opened.headers
            reopened = await second.get(link)  # not used up by looking
            assert reopened.status_code == 200
            approved = await submit(first, opened)
            assert approved.status_code == 303 and "set-cookie" not in approved.headers
            shown = await first.get(str(approved.url.join(approved.headers["location"])))
            assert "<h1>Approved — " in shown.text
            again = await second.get(link)
            replayed = await submit(second, reopened, "deny")
    assert again.status_code == 200 and "<h1>Approved — " in again.text and not forms_of(again.text)
    assert replayed.status_code == 409 and "<h1>Approved — " in replayed.text and not forms_of(replayed.text)
    approval_id = link.split("/approvals/a/", 1)[1].split("?", 1)[0]
    assert server.telco_runtime.approvals.store.get(approval_id).status == "approved"


async def test_without_the_cookie_the_page_asks_for_a_sign_in_and_offers_no_decision(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        pending = await pending_sms(c)
        base = page_base(browser.links()[0])
        async with httpx2.AsyncClient() as http:
            page = await http.get(f"{base}/approvals/a/{pending['approval_id']}")
            listing = await http.get(f"{base}/approvals/")
            post = await http.post(
                f"{base}/approvals/a/{pending['approval_id']}/decide", data={"decision": "approve", "csrf": "x"}
            )
    assert page.status_code == 401 and "Approve" not in page.text
    assert listing.status_code == 401
    assert post.status_code == 403
    assert server.telco_runtime.approvals.store.get(pending["approval_id"]).status == "pending"


async def test_a_decision_needs_the_launch_code_and_the_pages_origin(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        pending = await pending_sms(c)
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await follow(http, browser.links()[0])
            (form,) = [f for f in forms_of(page.text) if f["action"].endswith("/decide")]
            code = dict(form["fields"])["code"]
            decide = str(page.url.join(form["action"]))
            origin = f"http://{page.url.netloc.decode()}"
            wrong_code = await http.post(
                decide, data={"code": "guess", "decision": "approve"}, headers={"Origin": origin}
            )
            foreign = await http.post(
                decide, data={"code": code, "decision": "approve"}, headers={"Origin": "https://evil.example"}
            )
            cross_site = await http.post(
                decide, data={"code": code, "decision": "approve"}, headers={"Sec-Fetch-Site": "cross-site"}
            )
    assert wrong_code.status_code == foreign.status_code == cross_site.status_code == 403
    assert server.telco_runtime.approvals.store.get(pending["approval_id"]).status == "pending"
    assert writes(server) == []


async def test_a_launch_code_is_bound_to_its_one_approval(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        first = await pending_sms(c)
        second = (await c.call_tool("sipgate_send_sms", SMS | {"message": "another"})).structured_content
        link = browser.links(2)[0]
        code = link.rsplit("code=", 1)[1]
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await follow(http, link)
            base = page_base(str(page.url))
            other = await http.get(f"{base}/approvals/a/{second['approval_id']}?code={code}")
            listing = await http.get(f"{base}/approvals/")
            crossed = await http.post(
                f"{base}/approvals/a/{second['approval_id']}/decide",
                data={"code": code, "decision": "approve"},
                headers={"Origin": base},
            )
    assert first["approval_id"] in str(page.url)
    assert other.status_code == 403 and listing.status_code == 401 and crossed.status_code == 403
    assert server.telco_runtime.approvals.store.get(second["approval_id"]).status == "pending"


async def test_with_the_pin_an_approver_sees_the_pending_list_and_decides_several(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        a = await pending_sms(c)
        b = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        d = (await c.call_tool("sipgate_send_sms", SMS | {"message": "third"})).structured_content
        base = page_base(browser.links(3)[0])
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            signin = await http.get(f"{base}/approvals/")
            assert signin.status_code == 401 and 'type="password"' in signin.text
            listing = await http.post(
                f"{base}/approvals/signin",
                data={"csrf": csrf_of(signin.text), "pin": PIN, "next": "/approvals/"},
                headers={"Origin": base},
            )
            assert listing.status_code == 200 and listing.text.count('name="id"') == 3
            picked = f"csrf={csrf_of(listing.text)}&action=approve&id={a['approval_id']}&id={b['approval_id']}"
            unproven = await http.post(
                f"{base}/approvals/bulk",
                content=picked.encode(),
                headers={"Origin": base, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert unproven.status_code == 403, "a session lists; only the PIN typed for it approves"
            picked += f"&pin={PIN}"
            approved = await http.post(
                f"{base}/approvals/bulk",
                content=picked.encode(),
                headers={"Origin": base, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert "2 approved" in approved.text
            denied = await http.post(
                f"{base}/approvals/bulk",
                data={"csrf": csrf_of(listing.text), "action": "deny_all"},
                headers={"Origin": base},
            )
            assert "1 denied" in denied.text
        results = [
            await c.call_tool("sipgate_send_sms", SMS | {"approval_id": a["approval_id"]}),
            await c.call_tool("sipgate_send_sms", SMS | {"message": "second", "approval_id": b["approval_id"]}),
            await c.call_tool("sipgate_send_sms", SMS | {"message": "third", "approval_id": d["approval_id"]}),
        ]
    assert [r.structured_content["status"] for r in results] == ["applied", "applied", "declined"]
    assert len(writes(server)) == 2


async def test_wrong_pins_lock_the_sign_in_even_for_the_right_pin(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        await pending_sms(c)
        base = page_base(browser.links()[0])
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await http.get(f"{base}/approvals/")
            for guess in ("000000", "111111", "123456", "654321", "999999"):
                page = await http.post(
                    f"{base}/approvals/signin",
                    data={"csrf": csrf_of(page.text), "pin": guess},
                    headers={"Origin": base},
                )
                assert "wrong PIN" in page.text
            locked = await http.post(
                f"{base}/approvals/signin", data={"csrf": csrf_of(page.text), "pin": PIN}, headers={"Origin": base}
            )
    assert locked.status_code == 401 and "too many wrong PINs" in locked.text


async def test_without_a_pin_the_terminal_may_deny_but_never_approve(audit_path: Path) -> None:
    """A coding agent's model runs commands as the user: without a PIN the terminal cannot say yes."""
    server = server_for(audit_path)
    async with client(server) as c:
        first = await pending_sms(c)
        second = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        refused = await anyio.to_thread.run_sync(approvals_cli, "approve", first["approval_id"])
        denied = await anyio.to_thread.run_sync(approvals_cli, "deny", second["approval_id"])
        after = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": first["approval_id"]})
    assert refused.returncode != 0 and "TELCO_MCP_APPROVER_PIN" in refused.stderr
    assert denied.returncode == 0, denied.stderr
    assert after.structured_content["status"] == "approval_pending"
    assert writes(server) == []


def with_pin(*args: str) -> subprocess.CompletedProcess[str]:
    return approvals_cli(*args, "--pin-stdin", stdin=PIN + "\n")


async def test_the_terminal_approves_from_a_second_process(audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        pending = await pending_sms(c)
        listed = await anyio.to_thread.run_sync(with_pin, "list", "--json")
        assert [item["id"] for item in json.loads(listed.stdout)] == [pending["approval_id"]]
        shown = await anyio.to_thread.run_sync(with_pin, "show", pending["approval_id"])
        assert "POST" in shown.stdout and "+4915799912345" in shown.stdout
        assert "asked by: the client says it is " in shown.stdout  # the client's name is its own claim
        done = await anyio.to_thread.run_sync(with_pin, "approve", pending["approval_id"])
        assert done.returncode == 0, done.stderr
        again = await anyio.to_thread.run_sync(with_pin, "deny", pending["approval_id"])
        assert again.returncode == 1 and "already decided" in again.stderr
        applied = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert applied.structured_content["status"] == "applied"
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert [r["confirmed_by"] for r in lines if r.get("outcome") == "applied"] == ["cli"]


async def test_with_a_pin_the_terminal_asks_for_it_and_refuses_a_wrong_one(audit_path: Path) -> None:
    hashed = await anyio.to_thread.run_sync(lambda: approvals_cli("hash-pin", "--pin-stdin", stdin=PIN + "\n"))
    assert hashed.stdout.startswith("scrypt$") and PIN not in hashed.stdout
    server = server_for(audit_path, telco_mcp_approver_pin=hashed.stdout.strip())
    async with client(server) as c:
        pending = await pending_sms(c)
        approval_id = pending["approval_id"]
        wrong = await anyio.to_thread.run_sync(
            lambda: approvals_cli("approve", approval_id, "--pin-stdin", stdin="000000\n")
        )
        assert wrong.returncode != 0 and "wrong PIN" in wrong.stderr
        assert server.telco_runtime.approvals.store.get(approval_id).status == "pending"
        right = await anyio.to_thread.run_sync(
            lambda: approvals_cli("approve", approval_id, "--pin-stdin", stdin=PIN + "\n")
        )
        assert right.returncode == 0, right.stderr
        applied = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
    assert applied.structured_content["status"] == "applied"


async def test_the_terminal_can_grant_call_control_for_a_few_minutes(audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        call_id = await first_call_id(c)
        pending = (await c.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True})).structured_content
        done = await anyio.to_thread.run_sync(
            lambda: with_pin("approve", pending["approval_id"], "--grant-minutes", "10")
        )
        assert done.returncode == 0, done.stderr
        await c.call_tool(
            "sipgate_hold_call", {"call_id": call_id, "value": True, "approval_id": pending["approval_id"]}
        )
        mute = await c.call_tool("sipgate_mute_call", {"call_id": call_id, "value": True})
    assert mute.structured_content["status"] == "applied"
    assert len(writes(server)) == 2


async def test_the_approval_socket_is_private_to_the_user(audit_path: Path, state_home: Path) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        await pending_sms(c)
        sockets = list((state_home / "telco-mcp" / "approvals").glob("*.sock"))
        assert len(sockets) == 1
        assert sockets[0].stat().st_mode & 0o777 == 0o600
        assert sockets[0].parent.stat().st_mode & 0o777 == 0o700


async def test_the_approved_page_says_what_happens_next(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        await pending_sms(c)
        done = await decide_in_browser(browser.links()[0])
    assert re.search(r"<h1>Approved — your assistant can send it", done.text) and "send this once" in done.text


async def test_an_oversized_or_chunked_form_is_not_read_and_decides_nothing(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        pending = await pending_sms(c)
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            page = await follow(http, browser.links()[0])
            origin = f"http://{page.url.netloc.decode()}"
            (fields,) = [f for f in forms_of(page.text) if f["action"].endswith("/decide")]
            code = dict(fields["fields"])["code"]
            form = f"code={code}&decision=approve&pad={'x' * 20_000}".encode()

            async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: only the stream says how long
                for start in range(0, len(form), 4096):
                    yield form[start : start + 4096]

            answer = await http.post(
                str(page.url.join(fields["action"])),
                content=chunked(),
                headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
            )
    assert answer.status_code == 403
    assert server.telco_runtime.approvals.store.get(pending["approval_id"]).status == "pending"


async def test_behind_a_tls_proxy_the_cookies_are_secure_and_the_public_origin_is_accepted(audit_path: Path) -> None:
    """Under HTTP with TELCO_MCP_PUBLIC_URL=https://…, the page is reached through a proxy that speaks TLS."""
    from starlette.testclient import TestClient

    from telco_mcp.transports import http_app

    public = "https://telco.example.com"
    server = server_for(audit_path, telco_mcp_approver_pin=PIN, telco_mcp_public_url=public)
    app = http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8765)
    async with client(server) as c:
        pending = await pending_sms(c)
    with TestClient(app, base_url="https://127.0.0.1:8765") as http:  # the browser speaks TLS to the proxy
        signin = http.get(f"/approvals/a/{pending['approval_id']}")
        assert "secure" in signin.headers["set-cookie"].lower()
        page = http.post(
            "/approvals/signin",
            data={"csrf": csrf_of(signin.text), "pin": PIN, "next": f"/approvals/a/{pending['approval_id']}"},
            headers={"Origin": public},
            follow_redirects=False,
        )
    assert page.status_code == 303 and "secure" in page.headers["set-cookie"].lower()


async def test_the_page_state_keeps_codes_and_cookies_only_as_hashes(audit_path: Path, browser: Browser) -> None:
    """Sessions and launch codes live in the state backend (shared by replicas under TELCO_MCP_STATE_URL):
    a reader of that state learns neither a launch code nor a cookie it could present."""
    from telco_mcp.approval.page import SESSION_COOKIE
    from telco_mcp.approval.sessions import hashed

    server = server_for(audit_path, telco_mcp_approver_pin=PIN)
    state = server.telco_runtime.approvals.page
    codes = server_for(audit_path)
    async with client(codes) as c:
        approval_id = (await pending_sms(c))["approval_id"]
        code = browser.links()[0].rsplit("code=", 1)[1]
        kept = codes.telco_runtime.approvals.page
        assert kept.peek_code(code) is None and kept.peek_code(hashed(code)) == approval_id
    async with client(server) as c:
        await pending_sms(c)
        base = page_base(browser.links(2)[1])
        async with httpx2.AsyncClient() as http:
            signin = await http.get(f"{base}/approvals/")
            signed = await http.post(
                f"{base}/approvals/signin",
                data={"csrf": csrf_of(signin.text), "pin": PIN, "next": "/approvals/"},
                headers={"Origin": base},
            )
            cookie = signed.cookies[SESSION_COOKIE]
    assert state.session(cookie) is None
    session = state.session(hashed(cookie))
    assert session is not None and session.approval is None
