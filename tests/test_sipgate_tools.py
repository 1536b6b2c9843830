"""The 13 sipgate tools end to end: MCP `Client` -> server -> shared httpx2 client -> fake sipgate.

Each test pins the exact upstream request a tool sends (method, path, query, camelCase JSON body,
Authorization header) and how the answer becomes `structured_content`; call-control tools are
checked to answer with the call's state as `GET /calls` reports it *after* the change.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import (
    CANARIES,
    SG_ACCESS,
    SG_PASSWORD,
    SG_TOKEN,
    SG_TOKEN_ID,
    FakeUpstream,
    accept,
    body_of,
    client_for,
    response,
    sipgate_settings,
    text_of,
)
from mcp import Client

pytestmark = pytest.mark.anyio

MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])

CALL_ID = "ABCDEF0123456789"
NEW_CALL_ID = "0123456789FEDCBA"
OTHER_CALL_ID = "99990000AAAABBBB"
ME = "+4921112345678"  # the account's own number (call owner, SMS sender)
THEM = "+4915799912345"  # the other party
TARGET = "+493012345678"  # where calls are transferred to
WAV = "https://media.example.com/announcements/please-hold.wav"

ACCOUNT = {
    "company": "Muster Sanitär GmbH",
    "mainProductType": "TEAM",
    "logoUrl": "https://static.sipgate.com/logos/muster.png",
    "verified": True,
    "historyLifeTime": "UNLIMITED",
}
USERINFO = {"sub": "w0", "domain": "sipgate.de", "masterSipId": "1234567", "locale": "de_DE"}
SENDERS = {
    "items": [
        {"id": "s0", "alias": "Zentrale", "callerId": ME},
        {"id": "s1", "alias": "Vertrieb", "callerId": "+4921112345679"},
    ]
}


# ------------------------------------------------------------------ sipgate payloads
def participant(pid: str, number: str, *, owner: bool = False, muted: bool = False, hold: bool = False) -> dict:
    return {"participantId": pid, "phoneNumber": number, "muted": muted, "hold": hold, "owner": owner}


def running_call(
    call_id: str = CALL_ID,
    *,
    muted: bool = False,
    recording: bool = False,
    hold: bool = False,
    parties: list[dict] | None = None,
) -> dict:
    if parties is None:
        parties = [participant("e0", ME, owner=True, muted=muted, hold=hold), participant("p1", THEM, hold=hold)]
    return {"callId": call_id, "muted": muted, "recording": recording, "hold": hold, "participants": parties}


def calls(*items: dict) -> dict:
    return {"data": list(items)}


def as_result(call: dict) -> dict:
    """What a `GET /calls` entry looks like in structured_content (snake_case, anonymous numbers absent)."""
    parties = []
    for p in call["participants"]:
        out = {"participant_id": p["participantId"], "muted": p["muted"], "hold": p["hold"], "owner": p["owner"]}
        if p["phoneNumber"]:
            out["phone_number"] = p["phoneNumber"]
        parties.append(out)
    return {
        "call_id": call["callId"],
        "muted": call["muted"],
        "recording": call["recording"],
        "hold": call["hold"],
        "participants": parties,
    }


def history_entry(n: int, **overrides: Any) -> dict:
    entry = {
        "id": f"{1000 + n}",
        "source": THEM,
        "target": ME,
        "sourceAlias": "Erika Mustermann",
        "targetAlias": "Zentrale",
        "type": "CALL",
        "created": f"2026-11-{n + 1:02d}T09:15:00Z",
        "lastModified": f"2026-11-{n + 1:02d}T09:17:42Z",
        "direction": "INCOMING",
        "incoming": True,
        "status": "PICKUP",
        "connectionIds": ["p0"],
        "read": True,
        "archived": False,
        "note": "",
        "endpoints": [{"type": "PICKUP", "endpoint": {"extension": "p0", "type": "PERSON"}}],
        "starred": False,
        "labels": ["Rückruf"],
    }
    return entry | overrides


# ------------------------------------------------------------------ fake sipgate
def serve_calls(fake: FakeUpstream, before: dict, after: dict | None = None) -> None:
    """`GET /calls` answers `before` until a write reached sipgate, then `after`."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        written = any(r.method != "GET" for r in fake.requests)
        return response(200, after if written and after is not None else before)

    fake.route("GET /v2/calls", answer)


