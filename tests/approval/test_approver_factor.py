"""TELCO_MCP_APPROVER_FACTOR (issue 24): with `pin` or `passkey` every write is approved out of the model's reach.

A client the model starts itself can declare form elicitation and answer its own question "yes" (the review sent
2 SMS that way against a server with a PIN). With a factor, `auto`, `elicit` and `token` act as `approval`: no
client's answer counts, a client that can open URLs is shown the page (URL-mode elicitation), any other gets
`approval_pending`; `confirm_token` leaves the schemas, which then match the shipped manifests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from telco_mcp.manifest import ROOT
from tests.test_trusted_proxies import EXE, child_env, started

from .conftest import SMS, client, server_for, settings, writes

pytestmark = pytest.mark.anyio
PIN = "730-1184"
FACTORS = {"pin": {"telco_mcp_approver_pin": PIN}, "passkey": {}}


class SaysYes:
    """A client the model started: it answers every form "yes" and accepts every URL without anyone looking."""

    def __init__(self) -> None:
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        if params.mode == "url":
            return ElicitResult(action="accept")
        return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("confirm", ["auto", "elicit", "token"])
@pytest.mark.parametrize("factor", FACTORS)
async def test_a_client_that_answers_its_own_question_sends_nothing(
    factor: str, confirm: str, era: str, audit_path: Path
) -> None:
    server = server_for(audit_path, telco_mcp_confirm=confirm, telco_mcp_approver_factor=factor, **FACTORS[factor])
    model = SaysYes()
    async with client(server, mode=era, elicitation_callback=model) as c:
        for _ in range(3):  # and again, as a model would
            answer = await c.call_tool("sipgate_send_sms", SMS)
            assert answer.structured_content is not None
            assert answer.structured_content["status"] == "approval_pending", answer.structured_content
    assert writes(server) == []
    assert model.asked, "a client that can open URLs is shown the page"
    assert all(p.mode == "url" for p in model.asked), "never a form question the client could answer"
    assert all("/approvals/a/" in p.url for p in model.asked)  # type: ignore[union-attr]


@pytest.mark.parametrize("confirm", ["auto", "elicit", "token"])
async def test_without_a_factor_the_same_client_is_asked_by_a_form(confirm: str, audit_path: Path) -> None:
    """The counterpart: TELCO_MCP_APPROVER_FACTOR=none keeps today's behaviour (the client's own yes counts)."""
    server = server_for(audit_path, telco_mcp_confirm=confirm, telco_mcp_approver_pin=PIN)
    model = SaysYes()
    async with client(server, elicitation_callback=model) as c:
        await c.call_tool("sipgate_send_sms", SMS)
    assert [p.mode for p in model.asked] == ["form"]
    assert len(writes(server)) == 1


@pytest.mark.parametrize("factor", FACTORS)
async def test_a_client_that_cannot_elicit_gets_approval_pending_not_a_token(factor: str, audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_confirm="token", telco_mcp_approver_factor=factor, **FACTORS[factor])
    async with client(server) as c:
        answer = await c.call_tool("sipgate_send_sms", SMS)
        data = answer.structured_content or {}
        assert data["status"] == "approval_pending" and "confirm_token" not in data
        refused = await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": "made-up"})
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert f"TELCO_MCP_CONFIRM=token with TELCO_MCP_APPROVER_FACTOR={factor}" in text
    assert writes(server) == []


# ------------------------------------------------------------------ schemas
def _manifest(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "tool_manifests" / f"{name}.json").read_text())


@pytest.mark.parametrize("confirm", ["auto", "elicit", "approval", "token"])
@pytest.mark.parametrize("factor", FACTORS)
async def test_tools_list_under_a_factor_matches_the_manifests(factor: str, confirm: str, audit_path: Path) -> None:
    """Every mode a factor overrides lists what the manifests show (the approval schemas): no confirm_token."""
    server = server_for(
        audit_path,
        telco_mcp_confirm=confirm,
        telco_mcp_approver_factor=factor,
        telco_mcp_toolsets="all",
        **FACTORS[factor],
    )
    async with client(server) as c:
        tools = (await c.list_tools()).tools
    listed = [t for t in tools if (ROOT / "tool_manifests" / f"{t.name}.json").exists()]
    assert sum("approval_id" in t.input_schema["properties"] for t in listed) >= 10
    for tool in listed:
        shipped = _manifest(tool.name)
        assert "confirm_token" not in tool.input_schema.get("properties", {})
        assert tool.input_schema == shipped["inputSchema"], tool.name
        assert tool.output_schema == shipped["outputSchema"], tool.name


async def test_token_mode_without_a_factor_still_offers_confirm_token(audit_path: Path) -> None:
    async with client(server_for(audit_path, telco_mcp_confirm="token")) as c:
        tool = next(t for t in (await c.list_tools()).tools if t.name == "sipgate_send_sms")
    assert "confirm_token" in tool.input_schema["properties"]
    assert "approval_id" not in tool.input_schema["properties"]


# ------------------------------------------------------------------ settings
def test_pin_factor_without_a_pin_is_refused_naming_both(audit_path: Path) -> None:
    problems = settings(audit_path, telco_mcp_approver_factor="pin").problems()
    assert any("TELCO_MCP_APPROVER_FACTOR=pin" in p and "TELCO_MCP_APPROVER_PIN" in p for p in problems), problems
    assert settings(audit_path, telco_mcp_approver_factor="pin", telco_mcp_approver_pin=PIN).problems() == []


def test_passkey_factor_needs_an_https_public_url(audit_path: Path) -> None:
    plain = settings(audit_path, telco_mcp_approver_factor="passkey", telco_mcp_public_url="http://mcp.example.com")
    assert any("https TELCO_MCP_PUBLIC_URL" in p for p in plain.problems())
    tls = settings(audit_path, telco_mcp_approver_factor="passkey", telco_mcp_public_url="https://mcp.example.com")
    assert tls.problems() == []


def test_a_factor_contradicts_confirm_off(audit_path: Path) -> None:
    found = settings(
        audit_path,
        telco_mcp_approver_factor="passkey",
        telco_mcp_confirm="off",
        telco_mcp_confirm_off_acknowledged=True,
    ).problems()
    assert any("contradicts TELCO_MCP_CONFIRM=off" in p for p in found)


# ------------------------------------------------------------------ against real processes
@pytest.mark.parametrize("factor", ["pin", "passkey"])
async def test_a_client_the_model_starts_sends_nothing_through_telco_mcp_serve(tmp_path: Path, factor: str) -> None:
    """The review's attack as it ran: `telco-mcp serve` (stdio) on a provider (`telco-mcp sandbox`, which counts
    requests), a client that declares elicitation and answers yes. Startup says which modes the factor overrides."""
    import httpx2

    from telco_mcp.sandbox import SIPGATE_TOKEN, SIPGATE_TOKEN_ID

    sandbox_dir = tmp_path / "provider"
    sandbox_dir.mkdir()
    with started(sandbox_dir, ["sandbox", "--port", "0"], child_env(sandbox_dir), r"sandbox on (http://\S+) ") as m:
        base = m.group(1)
        env = child_env(
            tmp_path,
            SIPGATE_BASE_URL=base + "/v2",
            SIPGATE_TOKEN_ID=SIPGATE_TOKEN_ID,
            SIPGATE_TOKEN=SIPGATE_TOKEN,
            TELCO_MCP_ALLOW_WRITES="1",
            TELCO_MCP_CONFIRM="auto",
            TELCO_MCP_APPROVER_FACTOR=factor,
            TELCO_MCP_AUDIT_LOG=str(tmp_path / "audit.jsonl"),
            **({"TELCO_MCP_APPROVER_PIN": PIN} if factor == "pin" else {}),
        )
        model = SaysYes()
        params = StdioServerParameters(command=str(EXE), args=["serve"], env=env, cwd=tmp_path)
        async with Client(params, elicitation_callback=model) as c:
            for _ in range(2):
                answer = await c.call_tool("sipgate_send_sms", SMS)
                assert (answer.structured_content or {}).get("status") == "approval_pending", answer
        with httpx2.Client(base_url=base, trust_env=False, timeout=30) as http:
            sent = [r for r in http.get("/_sandbox/requests").json() if r["method"] != "GET"]
    assert sent == []
    assert all(p.mode == "url" for p in model.asked) and model.asked


@pytest.mark.parametrize(("confirm", "outcome"), [("token", "approved with a passkey"), ("approval", "approved with")])
def test_startup_says_which_confirm_values_the_factor_overrides(tmp_path: Path, confirm: str, outcome: str) -> None:
    import subprocess

    env = child_env(tmp_path, TELCO_MCP_APPROVER_FACTOR="passkey", TELCO_MCP_CONFIRM=confirm)
    done = subprocess.run(  # stdin at EOF: the stdio server starts, then ends cleanly
        [str(EXE), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "TELCO_MCP_APPROVER_FACTOR=passkey" in x]
    assert "TELCO_MCP_CONFIRM=auto, elicit and token act as approval for every write" in line
    assert f"TELCO_MCP_CONFIRM={confirm} here" in line and outcome in line


def test_startup_refuses_the_pin_factor_without_a_pin(tmp_path: Path) -> None:
    import subprocess

    env = child_env(tmp_path, TELCO_MCP_APPROVER_FACTOR="pin")
    done = subprocess.run(
        [str(EXE), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert done.returncode != 0
    assert "TELCO_MCP_APPROVER_FACTOR=pin needs TELCO_MCP_APPROVER_PIN" in done.stderr


async def test_under_passkey_the_terminal_prints_the_page_url_and_fails(audit_path: Path) -> None:
    import subprocess
    import sys

    import anyio

    server = server_for(audit_path, telco_mcp_approver_factor="passkey")
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content or {}
        approval_id = pending["approval_id"]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "telco_mcp", "approvals", *args], capture_output=True, text=True, timeout=60
            )

        listed = await anyio.to_thread.run_sync(cli, "list")
        approve = await anyio.to_thread.run_sync(cli, "approve", approval_id)
        denied = await anyio.to_thread.run_sync(cli, "deny", approval_id)
        url = server.telco_runtime.approvals.page_url(approval_id)
    assert approval_id in listed.stdout
    assert approve.returncode != 0 and url in approve.stderr and url.startswith("http://localhost:")
    assert denied.returncode == 0, denied.stderr  # deny needs no factor
    assert writes(server) == []


@pytest.mark.parametrize("factor", ["passkey", "none"])
def test_under_http_with_passkeys_the_port_is_held_on_ipv6_loopback_too(tmp_path: Path, factor: str) -> None:
    """Links say localhost, which a browser may try on ::1 first: with passkeys the HTTP server holds [::1]:PORT
    as well, so no local process can serve a page of its own on that origin."""
    import socket

    env = child_env(tmp_path, TELCO_MCP_APPROVER_FACTOR=factor)
    with started(
        tmp_path, ["serve", "--transport", "http", "--port", "0"], env, r"on http://127\.0\.0\.1:(\d+)/mcp"
    ) as m:
        port = int(m.group(1))
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as squatter:
            try:
                squatter.bind(("::1", port))
                took = True
            except OSError:
                took = False
    assert took is (factor != "passkey")
