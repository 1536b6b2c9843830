"""sipgate tool inputs are checked before anything is sent, and normalised when they are good.

Bad input comes back as an `is_error` result naming the field and saying nothing was sent; the fake
sipgate must not have seen a single request, and the human must not have been asked to confirm.
Good input as a person would type it reaches sipgate normalised (E.164 numbers, upper-case DTMF).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeUpstream, body_of, client_for, response, sipgate_settings, text_of
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

pytestmark = pytest.mark.anyio

MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])

CALL_ID = "ABCDEF0123456789"
ME = "+4921112345678"
THEM = "+4915799912345"


def future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def running_calls() -> dict:
    parties = [
        {"participantId": "e0", "phoneNumber": ME, "muted": False, "hold": False, "owner": True},
        {"participantId": "p1", "phoneNumber": THEM, "muted": False, "hold": False, "owner": False},
    ]
    return {"data": [{"callId": CALL_ID, "muted": False, "recording": False, "hold": False, "participants": parties}]}


def serve_sipgate(fake: FakeUpstream) -> None:
    fake.route("GET /v2/calls", response(200, running_calls()))
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0", "domain": "sipgate.de"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Zentrale", "callerId": ME}]}))
    fake.route("GET /v2/history", response(200, {"items": [], "totalCount": 0}))
    fake.route(f"POST /v2/calls/{CALL_ID}/dtmf", response(204))
    fake.route(f"POST /v2/calls/{CALL_ID}/transfer", response(204))
    fake.route("POST /v2/sessions/calls", response(200, {"sessionId": "5F3C2A1B0D9E8F7A"}))
    fake.route("POST /v2/sessions/sms", response(204))


class Confirmations:
    """An elicitation callback that says yes and remembers every question it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})


def settings(audit_path: Path):
    return sipgate_settings(audit_path, telco_mcp_allow_writes=True)


# ------------------------------------------------------------------ rejected
SMS = {"recipient": THEM, "message": "Hallo"}
START = {"caller": "e0", "callee": THEM}

BAD_INPUT = [
    pytest.param("sipgate_send_sms", SMS | {"recipient": "12"}, "recipient", "'12'", id="sms-recipient-12"),
    pytest.param(
        "sipgate_send_sms", SMS | {"recipient": "abc"}, "recipient", "not a phone number", id="sms-recipient-abc"
    ),
    pytest.param("sipgate_start_call", START | {"callee": "abc"}, "callee", "not a phone number", id="callee-abc"),
    pytest.param("sipgate_start_call", START | {"callee": "12"}, "callee", "'12'", id="callee-12"),
    pytest.param(
        "sipgate_start_call",
        START | {"caller": "hello"},
        "caller",
        "device id like e0",
        id="caller-not-device-or-number",
    ),
    pytest.param(
        "sipgate_start_call",
        {"caller": ME, "callee": THEM},
        "device_id",
        "required when caller is a phone number",
        id="caller-number-without-device-id",
    ),
    pytest.param(
        "sipgate_transfer_call",
        {"call_id": CALL_ID, "phone_number": "abc"},
        "phone_number",
        "not a phone number",
        id="transfer-target-abc",
    ),
    pytest.param(
        "sipgate_transfer_call",
        {"call_id": CALL_ID, "phone_number": "12"},
        "phone_number",
        "'12'",
        id="transfer-target-12",
    ),
    pytest.param("sipgate_send_dtmf", {"call_id": CALL_ID, "sequence": "12E"}, "sequence", "'E'", id="dtmf-E"),
    pytest.param("sipgate_send_dtmf", {"call_id": CALL_ID, "sequence": "12 34"}, "sequence", "' '", id="dtmf-space"),
    pytest.param(
        "sipgate_play_announcement",
        {"call_id": CALL_ID, "url": "http://media.example.com/hold.wav"},
        "url",
        "https",
        id="announcement-http",
    ),
    pytest.param(
        "sipgate_play_announcement",
        {"call_id": CALL_ID, "url": "file:///etc/passwd"},
        "url",
        "https",
        id="announcement-file",
    ),
    pytest.param(
        "sipgate_send_sms", SMS | {"send_at": future(hours=-1)}, "send_at", "in the past", id="send-at-in-the-past"
    ),
    pytest.param(
        "sipgate_send_sms",
        SMS | {"send_at": (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()},
        "send_at",
        "no timezone",
        id="send-at-naive",
    ),
    pytest.param(
        "sipgate_send_sms", SMS | {"send_at": future(days=31)}, "send_at", "30 days", id="send-at-beyond-30-days"
    ),
    pytest.param("sipgate_send_sms", SMS | {"sender": "s0"}, "sender", "unknown field", id="sms-unknown-field"),
    pytest.param(
        "sipgate_hold_call",
        {"call_id": CALL_ID, "value": True, "force": True},
        "force",
        "unknown field",
        id="hold-unknown-field",
    ),
    pytest.param("sipgate_get_account", {"verbose": True}, "verbose", "unknown field", id="read-unknown-field"),
    pytest.param("sipgate_hold_call", {"call_id": CALL_ID}, "value", "required", id="hold-without-value"),
    pytest.param("sipgate_hangup_call", {"call_id": "../account"}, "call_id", "pattern", id="call-id-path-traversal"),
    pytest.param(
        "sipgate_list_history", {"phonenumber": "abc"}, "phonenumber", "not a phone number", id="history-number"
    ),
    pytest.param(
        "sipgate_list_history", {"start": "2026-11-01T00:00:00"}, "start", "no timezone", id="history-naive-start"
    ),
    pytest.param("sipgate_list_history", {"types": ["CALLS"]}, "types", "CALL", id="history-unknown-type"),
    pytest.param("sipgate_list_history", {"limit": 1000}, "limit", "100", id="history-limit-too-large"),
]


@MODES
@pytest.mark.parametrize(("tool", "args", "field", "reason"), BAD_INPUT)
async def test_bad_input_is_rejected_naming_the_field_before_any_request_or_question(
    fake: FakeUpstream, audit_path: Path, mode: str, tool: str, args: dict[str, Any], field: str, reason: str
) -> None:
    serve_sipgate(fake)
    confirmations = Confirmations()
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=confirmations) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    text = text_of(result)
    assert f"Invalid arguments for {tool}, nothing was sent." in text
    assert field in text and reason in text, text
    assert fake.requests == []
    assert confirmations.asked == []
    assert not audit_path.exists() or audit_path.read_text() == ""


