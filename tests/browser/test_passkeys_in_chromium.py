"""Passkeys in Debian's Chromium, driven by Playwright with a CDP virtual authenticator (issue 24).

One browser for the module's one test, a new context (and authenticator) per scenario:
- enrol with `telco-mcp approvers enroll` (its own localhost page, the one-time code from its terminal), then
  sign in and approve one write on the server's page: exactly one upstream request;
- with `isUserVerified: false` nothing is approved;
- an assertion the page's own script made for approval A, posted for approval B, approves nothing; nor does one
  over A's id with another request digest;
- a replayed assertion approves nothing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from telco_mcp.approval.passkeys import approval_challenge, b64url
from tests.approval.conftest import SMS, client, server_for, writes
from tests.test_trusted_proxies import EXE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
                 "isUserVerified": True}  # fmt: skip
WAIT = 15_000

pytestmark = pytest.mark.anyio

# The page's own script, driven by hand: an assertion over the options a form carries (optionally with another
# challenge), returned instead of submitted.
ASSERT = """async ([challenge]) => {
  const form = document.querySelector("form[data-passkey-get]");
  const json = JSON.parse(form.dataset.passkeyGet);
  if (challenge) json.challenge = challenge;
  const cred = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(json)});
  return JSON.stringify(cred.toJSON());
}"""
POST = """async ([url, fields]) => {
  const answer = await fetch(url, {method: "POST", body: new URLSearchParams(fields), credentials: "same-origin"});
  return [answer.status, await answer.text()];
}"""


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"needs {CHROMIUM}")
        pytest.skip(f"needs {CHROMIUM}")


async def _with_authenticator(browser: Any, *, verified: bool = True) -> tuple[Any, Any, Any, str]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.bring_to_front()
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR | {"isUserVerified": verified}}
    )
    return context, page, cdp, added["authenticatorId"]


def _enroll(state_env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EXE), "approvers", "enroll", "--timeout", "60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=state_env,
    )  # fmt: skip


async def _csrf(page: Any) -> str:
    return await page.locator('input[name="csrf"]').first.get_attribute("value")


async def test_passkeys_enrol_and_approve_in_chromium(audit_path: Path) -> None:
    _require_browser()
    from playwright.async_api import async_playwright

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_MCP_", "SIPGATE_", "SIGNALWIRE_"))}
    server = server_for(audit_path, telco_mcp_approver_factor="passkey", telco_mcp_confirm="approval")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH)
        try:
            context, page, cdp, authenticator = await _with_authenticator(browser)
            # ---- enrol: the enrolment page of `telco-mcp approvers enroll`, with the code from its terminal
            proc = _enroll(env)
            try:
                assert proc.stdout is not None
                url = re.search(r"Open (http://localhost:\d+/\S+) ", proc.stdout.readline())
                code = re.search(r"One-time code [^:]*: (\S+)", proc.stdout.readline())
                assert url and code
                await page.goto(url.group(1))
                await page.fill("#code", code.group(1))
                await page.get_by_role("button", name="Create the passkey").click()
                await page.wait_for_selector("text=Passkey enrolled", timeout=WAIT)
                assert proc.wait(timeout=20) == 0
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # Ctrl-C: no SIGTERM drain
                proc.communicate(timeout=10)

            async with client(server) as c:
                a = (await c.call_tool("sipgate_send_sms", SMS)).structured_content or {}
                b = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content or {}
                service = server.telco_runtime.approvals
                base = service.base_url
                assert base.startswith("http://localhost:")
                # ---- sign in (a session that lists and shows), then approve A with a fresh assertion
                await page.goto(f"{base}/approvals/a/{a['approval_id']}")
                await page.get_by_role("button", name="Sign in with your passkey").click()
                await page.wait_for_selector("text=Approve this write?", timeout=WAIT)
                csrf = await _csrf(page)
                # an assertion the page's script makes for A, posted for B: B stays pending
                for_a = await page.evaluate(ASSERT, [None])
                crossed = await page.evaluate(
                    POST,
                    [
                        f"/approvals/a/{b['approval_id']}/decide",
                        {"csrf": csrf, "decision": "approve", "credential": for_a},
                    ],
                )
                assert crossed[0] == 403 and "challenge" in crossed[1], crossed
                # an assertion over A's id with another request digest (what the page would show for another body)
                other = dataclasses.replace(service.store.get(a["approval_id"]), body={"message": "something else"})
                wrong_digest = await page.evaluate(ASSERT, [b64url(approval_challenge(other))])
                forged = await page.evaluate(
                    POST,
                    [f"/approvals/a/{a['approval_id']}/decide",
                     {"csrf": csrf, "decision": "approve", "credential": wrong_digest}],
                )  # fmt: skip
                assert forged[0] == 403, forged
                assert service.store.get(a["approval_id"]).status == "pending"
                assert service.store.get(b["approval_id"]).status == "pending"
                # the person presses Approve: the page's script asks the authenticator, the form carries it
                await page.get_by_role("button", name="Approve", exact=True).click()
                await page.wait_for_selector("h1:text('Approved')", timeout=WAIT)
                # ---- a replayed assertion: A's own, sent again (A is decided: single-use state, not sign count)
                replayed = await page.evaluate(
                    POST,
                    [
                        f"/approvals/a/{a['approval_id']}/decide",
                        {"csrf": csrf, "decision": "approve", "credential": for_a},
                    ],
                )
                assert replayed[0] == 409, replayed
                applied = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": a["approval_id"]})
                assert (applied.structured_content or {})["status"] == "applied"
                assert len(writes(server)) == 1, "exactly one upstream request"
                # ---- without user verification nothing is approved (the same passkey, the person not verified)
                await cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False})
                await page.goto(f"{base}/approvals/a/{b['approval_id']}")
                await page.get_by_role("button", name="Approve", exact=True).click()
                await page.wait_for_selector(".passkey-error", timeout=WAIT)
                assert "No passkey was used" in await page.locator(".passkey-error").inner_text()
                assert service.store.get(b["approval_id"]).status == "pending"
                retried = await c.call_tool(
                    "sipgate_send_sms", SMS | {"message": "second", "approval_id": b["approval_id"]}
                )
                assert (retried.structured_content or {})["status"] == "approval_pending"
                await context.close()
            assert len(writes(server)) == 1
        finally:
            await browser.close()
