"""OAuth 2.1 on the streamable HTTP transport, with real HTTP on loopback end to end.

A key pair generated here signs the access tokens; the issuer's JWKS is served by a real HTTP server
(`conftest.Issuer`); telco-mcp runs its real HTTP app under uvicorn. Each refused token gets a 401
with `resource_metadata`, and the server keeps serving valid tokens after it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest

from .harness import SG_TOKEN, SMS, Issuer, OAuthServer, oauth_server, text_of

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "httpx2", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
TELCO_MCP = Path(sys.executable).parent / "telco-mcp"


def post_initialize(server: OAuthServer, token: str | None) -> httpx2.Response:
    headers = MCP_HEADERS | ({"Authorization": f"Bearer {token}"} if token is not None else {})
    with httpx2.Client(timeout=15) as http:
        return http.post(server.url, json=INITIALIZE, headers=headers)


def prm_url(server: OAuthServer) -> str:
    return server.base + "/.well-known/oauth-protected-resource/mcp"


def assert_refused(server: OAuthServer, token: str | None) -> None:
    answer = post_initialize(server, token)
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert f'resource_metadata="{prm_url(server)}"' in challenge


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def server(tmp_path: Path, issuer: Issuer) -> Any:
    with oauth_server(tmp_path, issuer) as running:
        yield running


# ------------------------------------------------------------------ accepted and refused tokens
async def test_a_valid_token_lists_and_calls_tools(server: OAuthServer, issuer: Issuer) -> None:
    token = issuer.mint("alice", audience=server.resource, name="Alice Ops")
    assert post_initialize(server, token).status_code == 200
    with anyio.fail_after(60):
        async with server.client(token) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"sipgate_get_account", "sipgate_send_sms"} <= names
            result = await client.call_tool("sipgate_get_account", {})
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None and result.structured_content["company"] == "ACME"


def _none_alg(issuer: Issuer, server: OAuthServer) -> str:
    valid = issuer.mint("mallory", audience=server.resource)
    claims = jwt.decode(valid, options={"verify_signature": False})
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def _tampered(issuer: Issuer, server: OAuthServer) -> str:
    header, _, signature = issuer.mint("bob", audience=server.resource, scope="sipgate:account:read").split(".")
    claims = b64({"iss": issuer.url, "sub": "bob", "aud": server.resource, "exp": 2**31, "scope": "sipgate:*"})
    return f"{header}.{claims}.{signature}"  # more scopes and a longer life, under bob's old signature


def _hmac_with_public_key(issuer: Issuer, server: OAuthServer) -> str:
    from cryptography.hazmat.primitives import serialization

    public = issuer.keys[issuer.current].public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": issuer.url, "sub": "mallory", "aud": server.resource, "exp": 2**31}
    # PyJWT itself refuses to sign with a PEM as an HMAC secret, so the token is assembled by hand.
    import hashlib
    import hmac

    signing_input = f"{b64({'alg': 'HS256', 'kid': issuer.current})}.{b64(claims)}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


REFUSED = {
    "missing": lambda i, s: None,
    "garbage": lambda i, s: "not-a-jwt",
    "expired": lambda i, s: i.mint("alice", audience=s.resource, lifetime=-600),
    "not-yet-valid": lambda i, s: i.mint("alice", audience=s.resource, not_before=2**31 - 1),
    "wrong-audience": lambda i, s: i.mint("alice", audience="telco-mcp-staging"),
    "another-resource": lambda i, s: i.mint("alice", audience="https://other-mcp.example.com/mcp"),
    "wrong-issuer": lambda i, s: i.mint("alice", audience=s.resource, issuer="https://evil.example"),
    "no-subject": lambda i, s: i.mint("", audience=s.resource),
    "alg-none": _none_alg,
    "tampered-signature": _tampered,
    "hs256-with-the-public-key": _hmac_with_public_key,
    "unpublished-key": lambda i, s: i.mint("alice", audience=s.resource, kid=i.new_key(publish=False)),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_tokens_get_401_with_resource_metadata(server: OAuthServer, issuer: Issuer, case: str) -> None:
    token = REFUSED[case](issuer, server)
    assert_refused(server, token)
    with httpx2.Client(timeout=15) as http:  # the approval API refuses it the same way
        answer = http.get(server.base + "/api/approvals", headers={"Authorization": f"Bearer {token}"} if token else {})
    assert answer.status_code == 401 and "resource_metadata=" in answer.headers["www-authenticate"]
    assert post_initialize(server, issuer.mint("alice", audience=server.resource)).status_code == 200
    assert server.fake.requests == []  # nothing reached a provider


async def test_protected_resource_metadata_is_served(tmp_path: Path, issuer: Issuer) -> None:
    with (
        oauth_server(tmp_path, issuer, telco_mcp_oauth_required_scopes="telco-mcp") as server,
        httpx2.Client(timeout=15) as http,
    ):
        document = http.get(prm_url(server))
    assert document.status_code == 200
    body = document.json()
    assert body["resource"] == server.resource
    assert body["authorization_servers"] == [issuer.url]
    assert body["scopes_supported"] == ["telco-mcp"]
    assert body["bearer_methods_supported"] == ["header"]


async def test_a_token_without_the_required_scope_gets_403_insufficient_scope(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_oauth_required_scopes="telco-mcp") as server:
        lacking = issuer.mint("alice", audience=server.resource, scope="sipgate:*")
        answer = post_initialize(server, lacking)
        assert answer.status_code == 403
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
        assert answer.json()["error"] == "insufficient_scope"
        carrying = issuer.mint("alice", audience=server.resource, scope="telco-mcp sipgate:*")
        assert post_initialize(server, carrying).status_code == 200


async def test_the_sse_transport_takes_the_same_tokens(tmp_path: Path, issuer: Issuer) -> None:
    from telco_mcp import transports
    from telco_mcp.server import build_server

    from .harness import _serve_in_thread, _stop

    sock = transports.listen("127.0.0.1", 0)
    port = transports.bound_port(sock)
    resource = f"http://127.0.0.1:{port}/mcp"
    from telco_mcp.settings import Settings

    settings = Settings(
        _env_file=None,  # pyright: ignore[reportCallIssue]
        telco_mcp_audit_log=tmp_path / "audit.jsonl",
        telco_mcp_oauth_issuer=issuer.url,
        telco_mcp_oauth_resource=resource,
        telco_mcp_oauth_jwks_url=issuer.jwks_url,
    )
    app = transports.http_app(build_server(settings), settings, transport="sse", host="127.0.0.1", port=port)
    uv, thread = _serve_in_thread(app, sock)
    try:
        with httpx2.Client(timeout=15) as http:
            refused = http.get(f"http://127.0.0.1:{port}/sse", headers={"Accept": "text/event-stream"})
            assert refused.status_code == 401 and "resource_metadata=" in refused.headers["www-authenticate"]
            token = issuer.mint("alice", audience=resource)
            headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
            with http.stream("GET", f"http://127.0.0.1:{port}/sse", headers=headers) as stream:
                assert stream.status_code == 200
                assert next(stream.iter_lines()) == "event: endpoint"
    finally:
        _stop(uv, thread)


# ------------------------------------------------------------------ the issuer's keys
async def test_jwks_is_cached_and_refetched_once_for_a_rotated_key(server: OAuthServer, issuer: Issuer) -> None:
    first = issuer.mint("alice", audience=server.resource)
    assert post_initialize(server, first).status_code == 200
    assert post_initialize(server, issuer.mint("bob", audience=server.resource)).status_code == 200
    assert issuer.fetches == 1  # cached: one fetch for two tokens
    old = issuer.current
    issuer.new_key()  # the issuer rotates: a new key is published, the old one still listed
    rotated = issuer.mint("alice", audience=server.resource)
    assert post_initialize(server, rotated).status_code == 200
    assert issuer.fetches == 2  # the unknown kid made exactly one refetch
    assert post_initialize(server, issuer.mint("carol", audience=server.resource, kid=old)).status_code == 200
    assert post_initialize(server, rotated).status_code == 200
    assert issuer.fetches == 2
    issuer.published.remove(old)  # retired: a token signed with it fails once the cache knows
    stale = issuer.mint("dave", audience=server.resource, kid=old)
    issuer.new_key()
    assert post_initialize(server, issuer.mint("erin", audience=server.resource)).status_code == 200
    assert issuer.fetches == 3
    assert_refused(server, stale)


async def test_jwks_min_refresh_limits_refetches_for_unknown_keys(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_oauth_jwks_min_refresh=600) as server:
        assert post_initialize(server, issuer.mint("alice", audience=server.resource)).status_code == 200
        issuer.new_key()
        for _ in range(5):  # a flood of tokens with a key id the cache does not know
            assert_refused(server, issuer.mint("alice", audience=server.resource))
        assert issuer.fetches == 1  # the issuer was not asked again within TELCO_MCP_OAUTH_JWKS_MIN_REFRESH


# ------------------------------------------------------------------ per-person tools
async def tool_names(server: OAuthServer, token: str, mode: str = "auto") -> set[str]:
    async with server.client(token, mode=mode) as client:
        return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28, and a 2025-11-25 session
async def test_each_person_lists_and_calls_only_what_their_token_grants(
    server: OAuthServer, issuer: Issuer, mode: str
) -> None:
    reader = issuer.mint("rita", audience=server.resource, scope="sipgate:account:read")
    operator = issuer.mint("otto", audience=server.resource, scope="sipgate:*")
    with anyio.fail_after(60):
        assert await tool_names(server, reader, mode) == {"sipgate_get_account"}
        assert "sipgate_send_sms" in await tool_names(server, operator, mode)
        async with server.client(reader, mode=mode) as client:
            refused = await client.call_tool("sipgate_send_sms", SMS)
            allowed = await client.call_tool("sipgate_get_account", {})
    assert refused.is_error and "insufficient_scope" in text_of(refused)
    assert "sipgate:sessions:sms:write" in text_of(refused)
    assert not allowed.is_error
    assert server.fake.sent("POST") == []
    (line,) = server.audit()  # the attempt beyond her scopes is on record, with who tried
    assert line["outcome"] == "refused" and line["caller"] == {"sub": "rita"} and line["tool"] == "sipgate_send_sms"
    assert "9912345" not in json.dumps(line)  # the unvalidated arguments are not written


async def test_a_token_never_widens_the_servers_own_scopes(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_scopes="sipgate:*:read") as server:
        names = await tool_names(server, issuer.mint("otto", audience=server.resource, scope="*"))
    assert "sipgate_get_account" in names and "sipgate_send_sms" not in names


async def test_scope_map_and_scope_claim_map_roles_to_server_scopes(tmp_path: Path, issuer: Issuer) -> None:
    overrides = {
        "telco_mcp_oauth_scope_claim": "realm_access.roles",
        "telco_mcp_oauth_scope_map": json.dumps(
            {"telco-readers": ["sipgate:*:read"], "telco-sms": "sipgate:sessions:*"}
        ),
    }
    with oauth_server(tmp_path, issuer, **overrides) as server:
        reader = issuer.mint(
            "rita", audience=server.resource, scope="sipgate:*", extra={"realm_access": {"roles": ["telco-readers"]}}
        )
        texter = issuer.mint(
            "tom", audience=server.resource, scope=None, extra={"realm_access": {"roles": ["telco-sms", "other"]}}
        )
        with anyio.fail_after(60):
            read_names = await tool_names(server, reader)
            sms_names = await tool_names(server, texter)
    assert "sipgate_get_account" in read_names and "sipgate_send_sms" not in read_names
    assert "sipgate_send_sms" in sms_names and "sipgate_get_account" not in sms_names


async def test_the_clients_token_never_goes_upstream(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True) as server:
        token = issuer.mint("alice", audience=server.resource)
        with anyio.fail_after(60):
            async with server.client(token) as client:
                assert not (await client.call_tool("sipgate_get_account", {})).is_error
                sent = await client.call_tool("sipgate_send_sms", SMS)
        assert not sent.is_error, text_of(sent)
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1
        expected = "Basic " + base64.b64encode(f"token-CANARY:{SG_TOKEN}".encode()).decode()
        for request in server.fake.requests:
            raw = str(request.headers) + request.content.decode(errors="replace") + str(request.url)
            assert token not in raw and token.split(".")[2] not in raw
            assert request.headers["authorization"] == expected  # the server's own provider credential


# ------------------------------------------------------------------ bound to the caller
def approve_over_api(server: OAuthServer, token: str, approval_id: str, approve: bool = True) -> httpx2.Response:
    with httpx2.Client(timeout=15) as http:
        return http.post(
            f"{server.base}/api/approvals/{approval_id}/decide",
            json={"approve": approve},
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_user_as_approval_cannot_complete_user_bs_call(tmp_path: Path, issuer: Issuer, mode: str) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_confirm="approval") as server:
        alice = issuer.mint("alice", audience=server.resource, name="Alice Ops")
        bob = issuer.mint("bob", audience=server.resource, name="Bob Ops")
        approver = issuer.mint("carol", audience=server.approval_resource, name="Carol Lead")
        with anyio.fail_after(60):
            async with server.client(alice, mode=mode) as client:
                pending = await client.call_tool("sipgate_send_sms", SMS)
            assert pending.structured_content is not None, text_of(pending)
            approval_id = pending.structured_content["approval_id"]
            assert approve_over_api(server, approver, approval_id).status_code == 200
            async with server.client(bob, mode=mode) as client:
                stolen = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
            assert stolen.is_error and "does not belong to this call" in text_of(stolen)
            assert server.fake.sent("POST", "/v2/sessions/sms") == []
            async with server.client(alice, mode=mode) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert not sent.is_error and sent.structured_content is not None, text_of(sent)
        assert sent.structured_content["status"] == "applied"
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1
        applied = [r for r in server.audit() if r["event"] == "attempt" and r["outcome"] == "applied"]
        assert applied[0]["caller"] == {"sub": "alice", "name": "Alice Ops"}
        assert applied[0]["approver"] == {"sub": "carol", "name": "Carol Lead"}
        assert applied[0]["confirmed_by"] == "approval-api"
        refused = [r for r in server.audit() if r["event"] == "attempt" and r["outcome"] == "refused"]
        assert refused[0]["caller"] == {"sub": "bob", "name": "Bob Ops"}


async def test_user_as_confirm_token_cannot_complete_user_bs_call(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_confirm="token") as server:
        alice = issuer.mint("alice", audience=server.resource)
        bob = issuer.mint("bob", audience=server.resource)
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                preview = await client.call_tool("sipgate_send_sms", SMS)
            assert preview.structured_content is not None, text_of(preview)
            confirm_token = preview.structured_content["confirm_token"]
            async with server.client(bob) as client:
                stolen = await client.call_tool("sipgate_send_sms", SMS | {"confirm_token": confirm_token})
            assert stolen.is_error and "another caller" in text_of(stolen)
            assert server.fake.sent("POST", "/v2/sessions/sms") == []
            async with server.client(alice) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS | {"confirm_token": confirm_token})
        assert not sent.is_error, text_of(sent)
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1
        lines = server.audit()
        assert lines and all(r.get("caller", {}).get("sub") in ("alice", "bob") for r in lines)


# ------------------------------------------------------------------ four eyes
def approvals_cli(tmp_path: Path, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "cli-state"),
        "TELCO_MCP_APPROVER_TOKEN": token,
    }
    return subprocess.run(
        [str(TELCO_MCP), "approvals", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def accept(context: Any, params: Any) -> Any:
    from mcp.types import ElicitResult

    return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize("mode", ["auto", "token", "elicit"])
async def test_four_eyes_refuses_self_approval_and_accepts_another_person(
    tmp_path: Path, issuer: Issuer, mode: str
) -> None:
    """In every confirmation mode: the second person approves through the approval API, so every mode's tools
    take (and list) approval_id for the writes four eyes covers."""
    with oauth_server(tmp_path, issuer, telco_mcp_four_eyes="writes", telco_mcp_confirm=mode) as server:
        alice = issuer.mint("alice", audience=server.resource, name="Alice Ops")
        bob = issuer.mint("bob", audience=server.approval_resource, name="Bob Lead")
        alice_approver = issuer.mint("alice", audience=server.approval_resource, name="Alice Ops")
        with anyio.fail_after(90):
            # Alice's own yes in her client is not a second person's: she gets an approval to hand on.
            async with server.client(alice, elicitation_callback=accept) as client:
                listed_tool = next(t for t in (await client.list_tools()).tools if t.name == "sipgate_send_sms")
                pending = await client.call_tool("sipgate_send_sms", SMS)
            assert "approval_id" in listed_tool.input_schema["properties"]
            assert "confirm_token" not in listed_tool.input_schema["properties"]
            assert listed_tool.output_schema is not None
            assert "approval_pending" in listed_tool.output_schema["properties"]["status"]["enum"]
            assert pending.structured_content is not None, text_of(pending)
            assert pending.structured_content["status"] == "approval_pending"
            assert "another person" in text_of(pending) and "--url" in text_of(pending)
            approval_id = pending.structured_content["approval_id"]

            listed = await anyio.to_thread.run_sync(
                lambda: approvals_cli(tmp_path, "list", "--json", "--url", server.url, token=bob)
            )
            assert listed.returncode == 0, listed.stderr
            (item,) = json.loads(listed.stdout)
            assert item["id"] == approval_id and item["four_eyes"] and "Alice Ops" in item["client"]

            own = await anyio.to_thread.run_sync(
                lambda: approvals_cli(tmp_path, "approve", approval_id, "--url", server.base, token=alice_approver)
            )
            assert own.returncode == 1 and "someone else must approve it" in own.stderr
            assert alice_approver not in own.stdout + own.stderr

            token_file = tmp_path / "bob.token"
            token_file.write_text(bob + "\n")
            other = await anyio.to_thread.run_sync(  # Bob's token from a file this time
                lambda: approvals_cli(
                    tmp_path, "approve", approval_id, "--url", server.base, "--token-file", str(token_file), token=""
                )
            )
            assert other.returncode == 0, other.stderr
            assert "approved" in other.stdout

            async with server.client(alice, elicitation_callback=accept) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert sent.structured_content is not None and sent.structured_content["status"] == "applied", text_of(sent)
        assert len(server.fake.sent("POST", "/v2/sessions/sms")) == 1

        lines = server.audit()
        decision = next(r for r in lines if r["event"] == "decision")
        assert decision["caller"] == {"sub": "alice", "name": "Alice Ops"}
        assert decision["approver"] == {"sub": "bob", "name": "Bob Lead"}
        assert decision["decided_by"] == "approval-api" and decision["status"] == "approved"
        intent = next(r for r in lines if r["event"] == "intent")
        applied = next(r for r in lines if r.get("outcome") == "applied")
        for record in (intent, applied):
            assert record["caller"] == {"sub": "alice", "name": "Alice Ops"}
            assert record["approver"] == {"sub": "bob", "name": "Bob Lead"}
        assert all("caller" in r for r in lines if r["event"] in ("intent", "attempt"))


async def test_under_four_eyes_a_confirm_token_is_refused_for_what_it_is(tmp_path: Path, issuer: Issuer) -> None:
    """Token mode hands out tokens for other writes; for one four eyes covers, the caller's token is not a
    second person's yes, and the answer says so (not that the mode takes no tokens)."""
    with oauth_server(tmp_path, issuer, telco_mcp_four_eyes="writes", telco_mcp_confirm="token") as server:
        alice = issuer.mint("alice", audience=server.resource)
        with anyio.fail_after(60):
            async with server.client(alice) as client:
                refused = await client.call_tool("sipgate_send_sms", SMS | {"confirm_token": "v1.1.nonce." + "ab" * 32})
        assert refused.is_error and "needs a second person's approval" in text_of(refused), text_of(refused)
        assert server.fake.sent("POST", "/v2/sessions/sms") == []


