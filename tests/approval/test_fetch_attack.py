"""The attack the approval page must withstand: a model with a web-fetch tool (and a shell) that
fetches every URL it was ever given, submits every form on those pages with whatever the page
fills in, and retries the write tools with every id or token it has seen. 0 upstream writes.

The model sees tool results only. To be generous to the attacker it is also given every link a
human could be sent without a launch code (the pending list, each approval's clean URL, the
webhook notice), and it runs `telco-mcp approvals` itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import anyio
import httpx2
import pytest

from .conftest import SMS, Browser, client, first_call_id, forms_of, server_for, writes

pytestmark = pytest.mark.anyio
URL = re.compile(r"https?://[^\s\"'<>\\]+")
CANDIDATE = re.compile(r"\b(?:apr_[A-Za-z0-9_-]+|v1\.[0-9]+\.[A-Za-z0-9_-]+\.[0-9a-f]+|[A-Za-z0-9_-]{20,})\b")


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_of(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []


async def fetch_and_submit_everything(urls: set[str], seen: list[str]) -> None:
    """GET every URL (keeping cookies like a browser), then submit every form with its own values."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
        queue = list(urls)
        visited: set[str] = set()
        while queue:
            url = queue.pop()
            if url in visited or len(visited) > 200:
                continue
            visited.add(url)
            try:
                page = await http.get(url)
            except httpx2.HTTPError:
                continue
            seen.append(page.text)
            queue += [urljoin(str(page.url), href) for href in re.findall(r'href="([^"]+)"', page.text)]
            for form in forms_of(page.text):
                target = urljoin(str(page.url), form["action"])
                variants = form["buttons"] or [("", "")]
                for name, value in variants:
                    data = [(k, v) for k, v in form["fields"]] + ([(name, value)] if name else [])
                    for guess in ("", "000000", "123456"):
                        filled = [(k, guess if k == "pin" else v) for k, v in data]
                        origin = f"{page.url.scheme}://{page.url.netloc.decode()}"
                        for headers in ({}, {"Origin": origin}):
                            body = urlencode(filled).encode()
                            form_headers = headers | {"Content-Type": "application/x-www-form-urlencoded"}
                            answer = await http.request(
                                form["method"].upper(), target, content=body, headers=form_headers
                            )
                            seen.append(answer.text)


async def test_a_fetch_capable_model_cannot_approve_anything(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin="615-2248")
    results: list[Any] = []
    async with client(server) as c:
        call_id = await first_call_id(c)
        calls = {
            "sipgate_send_sms": SMS,
            "sipgate_hold_call": {"call_id": call_id, "value": True},
            "sipgate_hangup_call": {"call_id": call_id},
            "sipgate_start_call": {"caller": "e0", "callee": "+4930555123"},
        }
        for name, args in calls.items():
            results.append(await c.call_tool(name, args))
            results.append(await c.call_tool(name, args | {"dry_run": True}))
        results.append(await c.call_tool("sipgate_list_history", {"limit": 5}))

        texts = [s for r in results for s in strings_of(r.model_dump(mode="json"))]
        service = server.telco_runtime.approvals
        pending = service.store.pending()
        assert len(pending) == len(calls) and browser.opened() == len(calls)
        known_links = {service.list_url(), *(service.page_url(a.id) for a in pending)}
        known_links |= {service.notice(a)["url"] for a in pending}
        urls = {u for t in texts for u in URL.findall(t)} | known_links
        seen: list[str] = []
        await fetch_and_submit_everything(urls, seen)

        assert any("Sign in to see approvals" in page for page in seen), "the attack reached the approval page"
        assert any("wrong PIN" in page for page in seen), "and submitted its sign-in form"
        candidates = {m for t in texts + seen for m in CANDIDATE.findall(t)}
        assert {a.id for a in pending} <= candidates, "the attacker does know the approval ids"
        for candidate in sorted(candidates):
            done = await anyio.to_thread.run_sync(
                lambda cand=candidate: subprocess.run(
                    [sys.executable, "-m", "telco_mcp", "approvals", "approve", cand, "--pin-stdin"],
                    input="\n", capture_output=True, text=True, timeout=60, check=False,
                )
            )  # fmt: skip
            assert done.returncode != 0, done.stdout
        for name, args in calls.items():
            for candidate in sorted(candidates):
                for field in ("approval_id", "confirm_token"):
                    await c.call_tool(name, args | {field: candidate})

    assert writes(server) == [], "nothing reached the provider"
    assert all(a.status == "pending" for a in service.store.pending()) and len(service.store.pending()) >= len(calls)
    audit = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert not [r for r in audit if r.get("event") == "intent"]


async def test_the_same_attack_does_approve_with_a_launch_link_so_the_harness_can_tell(
    audit_path: Path, browser: Browser
) -> None:
    """Positive control: handed the link that only the person's browser gets, the harness approves."""
    server = server_for(audit_path)
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        seen: list[str] = []
        await fetch_and_submit_everything({browser.links()[0]}, seen)
        result = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert result.structured_content["status"] in ("applied", "declined")
    assert any("<h1>Approved — " in page or "<h1>Denied</h1>" in page for page in seen)
