"""Guardrails on every field that routes a call, a message or an event (issue 22, part 1).

Through the tools, in both protocol eras: a SIP gateway's URI (its host on TELCO_MCP_ALLOWED_GATEWAY_HOSTS,
a number as its user part through the number rules), sipgate's push URLs (https, no user:password@, the
host on TELCO_MCP_ALLOWED_ROUTING_HOSTS, this server's receiver always) and SignalWire's number routing
URLs (the configured space's own host, not every *.signalwire.com). Each refusal sends nothing upstream,
asks nobody, and a dry run gives the same verdict. A completeness test makes a new routing field fail
until the guardrails check it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import (
    SG_TOKEN,
    SG_TOKEN_ID,
    FakeUpstream,
    accept,
    body_of,
    client_for,
    response,
    signalwire_settings,
    sipgate_settings,
)
from conftest import text_of as text
from test_signalwire_tools import GW_ID, NUM_ID, gateway
from test_signalwire_write_tools import FULL_GATEWAY, serve

from telco_mcp.settings import Settings

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # the 2026-07-28 era and the 2025-11-25 one
RELAY = "/api/relay/rest"
FABRIC = "/api/fabric/resources"


class Asked:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: Any) -> Any:
        self.messages.append(params.message)
        return await accept(context, params)


def writes(fake: FakeUpstream) -> list[Any]:
    return [r for r in fake.requests if r.method != "GET"]


def sw(audit: Path, **overrides: Any) -> Settings:
    base = {"telco_mcp_allow_writes": True, "telco_mcp_toolsets": "all"}
    return signalwire_settings(audit, **(base | overrides))


def gateway_routes(fake: FakeUpstream) -> FakeUpstream:
    serve(fake)
    fake.route(f"PATCH {FABRIC}/sip_gateways/{GW_ID}", lambda r: response(200, gateway() | body_of(r)))
    return fake


async def refused_everywhere(
    settings: Settings, fake: FakeUpstream, tool: str, args: dict[str, Any], mode: str
) -> tuple[str, str]:
    """Call `tool` for real and as a dry run; both must refuse with the same words and send no write.

    The real call must also ask nobody and send nothing at all (not even a lookup). Returns (real, dry) texts.
    """
    asked = Asked()
    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as c:
        real = await c.call_tool(tool, args)
        assert fake.requests == [], "a refused write sends nothing upstream, not even its lookups"
        dry = await c.call_tool(tool, args | {"dry_run": True})
    assert real.is_error, text(real)
    assert asked.messages == [], "a refusal comes before anyone is asked"
    assert writes(fake) == []
    reason = text(real)
    if dry.is_error:  # refused while reading the arguments: word for word the same
        assert text(dry) == reason
    else:  # a guardrail: the dry run says the real call would be refused, by the same rule and words
        assert dry.structured_content["status"] == "dry_run"
        note = dry.structured_content["note"]
        start = reason.index("Refused by rule")
        assert note.startswith("The real call would be refused: ") and reason[start:].startswith(
            note.removeprefix("The real call would be refused: ")
        ), (note, reason)
    return reason, text(dry)


# ================================================================== SIP gateways
ISSUE_EXAMPLES = [
    # the three URIs the review sent; each allowed host is listed, so only the rule under test can refuse
    ("sip:+4990012345678@sip.evil.example", "sip.evil.example", "not a valid number in its numbering plan"),
    ("sip:+881631234567@gw.example", "gw.example", "Refused by rule block_premium"),
    ("sip:attacker.example:5060", "pbx.example.com", "Refused by rule allowed_gateway_hosts"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("uri", "allowed", "why"), ISSUE_EXAMPLES)
@pytest.mark.parametrize("tool", ["signalwire_create_sip_gateway", "signalwire_update_sip_gateway"])
async def test_the_review_s_gateway_uris_are_refused_before_anything_is_sent(
    tool: str, uri: str, allowed: str, why: str, mode: str, audit_path: Path
) -> None:
    args = FULL_GATEWAY | {"uri": uri} if tool.endswith("create_sip_gateway") else {"id": GW_ID, "uri": uri}
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts=allowed)
    reason, _ = await refused_everywhere(settings, gateway_routes(FakeUpstream()), tool, args, mode)
    assert why in reason and "uri" in reason, reason


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tool", ["signalwire_create_sip_gateway", "signalwire_update_sip_gateway"])
async def test_with_no_gateway_host_listed_no_gateway_is_created_or_re_pointed(
    tool: str, mode: str, audit_path: Path
) -> None:
    args = FULL_GATEWAY if tool.endswith("create_sip_gateway") else {"id": GW_ID, "uri": FULL_GATEWAY["uri"]}
    reason, _ = await refused_everywhere(sw(audit_path), gateway_routes(FakeUpstream()), tool, args, mode)
    assert "Refused by rule allowed_gateway_hosts" in reason and "TELCO_MCP_ALLOWED_GATEWAY_HOSTS is empty" in reason


async def test_a_gateway_change_that_does_not_re_point_it_needs_no_gateway_host(audit_path: Path) -> None:
    fake = gateway_routes(FakeUpstream())
    async with client_for(sw(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"})
    assert result.structured_content["status"] == "applied", text(result)
    assert [body_of(r) for r in writes(fake)] == [{"name": "Trunk B"}]


@pytest.mark.parametrize(
    ("allowed", "uri", "applied"),
    [
        ("pbx.example.com", "sip:pbx.example.com", True),
        ("pbx.example.com", "sips:pbx.example.com:5061;transport=tls", True),  # a host entry: any port
        ("pbx.example.com", "SIP:trunk@PBX.Example.COM.", True),  # case and a final dot: the same host
        ("pbx.example.com", "trunk@pbx.example.com", True),  # no scheme, as SignalWire's examples write it
        ("pbx.example.com", "sip:pbx.example.com.evil.net", False),
        ("pbx.example.com", "sip:evil-pbx.example.com", False),
        ("pbx.example.com:5061", "sip:pbx.example.com:5061", True),  # host:port: only that port
        ("pbx.example.com:5061", "sip:pbx.example.com:5060", False),
        ("pbx.example.com:5061", "sip:pbx.example.com", False),  # no port written: DNS would choose it
        ("[2001:db8::1]:5061", "sip:trunk@[2001:DB8:0::1]:5061", True),  # IPv6 compared as addresses
        ("[2001:db8::1]:5061", "sip:trunk@[2001:db8::2]:5061", False),
        ("192.0.2.10,pbx.example.com", "sip:192.0.2.10:5080", True),
        ("192.0.2.10", "sip:192.0.2.11", False),
    ],
)
async def test_telco_mcp_allowed_gateway_hosts_decides_where_a_gateway_may_point(
    allowed: str, uri: str, applied: bool, audit_path: Path
) -> None:
    fake = gateway_routes(FakeUpstream())
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts=allowed)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_create_sip_gateway", FULL_GATEWAY | {"uri": uri})
    if applied:
        assert result.structured_content["status"] == "applied", text(result)
        assert body_of(writes(fake)[0])["uri"] == uri
    else:
        assert result.is_error and "Refused by rule allowed_gateway_hosts" in text(result), text(result)
        assert fake.requests == []


PREMIUM_USER_PARTS = [
    "+499001234567",
    "00499001234567",  # the 00 international prefix
    "499001234567",  # international without the +
    "0900-1234567",  # national, with a separator
    "%2B499001234567",  # percent-encoded +
    "+49%20900%201234567",  # percent-encoded spaces
    "+499001234567;phone-context=+49",  # a telephone-subscriber parameter
    quote("０９００ １２３４５６７"),  # full-width digits, percent-encoded: read as 0900 1234567
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("user", PREMIUM_USER_PARTS)
async def test_a_premium_number_as_the_user_part_is_refused_in_every_spelling(
    user: str, mode: str, audit_path: Path
) -> None:
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts="gw.example.com")
    args = FULL_GATEWAY | {"uri": f"sip:{user}@gw.example.com"}
    reason, _ = await refused_everywhere(settings, gateway_routes(FakeUpstream()), "signalwire_create_sip_gateway",
                                         args, mode)  # fmt: skip
    assert "Refused by rule block_premium" in reason and "+49 900 ***4567 is a premium-rate number" in reason


@pytest.mark.parametrize(
    ("user", "overrides", "rule"),
    [
        ("+442079460958", {"telco_mcp_denied_prefixes": "+44"}, "denied_prefixes"),
        ("00442079460958", {"telco_mcp_allowed_prefixes": "+49"}, "allowed_prefixes"),
        ("+881631234567", {}, "block_premium"),  # satellite
    ],
)
async def test_the_prefix_and_high_cost_rules_apply_to_the_user_part(
    user: str, overrides: dict[str, str], rule: str, audit_path: Path
) -> None:
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts="gw.example.com", **overrides)
    args = FULL_GATEWAY | {"uri": f"sip:{user}@gw.example.com"}
    reason, _ = await refused_everywhere(settings, gateway_routes(FakeUpstream()), "signalwire_create_sip_gateway",
                                         args, "auto")  # fmt: skip
    assert f"Refused by rule {rule}" in reason


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("sip:*31%23+49301234567@gw.example.com", "service code"),  # a dial string the rules cannot read
        ("sip:4990012345678@gw.example.com", "not a valid number"),  # possible but invalid: cost unknown
        ("sip:trunk:s3cr3t-pw@gw.example.com", "password"),
        ("sip:gw.example.com;maddr=evil.example", "maddr"),
        ("sip:gw.example.com?Route=%3Csip:evil.example%3E", "headers"),
        ("tel:+493012345678", "only sip: and sips:"),
        ("https://gw.example.com/", "only sip: and sips:"),
        ("sip:a@b@gw.example.com", "more than one @"),
        ("sip:gw.example.com:99999", "port"),
        ("sip:[2001:db8::1", "IPv6"),
        ("sip:gw%2eexample.com", "host"),
        ("sip:", "no host"),
    ],
)
async def test_an_unreadable_gateway_uri_is_refused_naming_the_field_and_never_repeating_it(
    uri: str, why: str, audit_path: Path
) -> None:
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts="gw.example.com")
    reason, _ = await refused_everywhere(settings, gateway_routes(FakeUpstream()), "signalwire_create_sip_gateway",
                                         FULL_GATEWAY | {"uri": uri}, "legacy")  # fmt: skip
    assert "uri:" in reason and why in reason, reason
    assert "s3cr3t" not in reason + (audit_path.read_text() if audit_path.exists() else "")


async def test_a_name_or_an_extension_as_the_user_part_needs_no_number_rule(audit_path: Path) -> None:
    fake = gateway_routes(FakeUpstream())
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts="gw.example.com", telco_mcp_allowed_prefixes="+49")
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        for user in ("trunk-berlin", "1001"):
            result = await c.call_tool(
                "signalwire_create_sip_gateway", FULL_GATEWAY | {"uri": f"sip:{user}@gw.example.com"}
            )
            assert result.structured_content["status"] == "applied", text(result)
    assert len(writes(fake)) == 2


async def test_the_number_a_gateway_dials_is_named_in_the_question(audit_path: Path) -> None:
    fake = gateway_routes(FakeUpstream())
    asked = Asked()
    settings = sw(audit_path, telco_mcp_allowed_gateway_hosts="gw.example.com")
    async with client_for(settings, fake, elicitation_callback=asked) as c:
        result = await c.call_tool(
            "signalwire_create_sip_gateway", FULL_GATEWAY | {"uri": "sip:00493012345678@gw.example.com"}
        )
    assert result.structured_content["status"] == "applied", text(result)
    assert "+49 30 12345678" in asked.messages[0], asked.messages


def test_gateway_host_entries_must_be_hosts_or_host_ports(audit_path: Path) -> None:
    settings = sw(
        audit_path, telco_mcp_allowed_gateway_hosts="pbx.example.com,sip:pbx.example.com,*.example.com,[::1]:5061"
    )
    assert settings.problems() == [
        "TELCO_MCP_ALLOWED_GATEWAY_HOSTS: 'sip:pbx.example.com' is not a host or host:port like pbx.example.com, "
        "pbx.example.com:5061 or [2001:db8::1]:5061 (no scheme, user or wildcard)",
        "TELCO_MCP_ALLOWED_GATEWAY_HOSTS: '*.example.com' is not a host or host:port like pbx.example.com, "
        "pbx.example.com:5061 or [2001:db8::1]:5061 (no scheme, user or wildcard)",
    ]


async def test_telco_mcp_allowed_gateway_hosts_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, audit_path: Path
) -> None:
    from conftest import SW_PROJECT, SW_TOKEN

    from telco_mcp.settings import load_settings

    env = {"SIGNALWIRE_SPACE": "acme", "SIGNALWIRE_PROJECT_ID": SW_PROJECT, "SIGNALWIRE_API_TOKEN": SW_TOKEN,
           "TELCO_MCP_ALLOW_WRITES": "1", "TELCO_MCP_TOOLSETS": "all", "TELCO_MCP_AUDIT_LOG": str(audit_path),
           "TELCO_MCP_ALLOWED_GATEWAY_HOSTS": "pbx-hamburg.example.com"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fake = gateway_routes(FakeUpstream())
    async with client_for(load_settings(), fake, elicitation_callback=accept) as c:
        allowed = await c.call_tool("signalwire_create_sip_gateway", FULL_GATEWAY)
        refused = await c.call_tool("signalwire_create_sip_gateway", FULL_GATEWAY | {"uri": "sip:pbx.example.net"})
    assert allowed.structured_content["status"] == "applied", text(allowed)
    assert refused.is_error and "Refused by rule allowed_gateway_hosts" in text(refused)
    assert [body_of(r)["uri"] for r in writes(fake)] == [FULL_GATEWAY["uri"]]


async def test_the_sandbox_refuses_gateways_until_their_host_is_listed(audit_path: Path) -> None:
    from conftest import make_settings

    base = {"telco_mcp_sandbox": True, "telco_mcp_toolsets": "all"}
    args = {"name": "Demo trunk", "uri": "sip:pbx.example.com"}
    async with client_for(make_settings(audit_path, **base), elicitation_callback=accept) as c:
        refused = await c.call_tool("signalwire_create_sip_gateway", args)
    async with client_for(
        make_settings(audit_path, **base, telco_mcp_allowed_gateway_hosts="pbx.example.com"),
        elicitation_callback=accept,
    ) as c:
        created = await c.call_tool("signalwire_create_sip_gateway", args)
    assert refused.is_error and "TELCO_MCP_ALLOWED_GATEWAY_HOSTS is empty" in text(refused)
    assert created.structured_content["status"] == "applied", text(created)


# ================================================================== sipgate push URLs
SETTINGS_PATH = "/v2/settings/sipgateio"
NOW = {"incomingUrl": "https://crm.example.com/in", "outgoingUrl": "", "log": False, "whitelist": []}


def sipgate(audit: Path, **overrides: Any) -> Settings:
    base = {"telco_mcp_allow_writes": True, "telco_mcp_toolsets": "sipgate:settings:sipgateio"}
    return sipgate_settings(audit, **(base | overrides))


def push_routes(fake: FakeUpstream, now: dict[str, Any] = NOW) -> FakeUpstream:
    state = dict(now)

    def put(request: Any) -> Any:
        state.update(body_of(request))
        return response(204)

    fake.route(f"GET {SETTINGS_PATH}", lambda r: response(200, state))
    fake.route(f"PUT {SETTINGS_PATH}", put)
    return fake


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("url", "allowed", "why"),
    [
        ("http://evil.example/hook", "evil.example", "must be an https:// URL"),
        ("http://hooks.example.com/hook", "hooks.example.com", "must be an https:// URL"),
        ("https://evil.example/hook", "hooks.example.com", "not an allowed routing host for sipgate"),
        ("https://hooks.example.com.evil.example/hook", "hooks.example.com", "not an allowed routing host"),
        # *.signalwire.com is nothing to sipgate, not even the configured SignalWire space's own host
        ("https://acme.signalwire.com/hook", "", "not an allowed routing host for sipgate (none)"),
        ("https://attacker-space.signalwire.com/hook", "hooks.example.com", "not an allowed routing host"),
    ],
)
@pytest.mark.parametrize("field", ["incoming_url", "outgoing_url"])
async def test_a_push_url_off_the_rules_is_refused_before_anything_is_sent(
    field: str, url: str, allowed: str, why: str, mode: str, audit_path: Path
) -> None:
    from conftest import SW_PROJECT, SW_TOKEN

    space = {"signalwire_space": "acme", "signalwire_project_id": SW_PROJECT, "signalwire_api_token": SW_TOKEN}
    settings = sipgate(audit_path, telco_mcp_allowed_routing_hosts=allowed, **space)  # SignalWire's space too
    args = {"incoming_url": "", "outgoing_url": ""} | {field: url}
    reason, _ = await refused_everywhere(settings, push_routes(FakeUpstream()), "sipgate_set_webhooks", args, mode)
    assert "Refused by rule allowed_routing_hosts" in reason and field in reason and why in reason, reason


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "url", ["https://opsuser:pass-7q2w@evil.example/hook", "https://opsuser:pass-7q2w@hooks.example.com/hook",
            "https://:pass-7q2w@hooks.example.com/", "ftp://opsuser:pass-7q2w@hooks.example.com/"],
)  # fmt: skip
async def test_a_push_url_with_credentials_is_refused_and_they_are_written_nowhere(
    url: str, mode: str, audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = sipgate(audit_path, telco_mcp_allowed_routing_hosts="hooks.example.com,evil.example")
    args = {"incoming_url": url, "outgoing_url": ""}
    reason, dry = await refused_everywhere(settings, push_routes(FakeUpstream()), "sipgate_set_webhooks", args, mode)
    assert "incoming_url" in reason and ("user:password@" in reason or "https://" in reason), reason
    audit = audit_path.read_text() if audit_path.exists() else ""
    for written in (reason, dry, audit, caplog.text):
        assert "pass-7q2w" not in written and "opsuser" not in written


@pytest.mark.parametrize("mode", MODES)
async def test_an_allowed_push_url_and_this_server_are_applied(mode: str, audit_path: Path) -> None:
    fake = push_routes(FakeUpstream())
    settings = sipgate(audit_path, telco_mcp_allowed_routing_hosts="hooks.example.com",
                       telco_mcp_public_url="https://mcp.example.com")  # fmt: skip
    asked = Asked()
    args = {"incoming_url": "https://HOOKS.example.com./in", "outgoing_url": "this_server"}
    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as c:
        dry = await c.call_tool("sipgate_set_webhooks", args | {"dry_run": True})
        result = await c.call_tool("sipgate_set_webhooks", args)
    assert dry.structured_content["status"] == "dry_run" and "note" not in dry.structured_content, text(dry)
    assert result.structured_content["status"] == "applied", text(result)
    [put] = writes(fake)
    assert body_of(put)["incomingUrl"] == "https://HOOKS.example.com./in"
    assert body_of(put)["outgoingUrl"].startswith("https://mcp.example.com/webhooks/sipgate/")
    secret = body_of(put)["outgoingUrl"].rsplit("/", 1)[1]
    for shown in (text(dry), text(result), *asked.messages, audit_path.read_text()):
        assert secret not in shown


async def test_this_server_is_allowed_with_no_routing_host_listed(audit_path: Path) -> None:
    fake = push_routes(FakeUpstream())
    settings = sipgate(audit_path, telco_mcp_public_url="https://mcp.example.com")
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_set_webhooks", {"incoming_url": "this_server", "outgoing_url": ""})
    assert result.structured_content["status"] == "applied", text(result)
    assert len(writes(fake)) == 1


async def test_telco_mcp_allowed_routing_hosts_decides_where_sipgate_pushes(
    monkeypatch: pytest.MonkeyPatch, audit_path: Path
) -> None:
    from telco_mcp.settings import load_settings

    env = {"SIPGATE_TOKEN_ID": SG_TOKEN_ID, "SIPGATE_TOKEN": SG_TOKEN, "TELCO_MCP_ALLOW_WRITES": "1",
           "TELCO_MCP_TOOLSETS": "sipgate:settings:sipgateio", "TELCO_MCP_AUDIT_LOG": str(audit_path),
           "TELCO_MCP_ALLOWED_ROUTING_HOSTS": "hooks.example.com"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fake = push_routes(FakeUpstream())
    async with client_for(load_settings(), fake, elicitation_callback=accept) as c:
        allowed = await c.call_tool("sipgate_set_webhooks", {"incoming_url": "https://hooks.example.com/in",
                                                             "outgoing_url": ""})  # fmt: skip
        refused = await c.call_tool("sipgate_set_webhooks", {"incoming_url": "https://crm.example.net/in",
                                                             "outgoing_url": ""})  # fmt: skip
    assert allowed.structured_content["status"] == "applied", text(allowed)
    assert refused.is_error and "Refused by rule allowed_routing_hosts" in text(refused)
    assert [body_of(r)["incomingUrl"] for r in writes(fake)] == ["https://hooks.example.com/in"]


async def test_credentials_in_the_account_s_current_push_url_are_not_shown(audit_path: Path) -> None:
    """A URL set outside this server may carry user:password@: the question and the results hide it."""
    now = NOW | {"incomingUrl": "https://crm:hunter2-crm@crm.example.com/in"}
    fake = push_routes(FakeUpstream(), now)
    asked = Asked()
    settings = sipgate(audit_path, telco_mcp_allowed_routing_hosts="hooks.example.com")
    async with client_for(settings, fake, elicitation_callback=asked) as c:
        got = await c.call_tool("sipgate_get_webhooks", {})
        result = await c.call_tool(
            "sipgate_set_webhooks", {"incoming_url": "", "outgoing_url": "https://hooks.example.com/o"}
        )
    assert got.structured_content["incoming_url"] == "https://***@crm.example.com/in"
    assert result.structured_content["status"] == "applied", text(result)
    assert '"https://***@crm.example.com/in" → (none)' in asked.messages[0]
    for shown in (text(got), text(result), *asked.messages, audit_path.read_text()):
        assert "hunter2" not in shown


# ================================================================== SignalWire number routing: the space's own host
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "url",
    ["https://attacker-space.signalwire.com/laml-bins/1", "https://signalwire.com/x", "https://evilsignalwire.com/x",
     "https://acme.signalwire.com.evil.example/x"],
)  # fmt: skip
async def test_another_space_on_signalwire_com_is_not_an_allowed_routing_host(
    url: str, mode: str, audit_path: Path
) -> None:
    args = {"id": NUM_ID, "call_request_url": url}
    reason, _ = await refused_everywhere(sw(audit_path), serve(FakeUpstream()), "signalwire_update_phone_number",
                                         args, mode)  # fmt: skip
    assert "Refused by rule allowed_routing_hosts" in reason and "(acme.signalwire.com)" in reason, reason


async def test_the_configured_space_decides_which_signalwire_host_is_allowed(audit_path: Path) -> None:
    fake = serve(FakeUpstream())
    url = "https://acme.signalwire.com/laml-bins/1"
    async with client_for(sw(audit_path), fake, elicitation_callback=accept) as c:
        applied = await c.call_tool("signalwire_update_phone_number", {"id": NUM_ID, "call_request_url": url})
    other = serve(FakeUpstream())
    settings = sw(audit_path).model_copy(update={"signalwire_space": "other"})
    async with client_for(settings, other, elicitation_callback=accept) as c:
        refused = await c.call_tool("signalwire_update_phone_number", {"id": NUM_ID, "call_request_url": url})
    assert applied.structured_content["status"] == "applied", text(applied)
    assert refused.is_error and "(other.signalwire.com)" in text(refused), text(refused)
    assert writes(other) == []


@pytest.mark.parametrize(
    ("allowed", "url", "applied"),
    [
        ("*.signalwire.com", "https://evilsignalwire.com/x", False),  # a wildcard matches whole labels only
        ("*.signalwire.com", "https://signalwire.com.evil.example/x", False),
        ("*.signalwire.com", "https://other-space.signalwire.com/x", True),  # the control: the rule is applied
        ("*.example.com", "https://evilexample.com/x", False),
    ],
)
async def test_a_wildcard_routing_host_matches_whole_labels_only(
    allowed: str, url: str, applied: bool, audit_path: Path
) -> None:
    fake = serve(FakeUpstream())
    settings = sw(audit_path, telco_mcp_allowed_routing_hosts=allowed)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_update_phone_number", {"id": NUM_ID, "message_request_url": url})
    if applied:
        assert result.structured_content["status"] == "applied", text(result)
    else:
        assert result.is_error and "Refused by rule allowed_routing_hosts" in text(result), text(result)
        assert fake.requests == []


# ================================================================== the class: every routing field is checked
# Input fields that take a URL but route nothing: sipgate fetches the announcement's audio and plays it
# into the call; no call, message or event goes there.
NOT_ROUTING = {("sipgate_play_announcement", "url")}


def test_every_field_that_takes_a_url_or_a_sip_uri_is_checked_by_the_routing_guardrails() -> None:
    """Probe every top-level field of every write tool with a URL and a SIP URI: a field that takes one (and
    refuses free text, or is named like a URL) must be handed to the guardrails by the operation's subject, or
    be listed above as routing nothing."""
    from pydantic import ValidationError
    from test_safety_guardrails import WRITE_TOOLS

    from telco_mcp.catalogue import CATALOGUE

    checked: set[tuple[str, str]] = set()
    for op in (op for op in CATALOGUE if op.is_write):
        base = WRITE_TOOLS[op.name][0]
        for field in op.input.model_fields:
            for probe in ("https://probe.example.com/x", "sip:probe.example.com"):
                try:
                    args = op.input.model_validate(base | {field: probe})
                except ValidationError:
                    continue
                if getattr(args, field) != probe:
                    continue
                try:
                    op.input.model_validate(base | {field: "free text, not an address"})
                except ValidationError:
                    pass  # an address field
                else:
                    if not any(part in field for part in ("url", "uri")):
                        continue  # free text (a name, a note): it routes nothing
                subject = op.subject(args)
                routed = {name for name, _ in (*subject.urls, *subject.gateways)}
                if (op.name, field) not in NOT_ROUTING:
                    assert field in routed, f"{op.name}.{field} takes {probe!r} but the guardrails never see it"
                checked.add((op.name, field))
    assert {
        ("signalwire_update_phone_number", "call_request_url"),
        ("signalwire_update_phone_number", "message_fallback_url"),
        ("signalwire_create_sip_gateway", "uri"),
        ("signalwire_update_sip_gateway", "uri"),
        ("sipgate_set_webhooks", "incoming_url"),
        ("sipgate_set_webhooks", "outgoing_url"),
        ("signalwire_start_call", "url"),
        ("signalwire_start_call", "fallback_url"),
        ("signalwire_start_call", "status_callback"),
        ("signalwire_update_call", "url"),
    } <= checked, checked


def test_the_audit_log_never_writes_a_url_s_user_and_password(audit_path: Path) -> None:
    """A second line of defence under the tools' refusal: whatever reaches the audit log loses its userinfo."""
    from telco_mcp.safety.audit import AuditLog

    arguments = {"incoming_url": "https://opsuser:pw-9k@hooks.example.com/in", "note": "mail ops@example.com"}
    AuditLog(audit_path).attempt(attempt="a1", tool="sipgate_set_webhooks", arguments=arguments,
                                 confirmed_by="none", outcome="refused", detail="sip://x:y@gw refused")  # fmt: skip
    line = audit_path.read_text()
    assert "opsuser" not in line and "pw-9k" not in line and ":y@" not in line
    assert "https://***@hooks.example.com/in" in line and "ops@example.com" in line
