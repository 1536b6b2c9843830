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
