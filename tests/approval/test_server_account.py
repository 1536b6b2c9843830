"""The server apart from the model (issue 24): a terminal socket a group can reach, and a server under its own uid.

Run as root in CI: the second account is `nobody` (65534), started with `setpriv`; the approver is this test, a
different user, who reaches the page over loopback and approves with the PIN typed for the approval.
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from telco_mcp.approval.passkeys import FilePasskeyStore, RelyingParty, registration_options, verify_registration
from tests.test_trusted_proxies import EXE, child_env, free_port

from .conftest import SMS, client, csrf_of, server_for
from .softkey import SoftKey

pytestmark = pytest.mark.anyio
PIN = "880-1427-3"


async def test_telco_mcp_approval_socket_group_gives_the_socket_to_that_group(
    audit_path: Path, state_home: Path
) -> None:
    group = grp.getgrgid(4).gr_name  # adm: any group this test does not run as
    server = server_for(audit_path, telco_mcp_approval_socket_group=group, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        await c.call_tool("sipgate_send_sms", SMS)
        (sock,) = (state_home / "telco-mcp" / "approvals").glob("*.sock")
        assert sock.stat().st_gid == 4 and sock.stat().st_mode & 0o777 == 0o660
        assert sock.parent.stat().st_gid == 4 and sock.parent.stat().st_mode & 0o777 == 0o750


def test_an_unknown_socket_group_stops_startup(audit_path: Path) -> None:
    from .conftest import settings

    found = settings(audit_path, telco_mcp_approval_socket_group="no-such-group-here").problems()
    assert any("TELCO_MCP_APPROVAL_SOCKET_GROUP" in p and "no-such-group-here" in p for p in found)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize("factor", ["passkey", "pin"])
async def test_a_server_under_its_own_account_is_approved_through_the_page(tmp_path: Path, factor: str) -> None:
    """`telco-mcp serve` as uid 65534 with a state directory only it owns; the person, another user, approves on
    the page with a passkey (what a browser posts, from `softkey`; Chromium itself is the Chromium test's) or with
    the PIN."""
    import tempfile

    outer = Path(tempfile.mkdtemp(prefix="telco-mcp-svc-"))  # pytest's own tmp is 0700 root: not traversable
    os.chmod(outer, 0o755)
    home = outer / "svc"
    (home / "state").mkdir(parents=True)
    shutil.chown(home, 65534, 65534)
    shutil.chown(home / "state", 65534, 65534)
    try:
        await _approve_as_a_person(home, factor)
    finally:
        shutil.rmtree(outer, ignore_errors=True)


async def _approve_as_a_person(home: Path, factor: str) -> None:
    port = free_port()
    key = None
    if factor == "passkey":  # enrolled as `sudo -u telco-mcp telco-mcp approvers enroll` leaves it: the server's
        rp = RelyingParty.for_base(f"http://localhost:{port}")
        key = SoftKey(origin=rp.origin)
        folder = home / "state" / "telco-mcp" / "approvers"
        FilePasskeyStore(folder).add(
            verify_registration(rp, b"c" * 32, key.create(registration_options(rp, b"c" * 32, [])), "desk")
        )
        for path in (folder.parent, folder, *folder.iterdir()):
            shutil.chown(path, 65534, 65534)
    env = child_env(
        home,
        HOME=str(home),
        TELCO_MCP_APPROVER_FACTOR=factor,
        TELCO_MCP_APPROVER_PIN=PIN,
        TELCO_MCP_APPROVAL_PORT=str(port),
        TELCO_MCP_AUDIT_LOG=str(home / "state" / "audit.jsonl"),
    )
    setpriv = ["--reuid=65534", "--regid=65534", "--clear-groups", str(EXE), "serve"]
    params = StdioServerParameters(command=shutil.which("setpriv") or "setpriv", args=setpriv, env=env, cwd=home)
    async with Client(params) as c:
        asked = (await c.call_tool("sipgate_send_sms", SMS)).structured_content or {}
        approval_id = asked["approval_id"]
        state = home / "state" / "telco-mcp"
        approvals = state / "approvals"
        assert approvals.stat().st_uid == 65534 and approvals.stat().st_mode & 0o077 == 0, "the server's account only"
        base = f"http://localhost:{port}"
        async with httpx2.AsyncClient(trust_env=False, timeout=30, follow_redirects=True) as person:
            signin = await person.get(f"{base}/approvals/a/{approval_id}")
            proof = {"pin": PIN} if key is None else {"credential": key.get(_options(signin.text))}
            page = await person.post(
                f"{base}/approvals/signin",
                data={"csrf": csrf_of(signin.text), "next": f"/approvals/a/{approval_id}", **proof},
                headers={"Origin": base},
            )
            proof = {"pin": PIN} if key is None else {"credential": key.get(_options(page.text))}
            approved = await person.post(
                f"{base}/approvals/a/{approval_id}/decide",
                data={"csrf": csrf_of(page.text), "decision": "approve", **proof},
                headers={"Origin": base},
            )
            assert "<h1>Approved — " in approved.text, approved.text
        applied = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
    assert (applied.structured_content or {})["status"] == "applied"
    owner = subprocess.run(["stat", "-c", "%u", str(home / "state" / "audit.jsonl")], capture_output=True, text=True)
    assert owner.stdout.strip() == "65534"


def _options(page: str) -> str:
    import html
    import re

    found = re.search(r'data-passkey-get="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))