def serve_sipgate(fake: FakeUpstream) -> None:
    """Every endpoint the 13 tools use, answering the way sipgate documents."""
    fake.route("GET /v2/account", response(200, ACCOUNT))
    serve_calls(fake, calls(running_call()))
    fake.route("GET /v2/authorization/userinfo", response(200, USERINFO))
    fake.route("GET /v2/w0/sms", response(200, SENDERS))
    fake.route("GET /v2/history", response(200, {"items": [history_entry(1)], "totalCount": 1}))
    for suffix in ("hold", "muted", "recording"):
        fake.route(f"PUT /v2/calls/{CALL_ID}/{suffix}", response(204))
    for suffix in ("transfer", "dtmf", "announcements"):
        fake.route(f"POST /v2/calls/{CALL_ID}/{suffix}", response(204))
    fake.route(f"DELETE /v2/calls/{CALL_ID}", response(204))
    fake.route("POST /v2/sessions/calls", response(200, {"sessionId": "5F3C2A1B0D9E8F7A"}))
    fake.route("POST /v2/sessions/sms", response(204))


def writes(fake: FakeUpstream) -> list[httpx2.Request]:
    return [r for r in fake.requests if r.method != "GET"]


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def settings(audit_path: Path, auth: str = "token", **overrides: Any):
    # Token mode: these tests confirm by token as a means; the approval channel has its own tests.
    return sipgate_settings(
        audit_path, auth, telco_mcp_allow_writes=True, **({"telco_mcp_confirm": "token"} | overrides)
    )


async def confirmed_by_token(client: Client, tool: str, args: dict[str, Any]) -> Any:
    """Call a write without elicitation: preview first, then repeat with the confirm_token."""
    first = await client.call_tool(tool, args)
    if first.is_error:
        return first
    assert first.structured_content["status"] == "confirmation_required", text_of(first)
    return await client.call_tool(tool, args | {"confirm_token": first.structured_content["confirm_token"]})


