"""No canary credential ever leaves the auth layer: not in results, logs, audit lines, errors or manifests.

The server runs with the suite's canary credentials (tests/conftest.py) for SignalWire and each of
sipgate's three auth modes. Its upstream is the sandbox behind a translating transport: a request
must carry exactly the canary credentials (anything else is answered 401), which are then swapped
for the sandbox's own. In OAuth mode the first bearer request is answered 401 so the server refreshes
its token with the canary refresh token and client secret, and gets new canary tokens back.

Every tool is called the ways a model calls it (valid, confirmed by elicitation, confirmed by token,
dry run, invalid arguments) and against injected faults; every text that comes out is scanned for
each canary and for the base64 `Authorization: Basic` value built from them.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from mcp import Client

from telco_mcp import sandbox as sb
from telco_mcp.catalogue import BY_NAME
from telco_mcp.sandbox import Fault, Sandbox, SandboxConnectionDropped
from telco_mcp.server import build_server
from telco_mcp.settings import SIPGATE_TOKEN_PATH

from .conftest import accept, root, valid_arguments

CANARIES: tuple[str, ...] = root.CANARIES
SW_PROJECT: str = root.SW_PROJECT
SW_TOKEN: str = root.SW_TOKEN
SG_TOKEN_ID: str = root.SG_TOKEN_ID
SG_TOKEN: str = root.SG_TOKEN
SG_ACCESS: str = root.SG_ACCESS
SG_REFRESH: str = root.SG_REFRESH
SG_CLIENT_SECRET: str = root.SG_CLIENT_SECRET
SG_PASSWORD: str = root.SG_PASSWORD

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
SG_USERNAME = "ops@example.com"  # tests/conftest.py, password mode
REFRESHED_ACCESS = "canary.sipgate.refreshed-access-token"
REFRESHED_REFRESH = "canary-sipgate-refreshed-refresh-token"


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


SECRETS = (
    *CANARIES,
    REFRESHED_ACCESS,
    REFRESHED_REFRESH,
    basic(SW_PROJECT, SW_TOKEN),
    basic(SG_TOKEN_ID, SG_TOKEN),
    basic(SG_USERNAME, SG_PASSWORD),
)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


class CanaryUpstream(httpx2.AsyncBaseTransport):
    """The sandbox, reachable only with the canary credentials (swapped for the sandbox's own)."""

    def __init__(self, sandbox: Sandbox, *, expire_first_bearer: bool = False) -> None:
        self.sandbox = sandbox
        self.inner = httpx2.ASGITransport(app=sandbox.app)
        self.expire_first_bearer = expire_first_bearer
        self.refreshes = 0
        self.rejected: list[str] = []
        self.swap = {
            "Basic " + basic(SW_PROJECT, SW_TOKEN): "Basic " + basic(sb.SIGNALWIRE_PROJECT_ID, sb.SIGNALWIRE_API_TOKEN),
            "Basic " + basic(SG_TOKEN_ID, SG_TOKEN): "Basic " + basic(sb.SIPGATE_TOKEN_ID, sb.SIPGATE_TOKEN),
            "Basic " + basic(SG_USERNAME, SG_PASSWORD): "Basic " + basic(sb.SIPGATE_USERNAME, sb.SIPGATE_PASSWORD),
            f"Bearer {SG_ACCESS}": f"Bearer {sb.SIPGATE_ACCESS_TOKEN}",
            f"Bearer {REFRESHED_ACCESS}": f"Bearer {sb.SIPGATE_ACCESS_TOKEN}",
        }

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == SIPGATE_TOKEN_PATH:
            return self._token(request)
        supplied = request.headers.get("authorization", "")
        if supplied == f"Bearer {SG_ACCESS}" and self.expire_first_bearer:
            self.expire_first_bearer = False
            return httpx2.Response(401, headers={"WWW-Authenticate": "Bearer"})
        if supplied not in self.swap:
            self.rejected.append(f"{request.method} {request.url.path}")
            return httpx2.Response(401, json={"error": "Unauthorized"})
        request.headers["authorization"] = self.swap[supplied]
        try:
            return await self.inner.handle_async_request(request)
        except SandboxConnectionDropped:
            raise httpx2.RemoteProtocolError("peer closed connection without sending a complete response") from None

    def _token(self, request: httpx2.Request) -> httpx2.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        good = (
            form.get("refresh_token") in (SG_REFRESH, REFRESHED_REFRESH)
            and form.get("client_secret") == SG_CLIENT_SECRET
        )
        if not good:
            self.rejected.append("token refresh with unexpected credentials")
            return httpx2.Response(400, json={"error": "invalid_grant"})
        self.refreshes += 1
        body = {"access_token": REFRESHED_ACCESS, "refresh_token": REFRESHED_REFRESH, "token_type": "Bearer"}
        return httpx2.Response(200, json=body)


MODES = ["token", "oauth", "password"]


def _settings(audit: Path, mode: str) -> Any:
    return root.sipgate_settings(
        audit,
        mode,
        signalwire_space="acme",
        signalwire_project_id=SW_PROJECT,
        signalwire_api_token=SW_TOKEN,
        telco_mcp_allow_writes=True,
    )


def _dump(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False)


async def _exercise(client: Client, sandbox: Sandbox, outputs: list[str]) -> None:
    """Every tool, the ways a model calls it; every result is kept for scanning."""
    tools = [t.name for t in (await client.list_tools()).tools]
    outputs.append(json.dumps([t.model_dump(mode="json") for t in (await client.list_tools()).tools]))
    order = sorted(tools, key=lambda name: name in ("sipgate_hangup_call", "sipgate_transfer_call"))  # last
    for tool in order:
        args = valid_arguments(sandbox)[tool]
        outputs.append(_dump(await client.call_tool(tool, args)))
        outputs.append(_dump(await client.call_tool(tool, {**args, "unexpected_field": 1})))
        if BY_NAME[tool].is_write:
            outputs.append(_dump(await client.call_tool(tool, {**valid_arguments(sandbox)[tool], "dry_run": True})))
            outputs.append(_dump(await client.call_tool(tool, {**args, "confirm_token": "forged-token"})))
    faults = [
        Fault(kind="status", status=401, body={"error": "Unauthorized"}),
        Fault(kind="status", status=422, body={"errors": [{"detail": "bad", "source": {"pointer": "/x"}}]}),
        Fault(kind="status", status=500, body={"error": "boom"}),
        Fault(kind="drop"),
        Fault(kind="malformed_json"),
        Fault(kind="unexpected_shape"),
    ]
    reads = [name for name in ("signalwire_get_sip_profile", "sipgate_list_calls") if name in tools]
    for fault in faults:
        for tool in reads:
            sandbox.add_fault(fault)
            outputs.append(_dump(await client.call_tool(tool, {})))
            sandbox.clear_faults()


async def _approved_writes(client: Client, server: Any, sandbox: Sandbox, outputs: list[str]) -> None:
    """A client without elicitation: the pending approval, a person's yes (as `telco-mcp approvals` gives it),
    then the approved write."""
    for tool in ("signalwire_update_sip_gateway", "sipgate_hold_call", "sipgate_send_sms"):
        args = valid_arguments(sandbox)[tool]
        pending = await client.call_tool(tool, args)
        outputs.append(_dump(pending))
        approval_id = (pending.structured_content or {}).get("approval_id")
        assert approval_id, f"{tool}: no pending approval: {_dump(pending)[:300]}"
        server.telco_runtime.approvals.decide(approval_id, True, "cli")
        outputs.append(json.dumps(vars(server.telco_runtime.approvals.store.get(approval_id)), default=str))
        done = await client.call_tool(tool, {**args, "approval_id": approval_id})
        assert (done.structured_content or {}).get("status") == "applied", _dump(done)[:300]
        outputs.append(_dump(done))


@pytest.mark.parametrize("mode", MODES)
async def test_no_result_log_line_audit_line_or_error_contains_a_credential(
    mode: str, audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx2", "httpcore2", "mcp", "telco_mcp"):
        caplog.set_level(logging.DEBUG, logger=name)
    sandbox = Sandbox(seed=0)
    upstream = CanaryUpstream(sandbox, expire_first_bearer=mode == "oauth")
    server = build_server(_settings(audit_path, mode), transports={"signalwire": upstream, "sipgate": upstream})
    outputs: list[str] = [repr(server.telco_runtime), server.instructions or ""]  # pyright: ignore[reportAttributeAccessIssue]

    async with Client(server, elicitation_callback=accept) as client:
        await _exercise(client, sandbox, outputs)
    sandbox.reset()
    async with Client(server) as client:
        await _approved_writes(client, server, sandbox, outputs)

    assert upstream.rejected == [], f"the server sent other credentials than configured: {upstream.rejected}"
    # OAuth: one refresh for the expired first token, one for the injected 401 on a sipgate read
    assert upstream.refreshes == (2 if mode == "oauth" else 0)
    assert {"httpx2", "telco_mcp"} <= {r.name.split(".")[0] for r in caplog.records}, "the logs were not captured"
    applied = [line for line in audit_path.read_text().splitlines() if '"outcome":"applied"' in line]
    assert applied, "no write was applied: the scan would prove little"

    haystacks = {
        "tool results": "\n".join(outputs),
        "log lines": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records),
        "caplog text": caplog.text,
        "audit log": audit_path.read_text(),
    }
    found = {where: leaks(text) for where, text in haystacks.items() if leaks(text)}
    assert found == {}, f"credentials leaked: {found}"


def test_manifests_server_json_readme_and_docs_contain_no_credential() -> None:
    files = [*sorted((REPO / "tool_manifests").glob("*.json")), REPO / "server.json", REPO / "README.md"]
    files += sorted((REPO / "docs").glob("*.md"))  # the topics the README moved there, the generated pages too
    files += [REPO / "bundle" / "manifest.json", REPO / "bundle" / "manifest.template.json"]
    assert len(files) > 3 and all(f.exists() for f in files)
    found = {str(f.relative_to(REPO)): leaks(f.read_text(encoding="utf-8")) for f in files}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_the_scan_would_see_a_leak() -> None:
    """The detector itself: a canary in plain text and the Basic value built from one are both caught."""
    assert leaks(f"token={SG_TOKEN}") == [SG_TOKEN]
    assert leaks("Authorization: Basic " + basic(SG_TOKEN_ID, SG_TOKEN)) == [basic(SG_TOKEN_ID, SG_TOKEN)]
    assert leaks("Basic [REDACTED]") == []
