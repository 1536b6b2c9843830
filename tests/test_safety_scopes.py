"""Scopes decide what is listed (issue 4): read-only default, TELCO_MCP_SCOPES, sipgate token scopes, the CLI.

Expected tool sets are spelled out by name here (not derived from the catalogue), so a scope that
silently moves a tool in or out of a set fails a test.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CANARIES,
    SG_TOKEN,
    SG_TOKEN_ID,
    SW_PROJECT,
    SW_TOKEN,
    FakeUpstream,
    accept,
    client_for,
    make_settings,
    response,
    signalwire_settings,
    sipgate_settings,
    text_of,
)

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.cli import main
from telco_mcp.errors import ConfigError
from telco_mcp.server import build_server
from telco_mcp.settings import Settings

MODES = ["auto", "legacy"]
GW_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"

SW_READS = {
    "signalwire_list_sip_credentials",
    "signalwire_get_sip_credential",
    "signalwire_list_sip_gateways",
    "signalwire_get_sip_profile",
    "signalwire_list_recordings",
    "signalwire_get_recording",
}
SW_WRITES = {"signalwire_update_sip_gateway", "signalwire_update_sip_profile", "signalwire_delete_recording"}
SG_READS = {"sipgate_get_account", "sipgate_list_calls", "sipgate_list_sms_senders", "sipgate_list_history",
            "sipgate_wait_for_call_event"}  # fmt: skip  # issue 16: live call events, with the running calls
SG_RTCM_READS = {"sipgate_list_calls", "sipgate_wait_for_call_event"}  # rtcm:read: running calls and their events
SG_RTCM_WRITES = {
    "sipgate_hold_call",
    "sipgate_mute_call",
    "sipgate_record_call",
    "sipgate_transfer_call",
    "sipgate_send_dtmf",
    "sipgate_play_announcement",
    "sipgate_hangup_call",
}
SG_SESSION_WRITES = {"sipgate_start_call", "sipgate_send_sms"}
SG_WRITES = SG_RTCM_WRITES | SG_SESSION_WRITES
ALL_TOOLS = SW_READS | SW_WRITES | SG_READS | SG_WRITES
# Reads outside the default exposure (issue 13): listed only when their toolset is enabled.
SW_TOOLSET_READS = {
    "signalwire_get_sip_gateway",
    "signalwire_list_phone_numbers",
    "signalwire_get_phone_number",
    "signalwire_list_voice_logs",
    "signalwire_get_voice_log",
    "signalwire_list_messaging_logs",
}


def both_providers(audit: Path, **overrides: Any) -> Settings:
    return signalwire_settings(audit, sipgate_token_id=SG_TOKEN_ID, sipgate_token=SG_TOKEN, **overrides)


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped access token, as sipgate's OAuth server hands them out (signature not checked)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def listed(settings: Settings, mode: str = "auto") -> set[str]:
    async with client_for(settings, FakeUpstream(), mode=mode) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


# ================================================================== read-only by default
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_real_credentials_are_read_only_by_default(mode: str, audit_path: Path) -> None:
    assert await listed(both_providers(audit_path), mode) == SW_READS | SG_READS


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_read_only_tools_carry_read_only_annotations(mode: str, audit_path: Path) -> None:
    async with client_for(both_providers(audit_path), FakeUpstream(), mode=mode) as client:
        tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        assert tool.annotations is not None and tool.annotations.read_only_hint is True, tool.name
        assert "dry_run" not in json.dumps(tool.input_schema), tool.name


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"}),
        ("signalwire_delete_recording", {"id": GW_ID}),
        ("sipgate_send_sms", {"recipient": "+49 1579 9912345", "message": "hello"}),
        ("sipgate_hangup_call", {"call_id": "c1"}),
    ],
)
async def test_a_write_tool_cannot_be_called_by_name_in_read_only_mode(
    tool: str, args: dict[str, Any], mode: str, audit_path: Path
) -> None:
    fake = FakeUpstream()
    fake.route("GET /v2/calls", response(200, {"data": [{"callId": "c1", "participants": []}]}))

    async with client_for(both_providers(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        plain = await client.call_tool(tool, args)
        dry = await client.call_tool(tool, args | {"dry_run": True})

    assert plain.is_error and dry.is_error
    assert tool in text_of(plain)
    assert fake.requests == [], "not even a supporting read is sent for an unlisted tool"
    assert not audit_path.exists() or "applied" not in audit_path.read_text()


@pytest.mark.anyio
async def test_allow_writes_lists_the_write_tools(audit_path: Path) -> None:
    assert await listed(both_providers(audit_path, telco_mcp_allow_writes=True)) == ALL_TOOLS


@pytest.mark.anyio
async def test_allow_writes_false_keeps_the_sandbox_read_only(audit_path: Path) -> None:
    sandbox = make_settings(audit_path, telco_mcp_sandbox=True)
    assert await listed(sandbox) == ALL_TOOLS  # the sandbox allows writes by default
    read_only = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=False)
    assert await listed(read_only) == SW_READS | SG_READS


@pytest.mark.anyio
async def test_write_tools_are_annotated_as_writes_and_take_dry_run_and_approval_id(audit_path: Path) -> None:
    async with client_for(both_providers(audit_path, telco_mcp_allow_writes=True), FakeUpstream()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in SW_WRITES | SG_WRITES:
        tool = tools[name]
        assert tool.annotations is not None and tool.annotations.read_only_hint is False, name
        assert {"dry_run", "approval_id"} <= set(tool.input_schema["properties"]), name
        assert "confirm_token" not in tool.input_schema["properties"], "only TELCO_MCP_CONFIRM=token takes tokens"
    hints = {name: tool.annotations for name, tool in tools.items() if tool.annotations is not None}
    assert hints["sipgate_hangup_call"].destructive_hint is True
    assert hints["signalwire_delete_recording"].destructive_hint is True
    assert hints["sipgate_send_sms"].destructive_hint is False


# ================================================================== TELCO_MCP_SCOPES
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param("*", ALL_TOOLS, id="everything"),
        pytest.param("sipgate:*:read", SG_READS, id="sipgate-reads"),
        pytest.param("signalwire:*", SW_READS | SW_WRITES, id="signalwire-all"),
        pytest.param(
            "signalwire:sip_gateways:*",
            {"signalwire_list_sip_gateways", "signalwire_update_sip_gateway"},
            id="gateways",
        ),
        pytest.param("*:read", SW_READS | SG_READS, id="all-reads"),
        pytest.param("sipgate:rtcm:write", SG_RTCM_WRITES, id="rtcm-writes"),
        pytest.param("sipgate:sessions:*", SG_SESSION_WRITES, id="sessions"),
        pytest.param("sipgate:sessions:sms:write", {"sipgate_send_sms"}, id="sms-only"),
        pytest.param(
            "signalwire:sip_gateways:*,sipgate:sessions:sms:write",
            {"signalwire_list_sip_gateways", "signalwire_update_sip_gateway", "sipgate_send_sms"},
            id="comma-list",
        ),
        pytest.param(
            " sipgate:history:read , signalwire:recordings:read ,",
            {"sipgate_list_history", "signalwire_list_recordings", "signalwire_get_recording"},
            id="spaces-and-trailing-comma",
        ),
        pytest.param("*:*:*", ALL_TOOLS, id="wildcard-in-every-part"),
        pytest.param("", set(), id="empty"),
    ],
)
async def test_scope_patterns_filter_the_tool_list_exactly(scopes: str, expected: set[str], audit_path: Path) -> None:
    settings = both_providers(audit_path, telco_mcp_allow_writes=True, telco_mcp_scopes=scopes)
    assert await listed(settings) == expected


@pytest.mark.parametrize(
    ("scopes", "named"),
    [
        pytest.param(
            "sipgate:rtcm:raed", ["'sipgate:rtcm:raed': unknown action 'raed' (known: read, write)"], id="typo"
        ),
        pytest.param("junk", ["'junk': unknown provider 'junk' (known: signalwire, sipgate)"], id="junk"),
        pytest.param("telephony:*", ["unknown provider 'telephony'"], id="unknown-provider"),
        pytest.param("sipgate:*:raed", ["unknown action 'raed'"], id="typo-under-wildcard"),
        pytest.param("sipgate:acount:read", ["unknown resource 'acount' for sipgate", "history"], id="resource"),
        pytest.param("sipgate:history", ["add the action, e.g. sipgate:history:read"], id="no-implicit-prefix"),
        pytest.param("sipgate:account:write", ["'sipgate:account:write' grants no tool"], id="no-such-tool"),
        pytest.param(
            "sipgate:*:read, signalwire:sip_gatways:*,sipgate:rtcm:raed",
            ["'signalwire:sip_gatways:*': unknown resource", "'sipgate:rtcm:raed'"],
            id="every-bad-entry-of-a-list",
        ),
    ],
)
def test_a_scope_pattern_that_grants_nothing_stops_startup_naming_the_entry(
    scopes: str, named: list[str], audit_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_server(both_providers(audit_path, telco_mcp_scopes=scopes))
    for text in named:
        assert text in str(caught.value)
    assert "TELCO_MCP_SCOPES" in str(caught.value)
    assert "'sipgate:*:read'" not in str(caught.value), "a good entry is not reported"


def test_scope_check_knows_every_scope_the_catalogue_declares(audit_path: Path) -> None:
    """Derived from the catalogue, not a second list: each declared scope is accepted on its own."""
    for scope in {op.scope for op in CATALOGUE}:
        build_server(both_providers(audit_path, telco_mcp_scopes=scope))


def test_the_tools_command_names_a_scope_typo_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_signalwire_env(monkeypatch)
    monkeypatch.setenv("TELCO_MCP_SCOPES", "signalwire:sip_gateways:raed")
    with pytest.raises(SystemExit) as exited:
        main(["tools"])
    assert exited.value.code == 2
    assert "TELCO_MCP_SCOPES: 'signalwire:sip_gateways:raed': unknown action 'raed'" in capsys.readouterr().err


def test_serving_no_tool_at_all_is_warned_loudly(audit_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # only sipgate is configured, only signalwire is granted: a valid configuration with nothing in it
    with caplog.at_level(logging.WARNING, logger="telco_mcp"):
        build_server(sipgate_settings(audit_path, telco_mcp_scopes="signalwire:*"))
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NO TOOLS ARE EXPOSED" in w and "signalwire is not configured" in w for w in warning), warning
    assert any("scope sipgate:account:read is not granted by TELCO_MCP_SCOPES" in w for w in warning), warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="telco_mcp"):
        build_server(sipgate_settings(audit_path, telco_mcp_scopes="sipgate:*"))
    assert not [r for r in caplog.records if "NO TOOLS" in r.getMessage()]


@pytest.mark.anyio
async def test_granted_write_scopes_still_respect_read_only_mode(audit_path: Path) -> None:
    settings = both_providers(audit_path, telco_mcp_scopes="signalwire:sip_gateways:*,sipgate:sessions:*")
    assert await listed(settings) == {"signalwire_list_sip_gateways"}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_outside_the_granted_scopes_cannot_be_called(mode: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    settings = both_providers(audit_path, telco_mcp_allow_writes=True, telco_mcp_scopes="sipgate:*:read")

    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": "+49 1579 9912345", "message": "x"})
        gateways = await client.call_tool("signalwire_list_sip_gateways", {})

    assert result.is_error and gateways.is_error
    assert fake.requests == []


# ================================================================== sipgate OAuth token scopes
def oauth(audit: Path, token_scope: str | None, **overrides: Any) -> Settings:
    claims: dict[str, Any] = {"sub": "w0", "exp": 4102444800}
    if token_scope is not None:
        claims["scope"] = token_scope
    return sipgate_settings(audit, "oauth", sipgate_access_token=jwt(claims), telco_mcp_allow_writes=True, **overrides)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("token_scope", "expected"),
    [
        pytest.param("rtcm:read history:read", {*SG_RTCM_READS, "sipgate_list_history"}, id="two-reads"),
        pytest.param("sessions:write", SG_SESSION_WRITES, id="sessions-umbrella"),
        pytest.param("sessions:sms:write", {"sipgate_send_sms"}, id="sms-write"),
        pytest.param("sessions:calls:write", {"sipgate_start_call"}, id="calls-write"),
        pytest.param("rtcm:read rtcm:write", SG_RTCM_READS | SG_RTCM_WRITES, id="rtcm"),
        pytest.param("all", SG_READS | SG_WRITES, id="all"),
        pytest.param("openid", set(), id="unrelated-only"),
        pytest.param(None, SG_READS | SG_WRITES, id="no-scope-claim"),
    ],
)
async def test_a_sipgate_oauth_token_narrows_the_sipgate_tools_to_its_scopes(
    token_scope: str | None, expected: set[str], audit_path: Path
) -> None:
    assert await listed(oauth(audit_path, token_scope)) == expected


@pytest.mark.anyio
async def test_token_scopes_and_configured_scopes_both_apply(audit_path: Path) -> None:
    settings = oauth(audit_path, "all", telco_mcp_scopes="sipgate:*:read")
    assert await listed(settings) == SG_READS
    settings = oauth(audit_path, "rtcm:read rtcm:write history:read", telco_mcp_scopes="sipgate:rtcm:*")
    assert await listed(settings) == SG_RTCM_READS | SG_RTCM_WRITES


@pytest.mark.anyio
async def test_token_scopes_do_not_lift_read_only_mode(audit_path: Path) -> None:
    settings = sipgate_settings(audit_path, "oauth", sipgate_access_token=jwt({"scope": "all"}))
    assert await listed(settings) == SG_READS


@pytest.mark.anyio
async def test_sipgate_token_scopes_do_not_narrow_signalwire(audit_path: Path) -> None:
    settings = signalwire_settings(
        audit_path,
        sipgate_access_token=jwt({"scope": "history:read"}),
        telco_mcp_allow_writes=True,
    )
    assert await listed(settings) == SW_READS | SW_WRITES | {"sipgate_list_history"}


# ================================================================== providers without credentials
@pytest.mark.anyio
async def test_a_provider_without_credentials_registers_no_tools(audit_path: Path) -> None:
    only_signalwire = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    only_sipgate = sipgate_settings(audit_path, "password", telco_mcp_allow_writes=True)
    assert await listed(only_signalwire) == SW_READS | SW_WRITES
    assert await listed(only_sipgate) == SG_READS | SG_WRITES


@pytest.mark.anyio
async def test_a_tool_of_an_unconfigured_provider_cannot_be_called(audit_path: Path) -> None:
    fake = FakeUpstream()
    async with client_for(signalwire_settings(audit_path, telco_mcp_allow_writes=True), fake) as client:
        result = await client.call_tool("sipgate_list_calls", {})
    assert result.is_error
    assert fake.requests == []


# ================================================================== `telco-mcp tools`
def run_tools_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    with pytest.raises(SystemExit) as exited:
        main(["tools", *argv])
    out = capsys.readouterr().out
    rows: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] in ("exposed", "hidden") and parts[1] in {op.name for op in CATALOGUE}:
            rows[parts[1]] = (parts[0], parts[2])
    return int(exited.value.code or 0), rows, out


def set_signalwire_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALWIRE_SPACE", "acme")
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", SW_PROJECT)
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", SW_TOKEN)


def test_tools_cli_prints_every_tool_with_a_reason_for_each_hidden_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_signalwire_env(monkeypatch)

    code, rows, out = run_tools_cli(capsys)

    every = {op.name for op in CATALOGUE}  # the default set and the tools outside it
    assert code == 0
    assert set(rows) == every and every >= ALL_TOOLS
    assert {name for name, (state, _) in rows.items() if state == "exposed"} == SW_READS
    for name in SW_TOOLSET_READS:
        assert rows[name][0] == "hidden" and "TELCO_MCP_TOOLSETS" in rows[name][1]
    for name in SW_WRITES:
        assert rows[name][0] == "hidden"
        assert "read-only" in rows[name][1] and "TELCO_MCP_ALLOW_WRITES" in rows[name][1]
    for name in {n for n in every if n.startswith("sipgate_")}:
        assert rows[name] == ("hidden", "sipgate is not configured")
    assert f"{len(SW_READS)} of {len(every)} tools exposed" in out
    for canary in CANARIES:
        assert canary not in out


def test_tools_cli_names_the_ungranted_scope_and_honours_allow_writes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_signalwire_env(monkeypatch)
    monkeypatch.setenv("TELCO_MCP_SCOPES", "signalwire:sip_gateways:*")

    code, rows, _ = run_tools_cli(capsys, "--allow-writes")

    assert code == 0
    exposed = {name for name, (state, _) in rows.items() if state == "exposed"}
    assert exposed == {"signalwire_list_sip_gateways", "signalwire_update_sip_gateway"}
    assert rows["signalwire_update_sip_gateway"][1] == "write"
    assert rows["signalwire_delete_recording"] == (
        "hidden",
        "scope signalwire:recordings:write is not granted by TELCO_MCP_SCOPES",
    )


def test_tools_cli_explains_tools_the_sipgate_token_does_not_carry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIPGATE_ACCESS_TOKEN", jwt({"scope": "rtcm:read history:read"}))
    monkeypatch.setenv("TELCO_MCP_ALLOW_WRITES", "1")

    code, rows, out = run_tools_cli(capsys)

    assert code == 0
    exposed = {name for name, (state, _) in rows.items() if state == "exposed"}
    assert exposed == {*SG_RTCM_READS, "sipgate_list_history"}
    assert rows["sipgate_hangup_call"] == ("hidden", "the sipgate OAuth token does not carry rtcm:write")
    assert rows["sipgate_send_sms"] == ("hidden", "the sipgate OAuth token does not carry sessions:sms:write")
    assert rows["signalwire_list_sip_gateways"] == ("hidden", "signalwire is not configured")
    assert "writes enabled" in out


def test_tools_cli_read_only_flag_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_signalwire_env(monkeypatch)
    monkeypatch.setenv("TELCO_MCP_ALLOW_WRITES", "1")

    _, rows, out = run_tools_cli(capsys, "--read-only")

    assert {name for name, (state, _) in rows.items() if state == "exposed"} == SW_READS
    assert "writes disabled" in out
