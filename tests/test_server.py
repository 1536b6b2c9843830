"""The MCP surface: tools/list from the catalogue, annotations, schemas, structured results, instructions."""

from __future__ import annotations

import json

import pytest
from conftest import SG_BASE, client_for, make_settings, response, signalwire_settings, sipgate_settings, text_of

from telco_mcp.catalogue import BY_NAME, CATALOGUE
from telco_mcp.settings import Settings

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


def both(audit, **kw):
    """Both providers with every toolset listed (the default exposure has its own tests in test_toolsets.py)."""
    # sipgate ownership chosen by the operator: no startup lookup of the token's user (fake upstreams have none)
    kw = {"telco_mcp_toolsets": "all", "telco_mcp_sipgate_ownership": "account"} | kw
    return Settings(
        _env_file=None,  # pyright: ignore[reportCallIssue]
        telco_mcp_audit_log=audit,
        signalwire_space="acme",
        signalwire_project_id="0b7c5d1e-9a4f-4c2b-8e3d-0000000c0a01",
        signalwire_api_token="PT-canary-signalwire-token-7f3a",
        sipgate_token_id="token-CANARY",
        sipgate_token="canary-sipgate-pat-2b9e6c1d",
        **kw,
    )


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_is_the_catalogue_with_explicit_truthful_annotations(audit_path, mode):
    async with client_for(both(audit_path, telco_mcp_allow_writes=True, telco_mcp_toolsets="all"), mode=mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == {op.name for op in CATALOGUE}
    for op in CATALOGUE:
        tool = tools[op.name]
        hints = tool.annotations
        assert hints is not None
        dumped = hints.model_dump(by_alias=True, exclude_none=True)
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert hint in dumped, (op.name, hint)
        assert hints.read_only_hint is (op.effect == "read")
        assert hints.destructive_hint is (op.effect == "destructive")
        assert hints.idempotent_hint is (op.effect == "read" or op.idempotent)
        assert tool.title == op.title and tool.description == op.description
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema.get("additionalProperties") is False
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        if op.is_write:
            assert {"dry_run", "approval_id"} <= set(tool.input_schema["properties"])
            assert "confirm_token" not in tool.input_schema["properties"]
            assert "status" in tool.output_schema["properties"]


async def test_served_schemas_are_the_ones_the_models_give(audit_path):
    """Startup reads the schemas from telco_mcp/schemas.json; they must be what the models derive today."""
    from telco_mcp.tools import for_mode, live_schemas

    async with client_for(both(audit_path, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")) as c:
        tools = (await c.list_tools()).tools
    assert len(tools) == len(CATALOGUE)
    for tool in tools:
        op = BY_NAME[tool.name]
        live = live_schemas(op)
        expected = for_mode(op, live["inputSchema"], "auto") if op.is_write else live["inputSchema"]
        assert tool.input_schema == expected, tool.name
        expected_out = for_mode(op, live["outputSchema"], "auto") if op.is_write else live["outputSchema"]
        assert tool.output_schema == expected_out, tool.name


async def test_input_schemas_are_compact(audit_path):
    async with client_for(both(audit_path, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")) as c:
        tools = (await c.list_tools()).tools
    assert len(tools) == len(CATALOGUE), "every tool is measured"
    for tool in tools:
        text = json.dumps(tool.input_schema)
        assert '"title"' not in text
        assert '{"type": "null"}' not in text  # optional fields are shown as plain types
    footprint = sum(len(json.dumps({"name": t.name, "description": t.description,
                                    "inputSchema": t.input_schema}, separators=(",", ":"))) for t in tools)  # fmt: skip
    assert footprint / 4 / len(tools) <= 150, "tokens per tool (chars/4)"


async def test_the_whole_tool_list_costs_at_most_300_tokens_per_tool(audit_path):
    """Issue 13's budget (b): the tools/list result as sent, output schemas and annotations included."""
    from mcp.types import ListToolsResult

    from telco_mcp.server import build_server

    settings = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")
    listed = ListToolsResult(tools=await build_server(settings).list_tools())
    sent = json.dumps(listed.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
    assert len(listed.tools) == len(CATALOGUE)
    assert len(sent) / 4 / len(listed.tools) <= 300, "tokens per tool (chars/4)"
    # what keeps it there: a write's result names its identity; its full shape is its read tool's
    hold = next(t for t in listed.tools if t.name == "sipgate_hold_call")
    assert hold.output_schema is not None
    assert set(hold.output_schema["properties"]["result"]["properties"]) == {"call_id", "action"}


@pytest.mark.parametrize(
    ("exposure", "tools", "at_issue_13"),
    # whole tools/list, chars / 4, at commit 62c6186 (22 and 10 tools); since then the live-events issue added its
    # read-only sipgate_wait_for_call_event to the default set, as issue 13 foresaw
    [("sandbox", 23, 11_434), ("read-only", 11, 3_462)],
)
async def test_a_default_exposure_is_no_larger_than_before_the_catalogue_grew(exposure, tools, at_issue_13, audit_path):
    """The default tool list, paid on every turn, may not grow while toolsets add tools outside it."""
    from mcp.types import ListToolsResult

    from telco_mcp.server import build_server

    settings = (
        make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True)
        if exposure == "sandbox"
        else both(audit_path, telco_mcp_toolsets="default")
    )
    listed = ListToolsResult(tools=await build_server(settings).list_tools())
    sent = json.dumps(listed.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
    assert len(listed.tools) == tools
    assert len(sent) / 4 <= at_issue_13


async def test_read_only_is_the_default_for_real_credentials(audit_path, fake):
    async with client_for(both(audit_path), fake) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        forced = await c.call_tool("sipgate_hangup_call", {"call_id": "ABC"})
    assert names == {op.name for op in CATALOGUE if not op.is_write}  # every toolset listed, no write
    assert forced.is_error
    assert fake.requests == []


async def test_a_provider_without_credentials_registers_no_tools(audit_path):
    async with client_for(sipgate_settings(audit_path)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names and all(name.startswith("sipgate_") for name in names)


@pytest.mark.parametrize("mode", MODES)
async def test_a_read_tool_returns_structured_content_and_json_text(audit_path, fake, mode):
    calls = {"data": [{"callId": "ABC123", "muted": False, "recording": False, "hold": True,
                       "participants": [{"participantId": "p1", "phoneNumber": "+493012345678", "muted": False,
                                         "hold": True, "owner": False}]}]}  # fmt: skip
    fake.route("GET /v2/calls", response(200, calls))
    async with client_for(sipgate_settings(audit_path), fake, mode=mode) as c:
        result = await c.call_tool("sipgate_list_calls", {})
    assert not result.is_error
    assert result.structured_content == {
        "calls": [
            {
                "call_id": "ABC123",
                "muted": False,
                "recording": False,
                "hold": True,
                "participants": [
                    {
                        "participant_id": "p1",
                        "phone_number": "+493012345678",
                        "muted": False,
                        "hold": True,
                        "owner": False,
                    }  # fmt: skip
                ],
            }
        ]
    }
    fenced = text_of(result).split('<untrusted-data source="sipgate">\n', 1)[1].split("\n</untrusted-data>", 1)[0]
    assert json.loads(fenced) == result.structured_content
    assert str(fake.requests[0].url) == f"{SG_BASE}/calls"


async def test_instructions_name_the_providers_and_the_confirmation_rules(audit_path):
    from telco_mcp.server import build_server

    async with client_for(signalwire_settings(audit_path, telco_mcp_allow_writes=True)) as c:
        info = c.server_info
        assert info is not None and info.name == "telco-mcp"

    server_instructions = build_server(signalwire_settings(audit_path, telco_mcp_allow_writes=True)).instructions
    assert server_instructions is not None
    assert "signalwire" in server_instructions and "sipgate" not in server_instructions.split(".")[0]
    assert "approval_id" in server_instructions and "next_cursor" in server_instructions
    assert "confirm_token" not in server_instructions, "the default mode takes no token"
    tokens = build_server(signalwire_settings(audit_path, telco_mcp_allow_writes=True, telco_mcp_confirm="token"))
    assert "confirm_token" in (tokens.instructions or "")
    read_only = build_server(signalwire_settings(audit_path)).instructions or ""
    assert "read-only" in read_only


async def test_unknown_tools_are_errors(audit_path):
    async with client_for(signalwire_settings(audit_path)) as c:
        result = await c.call_tool("signalwire_delete_everything", {})
    assert result.is_error


def test_the_catalogue_invariants_hold():
    names = [op.name for op in CATALOGUE]
    assert len(names) == len(set(names))
    # 22 everyday tools, plus sipgate_wait_for_call_event (issue 16: the read-only event tool is default)
    assert sum(op.default for op in CATALOGUE) == 23, "the default exposure is today's 23 tools"
    for op in CATALOGUE:
        assert len(op.name) <= 64 and op.description.endswith(".")
        assert op.scope.count(":") >= 2
        assert op.description.count(".") <= 3, "one or two sentences"
        if op.effect == "read":
            assert op.method == "GET"
    assert BY_NAME["sipgate_send_sms"].idempotent is False
    assert BY_NAME["sipgate_hold_call"].idempotent is True


async def test_every_result_validates_against_its_published_output_schema(audit_path):
    """The compacted output schemas describe what is really sent, in every write status."""
    import jsonschema
    from conftest import accept, decline, make_settings

    from telco_mcp.catalogue import BY_NAME
    from telco_mcp.tools import result_schema

    results = []
    async with client_for(make_settings(audit_path)) as c:
        schemas = {t.name: t.output_schema for t in (await c.list_tools()).tools}
        call_id = (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"][0]["call_id"]
        gateways = (await c.call_tool("signalwire_list_sip_gateways", {})).structured_content["items"]
        recordings = (await c.call_tool("signalwire_list_recordings", {"limit": 1})).structured_content["items"]
        creds = (await c.call_tool("signalwire_list_sip_credentials", {"limit": 1})).structured_content["items"]
        reads = {
            "signalwire_list_sip_credentials": {},
            "signalwire_get_sip_credential": {"id": creds[0]["id"]},
            "signalwire_list_sip_gateways": {},
            "signalwire_get_sip_profile": {},
            "signalwire_list_recordings": {},
            "signalwire_get_recording": {"id": recordings[0]["id"]},
            "sipgate_get_account": {},
            "sipgate_list_calls": {},
            "sipgate_list_sms_senders": {},
            "sipgate_list_history": {"limit": 3},
        }
        for name, args in reads.items():
            results.append((name, await c.call_tool(name, args)))
        gw = {"id": gateways[0]["id"], "name": "Renamed"}
        results.append(("signalwire_update_sip_gateway", await c.call_tool("signalwire_update_sip_gateway", gw)))
        dry = gw | {"dry_run": True}
        results.append(("signalwire_update_sip_gateway", await c.call_tool("signalwire_update_sip_gateway", dry)))
    async with client_for(make_settings(audit_path, telco_mcp_confirm="token")) as c:
        token_schemas = {t.name: t.output_schema for t in (await c.list_tools()).tools}
        token_result = await c.call_tool("signalwire_update_sip_gateway", gw)
    # Each mode lists the statuses it answers with: the token's, validated against the token mode's schema.
    assert token_result.structured_content is not None
    assert token_result.structured_content["status"] == "confirmation_required"
    token_schema, auto_schema = token_schemas["signalwire_update_sip_gateway"], schemas["signalwire_update_sip_gateway"]
    assert token_schema is not None and auto_schema is not None
    jsonschema.validate(token_result.structured_content, token_schema)
    status_enum = auto_schema["properties"]["status"]["enum"]
    assert "confirmation_required" not in status_enum and "approval_pending" in status_enum
    async with client_for(make_settings(audit_path), elicitation_callback=accept) as c:
        for name, args in {
            "sipgate_hold_call": {"call_id": call_id, "value": True},
            "sipgate_send_sms": {"recipient": "+4915799912345", "message": "hi"},
            "sipgate_start_call": {"caller": "e0", "callee": "+4930555123"},
            "signalwire_update_sip_profile": {"default_encryption": "required"},
            "signalwire_delete_recording": {"id": recordings[0]["id"]},
            "sipgate_hangup_call": {"call_id": call_id},
        }.items():
            results.append((name, await c.call_tool(name, args)))
    async with client_for(make_settings(audit_path), elicitation_callback=decline) as c:
        results.append(
            ("sipgate_send_sms", await c.call_tool("sipgate_send_sms", {"recipient": "+4915799912345", "message": "x"}))
        )
    statuses = set()
    applied = 0
    for name, result in results:
        assert not result.is_error, (name, text_of(result))
        schema = schemas[name]
        assert schema is not None
        jsonschema.validate(result.structured_content, schema)
        statuses.add(result.structured_content.get("status"))
        if result.structured_content.get("status") == "applied":
            # the listed schema names a write's result by identity; the full contract (its manifest's
            # resultSchema, the read tool's shape) holds as well
            jsonschema.validate(result.structured_content["result"], result_schema(BY_NAME[name]))
            applied += 1
    assert {"applied", "dry_run", "approval_pending", "declined"} <= statuses
    assert applied >= 6