async def test_four_eyes_destructive_leaves_other_writes_to_the_caller(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_four_eyes="destructive") as server:
        alice = issuer.mint("alice", audience=server.resource)
        with anyio.fail_after(60):
            async with server.client(alice, elicitation_callback=accept) as client:
                sent = await client.call_tool("sipgate_send_sms", SMS)  # a write, not destructive
        assert sent.structured_content is not None and sent.structured_content["status"] == "applied", text_of(sent)
        applied = next(r for r in server.audit() if r.get("outcome") == "applied")
        assert applied["confirmed_by"] == "elicitation" and applied["caller"] == {"sub": "alice"}


async def test_an_approver_decides_only_writes_their_own_token_grants(tmp_path: Path, issuer: Issuer) -> None:
    with oauth_server(tmp_path, issuer, telco_mcp_confirm="approval") as server:
        alice = issuer.mint("alice", audience=server.resource)
        reader = issuer.mint("rita", audience=server.approval_resource, scope="sipgate:*:read")
        alice_approver = issuer.mint("alice", audience=server.approval_resource)
        async with server.client(alice) as client:
            pending = await client.call_tool("sipgate_send_sms", SMS)
        assert pending.structured_content is not None
        approval_id = pending.structured_content["approval_id"]
        answer = approve_over_api(server, reader, approval_id)
        assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"
        with httpx2.Client(timeout=15) as http:
            auth = {"Authorization": f"Bearer {reader}"}
            listed = http.get(server.base + "/api/approvals", headers=auth)
            malformed = http.post(
                f"{server.base}/api/approvals/{approval_id}/decide",
                content=b'{"approve": "yes"}',
                headers={"Authorization": f"Bearer {alice_approver}"},
            )
        assert listed.status_code == 200 and listed.json()["approvals"] == []
        assert malformed.status_code == 400 and malformed.json()["error"] == "bad_request"
        assert server.fake.sent("POST") == []