@MODES
async def test_a_cursor_this_server_did_not_issue_is_rejected_before_any_request(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_history", {"cursor": "b2Zmc2V0PTEwMA"})
    assert result.is_error
    assert "cursor is not one this server issued" in text_of(result)
    assert fake.requests == []


# ------------------------------------------------------------------ normalised
GOOD_INPUT = [
    pytest.param(
        "sipgate_send_sms",
        {"recipient": "0157 99912345", "message": "Hallo"},
        "/v2/sessions/sms",
        {"smsId": "s0", "recipient": "+4915799912345", "message": "Hallo"},
        id="national-recipient",
    ),
    pytest.param(
        "sipgate_send_sms",
        {"recipient": "+49 (157) 999-123 45", "message": "Hallo"},
        "/v2/sessions/sms",
        {"smsId": "s0", "recipient": "+4915799912345", "message": "Hallo"},
        id="formatted-recipient",
    ),
    pytest.param(
        "sipgate_send_dtmf",
        {"call_id": CALL_ID, "sequence": "1a#*d"},
        f"/v2/calls/{CALL_ID}/dtmf",
        {"sequence": "1A#*D"},
        id="lowercase-dtmf",
    ),
    pytest.param(
        "sipgate_transfer_call",
        {"call_id": CALL_ID, "phone_number": "030 12345678", "caller_id": "0211 12345678"},
        f"/v2/calls/{CALL_ID}/transfer",
        {"attended": False, "phoneNumber": "+493012345678", "callerId": "+4921112345678"},
        id="national-transfer-target",
    ),
    pytest.param(
        "sipgate_start_call",
        {"caller": "0211 12345678", "callee": "0157 99912345", "device_id": "e0"},
        "/v2/sessions/calls",
        {"caller": "+4921112345678", "callee": "+4915799912345", "deviceId": "e0"},
        id="national-caller-and-callee",
    ),
]


@MODES
@pytest.mark.parametrize(("tool", "args", "path", "body"), GOOD_INPUT)
async def test_input_typed_the_way_people_type_it_reaches_sipgate_normalised(
    fake: FakeUpstream, audit_path: Path, mode: str, tool: str, args: dict[str, Any], path: str, body: dict
) -> None:
    serve_sipgate(fake)
    confirmations = Confirmations()
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=confirmations) as client:
        result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "applied"
    (write,) = fake.sent("POST", path)
    assert body_of(write) == body
    assert confirmations.asked


@MODES
async def test_history_phone_number_filter_is_sent_in_e164(fake: FakeUpstream, audit_path: Path, mode: str) -> None:
    serve_sipgate(fake)
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_history", {"phonenumber": "0157 99912345"})
    assert not result.is_error, text_of(result)
    (request,) = fake.requests
    assert request.url.params["phonenumber"] == "+4915799912345"


@MODES
async def test_confirmation_question_shows_the_normalised_number_and_the_message(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_sipgate(fake)
    confirmations = Confirmations()
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=confirmations) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": "0157 99912345", "message": "Bis gleich"})
    assert not result.is_error, text_of(result)
    assert confirmations.asked
    assert all("+49 1579 9912345" in q and "Bis gleich" in q for q in confirmations.asked)
