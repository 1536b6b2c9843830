"""sipgate ownership (issue 27): in `user` mode a tool acts only on what the token's sipgate user owns.

The sandbox models two users: w0 (an admin) and w1 (not); the token's user is whoever
`/authorization/userinfo` names, set here on the sandbox's state. Every target kind (device, number,
phoneline, history entry, call) is refused for a non-owner in `user` mode and allowed in `account` mode;
lists are filtered and say how many items were hidden; unknown ownership fails closed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import accept, make_settings, text_of
from mcp import Client

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.providers.sipgate.ownership import EVENTS, LISTS, TARGETS
from telco_mcp.sandbox import Sandbox
from telco_mcp.server import build_server

pytestmark = pytest.mark.anyio


def sandbox_server(audit_path: Path, user: str, ownership: str | None) -> tuple[Any, Sandbox]:
    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_toolsets="all", telco_mcp_allow_writes=True,
        telco_mcp_sipgate_ownership=ownership,
    )  # fmt: skip
    server = build_server(settings)
    sandbox = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    sandbox.state.sipgate.userinfo["sub"] = user  # the token's user
    return server, sandbox


def _other_users_targets(sandbox: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """One target of each kind that belongs to w0 (Anna, the admin), never to w1."""
    sg = sandbox.state.sipgate
    entry = next(e for e in sg.history if e["connectionIds"] == ["p0"] and not e["archived"])
    call = next(iter(sg.calls))
    return [
        ("sipgate_start_call", {"caller": "e0", "callee": "+49 30 23125477"}),  # device e0
        ("sipgate_route_number", {"number_id": "1000", "endpoint_id": "p1"}),  # number routed to p0
        ("sipgate_get_forwardings", {"user_id": "w0", "phoneline_id": "p0"}),  # phoneline p0 (and user w0)
        ("sipgate_update_history_entry", {"entry_id": entry["id"], "starred": True}),  # history entry on p0
        ("sipgate_hangup_call", {"call_id": call}),  # a call of the main number (p0)
    ]


@pytest.mark.parametrize("index", range(5), ids=["device", "number", "phoneline", "history entry", "call"])
async def test_a_non_owners_target_is_refused_in_user_mode_and_allowed_in_account_mode(
    audit_path: Path, index: int
) -> None:
    server, sandbox = sandbox_server(audit_path, "w1", None)  # w1 is no admin: `user` by default
    tool, arguments = _other_users_targets(sandbox)[index]
    async with Client(server, elicitation_callback=accept) as c:
        refused = await c.call_tool(tool, arguments)
    said = text_of(refused)
    assert refused.is_error and "[refused]" in said and ("not yours" in said or "another sipgate user" in said), said
    assert not [r for r in sandbox.requests if r.method != "GET"]  # nothing was changed

    server, sandbox = sandbox_server(audit_path, "w1", "account")
    async with Client(server, elicitation_callback=accept) as c:
        allowed = await c.call_tool(tool, _other_users_targets(sandbox)[index][1])
    assert not allowed.is_error, text_of(allowed)


async def test_the_admins_default_is_account(audit_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    server, sandbox = sandbox_server(audit_path, "w0", None)
    async with Client(server, elicitation_callback=accept) as c:
        tool, arguments = _other_users_targets(sandbox)[3]
        result = await c.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert "sipgate ownership: account (the token's user w0 is an admin of the account)" in caplog.text


async def test_user_mode_is_logged_and_the_users_own_targets_pass(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    server, sandbox = sandbox_server(audit_path, "w0", "user")  # even an admin, when the operator says so
    async with Client(server, elicitation_callback=accept) as c:
        own = await c.call_tool("sipgate_route_number", {"number_id": "1001", "endpoint_id": "p0"})
        theirs = await c.call_tool("sipgate_route_number", {"number_id": "1002", "endpoint_id": "p0"})
        again = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p0"})
    assert "sipgate ownership: user (TELCO_MCP_SIPGATE_OWNERSHIP)" in caplog.text  # at startup
    assert "tools act only on what sipgate user w0 owns" in caplog.text  # when first looked up
    assert own.is_error and "number 1001 is not yours" in text_of(own)  # 1001 routes to Ben's p1
    assert theirs.is_error and "number 1002 is not yours" in text_of(theirs)
    assert not again.is_error, text_of(again)
    # what w0 owns was looked up once and kept for the calls after it
    assert sum(1 for r in sandbox.requests if r.path == "/v2/w0/devices") == 1


async def test_lists_are_filtered_and_say_how_many_items_were_hidden(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path, "w1", "user")
    sg = sandbox.state.sipgate
    async with Client(server) as c:
        calls = (await c.call_tool("sipgate_list_calls", {})).structured_content
        numbers = (await c.call_tool("sipgate_list_numbers", {})).structured_content
        history = (await c.call_tool("sipgate_list_history", {"limit": 100})).structured_content
        boxes = (await c.call_tool("sipgate_list_voicemails", {})).structured_content
    assert calls["calls"] == [] and calls["hidden_not_yours"] == len(sg.calls)
    assert [n["id"] for n in numbers["items"]] == ["1001"] and numbers["hidden_not_yours"] == 4
    assert [b["id"] for b in boxes["items"]] == ["v1"] and boxes["hidden_not_yours"] == 2
    mine = {"p1", "e2", "v1", "s0", "s1"}
    assert history["hidden_not_yours"] > 0
    assert all(set(item["connection_ids"]) & mine for item in history["items"])


async def test_an_export_in_user_mode_must_name_the_users_extensions(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path, "w1", "user")
    async with Client(server) as c:
        everything = await c.call_tool("sipgate_export_history", {})
        others = await c.call_tool("sipgate_export_history", {"connection_ids": ["p0"]})
        own = await c.call_tool("sipgate_export_history", {"connection_ids": ["p1"]})
    assert everything.is_error and "give connection_ids" in text_of(everything) and "p1" in text_of(everything)
    assert others.is_error and "extension p0 is not yours" in text_of(others)
    assert not own.is_error, text_of(own)
    assert sum(1 for r in sandbox.requests if r.path == "/v2/history/export") == 1


async def test_unknown_ownership_fails_closed(audit_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="telco_mcp")
    server, sandbox = sandbox_server(audit_path, "w7", None)  # no such user: /users/w7 is 404
    async with Client(server, elicitation_callback=accept) as c:
        listed = await c.call_tool("sipgate_list_calls", {})
        route = await c.call_tool("sipgate_route_number", {"number_id": "1000", "endpoint_id": "p1"})
    assert "sipgate ownership: unknown" in caplog.text
    for result in (listed, route):
        assert result.is_error and "unknown" in text_of(result) and "fail closed" in text_of(result), text_of(result)
    assert not [r for r in sandbox.requests if r.method != "GET"]


# Lists of the account's directory (users, contacts, the blacklist) or of the user's own things (guarded by user_id).
ACCOUNT_LISTS = {"sipgate_list_users", "sipgate_list_contacts", "sipgate_list_blocked_numbers",
                 "sipgate_list_sms_senders", "sipgate_list_devices", "sipgate_list_phonelines"}  # fmt: skip


def test_every_sipgate_tool_that_names_a_target_is_checked() -> None:
    """A new tool with a target field, or a new list, cannot skip the ownership check unnoticed."""
    target_fields = {"call_id", "caller", "device_id", "user_id", "phoneline_id", "number_id", "endpoint_id",
                     "entry_id", "fax_id", "voicemail_id", "faxline_id", "sms_id", "connection_ids"}  # fmt: skip
    for op in CATALOGUE:
        if op.provider != "sipgate":
            continue
        if op.local is not None:  # answered from pushed events: only the user's calls' events are returned
            assert op.name in EVENTS and op.visible is not None, op.name
            continue
        if target_fields & set(op.input.model_fields):
            assert op.name in TARGETS and op.guard is not None, op.name
        if op.name.startswith("sipgate_list_") and op.name not in LISTS:
            assert op.name in ACCOUNT_LISTS, op.name


async def test_the_wait_for_a_pushed_call_event_returns_only_the_users_calls(audit_path: Path) -> None:
    """In `user` mode the events of a colleague's call are skipped and counted; `account` mode returns them."""
    import httpx2

    for ownership, expected, hidden in (("user", "+492111234568", 1), ("account", "+492111234567", None)):
        server, sandbox = sandbox_server(audit_path, "w1", ownership)
        transport = httpx2.ASGITransport(app=sandbox.app)
        async with Client(server) as c, httpx2.AsyncClient(transport=transport, base_url="http://sb.test") as admin:
            for callee in ("+492111234567", "+492111234568"):  # Anna's main number (w0's), then Ben's 1001 (w1's)
                rung = await admin.post("/_sandbox/sipgate/ring", json={"from": "+49 30 1234567", "to": callee})
                assert rung.status_code == 201 and rung.json()["webhook_status"] == 200, rung.text
            waited = await c.call_tool(
                "sipgate_wait_for_call_event", {"events": ["newCall"], "after_sequence": 0, "timeout_seconds": 1}
            )
        data = waited.structured_content
        assert not waited.is_error and data["status"] == "event", text_of(waited)
        assert data["event"]["to_number"].endswith(expected.removeprefix("+")), data
        assert data.get("hidden_not_yours") == hidden, data


