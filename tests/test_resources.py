"""The read-only resources: the effective configuration and the tool exposure, never a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARIES, SG_ACCESS, client_for, make_settings, signalwire_settings, sipgate_settings

from telco_mcp.settings import Settings

pytestmark = pytest.mark.anyio
URI = "telco-mcp://configuration"


async def read_configuration(settings: Settings, mode: str = "auto") -> tuple[dict[str, Any], set[str], str]:
    async with client_for(settings, mode=mode) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        assert URI in listed and listed[URI].mime_type == "application/json"
        read = await client.read_resource(URI)
        tools = {t.name for t in (await client.list_tools()).tools}
    text = read.contents[0].text  # type: ignore[union-attr]
    return json.loads(text), tools, text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_configuration_resource_says_what_is_exposed_and_why_the_rest_is_hidden(
    audit_path: Path, mode: str
) -> None:
    settings = signalwire_settings(
        audit_path,
        telco_mcp_scopes="signalwire:*:read,sipgate:*",
        telco_mcp_confirm_ttl=120,
        telco_mcp_denied_prefixes="+4990",
        telco_mcp_default_region="AT",
        telco_mcp_allowed_routing_hosts="hooks.example.com",
        telco_mcp_allowed_gateway_hosts="pbx.example.com:5061",
    )
    config, tools, _ = await read_configuration(settings, mode)
    assert {t["name"] for t in config["tools"]["exposed"]} == tools
    hidden = {t["name"]: t["reason"] for t in config["tools"]["hidden"]}
    assert hidden["sipgate_send_sms"] == "sipgate is not configured"
    assert (
        hidden["signalwire_update_sip_gateway"]
        == "scope signalwire:sip_gateways:write is not granted by TELCO_MCP_SCOPES"
    )
    assert config["mode"] == "live" and config["writes_enabled"] is False
    assert config["providers"]["signalwire"] == {
        "configured": True,
        "api": "https://acme.signalwire.com",
        "api_token": "set",
    }
    assert config["scopes"] == ["signalwire:*:read", "sipgate:*"]
    assert config["confirmation"]["token_ttl_seconds"] == 120
    assert config["guardrails"]["denied_prefixes"] == ["+4990"]
    assert config["guardrails"]["default_region"] == "AT"
    assert config["guardrails"]["allowed_routing_hosts"] == {
        "signalwire": ["acme.signalwire.com", "hooks.example.com"],
        "sipgate": ["hooks.example.com"],
    }
    assert config["guardrails"]["allowed_gateway_hosts"] == ["pbx.example.com:5061"]
    assert config["audit"] == {"log": str(audit_path), "phone_numbers": "masked"}


async def test_the_configuration_resource_names_the_sandbox(audit_path: Path) -> None:
    config, tools, _ = await read_configuration(make_settings(audit_path))
    assert config["mode"].startswith("sandbox")
    assert config["guardrails"]["allowed_routing_hosts"] == {"signalwire": ["sandbox.signalwire.com"], "sipgate": []}
    assert config["writes_enabled"] is True and "sipgate_send_sms" in tools


async def test_the_configuration_resource_holds_no_secret(audit_path: Path) -> None:
    # every secret a configuration can hold, and a URL carrying a password
    settings = sipgate_settings(
        audit_path,
        "oauth",
        sipgate_base_url="https://user:url-canary-password@sipgate.example/v2",
        telco_mcp_confirm_secret="confirm-canary-secret-0123456789",
        telco_mcp_http_token="http-canary-token-0123456789",
        signalwire_space="acme",
        signalwire_project_id="0b7c5d1e-9a4f-4c2b-8e3d-0000000c0a01",
        signalwire_api_token=CANARIES[0],
    )
    config, _, text = await read_configuration(settings)
    for secret in (*CANARIES, SG_ACCESS, "url-canary-password", "confirm-canary-secret", "http-canary-token"):
        assert secret not in text
    assert config["providers"]["sipgate"]["api"] == "https://sipgate.example/v2"
    assert config["providers"]["sipgate"]["auth"] == "oauth"
    assert config["http"]["bearer_token"] == "set"
    assert config["confirmation"]["token_key"] == "configured"
