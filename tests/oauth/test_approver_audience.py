"""Approver authority apart from MCP access: the approval API is a resource of its own.

Real HTTP on loopback end to end (the issuer's JWKS and telco-mcp's own HTTP app under uvicorn). The
issuer signs one token per audience: the MCP client's token (`server.resource`) never approves; an
approver's token is for `server.approval_resource`. Also the JWT time leeway and the required scopes,
on both resources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
import pytest

from telco_mcp.settings import Settings

from .harness import SMS, Issuer, OAuthServer, oauth_server, text_of
from .test_oauth_http import approve_over_api, post_initialize

pytestmark = pytest.mark.anyio

TELCO_MCP = Path(sys.executable).parent / "telco-mcp"


def get_approvals(server: OAuthServer, token: str) -> httpx2.Response:
    with httpx2.Client(timeout=15) as http:
        return http.get(server.base + "/api/approvals", headers={"Authorization": f"Bearer {token}"})


def approval_prm(server: OAuthServer) -> str:
    return server.base + "/.well-known/oauth-protected-resource/api/approvals"


def assert_mcp_token_refused(server: OAuthServer, answer: httpx2.Response) -> None:
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert f'resource_metadata="{approval_prm(server)}"' in challenge  # the approval API's PRM, not the MCP one's
    why = answer.json()["error_description"]
    assert why == (
        f"this token's audience is the MCP resource ({server.resource}); approvers need a token for "
        f"{server.approval_resource}"
    )
    assert why in challenge


@pytest.mark.parametrize("four_eyes", ["off", "writes"])
async def test_an_mcp_token_cannot_approve_and_an_approval_token_can(
    tmp_path: Path, issuer: Issuer, four_eyes: str
) -> None:
    overrides = {"telco_mcp_confirm": "approval"} if four_eyes == "off" else {"telco_mcp_four_eyes": four_eyes}
    with oauth_server(tmp_path, issuer, **overrides) as server:
        alice = issuer.mint("alice", audience=server.resource, name="Alice Ops")
        bob_mcp = issuer.mint("bob", audience=server.resource, name="Bob Lead")  # what Bob's MCP client holds
        bob = issuer.mint("bob", audience=server.approval_resource, name="Bob Lead")  # his approver token
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                pending = await client.call_tool("sipgate_send_sms", SMS)
        assert pending.structured_content is not None, text_of(pending)
        approval_id = pending.structured_content["approval_id"]

        assert_mcp_token_refused(server, get_approvals(server, bob_mcp))
        assert_mcp_token_refused(server, approve_over_api(server, bob_mcp, approval_id))
        alice_mcp = approve_over_api(server, alice, approval_id)  # the caller's own MCP token: the attack itself
        assert_mcp_token_refused(server, alice_mcp)
        both = issuer.mint("bob", audience=[server.approval_resource, server.resource])  # naming both is not enough
        assert_mcp_token_refused(server, approve_over_api(server, both, approval_id))
        assert server.fake.sent("POST") == []

        listed = get_approvals(server, bob)
        assert listed.status_code == 200 and [a["id"] for a in listed.json()["approvals"]] == [approval_id]
        approved = approve_over_api(server, bob, approval_id)
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert sent.structured_content is not None and sent.structured_content["status"] == "applied", text_of(sent)
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1
        # and an approver's token opens no MCP session: one token per audience, both ways
        assert post_initialize(server, bob).status_code == 401
        (decision,) = [r for r in server.audit() if r["event"] == "decision"]
        assert (decision["channel"], decision["factor"], decision["approver"]["sub"]) == (
            "approval-api",
            "token",
            "bob",
        )
        assert decision["source"].startswith("h:") and "127.0.0.1" not in json.dumps(decision)


async def test_the_cli_says_why_an_mcp_token_is_refused(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_confirm="approval") as server:
        mcp_token = issuer.mint("bob", audience=server.resource)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "XDG_STATE_HOME": str(tmp_path / "cli-state"),
            "TELCO_MCP_APPROVER_TOKEN": mcp_token,
        }
        command = [str(TELCO_MCP), "approvals", "list", "--url", server.base]
        run = await anyio.to_thread.run_sync(
            lambda: subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        )
    assert run.returncode == 2, run.stderr
    assert "this token's audience is the MCP resource" in run.stderr and server.approval_resource in run.stderr
    assert mcp_token not in run.stderr + run.stdout


async def test_the_approval_api_serves_its_own_protected_resource_metadata(tmp_path: Path, issuer: Issuer) -> None:
    with (
        oauth_server(tmp_path, issuer, telco_mcp_oauth_required_scopes="telco-approve") as server,
        httpx2.Client(timeout=15) as http,
    ):
        document = http.get(approval_prm(server))
        mcp_document = http.get(server.base + "/.well-known/oauth-protected-resource/mcp")
        beside = http.get(approval_prm(server) + "-other")
    assert document.status_code == 200, document.text
    body = document.json()
    assert body["resource"] == server.approval_resource
    assert body["authorization_servers"] == [issuer.url]
    assert body["scopes_supported"] == ["telco-approve"]
    assert body["bearer_methods_supported"] == ["header"]
    assert mcp_document.status_code == 200 and mcp_document.json()["resource"] == server.resource  # still there
    assert beside.status_code == 404


async def test_without_an_approval_resource_the_api_is_not_served(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_oauth_approval_resource=None) as server:
        token = issuer.mint("bob", audience=server.resource)
        answer = get_approvals(server, token)
        with httpx2.Client(timeout=15) as http:
            no_prm = http.get(approval_prm(server))
    assert answer.status_code == 404 and "TELCO_MCP_OAUTH_APPROVAL_RESOURCE" in answer.json()["message"]
    assert no_prm.status_code == 404


# ------------------------------------------------------------------ startup
OAUTH = {
    "telco_mcp_oauth_issuer": "https://id.example.com/realms/ops",
    "telco_mcp_oauth_resource": "https://mcp.example.com/mcp",
    "telco_mcp_oauth_jwks_url": "https://id.example.com/realms/ops/protocol/openid-connect/certs",
}


def problems(**values: object) -> list[str]:
    return Settings(_env_file=None, **values).problems()  # pyright: ignore[reportCallIssue]


@pytest.mark.parametrize("same", ["https://mcp.example.com/mcp", "https://MCP.example.com/mcp/"])
def test_an_approval_resource_equal_to_the_mcp_resource_stops_startup(same: str) -> None:
    found = problems(**OAUTH, telco_mcp_oauth_approval_resource=same)
    assert any(p.startswith("TELCO_MCP_OAUTH_APPROVAL_RESOURCE equals TELCO_MCP_OAUTH_RESOURCE") for p in found), found
    assert problems(**OAUTH, telco_mcp_oauth_approval_resource="https://mcp.example.com/api/approvals") == []


@pytest.mark.parametrize("bad", ["https://mcp.example.com", "https://mcp.example.com/", "ftp://mcp.example.com/a"])
def test_an_approval_resource_needs_an_http_url_with_a_path(bad: str) -> None:
    found = problems(**OAUTH, telco_mcp_oauth_approval_resource=bad)
    assert any(p.startswith("TELCO_MCP_OAUTH_APPROVAL_RESOURCE") for p in found), found


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    oauth = {k.upper(): v for k, v in OAUTH.items()}
    return subprocess.run(
        [str(TELCO_MCP), "serve", "--transport", "http", "--port", "0"],
        env=base | oauth | env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("rule", ["destructive", "writes"])
def test_four_eyes_without_an_approval_resource_stops_startup_with_one_line(tmp_path: Path, rule: str) -> None:
    run = serve(tmp_path, TELCO_MCP_FOUR_EYES=rule)
    assert run.returncode == 2 and run.stdout == ""
    lines = [line for line in run.stderr.splitlines() if "TELCO_MCP_OAUTH_APPROVAL_RESOURCE" in line]
    assert len(lines) == 1 and f"TELCO_MCP_FOUR_EYES={rule} needs TELCO_MCP_OAUTH_APPROVAL_RESOURCE" in lines[0]
    assert problems(**OAUTH, telco_mcp_four_eyes=rule, telco_mcp_oauth_approval_resource="https://a.example/ap") == []


def test_an_approval_resource_equal_to_the_mcp_one_stops_the_server(tmp_path: Path) -> None:
    run = serve(tmp_path, TELCO_MCP_OAUTH_APPROVAL_RESOURCE=OAUTH["telco_mcp_oauth_resource"])
    assert run.returncode == 2 and "TELCO_MCP_OAUTH_APPROVAL_RESOURCE equals TELCO_MCP_OAUTH_RESOURCE" in run.stderr


# ------------------------------------------------------------------ the documented 30 s leeway, and scopes
@pytest.mark.parametrize("where", ["mcp", "approvals"])
async def test_exp_and_nbf_have_a_30_second_leeway(tmp_path: Path, issuer: Issuer, where: str) -> None:
    with oauth_server(tmp_path, issuer) as server:
        audience = server.resource if where == "mcp" else server.approval_resource

        def status(**claims: int) -> int:
            token = issuer.mint("alice", audience=audience, **claims)  # type: ignore[arg-type]
            if where == "mcp":
                return post_initialize(server, token).status_code
            return get_approvals(server, token).status_code

        now = int(time.time())
        assert status(lifetime=-20) == 200  # expired 20 s ago: within the leeway
        assert status(lifetime=-60) == 401  # expired 60 s ago: refused
        assert status(not_before=now + 20) == 200
        assert status(not_before=now + 60) == 401


async def test_the_approval_api_honours_the_required_scopes(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_oauth_required_scopes="telco-approve") as server:
        lacking = issuer.mint("bob", audience=server.approval_resource, scope="sipgate:*")
        refused = get_approvals(server, lacking)
        carrying = issuer.mint("bob", audience=server.approval_resource, scope="telco-approve sipgate:*")
        allowed = get_approvals(server, carrying)
    assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert f'resource_metadata="{approval_prm(server)}"' in refused.headers["www-authenticate"]
    assert allowed.status_code == 200