async def test_the_approval_page_shows_the_caller_and_cannot_be_the_second_person(
    tmp_path: Path, issuer: Issuer
) -> None:
    pin = "page-pin-271828"
    with oauth_server(tmp_path, issuer, telco_mcp_four_eyes="writes", telco_mcp_approver_pin=pin) as server:
        alice = issuer.mint("alice", audience=server.resource, name="Alice Ops")
        async with server.client(alice) as client:
            pending = await client.call_tool("sipgate_send_sms", SMS)
        assert pending.structured_content is not None, text_of(pending)
        approval_id = pending.structured_content["approval_id"]
        origin = {"Origin": server.base}
        async with httpx2.AsyncClient(base_url=server.base, timeout=15, follow_redirects=True) as http:
            signin = await http.get("/approvals/")
            csrf = signin.text.split('name="csrf" value="')[1].split('"')[0]
            await http.post("/approvals/signin", data={"csrf": csrf, "next": "/approvals/", "pin": pin}, headers=origin)
            page = await http.get(f"/approvals/a/{approval_id}")
            assert page.status_code == 200, page.text
            assert "Alice Ops (alice)" in page.text and "four eyes" in page.text
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            decided = await http.post(
                f"/approvals/a/{approval_id}/decide",
                data={"csrf": csrf, "decision": "approve", "pin": pin},
                headers=origin,
            )
        assert decided.status_code == 409 and "second person" in decided.text
        async with server.client(alice) as client:
            still = await client.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert still.structured_content is not None and still.structured_content["status"] == "approval_pending"
        assert server.fake.sent("POST") == []


