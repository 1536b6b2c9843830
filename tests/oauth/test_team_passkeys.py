"""Team mode with passkeys (issue 24): the page stays local-only for passkeys, and team approvals go through the
approval API with approval-audience tokens. With OAuth and TELCO_MCP_APPROVER_FACTOR=passkey the API approves
(an approval-audience token) while the page, even signed in with a passkey, approves nothing without an assertion
made for that approval."""

from __future__ import annotations

import html
import re
from pathlib import Path

import anyio
import httpx2
import pytest

from telco_mcp.approval.passkeys import FilePasskeyStore, RelyingParty, registration_options, verify_registration
from tests.approval.softkey import SoftKey

from .harness import SMS, Issuer, oauth_server, text_of
from .test_oauth_http import approve_over_api

pytestmark = pytest.mark.anyio


def _get_options(page: str) -> str:
    found = re.search(r'data-passkey-get="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


async def test_with_passkeys_the_api_approves_with_an_approval_token_and_the_page_needs_an_assertion(
    tmp_path: Path, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with oauth_server(tmp_path, issuer, telco_mcp_approver_factor="passkey", telco_mcp_confirm="token") as server:
        base = server.base.replace("127.0.0.1", "localhost")
        rp = RelyingParty.for_base(base)
        key = SoftKey(origin=rp.origin)
        store = FilePasskeyStore(tmp_path / "state" / "telco-mcp" / "approvers")
        store.add(verify_registration(rp, b"c" * 32, key.create(registration_options(rp, b"c" * 32, [])), "ops"))
        alice = issuer.mint("alice", audience=server.resource, name="Alice Ops")
        bob = issuer.mint("bob", audience=server.approval_resource, name="Bob Lead")
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                first = await client.call_tool("sipgate_send_sms", SMS)
                second = await client.call_tool("sipgate_send_sms", SMS | {"message": "second"})
        for asked in (first, second):
            assert (asked.structured_content or {}).get("status") == "approval_pending", text_of(asked)
        one, two = first.structured_content["approval_id"], second.structured_content["approval_id"]  # type: ignore[index]

        # the page: a passkey sign-in lists and shows; approving without an assertion for that approval does nothing
        async with httpx2.AsyncClient(timeout=15, follow_redirects=True, trust_env=False) as person:
            signin = await person.get(f"{base}/approvals/a/{two}")
            csrf = re.search(r'name="csrf" value="([^"]+)"', signin.text).group(1)  # type: ignore[union-attr]
            page = await person.post(
                f"{base}/approvals/signin",
                data={"csrf": csrf, "next": f"/approvals/a/{two}", "credential": key.get(_get_options(signin.text))},
                headers={"Origin": base},
            )
            assert page.status_code == 200 and "Approve this write?" in page.text, page.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            bare = await person.post(
                f"{base}/approvals/a/{two}/decide", data={"csrf": csrf, "decision": "approve"}, headers={"Origin": base}
            )
            assert bare.status_code == 403
        assert server.fake.sent("POST") == []

        # the approval API: an approval-audience token approves (team approvals go there)
        approved = approve_over_api(server, bob, one)
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": one})
                still = await client.call_tool("sipgate_send_sms", SMS | {"message": "second", "approval_id": two})
        assert (sent.structured_content or {}).get("status") == "applied", text_of(sent)
        assert (still.structured_content or {}).get("status") == "approval_pending"
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1