async def test_the_wait_fails_closed_when_ownership_is_unknown(audit_path: Path) -> None:
    server, _ = sandbox_server(audit_path, "w7", None)  # no such user: /users/w7 is 404
    async with Client(server) as c:
        waited = await c.call_tool("sipgate_wait_for_call_event", {"timeout_seconds": 1})
    assert waited.is_error and "fail closed" in text_of(waited), text_of(waited)


async def test_the_hidden_count_is_declared_in_each_filtered_tools_output_schema(audit_path: Path) -> None:
    """Structured output validates against the outputSchema tools/list declares, `hidden_not_yours` included."""
    import jsonschema

    server, _ = sandbox_server(audit_path, "w1", "user")
    async with Client(server) as c:
        schemas = {t.name: t.output_schema for t in (await c.list_tools()).tools}
        results = {name: (await c.call_tool(name, {})).structured_content for name in LISTS}
        results["sipgate_wait_for_call_event"] = (
            await c.call_tool("sipgate_wait_for_call_event", {"timeout_seconds": 1})
        ).structured_content
    for name, result in results.items():
        schema = schemas[name]
        assert schema is not None and schema["properties"]["hidden_not_yours"]["type"] == "integer", name
        assert isinstance(result["hidden_not_yours"], int), (name, result)
        jsonschema.validate(result, schema)
        assert set(result) <= set(schema["properties"]), (name, set(result) - set(schema["properties"]))