async def test_the_configuration_resource_shows_the_oauth_settings_and_the_reader(
    server: OAuthServer, issuer: Issuer
) -> None:
    reader = issuer.mint("rita", audience=server.resource, scope="sipgate:account:read", name="Rita")
    async with server.client(reader) as client:
        contents = (await client.read_resource("telco-mcp://configuration")).contents
    config = json.loads(getattr(contents[0], "text", ""))
    oauth = config["http"]["oauth"]
    assert oauth["issuer"] == issuer.url and oauth["resource"] == server.resource
    assert oauth["approval_resource"] == server.approval_resource
    assert oauth["caller"] == {"sub": "rita", "name": "Rita", "scopes": ["sipgate:account:read"]}
    assert reader not in json.dumps(config)


async def test_a_dynamically_enabled_toolset_applies_to_the_person_who_enabled_it(
    tmp_path: Path, issuer: Issuer
) -> None:
    """Dynamic toolsets over HTTP: one person's `telco_enable_toolset` grows their list, not a colleague's."""
    with oauth_server(
        tmp_path, issuer, telco_mcp_dynamic_toolsets=True, telco_mcp_toolsets="sipgate:account"
    ) as server:
        anna = issuer.mint("anna", audience=server.resource, scope="sipgate:*")
        ben = issuer.mint("ben", audience=server.resource, scope="sipgate:*")
        rita = issuer.mint("rita", audience=server.resource, scope="sipgate:account:read")
        server.fake.route("GET /v2/history", httpx2.Response(200, json={"items": [], "totalCount": 0}))
        with anyio.fail_after(60):
            before = await tool_names(server, anna)
            async with server.client(anna) as client:
                enabled = await client.call_tool("telco_enable_toolset", {"toolset": "sipgate:history"})
                listed = await client.call_tool("telco_list_toolsets", {})
                calls = await client.call_tool("sipgate_list_history", {})
            anna_after = await tool_names(server, anna)  # a new session: still hers
            ben_after = await tool_names(server, ben)
            async with server.client(ben) as client:
                ben_calls = await client.call_tool("sipgate_list_history", {})
            async with server.client(rita) as client:  # a toolset beyond her scopes is not hers to enable
                rita_enable = await client.call_tool("telco_enable_toolset", {"toolset": "sipgate:history"})
    assert "sipgate_list_history" not in before and not enabled.is_error, text_of(enabled)
    assert "sipgate:history (enabled)" in text_of(listed)
    assert not calls.is_error, text_of(calls)
    assert "sipgate_list_history" in anna_after
    assert "sipgate_list_history" not in ben_after
    assert ben_calls.is_error and "Unknown tool" in text_of(ben_calls)
    assert rita_enable.is_error and "not a toolset this server can offer" in text_of(rita_enable)
