"""The review's cookie theft, against real processes: browsers do not isolate cookies by port, so a server the
model starts on another loopback port (a "dev server" the person opens) receives the approval page's cookie.

`telco-mcp serve` (stdio, its page on a fixed loopback port) sends writes to `telco-mcp sandbox` (which counts
them). The person's browser opens the page and signs in as each factor has it; every cookie it holds is then
replayed by a second process (another Python, as the model's server would) against the approve endpoints, with
the CSRF token the cookie's own session shows. It approves nothing, under `none`, `pin` and `passkey`; then the
person approves with the proof their factor takes, and exactly one write reaches the provider.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from telco_mcp.approval.passkeys import FilePasskeyStore, RelyingParty, registration_options, verify_registration
from tests.test_trusted_proxies import EXE, child_env, free_port, started

from .conftest import SMS, Browser, csrf_of, follow, forms_of
from .softkey import SoftKey

pytestmark = pytest.mark.anyio
PIN = "307-6621-4"

ATTACKER = r"""
import json, sys, httpx2
job = json.load(sys.stdin)
out = {}
with httpx2.Client(trust_env=False, timeout=30, cookies=job["cookies"]) as http:
    page = http.get(job["page"])
    out["page"] = page.status_code
    csrf = None
    if 'name="csrf" value="' in page.text:
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    origin = job["origin"]
    for name, url, data in (
        ("decide", job["page"] + "/decide", {"decision": "approve"}),
        ("bulk", job["base"] + "/approvals/bulk", {"action": "approve", "id": job["id"]}),
    ):
        answer = http.post(url, data={**data, **({"csrf": csrf} if csrf else {})}, headers={"Origin": origin})
        out[name] = answer.status_code
print(json.dumps(out))
"""


def replay(cookies: dict[str, str], base: str, approval_id: str) -> dict[str, int]:
    """The model's own server, a second process, approving with every cookie the person's browser holds."""
    job = {
        "cookies": cookies,
        "base": base,
        "origin": base,
        "page": f"{base}/approvals/a/{approval_id}",
        "id": approval_id,
    }
    done = subprocess.run(
        [sys.executable, "-c", ATTACKER], input=json.dumps(job), capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


@asynccontextmanager
async def deployment(tmp_path: Path, factor: str, browser: Browser) -> AsyncIterator[tuple[Any, str, Any]]:
    """A provider that counts requests, and `telco-mcp serve` with its page on a known port, with `factor`."""
    from telco_mcp.sandbox import SIPGATE_TOKEN, SIPGATE_TOKEN_ID

    provider_dir = tmp_path / "provider"
    provider_dir.mkdir()
    port = free_port()
    with started(provider_dir, ["sandbox", "--port", "0"], child_env(provider_dir), r"sandbox on (http://\S+) ") as m:
        provider = m.group(1)
        env = child_env(
            tmp_path,
            BROWSER=str(browser.script),
            SIPGATE_BASE_URL=provider + "/v2",
            SIPGATE_TOKEN_ID=SIPGATE_TOKEN_ID,
            SIPGATE_TOKEN=SIPGATE_TOKEN,
            TELCO_MCP_ALLOW_WRITES="1",
            TELCO_MCP_CONFIRM="approval",
            TELCO_MCP_APPROVAL_PORT=str(port),
            TELCO_MCP_APPROVER_FACTOR=factor,
            TELCO_MCP_AUDIT_LOG=str(tmp_path / "audit.jsonl"),
            **({"TELCO_MCP_APPROVER_PIN": PIN} if factor == "pin" else {}),
        )
        params = StdioServerParameters(command=str(EXE), args=["serve"], env=env, cwd=tmp_path)
        async with Client(params) as c:
            yield c, f"http://localhost:{port}", provider


def sent(provider: str) -> list[dict[str, Any]]:
    with httpx2.Client(base_url=provider, trust_env=False, timeout=30) as http:
        return [r for r in http.get("/_sandbox/requests").json() if r["method"] != "GET"]


def enrol(tmp_path: Path, origin: str) -> SoftKey:
    """A passkey enrolled in the server's store (what `telco-mcp approvers enroll` leaves there)."""
    rp = RelyingParty.for_base(origin)
    key = SoftKey(origin=rp.origin)
    challenge = b"c" * 32
    store = FilePasskeyStore(tmp_path / "state" / "telco-mcp" / "approvers")
    store.add(verify_registration(rp, challenge, key.create(registration_options(rp, challenge, [])), "laptop"))
    return key


def options(page: str) -> str:
    found = re.search(r'data-passkey-get="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


@pytest.mark.parametrize("factor", ["none", "pin", "passkey"])
async def test_a_cookie_another_loopback_port_received_approves_nothing(
    tmp_path: Path, factor: str, browser: Browser
) -> None:
    async with deployment(tmp_path, factor, browser) as (c, base, provider):
        key = enrol(tmp_path, base) if factor == "passkey" else None
        asked = await c.call_tool("sipgate_send_sms", SMS)
        approval_id = (asked.structured_content or {})["approval_id"]
        async with httpx2.AsyncClient(trust_env=False, timeout=30, follow_redirects=True) as person:
            # The person opens the page as their factor has it: the launch link, or a sign-in.
            if factor == "none":
                page = await follow(person, browser.links()[0])
            else:
                signin = await person.get(f"{base}/approvals/a/{approval_id}")
                proof = {"pin": PIN} if factor == "pin" else {"credential": key.get(options(signin.text))}  # type: ignore[union-attr]
                page = await person.post(
                    f"{base}/approvals/signin",
                    data={"csrf": csrf_of(signin.text), "next": f"/approvals/a/{approval_id}", **proof},
                    headers={"Origin": base},
                )
                assert page.status_code == 200 and "Approve this write?" in page.text, page.text
                assert person.cookies.get("telco_mcp_approval"), "signed in: the session cookie another port receives"
            stolen = dict(person.cookies.items())
            attack = replay(stolen, base, approval_id)
            assert attack["decide"] == 403 and attack["bulk"] == 403, attack
            retried = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
            assert (retried.structured_content or {})["status"] == "approval_pending"
            assert sent(provider) == []
            # The person approves with the proof their factor takes: exactly one write.
            (form,) = [f for f in forms_of(page.text) if f["action"].endswith("/decide")]
            fields = dict(form["fields"])
            proof = {"pin": PIN} if factor == "pin" else {}
            if factor == "passkey":
                proof = {"credential": key.get(options(page.text))}  # type: ignore[union-attr]
            data = {k: v for k, v in fields.items() if k in ("csrf", "code")} | proof | {"decision": "approve"}
            approved = await person.post(f"{base}{form['action']}", data=data, headers={"Origin": base})
            assert "<h1>Approved — " in approved.text, approved.text
        applied = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert (applied.structured_content or {})["status"] == "applied"
        assert len(sent(provider)) == 1
