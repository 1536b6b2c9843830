"""Toolsets (issue 13): the catalogue grouped by its scopes' `<provider>:<resource>`, selected with
TELCO_MCP_TOOLSETS; scopes and read-only mode still decide within whatever is enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import client_for, make_settings, sipgate_settings
from mcp import Client

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.errors import ConfigError
from telco_mcp.safety.scopes import TOOLSETS, decide

pytestmark = pytest.mark.anyio
DISCOVERY = {"telco_list_toolsets", "telco_enable_toolset"}


def exposed(**overrides: Any) -> set[str]:
    settings = make_settings(Path("/nonexistent/audit.jsonl"), **overrides)
    return {d.operation.name for d in decide(settings) if d.exposed}


def test_toolsets_are_named_like_the_scopes() -> None:
    assert {op.scope.rsplit(":", 1)[0] for op in CATALOGUE} == set(TOOLSETS)
    assert "sipgate:rtcm" in TOOLSETS and "signalwire:sip_gateways" in TOOLSETS


def test_the_default_exposure_is_the_everyday_set() -> None:
    everyday = {op.name for op in CATALOGUE if op.default}
    assert exposed() == everyday == exposed(telco_mcp_toolsets="default")
    assert exposed(telco_mcp_toolsets="all") == {op.name for op in CATALOGUE}


def test_naming_toolsets_lists_exactly_their_tools() -> None:
    names = exposed(telco_mcp_toolsets="sipgate:rtcm, signalwire:recordings")
    assert names == {op.name for op in CATALOGUE if op.toolset in ("sipgate:rtcm", "signalwire:recordings")}
    assert "sipgate_hangup_call" in names and "sipgate_send_sms" not in names


def test_scopes_and_read_only_still_decide_within_the_enabled_toolsets(audit_path: Path) -> None:
    rtcm_reads = {"sipgate_list_calls", "sipgate_wait_for_call_event"}
    names = exposed(telco_mcp_toolsets="sipgate:rtcm", telco_mcp_scopes="sipgate:*:read")
    assert names == rtcm_reads
    live = sipgate_settings(audit_path, telco_mcp_toolsets="sipgate:rtcm")
    assert {d.operation.name for d in decide(live) if d.exposed} == rtcm_reads, "read-only by default"
    hidden = {d.operation.name: d.reason for d in decide(live)}
    assert hidden["sipgate_send_sms"] == "toolset sipgate:sessions:sms is not enabled (TELCO_MCP_TOOLSETS)"


def test_an_unknown_toolset_stops_startup_naming_it() -> None:
    with pytest.raises(ConfigError, match="'sipgate:rtcmm' is not a toolset"):
        exposed(telco_mcp_toolsets="sipgate:rtcmm")


async def test_the_listed_tools_follow_the_toolsets(audit_path: Path) -> None:
    async with client_for(make_settings(audit_path, telco_mcp_toolsets="signalwire:sip_profile")) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"signalwire_get_sip_profile", "signalwire_update_sip_profile"}


# ------------------------------------------------------------------ dynamic toolsets
def dynamic(audit_path: Path, **overrides: Any) -> Any:
    from telco_mcp.server import build_server

    return build_server(make_settings(audit_path, telco_mcp_dynamic_toolsets=True, **overrides))


async def test_dynamic_mode_starts_with_the_default_set_and_two_discovery_tools(audit_path: Path) -> None:
    async with Client(dynamic(audit_path, telco_mcp_toolsets="signalwire:sip_profile")) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        listing = await c.call_tool("telco_list_toolsets", {})
        hidden = await c.call_tool("sipgate_list_calls", {})
    assert names == {"signalwire_get_sip_profile", "signalwire_update_sip_profile", *DISCOVERY}
    text = listing.content[0].text  # type: ignore[union-attr]
    assert "signalwire:sip_profile (enabled)" in text and "sipgate:rtcm (off): list_calls, hold_call" in text
    assert hidden.is_error, "a tool of a toolset that is off cannot be called either"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_enabling_a_toolset_lists_its_tools_and_announces_the_change(audit_path: Path, mode: str) -> None:
    from mcp.types import ToolListChangedNotification

    seen: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(getattr(message, "root", message), ToolListChangedNotification):
            seen.append("list_changed")

    server = dynamic(audit_path, telco_mcp_toolsets="signalwire:sip_profile")
    async with Client(server, mode=mode, message_handler=on_message) as c:
        if mode == "legacy":
            caps = c.server_capabilities
            assert caps is not None and caps.tools is not None and caps.tools.list_changed is True
            enabled = await c.call_tool("telco_enable_toolset", {"toolset": "sipgate:rtcm"})
            with anyio.fail_after(5):
                while not seen:
                    await anyio.sleep(0.01)
        else:
            async with c.listen(tools_list_changed=True) as sub:
                enabled = await c.call_tool("telco_enable_toolset", {"toolset": "sipgate:rtcm"})
                with anyio.fail_after(5):
                    async for _event in sub:
                        seen.append("list_changed")
                        break
        names = {t.name for t in (await c.list_tools()).tools}
        calls = await c.call_tool("sipgate_list_calls", {})
    assert not enabled.is_error and seen and set(seen) == {"list_changed"}
    assert {"sipgate_list_calls", "sipgate_hangup_call"} <= names
    assert not calls.is_error


async def test_enabling_respects_scopes_and_read_only(audit_path: Path) -> None:
    server = dynamic(audit_path, telco_mcp_toolsets="signalwire:sip_profile", telco_mcp_allow_writes=False)
    async with Client(server) as c:
        await c.call_tool("telco_enable_toolset", {"toolset": "sipgate:rtcm"})
        unknown = await c.call_tool("telco_enable_toolset", {"toolset": "sipgate:nope"})
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"signalwire_get_sip_profile", "sipgate_list_calls", "sipgate_wait_for_call_event", *DISCOVERY}
    assert unknown.is_error and "not a toolset this server can offer" in unknown.content[0].text  # type: ignore[union-attr]


def test_dynamic_toolsets_are_refused_on_http_where_callers_are_not_told_apart(audit_path: Path) -> None:
    """Without OAuth nobody is told apart over HTTP; with it, see tests/oauth (per-person toolsets)."""
    from telco_mcp.transports import http_app

    server = dynamic(audit_path)
    with pytest.raises(ConfigError, match="needs OAuth"):
        http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8000)


async def test_without_dynamic_mode_there_are_no_discovery_tools(audit_path: Path) -> None:
    async with client_for(make_settings(audit_path)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert not names & DISCOVERY


ISSUE13_SIGNALWIRE_READS = {
    "signalwire:sip_gateways": {"signalwire_get_sip_gateway"},
    "signalwire:phone_numbers": {"signalwire_list_phone_numbers", "signalwire_get_phone_number"},
    "signalwire:voice_logs": {"signalwire_list_voice_logs", "signalwire_get_voice_log"},
    "signalwire:messaging_logs": {"signalwire_list_messaging_logs"},
}


def test_the_new_signalwire_reads_join_their_toolsets_not_the_default() -> None:
    new = set().union(*ISSUE13_SIGNALWIRE_READS.values())
    assert not new & exposed() and not new & exposed(telco_mcp_toolsets="default")
    assert new <= exposed(telco_mcp_toolsets="all")
    for toolset, names in ISSUE13_SIGNALWIRE_READS.items():
        assert names <= exposed(telco_mcp_toolsets=toolset), toolset
    assert exposed(telco_mcp_toolsets="signalwire:voice_logs") == ISSUE13_SIGNALWIRE_READS["signalwire:voice_logs"]
    assert {op.scope for op in CATALOGUE if op.name in new} == {
        "signalwire:sip_gateways:read",
        "signalwire:phone_numbers:read",
        "signalwire:voice_logs:read",
        "signalwire:messaging_logs:read",
    }