def test_every_filtered_tool_declares_the_hidden_count() -> None:
    for op in CATALOGUE:
        if op.name in LISTS or op.name in EVENTS:
            assert "hidden_not_yours" in op.output.model_fields, op.name


# ------------------------------------------------------------------ fax: only from the user's own fax lines
def _fax_server(audit_path: Path, tmp_path: Path, ownership: str | None) -> tuple[Any, Sandbox]:
    from test_sipgate_round2 import pdf

    (tmp_path / "faxes").mkdir(exist_ok=True)
    (tmp_path / "faxes" / "offer.pdf").write_bytes(pdf(1))
    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_toolsets="all", telco_mcp_allow_writes=True,
        telco_mcp_sipgate_ownership=ownership, telco_mcp_fax_dir=tmp_path / "faxes",
    )  # fmt: skip
    server = build_server(settings)
    sandbox = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    sandbox.state.sipgate.userinfo["sub"] = "w1"  # Ben: fax line f1 is his, f0 is Anna's
    return server, sandbox


FAX = {"file": "offer.pdf", "recipient": "+49 30 23125477"}


async def test_a_fax_goes_only_from_the_users_own_fax_line_in_user_mode(audit_path: Path, tmp_path: Path) -> None:
    server, sandbox = _fax_server(audit_path, tmp_path, None)  # w1 is no admin: user
    async with Client(server, elicitation_callback=accept) as c:
        theirs = await c.call_tool("sipgate_send_fax", FAX | {"faxline_id": "f0"})
        own = await c.call_tool("sipgate_send_fax", FAX | {"faxline_id": "f1"})
    assert theirs.is_error and "fax line f0 is not yours" in text_of(theirs), text_of(theirs)
    assert own.structured_content["status"] == "applied", text_of(own)
    assert [r.json["faxlineId"] for r in sandbox.requests if r.path == "/v2/sessions/fax"] == ["f1"]

    server, sandbox = _fax_server(audit_path, tmp_path, "account")
    async with Client(server, elicitation_callback=accept) as c:
        anyones = await c.call_tool("sipgate_send_fax", FAX | {"faxline_id": "f0"})
    assert anyones.structured_content["status"] == "applied", text_of(anyones)


async def test_a_resend_needs_the_users_fax_and_fax_line(audit_path: Path, tmp_path: Path) -> None:
    server, sandbox = _fax_server(audit_path, tmp_path, "user")
    annas = next(e for e in sandbox.state.sipgate.history if e["type"] == "FAX" and e["direction"] == "OUTGOING")
    async with Client(server, elicitation_callback=accept) as c:
        sent = await c.call_tool("sipgate_send_fax", FAX | {"faxline_id": "f1"})
        own = sent.structured_content["result"]["fax_id"]
        again = await c.call_tool("sipgate_resend_fax", {"fax_id": own, "recipient": FAX["recipient"],
                                                         "faxline_id": "f1"})  # fmt: skip
        from_annas_line = await c.call_tool("sipgate_resend_fax", {"fax_id": own, "recipient": FAX["recipient"],
                                                                   "faxline_id": "f0"})  # fmt: skip
        annas_fax = await c.call_tool("sipgate_resend_fax", {"fax_id": annas["id"], "recipient": annas["target"],
                                                             "faxline_id": "f1"})  # fmt: skip
    assert again.structured_content["status"] == "applied", text_of(again)
    assert from_annas_line.is_error and "fax line f0 is not yours" in text_of(from_annas_line)
    assert annas_fax.is_error and f"history entry {annas['id']} is not yours" in text_of(annas_fax)
    assert len([r for r in sandbox.requests if r.path == "/v2/sessions/fax/resend"]) == 1


