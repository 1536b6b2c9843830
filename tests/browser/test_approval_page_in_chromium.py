"""The approval page in a real browser: Debian's Chromium, driven by Playwright, against a real
`telco-mcp serve` over stdio whose `$BROWSER` hands the launch link to the test.

The write reaches the (sandboxed) provider exactly once after a click on Approve, and not at all
after Deny. The page passes axe-core's WCAG 2.1 A/AA checks (labels, contrast) and a screenshot is
kept under test-artifacts/. The page of a decided write (reloaded, reopened, denied, expired; times in
the reader's zone) is walked in one browser, served in-process, with a screenshot of each state under
build/test-artifacts/approval-page/. Chromium is installed by `make test` (Debian's `chromium`); under CI
a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.clients.conftest import TELCO_MCP, applied_writes, clean_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "tools" / "node" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("TELCO_MCP_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SMS = {"recipient": "+4915799912345", "message": "Trunk to Frankfurt is down"}
LAUNCH = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = pytest.mark.anyio


def _require_browser() -> None:
    missing = [str(p) for p in (Path(CHROMIUM), AXE) if not p.exists()]
    if missing:
        message = f"needs {', '.join(missing)}: run `make test` (it installs Debian's chromium and the Node tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@asynccontextmanager
async def served(tmp_path: Path, **extra_env: str) -> AsyncIterator[tuple[Client, Path, Path]]:
    """`telco-mcp serve` over stdio (sandbox) with a recording $BROWSER: the client, its browser log, its state."""
    state = tmp_path / "state"
    log = tmp_path / "browser.log"
    script = tmp_path / "browser.sh"
    # The browser must never touch the protocol's pipes: this one writes to stdout and reads stdin, and
    # the session below would break if they were the server's own.
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}"\necho "not json"\nhead -c 64 >/dev/null\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = clean_env(state, BROWSER=str(script)) | extra_env
    del env["TELCO_MCP_APPROVER_PIN"]  # Claude Desktop's setup: no PIN, the browser gets a launch file
    params = StdioServerParameters(command=str(TELCO_MCP), args=["serve"], env=env, cwd=str(tmp_path))
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            yield client, log, state


def _link(log: Path) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().strip():
            return log.read_text().split()[-1]
        time.sleep(0.05)
    raise AssertionError("the server did not hand a link to $BROWSER")


async def _axe_violations(page: Any) -> list[Any]:
    await page.add_script_tag(path=str(AXE))
    report = await page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    assert len(report["passes"]) > 5, "axe ran its checks"
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in report["violations"]]


async def _open(playwright: Any, link: str) -> tuple[Any, Any]:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH)
    context = await browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})  # a phone
    page = await context.new_page()
    await page.goto(link)
    if link.startswith("file://"):  # the launch file redirects to the page at once
        await page.wait_for_url(re.compile(r"^http://localhost:\d+/approvals/a/apr_[\w-]+\?code="), timeout=10_000)
    return browser, page


async def test_a_person_approves_in_chromium_and_the_write_is_sent_once(tmp_path: Path) -> None:
    _require_browser()
    from playwright.async_api import async_playwright

    async with served(tmp_path) as (client, log, state):
        pending = (await client.call_tool("sipgate_send_sms", SMS)).structured_content
        assert pending["status"] == "approval_pending"
        link = _link(log)
        async with async_playwright() as p:
            browser, page = await _open(p, link)
            try:
                assert link.startswith("file://"), "the browser is handed a private file, not the code"
                assert page.url.startswith("http://localhost:"), "links name localhost (passkeys need a host name)"
                assert not await page.context.cookies(), "the launch code rides in the form, never a cookie"
                assert await page.locator("h1").inner_text() == "Approve this write?"
                assert "+4915799912345" in await page.content()
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "approval-page.png"), full_page=True)
                violations = await _axe_violations(page)
                assert violations == [], json.dumps(violations)
                await page.get_by_role("button", name="Approve").click()
                await page.wait_for_load_state()
                assert (await page.locator("h1").inner_text()).startswith("Approved — ")
                await page.screenshot(path=str(ARTIFACTS / "approval-page-approved.png"))
            finally:
                await browser.close()
        with anyio.fail_after(30):
            applied = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
            replay = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert applied.structured_content["status"] == "applied"
    assert replay.is_error
    records = applied_writes(state, "sipgate_send_sms")
    assert len(records) == 1 and records[0]["confirmed_by"] == "approval-page"


async def test_a_person_denies_in_chromium_and_nothing_is_sent(tmp_path: Path) -> None:
    _require_browser()
    from playwright.async_api import async_playwright

    async with served(tmp_path) as (client, log, state):
        pending = (await client.call_tool("sipgate_send_sms", SMS)).structured_content
        async with async_playwright() as p:
            browser, page = await _open(p, _link(log))
            try:
                await page.get_by_role("button", name="Deny").click()
                await page.wait_for_load_state()
                assert await page.locator("h1").inner_text() == "Denied"
                launch_file = Path(_link(log).removeprefix("file://"))
                assert not launch_file.exists(), "the used launch code is gone from disk: no way back in"
            finally:
                await browser.close()
        declined = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert declined.structured_content["status"] == "declined"
    assert applied_writes(state, "sipgate_send_sms") == []


async def test_a_person_types_a_sip_password_in_chromium_that_only_the_provider_gets(tmp_path: Path) -> None:
    _require_browser()
    from playwright.async_api import async_playwright

    create = {"username": "anna-desk"}
    typed = "Corr3ct-h0rse-battery"
    async with served(tmp_path, TELCO_MCP_TOOLSETS="all") as (client, log, state):
        pending = (await client.call_tool("signalwire_create_sip_credential", create)).structured_content
        assert pending["status"] == "approval_pending"
        async with async_playwright() as p:
            browser, page = await _open(p, _link(log))
            try:
                violations = await _axe_violations(page)
                assert violations == [], json.dumps(violations)
                await page.get_by_label("Use the password I type here").check()
                await page.get_by_label("Password (12 to 128 characters)").fill(typed)
                await page.get_by_label("Repeat it").fill(typed)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "approval-page-password.png"), full_page=True)
                await page.get_by_role("button", name="Approve").click()
                await page.wait_for_load_state()
                assert (await page.locator("h1").inner_text()).startswith("Approved — ")
                assert typed not in await page.content()
            finally:
                await browser.close()
        with anyio.fail_after(30):
            applied = await client.call_tool(
                "signalwire_create_sip_credential", create | {"approval_id": pending["approval_id"]}
            )
    assert applied.structured_content["status"] == "applied"
    assert typed not in json.dumps(applied.structured_content) + "".join(
        getattr(b, "text", "") for b in applied.content
    )
    records = applied_writes(state, "signalwire_create_sip_credential")
    assert len(records) == 1 and typed not in json.dumps(records)


# ---------------------------------------------------------------- the page for a person who reloads and returns
STATES = (
    Path(os.environ["TELCO_MCP_TEST_ARTIFACTS"]) / "approval-page"
    if os.environ.get("TELCO_MCP_TEST_ARTIFACTS")
    else ROOT / "build" / "test-artifacts" / "approval-page"
)
NEW_YORK = "America/New_York"


async def _state(page: Any, name: str) -> Path:
    """A screenshot of the page in one state, kept as a test artefact; its heading, and its buttons (none once
    decided), are what the person sees."""
    STATES.mkdir(parents=True, exist_ok=True)
    shot = STATES / f"{name}.png"
    shot.unlink(missing_ok=True)
    await page.screenshot(path=str(shot), full_page=True)
    return shot


async def _heading_and_buttons(page: Any) -> tuple[str, int]:
    return await page.locator("h1").inner_text(), await page.locator("button").count()


async def test_reloaded_reopened_and_expired_the_page_shows_what_happened_in_local_time(
    audit_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One browser: a pending page in New York's time zone (local time, "in N minutes"); approved, reloaded, the
    link reopened in a fresh tab; a denied one; an expired one (its MCP session closed). Each state's screenshot
    is kept under build/test-artifacts/approval-page/. The page keeps its strict CSP (not bypassed here)."""
    _require_browser()
    from zoneinfo import ZoneInfo

    from playwright.async_api import async_playwright

    from tests.approval.conftest import Browser, client, server_for

    recorder = Browser(tmp_path)
    monkeypatch.setenv("BROWSER", str(recorder.script))
    server = server_for(audit_path, telco_mcp_confirm_ttl=600)
    store = server.telco_runtime.approvals.store
    shots: list[Path] = []
    async with client(server, mode="legacy") as c:
        approve = (await c.call_tool("sipgate_send_sms", SMS)).structured_content or {}
        deny = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content or {}
        async with client(server, mode="legacy") as leaving:  # closed below: its approval expires undecided
            expire = (await leaving.call_tool("sipgate_send_sms", SMS | {"message": "third"})).structured_content or {}
        assert store.get(expire["approval_id"]).expired(time.time())
        handed = recorder.links(3)
        links = {a["approval_id"]: next(link for link in handed if f"/a/{a['approval_id']}?" in link)
                 for a in (approve, deny, expire)}  # fmt: skip
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH)
            try:
                context = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
                csp: list[str] = []
                context.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
                page = await context.new_page()
                cdp = await context.new_cdp_session(page)
                await cdp.send("Emulation.setTimezoneOverride", {"timezoneId": NEW_YORK})

                # pending: the question, its buttons, the expiry in New York's time and in how many minutes
                await page.goto(links[approve["approval_id"]])
                assert await _heading_and_buttons(page) == ("Approve this write?", 2)
                expires = datetime.fromtimestamp(store.get(approve["approval_id"]).expires, ZoneInfo(NEW_YORK))
                local = f"{expires:%-I:%M:%S %p} {expires.tzname()}"  # 12-hour, "EST": the en-US reader's own
                shown = (await page.locator("dd time[data-local-time]").inner_text()).replace("\u202f", " ")
                assert shown == local, (shown, local)
                assert await page.locator("dd [data-until]").inner_text() in ("in 10 minutes", "in 9 minutes")
                assert await page.evaluate("until(Date.now() - 1000)") == "expired", "and once past, expired"
                assert "the client says it is test-client 1.0" in await page.content()
                shots.append(await _state(page, "1-pending"))

                # approved: the heading is the decision, no button; a reload is a GET of the same page
                await page.get_by_role("button", name="Approve").click()
                await page.wait_for_load_state()
                approved = "Approved — your assistant can send it to sipgate (sandbox)"
                assert await _heading_and_buttons(page) == (approved, 0)
                assert "/decide" not in page.url, "POST-redirect-GET"
                shots.append(await _state(page, "2-approved"))
                await page.reload()
                assert await _heading_and_buttons(page) == (approved, 0)
                assert "Approved on the approval page at" in await page.locator("p.decided").inner_text()
                shots.append(await _state(page, "3-approved-reloaded"))
                violations = await _axe(page)
                assert violations == [], json.dumps(violations)

                # reopened: the link (its launch file is gone: the address it led to) in a fresh tab
                fresh = await context.new_page()
                await fresh.goto(page.url)
                assert await _heading_and_buttons(fresh) == (approved, 0)
                assert "Approve this write?" not in await fresh.content()
                shots.append(await _state(fresh, "4-approved-reopened"))

                # denied, then reloaded
                await fresh.goto(links[deny["approval_id"]])
                await fresh.get_by_role("button", name="Deny").click()
                await fresh.wait_for_load_state()
                await fresh.reload()
                assert await _heading_and_buttons(fresh) == ("Denied", 0)
                shots.append(await _state(fresh, "5-denied"))

                # expired: nobody decided it before its session closed
                await fresh.goto(links[expire["approval_id"]])
                assert await _heading_and_buttons(fresh) == ("Expired, nothing was sent", 0)
                shots.append(await _state(fresh, "6-expired"))
                violations = await _axe(fresh)
                assert violations == [], json.dumps(violations)
                assert csp == [], csp
            finally:
                await browser.close()
    assert [s.name for s in sorted(STATES.glob("*.png")) if s in shots] == [s.name for s in shots]
    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, (shot, len(data))


async def _axe(page: Any) -> list[Any]:
    """axe-core's WCAG 2.1 A/AA checks, run through the DevTools protocol (no script tag: the CSP stays on)."""
    await page.evaluate(AXE.read_text())
    report = await page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    assert len(report["passes"]) > 5, "axe ran its checks"
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in report["violations"]]
