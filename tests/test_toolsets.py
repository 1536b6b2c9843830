"""Toolsets (issue 13): the catalogue grouped by its scopes' `<provider>:<resource>`, selected with
TELCO_MCP_TOOLSETS; scopes and read-only mode still decide within whatever is enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import client_for, make_settings, sipgate_settings

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.errors import ConfigError
from telco_mcp.safety.scopes import TOOLSETS, decide

pytestmark = pytest.mark.anyio


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
    names = exposed(telco_mcp_toolsets="sipgate:rtcm", telco_mcp_scopes="sipgate:*:read")
    assert names == {"sipgate_list_calls"}
    live = sipgate_settings(audit_path, telco_mcp_toolsets="sipgate:rtcm")
    assert {d.operation.name for d in decide(live) if d.exposed} == {"sipgate_list_calls"}, "read-only by default"
    hidden = {d.operation.name: d.reason for d in decide(live)}
    assert hidden["sipgate_send_sms"] == "toolset sipgate:sessions:sms is not enabled (TELCO_MCP_TOOLSETS)"


def test_an_unknown_toolset_stops_startup_naming_it() -> None:
    with pytest.raises(ConfigError, match="'sipgate:rtcmm' is not a toolset"):
        exposed(telco_mcp_toolsets="sipgate:rtcmm")


async def test_the_listed_tools_follow_the_toolsets(audit_path: Path) -> None:
    async with client_for(make_settings(audit_path, telco_mcp_toolsets="signalwire:sip_profile")) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"signalwire_get_sip_profile", "signalwire_update_sip_profile"}


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