async def test_unknown_fax_lines_refuse_a_fax_only(audit_path: Path, tmp_path: Path) -> None:
    """sipgate answers 403 for the fax lines when fax is not booked: a fax fails closed, other checks work."""
    import httpx2

    server, sandbox = _fax_server(audit_path, tmp_path, "user")
    fault = {"kind": "status", "status": 403, "method": "GET", "path_prefix": "/v2/w1/faxlines", "count": None}
    async with (
        Client(server, elicitation_callback=accept) as c,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://sb.test") as admin,
    ):
        assert (await admin.post("/_sandbox/faults", json=fault)).status_code in (200, 201)
        fax = await c.call_tool("sipgate_send_fax", FAX | {"faxline_id": "f1"})
        own = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p1"})
    said = text_of(fax)
    assert fax.is_error and "which fax lines are yours is unknown" in said and "fail closed" in said, said
    assert not own.is_error, text_of(own)  # Ben's own phoneline: ownership is known
    assert not [r for r in sandbox.requests if r.path == "/v2/sessions/fax"]


async def test_a_dtmf_event_is_the_users_when_an_earlier_event_of_its_call_is(audit_path: Path) -> None:
    """dtmf names no number nor user: it goes with its call, whose newCall said whose it is."""
    from test_call_events import poster

    server, _ = sandbox_server(audit_path, "w1", "user")
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    pushed = [
        {"event": "newCall", "direction": "in", "from": "49301234567", "to": "492111234567", "callId": "ANNA1"},
        {"event": "dtmf", "callId": "ANNA1", "dtmf": "1"},
        {"event": "newCall", "direction": "in", "from": "49301234567", "to": "492111234568", "callId": "BEN1"},
        {"event": "dtmf", "callId": "BEN1", "dtmf": "2"},
    ]
    async with Client(server) as c:
        async with poster(runtime) as post:
            for event in pushed:
                assert (await post.post(runtime.webhooks.path, data=event)).status_code == 200
        waited = await c.call_tool(
            "sipgate_wait_for_call_event", {"events": ["dtmf"], "after_sequence": 0, "timeout_seconds": 1}
        )
    data = waited.structured_content
    assert data["status"] == "event" and data["event"]["call_id"] == "BEN1", data
    assert data["hidden_not_yours"] == 1  # Anna's call's key press


async def test_the_call_events_resource_shows_only_the_users_calls_and_fails_closed(audit_path: Path) -> None:
    """The resource a client reads without a tool call keeps to the same rule as the wait: in `user` mode a
    colleague's call's events are left out and counted; `account` shows all; unknown ownership shows none."""
    import httpx2

    from telco_mcp.resources import CALL_EVENTS_URI

    for user, ownership, shown, hidden in (("w1", "user", 1, 1), ("w1", "account", 2, None), ("w7", None, 0, None)):
        server, sandbox = sandbox_server(audit_path, user, ownership)
        transport = httpx2.ASGITransport(app=sandbox.app)
        async with Client(server) as c, httpx2.AsyncClient(transport=transport, base_url="http://sb.test") as admin:
            for callee in ("+492111234567", "+492111234568"):  # Anna's main number (w0's), then Ben's 1001 (w1's)
                rung = await admin.post("/_sandbox/sipgate/ring", json={"from": "+49 30 1234567", "to": callee})
                assert rung.status_code == 201, rung.text
            read = await c.read_resource(CALL_EVENTS_URI)
        text = read.contents[0].text  # type: ignore[union-attr]
        if user == "w7":  # no such user: which calls are theirs is unknown
            assert text.startswith("[refused]") and "fail closed" in text and "+49211" not in text, text
            continue
        data = json.loads(text.split("\n")[1])  # the JSON line inside the <untrusted-data> fence
        assert data["shown"] == shown and data.get("hidden_not_yours") == hidden, data
        callees = {event["to_number"] for event in data["events"]}
        assert callees == ({"+492111234567", "+492111234568"} if ownership == "account" else {"+492111234568"}), data