def applied(result: Any) -> dict:
    """The `result` of an applied write (fails with the tool's text otherwise)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "applied", text_of(result)
    return result.structured_content["result"]


SIPGATE_TOOLS = {
    "sipgate_get_account": {},
    "sipgate_list_calls": {},
    "sipgate_hold_call": {"call_id": CALL_ID, "value": True},
    "sipgate_mute_call": {"call_id": CALL_ID, "value": True},
    "sipgate_record_call": {"call_id": CALL_ID, "value": True},
    "sipgate_transfer_call": {"call_id": CALL_ID, "phone_number": TARGET},
    "sipgate_send_dtmf": {"call_id": CALL_ID, "sequence": "1"},
    "sipgate_play_announcement": {"call_id": CALL_ID, "url": WAV},
    "sipgate_hangup_call": {"call_id": CALL_ID},
    "sipgate_start_call": {"caller": "e0", "callee": THEM},
    "sipgate_send_sms": {"recipient": THEM, "message": "Ihr Termin ist bestätigt."},
    "sipgate_list_sms_senders": {},
    "sipgate_list_history": {},
}


# ------------------------------------------------------------------ catalogue and auth
async def test_sipgate_serves_exactly_its_fourteen_tools_when_writes_are_allowed(
    fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(settings(audit_path), fake) as client:
        listed = await client.list_tools()
    # sipgate_wait_for_call_event (issue 16) sends no request: it is tested in test_call_events.py
    assert sorted(tool.name for tool in listed.tools) == sorted([*SIPGATE_TOOLS, "sipgate_wait_for_call_event"])
    assert fake.requests == []


async def test_without_allow_writes_only_the_five_read_tools_are_served(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(sipgate_settings(audit_path), fake) as client:
        listed = await client.list_tools()
    assert sorted(tool.name for tool in listed.tools) == [
        "sipgate_get_account",
        "sipgate_list_calls",
        "sipgate_list_history",
        "sipgate_list_sms_senders",
        "sipgate_wait_for_call_event",  # issue 16
    ]


AUTH_HEADERS = {
    "token": basic(SG_TOKEN_ID, SG_TOKEN),
    "oauth": f"Bearer {SG_ACCESS}",
    "password": basic("ops@example.com", SG_PASSWORD),
}


@pytest.mark.parametrize("auth", sorted(AUTH_HEADERS))
@pytest.mark.parametrize("tool", sorted(SIPGATE_TOOLS))
async def test_every_tool_sends_the_authorization_header_of_the_configured_auth_mode(
    fake: FakeUpstream, audit_path: Path, tool: str, auth: str
) -> None:
    serve_sipgate(fake)
    async with client_for(settings(audit_path, auth), fake, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, SIPGATE_TOOLS[tool])
    assert not result.is_error, text_of(result)
    assert fake.requests
    for request in fake.requests:
        assert request.url.scheme == "https" and request.url.host == "api.sipgate.com"
        assert request.url.path.startswith("/v2/")
        assert request.headers["Authorization"] == AUTH_HEADERS[auth]
    for canary in CANARIES:
        assert canary not in text_of(result)


async def test_sipgate_base_url_setting_redirects_every_request(fake: FakeUpstream, audit_path: Path) -> None:
    fake.route("GET /sipgate/v2/account", response(200, ACCOUNT))
    custom = settings(audit_path, sipgate_base_url="https://sipgate-mock.example.test/sipgate/v2/")
    async with client_for(custom, fake) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert not result.is_error, text_of(result)
    assert [str(r.url) for r in fake.requests] == ["https://sipgate-mock.example.test/sipgate/v2/account"]


# ------------------------------------------------------------------ reads
@MODES
async def test_get_account_reads_get_account_into_snake_case_fields(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/account", response(200, ACCOUNT | {"someNewField": 1}))
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_get_account", {})
    assert not result.is_error, text_of(result)
    (request,) = fake.requests
    assert (request.method, request.url.path, request.url.query, request.content) == ("GET", "/v2/account", b"", b"")
    assert result.structured_content == {
        "company": "Muster Sanitär GmbH",
        "main_product_type": "TEAM",
        "logo_url": "https://static.sipgate.com/logos/muster.png",
        "verified": True,
        "history_life_time": "UNLIMITED",
    }


@MODES
async def test_list_calls_returns_each_running_call_with_its_participants(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    anonymous = running_call(
        OTHER_CALL_ID,
        recording=True,
        parties=[participant("e1", ME, owner=True), participant("p7", "")],
    )
    fake.route("GET /v2/calls", response(200, calls(running_call(hold=True), anonymous)))
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_calls", {})
    assert not result.is_error, text_of(result)
    (request,) = fake.requests
    assert (request.method, request.url.path, request.url.query) == ("GET", "/v2/calls", b"")
    assert result.structured_content == {"calls": [as_result(running_call(hold=True)), as_result(anonymous)]}
    assert "phone_number" not in result.structured_content["calls"][1]["participants"][1]


@MODES
async def test_sms_senders_are_listed_for_the_user_id_from_userinfo_which_is_fetched_only_once(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, USERINFO | {"sub": "w7"}))
    fake.route("GET /v2/w7/sms", response(200, SENDERS))
    fake.route("POST /v2/sessions/sms", response(204))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        first = await client.call_tool("sipgate_list_sms_senders", {})
        second = await client.call_tool("sipgate_list_sms_senders", {})
        sms = await client.call_tool("sipgate_send_sms", {"recipient": THEM, "message": "Hallo"})
    assert not first.is_error and not second.is_error, text_of(first)
    assert applied(sms)["sms_id"] == "s0"
    assert first.structured_content == {
        "items": [
            {"id": "s0", "alias": "Zentrale", "caller_id": ME},
            {"id": "s1", "alias": "Vertrieb", "caller_id": "+4921112345679"},
        ]
    }
    assert len(fake.sent("GET", "/v2/authorization/userinfo")) == 1
    assert fake.requests[0].url.path == "/v2/authorization/userinfo"
    assert {r.url.path for r in fake.requests if r.method == "GET"} == {"/v2/authorization/userinfo", "/v2/w7/sms"}


@MODES
async def test_list_history_sends_filters_as_repeated_query_parameters_and_parses_entries(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    page = {"items": [history_entry(1), history_entry(2, type="SMS", status=None)], "totalCount": 7}
    fake.route("GET /v2/history", response(200, page))
    args = {
        "types": ["CALL", "SMS"],
        "directions": ["INCOMING", "MISSED_INCOMING"],
        "phonenumber": "0157 99912345",
        "start": "2026-11-01T00:00:00+01:00",
        "end": "2026-11-20T12:00:00+01:00",
        "limit": 2,
    }
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_history", args)
    assert not result.is_error, text_of(result)
    (request,) = fake.requests
    assert (request.method, request.url.path) == ("GET", "/v2/history")
    assert request.url.params.multi_items() == [
        ("offset", "0"),
        ("limit", "2"),
        ("types", "CALL"),
        ("types", "SMS"),
        ("directions", "INCOMING"),
        ("directions", "MISSED_INCOMING"),
        ("phonenumber", "+4915799912345"),
        ("from", "2026-10-31T23:00:00Z"),
        ("to", "2026-11-20T11:00:00Z"),
    ]
    assert b"types=CALL&types=SMS" in request.url.query
    data = result.structured_content
    assert data["total_count"] == 7
    assert data["next_cursor"]
    assert data["items"][0] == {
        "id": "1001",
        "type": "CALL",
        "source": THEM,
        "target": ME,
        "source_alias": "Erika Mustermann",
        "target_alias": "Zentrale",
        "created": "2026-11-02T09:15:00Z",
        "last_modified": "2026-11-02T09:17:42Z",
        "direction": "INCOMING",
        "incoming": True,
        "status": "PICKUP",
        "connection_ids": ["p0"],
        "read": True,
        "archived": False,
        "note": "",
        "endpoints": [{"type": "PICKUP", "extension": "p0", "extension_type": "PERSON"}],
        "starred": False,
        "labels": ["Rückruf"],
    }
    assert data["items"][1]["type"] == "SMS" and "status" not in data["items"][1]
    assert "<untrusted-data" in text_of(result)  # third-party text is fenced


@MODES
async def test_history_pages_past_the_first_page_with_next_cursor_until_it_is_absent(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    entries = [history_entry(n) for n in range(5)]

    def page(request: httpx2.Request) -> httpx2.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return response(200, {"items": entries[offset : offset + limit], "totalCount": len(entries)})

    fake.route("GET /v2/history", page)
    filters = {"types": ["CALL", "VOICEMAIL"], "directions": ["MISSED_INCOMING"], "limit": 2}
    seen: list[str] = []
    cursors: list[str | None] = []
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        args: dict[str, Any] = dict(filters)
        for _ in range(4):
            result = await client.call_tool("sipgate_list_history", args)
            assert not result.is_error, text_of(result)
            seen += [item["id"] for item in result.structured_content["items"]]
            cursors.append(result.structured_content.get("next_cursor"))
            if "next_cursor" not in result.structured_content:
                break
            args = filters | {"cursor": result.structured_content["next_cursor"]}
    assert seen == [e["id"] for e in entries]
    assert len(cursors) == 3 and all(cursors[:2]) and cursors[2] is None
    assert [r.url.params["offset"] for r in fake.requests] == ["0", "2", "4"]
    for request in fake.requests:
        assert request.url.params.get_list("types") == ["CALL", "VOICEMAIL"]
        assert request.url.params.get_list("directions") == ["MISSED_INCOMING"]
        assert request.url.params["limit"] == "2"


@MODES
async def test_history_cursor_alone_keeps_the_filters_and_page_size_of_the_first_page(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    """The server tells the model to 'pass next_cursor back as cursor': the cursor must carry the query."""
    fake.route("GET /v2/history", response(200, {"items": [history_entry(1), history_entry(2)], "totalCount": 9}))
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        first = await client.call_tool("sipgate_list_history", {"types": ["SMS"], "limit": 2})
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("sipgate_list_history", {"cursor": cursor})
    assert not second.is_error, text_of(second)
    page_two = fake.requests[1].url.params
    assert page_two["offset"] == "2"
    assert page_two.get_list("types") == ["SMS"]
    assert page_two["limit"] == "2"


@pytest.mark.parametrize(
    ("filters", "sent"),
    [
        ({"archived": True}, [("archived", "true")]),
        ({"archived": False}, [("archived", "false")]),
        ({"starred": True}, [("starred", "STARRED")]),
        ({"starred": False}, [("starred", "UNSTARRED")]),
        ({"connection_ids": ["p0", "s1"]}, [("connectionIds", "p0"), ("connectionIds", "s1")]),
    ],
)
async def test_history_filters_archived_starred_and_connections(
    fake: FakeUpstream, audit_path: Path, filters: dict[str, Any], sent: list[tuple[str, str]]
) -> None:
    fake.route("GET /v2/history", response(200, {"items": [history_entry(1, archived=True)], "totalCount": 3}))
    async with client_for(settings(audit_path), fake) as client:
        first = await client.call_tool("sipgate_list_history", filters | {"limit": 1})
        assert not first.is_error, text_of(first)
        await client.call_tool("sipgate_list_history", {"cursor": first.structured_content["next_cursor"]})
    for request in fake.requests:  # the filters are kept on later pages too
        assert [pair for pair in request.url.params.multi_items() if pair[0] not in ("offset", "limit")] == sent


async def test_history_rejects_bad_connection_ids(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(settings(audit_path), fake) as client:
        for bad in (["p0", "p0"], ["p0&archived=true"], []):
            result = await client.call_tool("sipgate_list_history", {"connection_ids": bad})
            assert result.is_error and "connection_ids" in text_of(result)
    assert fake.requests == []


async def test_an_edited_history_cursor_cannot_raise_the_page_size_past_the_limit(
    fake: FakeUpstream, audit_path: Path
) -> None:
    raw = json.dumps({"p": "/history", "q": [["offset", "0"], ["limit", "1000"]]}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    async with client_for(settings(audit_path), fake) as client:
        result = await client.call_tool("sipgate_list_history", {"cursor": cursor})
    assert result.is_error and "items per page" in text_of(result)
    assert fake.requests == []


# ------------------------------------------------------------------ writes: exact requests
WRITE_REQUESTS = [
    pytest.param("sipgate_hold_call", {"call_id": CALL_ID, "value": True}, "PUT", "hold", {"value": True}, id="hold"),
    pytest.param(
        "sipgate_hold_call", {"call_id": CALL_ID, "value": False}, "PUT", "hold", {"value": False}, id="resume"
    ),
    pytest.param("sipgate_mute_call", {"call_id": CALL_ID, "value": True}, "PUT", "muted", {"value": True}, id="mute"),
    pytest.param(
        "sipgate_mute_call", {"call_id": CALL_ID, "value": False}, "PUT", "muted", {"value": False}, id="unmute"
    ),
    pytest.param(
        "sipgate_record_call",
        {"call_id": CALL_ID, "value": True},
        "PUT",
        "recording",
        {"value": True, "announcement": True},
        id="record-announced-by-default",
    ),
    pytest.param(
        "sipgate_record_call",
        {"call_id": CALL_ID, "value": True, "announcement": False},
        "PUT",
        "recording",
        {"value": True, "announcement": False},
        id="record-silently",
    ),
    pytest.param(
        "sipgate_record_call",
        {"call_id": CALL_ID, "value": False},
        "PUT",
        "recording",
        {"value": False, "announcement": True},
        id="stop-recording",
    ),
    pytest.param(
        "sipgate_transfer_call",
        {"call_id": CALL_ID, "phone_number": TARGET},
        "POST",
        "transfer",
        {"attended": False, "phoneNumber": TARGET},
        id="transfer-blind",
    ),
    pytest.param(
        "sipgate_transfer_call",
        {"call_id": CALL_ID, "phone_number": TARGET, "attended": True, "caller_id": ME},
        "POST",
        "transfer",
        {"attended": True, "phoneNumber": TARGET, "callerId": ME},
        id="transfer-attended-with-caller-id",
    ),
    pytest.param(
        "sipgate_send_dtmf",
        {"call_id": CALL_ID, "sequence": "123#*"},
        "POST",
        "dtmf",
        {"sequence": "123#*"},
        id="dtmf",
    ),
    pytest.param(
        "sipgate_play_announcement",
        {"call_id": CALL_ID, "url": WAV},
        "POST",
        "announcements",
        {"url": WAV},
        id="announcement",
    ),
    pytest.param("sipgate_hangup_call", {"call_id": CALL_ID}, "DELETE", "", None, id="hangup"),
    pytest.param(
        "sipgate_start_call",
        {"caller": "e0", "callee": THEM},
        "POST",
        "/v2/sessions/calls",
        {"caller": "e0", "callee": THEM},
        id="start-call-from-device",
    ),
    pytest.param(
        "sipgate_start_call",
        {"caller": ME, "callee": THEM, "device_id": "e0", "caller_id": "+4921112345679"},
        "POST",
        "/v2/sessions/calls",
        {"caller": ME, "callee": THEM, "deviceId": "e0", "callerId": "+4921112345679"},
        id="start-call-from-number",
    ),
    pytest.param(
        "sipgate_send_sms",
        {"recipient": THEM, "message": "Ihr Termin ist bestätigt."},
        "POST",
        "/v2/sessions/sms",
        {"smsId": "s0", "recipient": THEM, "message": "Ihr Termin ist bestätigt."},
        id="send-sms",
    ),
]


@pytest.mark.parametrize(("tool", "args", "method", "path", "body"), WRITE_REQUESTS)
async def test_write_tool_sends_exactly_one_request_with_sipgates_camel_case_body(
    fake: FakeUpstream, audit_path: Path, tool: str, args: dict, method: str, path: str, body: Any
) -> None:
    serve_sipgate(fake)
    if not path.startswith("/"):
        path = f"/v2/calls/{CALL_ID}" + (f"/{path}" if path else "")
    async with client_for(settings(audit_path), fake, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, args)
    applied(result)
    (write,) = writes(fake)
    assert (write.method, write.url.path, write.url.query) == (method, path, b"")
    assert body_of(write) == body
    if body is not None:
        assert write.headers["Content-Type"] == "application/json"


@MODES
async def test_without_elicitation_a_write_is_previewed_and_sent_only_with_its_confirm_token(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    args = {"call_id": CALL_ID, "value": True}
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        preview = await client.call_tool("sipgate_hold_call", args)
        assert writes(fake) == []
        data = preview.structured_content
        assert data["status"] == "confirmation_required" and data["confirm_token"]
        assert data["request"] == {
            "method": "PUT",
            "url": f"https://api.sipgate.com/v2/calls/{CALL_ID}/hold",
            "headers": {"Authorization": "Basic [REDACTED]"},
            "body": {"value": True},
        }
        done = await client.call_tool("sipgate_hold_call", args | {"confirm_token": data["confirm_token"]})
    assert applied(done)["action"] == "hold"
    assert [(r.method, r.url.path) for r in writes(fake)] == [("PUT", f"/v2/calls/{CALL_ID}/hold")]
    for canary in CANARIES:
        assert canary not in text_of(preview) + text_of(done)


# ------------------------------------------------------------------ writes: parsed results
@MODES
async def test_start_call_returns_the_session_id_sipgate_answers(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("POST /v2/sessions/calls", response(200, {"sessionId": "5F3C2A1B0D9E8F7A"}))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_start_call", {"caller": "p0", "callee": THEM})
    assert applied(result) == {"session_id": "5F3C2A1B0D9E8F7A"}


@MODES
async def test_send_sms_without_sms_id_sends_from_the_first_listed_sender(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, USERINFO))
    fake.route("GET /v2/w0/sms", response(200, {"items": [SENDERS["items"][1], SENDERS["items"][0]]}))
    fake.route("POST /v2/sessions/sms", response(204))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": THEM, "message": "Rückruf bitte"})
    assert applied(result) == {"sms_id": "s1", "recipient": THEM, "status": "accepted"}
    (post,) = fake.sent("POST", "/v2/sessions/sms")
    assert body_of(post) == {"smsId": "s1", "recipient": THEM, "message": "Rückruf bitte"}


@MODES
async def test_send_sms_with_a_listed_sms_id_sends_from_that_sender(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": THEM, "message": "Hallo", "sms_id": "s1"})
    assert applied(result)["sms_id"] == "s1"
    (post,) = fake.sent("POST", "/v2/sessions/sms")
    assert body_of(post)["smsId"] == "s1"


@MODES
@pytest.mark.parametrize("confirm", ["elicitation", "token"])
async def test_send_sms_rejects_an_sms_id_the_account_does_not_have_before_posting(
    fake: FakeUpstream, audit_path: Path, mode: str, confirm: str
) -> None:
    serve_sipgate(fake)
    args = {"recipient": THEM, "message": "Hallo", "sms_id": "s9"}
    callback = {"elicitation_callback": accept} if confirm == "elicitation" else {}
    async with client_for(settings(audit_path), fake, mode=mode, **callback) as client:
        result = await confirmed_by_token(client, "sipgate_send_sms", args)
    assert result.is_error
    text = text_of(result)
    assert (
        "sms_id 's9'" in text
        and '<untrusted-data source="sipgate">["s0","s1"]</untrusted-data>' in text
        and "Nothing was sent" in text
    )
    assert fake.sent("POST", "/v2/sessions/sms") == []


@MODES
async def test_send_sms_schedules_send_at_as_unix_seconds(fake: FakeUpstream, audit_path: Path, mode: str) -> None:
    serve_sipgate(fake)
    berlin = timezone(timedelta(hours=1))
    when = (datetime.now(UTC) + timedelta(days=2)).astimezone(berlin).replace(microsecond=0)
    args = {"recipient": THEM, "message": "Erinnerung: Termin morgen", "send_at": when.isoformat()}
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", args)
    sent = applied(result)
    (post,) = fake.sent("POST", "/v2/sessions/sms")
    body = body_of(post)
    assert body == {"smsId": "s0", "recipient": THEM, "message": "Erinnerung: Termin morgen", "sendAt": body["sendAt"]}
    assert type(body["sendAt"]) is int and body["sendAt"] == int(when.timestamp())
    assert sent["status"] == "scheduled"
    assert datetime.fromisoformat(sent["send_at"]) == when


# ------------------------------------------------------------------ call control: state read back
HELD = running_call(hold=True)
MUTED = running_call(muted=True)
RECORDING = running_call(recording=True)
QUEUED = running_call(parties=[participant("e0", ME, owner=True), participant("p1", THEM, hold=True)])
ANNOUNCED = running_call(parties=[participant("e0", ME, owner=True, muted=True), participant("p1", THEM)])

READ_BACKS = [
    pytest.param("sipgate_hold_call", {"value": True}, "hold", HELD, id="hold"),
    pytest.param("sipgate_mute_call", {"value": True}, "mute", MUTED, id="mute"),
    pytest.param("sipgate_record_call", {"value": True}, "record", RECORDING, id="record"),
    pytest.param("sipgate_send_dtmf", {"sequence": "2"}, "dtmf", QUEUED, id="dtmf"),
    pytest.param("sipgate_play_announcement", {"url": WAV}, "announcement", ANNOUNCED, id="announcement"),
]


@MODES
@pytest.mark.parametrize(("tool", "extra", "action", "after"), READ_BACKS)
async def test_call_control_answers_with_the_call_as_get_calls_reports_it_after_the_change(
    fake: FakeUpstream, audit_path: Path, mode: str, tool: str, extra: dict, action: str, after: dict
) -> None:
    serve_sipgate(fake)
    serve_calls(fake, calls(running_call(), running_call(OTHER_CALL_ID)), calls(running_call(OTHER_CALL_ID), after))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, {"call_id": CALL_ID} | extra)
    assert applied(result) == {"call_id": CALL_ID, "action": action, "call": as_result(after), "ended": False}
    write, read_back = fake.requests[-2:]
    assert write.method != "GET" and (read_back.method, read_back.url.path) == ("GET", "/v2/calls")


@MODES
async def test_hangup_reports_the_call_ended_when_get_calls_no_longer_lists_it(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    serve_calls(fake, calls(running_call(), running_call(OTHER_CALL_ID)), calls(running_call(OTHER_CALL_ID)))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_hangup_call", {"call_id": CALL_ID})
    assert applied(result) == {"call_id": CALL_ID, "action": "hangup", "ended": True}
    assert [(r.method, r.url.path) for r in fake.requests[-2:]] == [
        ("DELETE", f"/v2/calls/{CALL_ID}"),
        ("GET", "/v2/calls"),
    ]


@MODES
async def test_hangup_says_so_when_the_call_is_still_listed_right_after(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_hangup_call", {"call_id": CALL_ID})
    data = applied(result)
    assert data["ended"] is False and data["call"] == as_result(running_call())
    assert "still listed" in data["note"]


@MODES
@pytest.mark.parametrize(
    "listed_as",
    [TARGET, TARGET.removeprefix("+"), "00" + TARGET.removeprefix("+"), "030 12345678"],
    ids=["e164", "no-plus", "international-prefix", "national"],
)
async def test_blind_transfer_finds_the_call_under_the_new_call_id_sipgate_gives_it(
    fake: FakeUpstream, audit_path: Path, mode: str, listed_as: str
) -> None:
    serve_sipgate(fake)
    transferred = running_call(NEW_CALL_ID, parties=[participant("p1", THEM), participant("p2", listed_as)])
    serve_calls(fake, calls(running_call()), calls(running_call(OTHER_CALL_ID), transferred))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_transfer_call", {"call_id": CALL_ID, "phone_number": "030 12345678"})
    data = applied(result)
    assert data["call_id"] == CALL_ID and data["action"] == "transfer" and data["ended"] is False
    assert data["call"] == as_result(transferred)
    assert NEW_CALL_ID in data["note"]


@MODES
async def test_a_write_whose_read_back_fails_is_still_reported_applied_with_a_note(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    unavailable = response(503, headers={"Retry-After": "0"})

    def answer(request: httpx2.Request) -> httpx2.Response:
        return unavailable if writes(fake) else response(200, calls(running_call()))

    fake.route("GET /v2/calls", answer)
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_mute_call", {"call_id": CALL_ID, "value": True})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "applied"
    assert "reading the result failed" in result.structured_content["note"]
    assert len(writes(fake)) == 1


# ------------------------------------------------------------------ call control: calls that are gone
CALL_CONTROL = [
    pytest.param("sipgate_hold_call", {"value": True}, id="hold"),
    pytest.param("sipgate_mute_call", {"value": False}, id="mute"),
    pytest.param("sipgate_record_call", {"value": True}, id="record"),
    pytest.param("sipgate_transfer_call", {"phone_number": TARGET}, id="transfer"),
    pytest.param("sipgate_send_dtmf", {"sequence": "1"}, id="dtmf"),
    pytest.param("sipgate_play_announcement", {"url": WAV}, id="announcement"),
    pytest.param("sipgate_hangup_call", {}, id="hangup"),
]


@MODES
@pytest.mark.parametrize(("tool", "extra"), CALL_CONTROL)
async def test_a_404_from_the_call_endpoint_says_the_call_is_not_found_or_already_ended(
    fake: FakeUpstream, audit_path: Path, mode: str, tool: str, extra: dict
) -> None:
    serve_sipgate(fake)
    for key in [k for k in fake.routes if not k.startswith("GET")]:
        fake.route(key, response(404))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, {"call_id": CALL_ID} | extra)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[not_found]")
    assert f"Call {CALL_ID} was not found or has already ended" in text
    assert len(writes(fake)) == 1  # a 404 is never retried


@MODES
@pytest.mark.parametrize("confirm", ["elicitation", "token"])
@pytest.mark.parametrize(("tool", "extra"), CALL_CONTROL)
async def test_a_call_absent_from_get_calls_at_confirmation_is_refused_without_any_write(
    fake: FakeUpstream, audit_path: Path, mode: str, confirm: str, tool: str, extra: dict
) -> None:
    serve_sipgate(fake)
    serve_calls(fake, calls(running_call(OTHER_CALL_ID)))
    callback = {"elicitation_callback": accept} if confirm == "elicitation" else {}
    async with client_for(settings(audit_path), fake, mode=mode, **callback) as client:
        result = await confirmed_by_token(client, tool, {"call_id": CALL_ID} | extra)
    assert result.is_error
    assert "not found or has already ended" in text_of(result)
    assert writes(fake) == []
    assert {(r.method, r.url.path) for r in fake.requests} == {("GET", "/v2/calls")}
