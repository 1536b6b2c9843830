"""The sipgate half of the sandbox: auth schemes, running calls, sessions, SMS, history and OAuth."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx2
import pytest

from telco_mcp.sandbox import (
    SIPGATE_ACCESS_TOKEN,
    SIPGATE_ALL_SCOPES,
    SIPGATE_CLIENT_ID,
    SIPGATE_CLIENT_SECRET,
    SIPGATE_REFRESH_TOKEN,
    SIPGATE_TOKEN,
    SIPGATE_TOKEN_ID,
    Sandbox,
)

from .conftest import BASE_URL, PASSWORD_AUTH, PAT_AUTH, basic, bearer

pytestmark = pytest.mark.anyio

TOKEN_URL = "/login/third-party/protocol/openid-connect/token"
NOW = 1_800_000_000.0  # 2027-01-15, a fixed clock for time-dependent rules
CALL_KEYS = {"callId", "muted", "recording", "hold", "participants"}
PARTICIPANT_KEYS = {"participantId", "phoneNumber", "muted", "hold", "owner"}
HISTORY_KEYS = {
    "id",
    "source",
    "target",
    "sourceAlias",
    "targetAlias",
    "type",
    "created",
    "lastModified",
    "direction",
    "incoming",
    "status",
    "connectionIds",
    "read",
    "archived",
    "note",
    "endpoints",
    "starred",
    "labels",
}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def calls(client: httpx2.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v2/calls", auth=PAT_AUTH)
    assert response.status_code == 200
    return response.json()["data"]


async def call_by_number(client: httpx2.AsyncClient, prefix: str) -> dict[str, Any]:
    return next(c for c in await calls(client) if any(p["phoneNumber"].startswith(prefix) for p in c["participants"]))


async def refresh(
    client: httpx2.AsyncClient, refresh_token: str = SIPGATE_REFRESH_TOKEN, **extra: str
) -> httpx2.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": SIPGATE_CLIENT_ID,
        "client_secret": SIPGATE_CLIENT_SECRET,
        **extra,
    }
    return await client.post(TOKEN_URL, data=form)


@pytest.fixture
async def timed() -> AsyncIterator[tuple[httpx2.AsyncClient, Sandbox]]:
    """A client on a sandbox whose clock is fixed at NOW."""
    sandbox = Sandbox(seed=0, clock=lambda: NOW)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url=BASE_URL) as http:
        yield http, sandbox


# --------------------------------------------------------------------------------------------- auth

AUTH_SCHEMES: dict[str, dict[str, Any]] = {
    "pat": {"auth": PAT_AUTH},
    "password": {"auth": PASSWORD_AUTH},
    "bearer": {"headers": bearer()},
}


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
async def test_account_userinfo_and_sms_extensions_accept_all_three_schemes(
    client: httpx2.AsyncClient, scheme: str
) -> None:
    kwargs = AUTH_SCHEMES[scheme]
    account = await client.get("/v2/account", **kwargs)
    assert account.status_code == 200
    assert set(account.json()) == {"company", "mainProductType", "logoUrl", "verified", "historyLifeTime"}
    userinfo = await client.get("/v2/authorization/userinfo", **kwargs)
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == "w0"
    sms = await client.get(f"/v2/{userinfo.json()['sub']}/sms", **kwargs)
    assert sms.status_code == 200
    items = sms.json()["items"]
    assert [item["id"] for item in items] == ["s0", "s1"]
    assert all(set(item) == {"id", "alias", "callerId"} for item in items)


PROTECTED = [
    ("GET", "/v2/account"),
    ("GET", "/v2/authorization/userinfo"),
    ("GET", "/v2/w0/sms"),
    ("GET", "/v2/calls"),
    ("PUT", "/v2/calls/ABCDEF0123456789/hold"),
    ("DELETE", "/v2/calls/ABCDEF0123456789"),
    ("POST", "/v2/sessions/sms"),
    ("POST", "/v2/sessions/calls"),
    ("GET", "/v2/history"),
    ("GET", "/v2/does-not-exist"),
]
BAD_CREDENTIALS = {
    "none": {},
    "wrong-pat": basic(SIPGATE_TOKEN_ID, SIPGATE_TOKEN[:-1] + "0"),
    "wrong-password": basic("sandbox@example.com", "guess"),
    "pat-id-with-password": basic(SIPGATE_TOKEN_ID, "sandbox-password"),
    "unknown-bearer": bearer("eyJhbGciOiJub25lIn0.e30.sig"),
    "garbage": {"Authorization": "Digest whatever"},
}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("credentials", BAD_CREDENTIALS)
async def test_missing_or_wrong_credentials_get_401(
    client: httpx2.AsyncClient, sb: Sandbox, method: str, path: str, credentials: str
) -> None:
    response = await client.request(method, path, headers=BAD_CREDENTIALS[credentials], json={"value": True})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="*", Bearer'
    assert len(await calls(client)) == SEEDED_CALLS  # nothing changed


async def test_another_users_sms_extensions_are_403(client: httpx2.AsyncClient) -> None:
    response = await client.get("/v2/w7/sms", auth=PAT_AUTH)
    assert response.status_code == 403
    assert response.content == b""


# --------------------------------------------------------------------------------------------- running calls


SEEDED_CALLS = 4  # three German callers and one who withheld the number


async def test_seeded_calls_are_german_and_one_comes_from_berlin(client: httpx2.AsyncClient) -> None:
    seeded = await calls(client)
    assert len(seeded) == SEEDED_CALLS
    for call in seeded:
        assert set(call) == CALL_KEYS
        assert re.fullmatch(r"[0-9A-F]{16}", call["callId"])
        assert sum(p["owner"] for p in call["participants"]) == 1
        for participant in call["participants"]:
            assert set(participant) == PARTICIPANT_KEYS
            assert participant["phoneNumber"] == "" or participant["phoneNumber"].startswith("+49")
    # sipgate lists an anonymous participant with an empty phoneNumber (the field is required)
    anonymous = [p for c in seeded for p in c["participants"] if p["phoneNumber"] == ""]
    assert len(anonymous) == 1 and anonymous[0]["owner"] is False
    berlin = [c for c in seeded if any(p["phoneNumber"].startswith("+4930") for p in c["participants"])]
    assert len(berlin) == 1
    assert next(p for p in berlin[0]["participants"] if p["phoneNumber"].startswith("+4930"))["owner"] is False


async def test_hold_sets_the_call_and_every_participant(client: httpx2.AsyncClient) -> None:
    call = await call_by_number(client, "+4930")
    response = await client.put(f"/v2/calls/{call['callId']}/hold", json={"value": True}, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (204, b"")
    held = await call_by_number(client, "+4930")
    assert held["hold"] is True
    assert all(p["hold"] for p in held["participants"])
    await client.put(f"/v2/calls/{call['callId']}/hold", json={"value": False}, auth=PAT_AUTH)
    resumed = await call_by_number(client, "+4930")
    assert resumed["hold"] is False and not any(p["hold"] for p in resumed["participants"])


async def test_muted_sets_the_call_and_only_the_owner(client: httpx2.AsyncClient) -> None:
    call = await call_by_number(client, "+4930")
    response = await client.put(f"/v2/calls/{call['callId']}/muted", json={"value": True}, auth=PAT_AUTH)
    assert response.status_code == 204
    muted = await call_by_number(client, "+4930")
    assert muted["muted"] is True
    assert {p["owner"]: p["muted"] for p in muted["participants"]} == {True: True, False: False}


async def test_recording_needs_value_and_announcement_and_sets_the_flag(client: httpx2.AsyncClient) -> None:
    call = await call_by_number(client, "+4930")
    url = f"/v2/calls/{call['callId']}/recording"
    incomplete = await client.put(url, json={"value": True}, auth=PAT_AUTH)
    assert (incomplete.status_code, incomplete.content) == (400, b"")
    assert (await call_by_number(client, "+4930"))["recording"] is False
    response = await client.put(url, json={"value": True, "announcement": False}, auth=PAT_AUTH)
    assert response.status_code == 204
    assert (await call_by_number(client, "+4930"))["recording"] is True


RTCM_OPERATIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("DELETE", "", None),
    ("PUT", "/hold", {"value": True}),
    ("PUT", "/muted", {"value": True}),
    ("PUT", "/recording", {"value": True, "announcement": True}),
    ("POST", "/transfer", {"attended": False, "phoneNumber": "+4940669690"}),
    ("POST", "/dtmf", {"sequence": "123#"}),
    ("POST", "/announcements", {"url": "https://static.sipgate.com/examples/wav/example.wav"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), RTCM_OPERATIONS)
async def test_rtcm_operations_on_an_unknown_call_are_404_without_body(
    client: httpx2.AsyncClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, f"/v2/calls/0000000000000000{suffix}", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (404, b"")


@pytest.mark.parametrize(
    ("suffix", "method", "body"),
    [
        ("/hold", "PUT", {"value": "yes"}),
        ("/hold", "PUT", {}),
        ("/muted", "PUT", {"value": 1}),
        ("/recording", "PUT", {"announcement": True}),
        ("/transfer", "POST", {"attended": False}),
        ("/transfer", "POST", {"phoneNumber": "+4930123"}),
        ("/dtmf", "POST", {"sequence": "12x"}),
        ("/dtmf", "POST", {"sequence": ""}),
        ("/announcements", "POST", {"url": "not a url"}),
        ("/hold", "PUT", {"value": True, "everyone": True}),
    ],
)
async def test_rtcm_invalid_bodies_are_400_without_a_body_and_change_nothing(
    client: httpx2.AsyncClient, sb: Sandbox, suffix: str, method: str, body: dict[str, Any]
) -> None:
    """The spec declares no error body for these operations (and no status for invalid input)."""
    before = await calls(client)
    call_id = before[0]["callId"]
    response = await client.request(method, f"/v2/calls/{call_id}{suffix}", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (400, b"")
    assert await calls(client) == before
    events = sb.call_events(call_id)
    assert events is not None and events["events"] == []


async def test_malformed_json_is_400(client: httpx2.AsyncClient) -> None:
    call_id = (await calls(client))[0]["callId"]
    response = await client.put(
        f"/v2/calls/{call_id}/hold",
        content=b"{value: true",
        headers={"content-type": "application/json"},
        auth=PAT_AUTH,
    )
    assert (response.status_code, response.content) == (400, b"")


async def test_hangup_removes_the_call(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    call_id = (await call_by_number(client, "+4930"))["callId"]
    response = await client.delete(f"/v2/calls/{call_id}", auth=PAT_AUTH)
    assert (response.status_code, response.content) == (204, b"")
    remaining = await calls(client)
    assert len(remaining) == SEEDED_CALLS - 1 and call_id not in {c["callId"] for c in remaining}
    again = await client.delete(f"/v2/calls/{call_id}", auth=PAT_AUTH)
    assert again.status_code == 404
    hold = await client.put(f"/v2/calls/{call_id}/hold", json={"value": True}, auth=PAT_AUTH)
    assert hold.status_code == 404
    events = sb.call_events(call_id)
    assert events is not None and events["ended"] is True
    assert [e["type"] for e in events["events"]] == ["hangup"]


async def test_blind_transfer_replaces_the_remote_party_and_the_call_id(
    client: httpx2.AsyncClient, sb: Sandbox
) -> None:
    call = await call_by_number(client, "+4930")
    old_id = call["callId"]
    position = [c["callId"] for c in await calls(client)].index(old_id)
    body = {"attended": False, "phoneNumber": "+494066969123", "callerId": "+492111234567"}
    response = await client.post(f"/v2/calls/{old_id}/transfer", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (204, b"")

    current = await calls(client)
    assert old_id not in {c["callId"] for c in current}
    transferred = await call_by_number(client, "+4940")
    assert transferred["callId"] != old_id
    assert current[position]["callId"] == transferred["callId"]  # same place in the list
    assert re.fullmatch(r"[0-9A-F]{16}", transferred["callId"])
    assert len(transferred["participants"]) == 2
    remote = next(p for p in transferred["participants"] if not p["owner"])
    assert remote["phoneNumber"] == "+494066969123"
    assert not any(p["phoneNumber"].startswith("+4930") for c in current for p in c["participants"])

    stale = await client.put(f"/v2/calls/{old_id}/hold", json={"value": True}, auth=PAT_AUTH)
    assert stale.status_code == 404
    events = sb.call_events(old_id)
    assert events is not None
    assert events["currentCallId"] == transferred["callId"]
    assert events["previousCallIds"] == [old_id]
    assert events["events"][-1] | {"at": None} == {
        "type": "transfer",
        "at": None,
        "callId": transferred["callId"],
        "attended": False,
        "phoneNumber": "+494066969123",
        "callerId": "+492111234567",
        "previousCallId": old_id,
    }


async def test_attended_transfer_adds_the_target_and_keeps_the_call_id(client: httpx2.AsyncClient) -> None:
    call = await call_by_number(client, "+4930")
    body = {"attended": True, "phoneNumber": "+4922147100555"}
    response = await client.post(f"/v2/calls/{call['callId']}/transfer", json=body, auth=PAT_AUTH)
    assert response.status_code == 204
    after = await call_by_number(client, "+4930")
    assert after["callId"] == call["callId"]
    assert [p["phoneNumber"] for p in after["participants"]] == [
        *(p["phoneNumber"] for p in call["participants"]),
        "+4922147100555",
    ]
    added = after["participants"][-1]
    assert added["owner"] is False and set(added) == PARTICIPANT_KEYS


async def test_dtmf_and_announcements_are_recorded_without_changing_the_call(
    client: httpx2.AsyncClient, sb: Sandbox
) -> None:
    call = await call_by_number(client, "+4930")
    call_id = call["callId"]
    dtmf = await client.post(f"/v2/calls/{call_id}/dtmf", json={"sequence": "0815#*AD"}, auth=PAT_AUTH)
    wav = "https://static.sipgate.com/examples/wav/example.wav"
    announcement = await client.post(f"/v2/calls/{call_id}/announcements", json={"url": wav}, auth=PAT_AUTH)
    assert (dtmf.status_code, announcement.status_code) == (204, 204)
    assert await call_by_number(client, "+4930") == call
    events = await client.get(f"/_sandbox/calls/{call_id}/events")
    assert events.status_code == 200
    recorded = [(e["type"], e.get("sequence") or e.get("url")) for e in events.json()["events"]]
    assert recorded == [("dtmf", "0815#*AD"), ("announcement", wav)]


# --------------------------------------------------------------------------------------------- sessions


async def test_new_call_from_a_device_appears_in_running_calls(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    body = {"caller": "e0", "callee": "+493023125499", "callerId": "+492111234567"}
    response = await client.post("/v2/sessions/calls", json=body, auth=PAT_AUTH)
    assert response.status_code == 200
    session_id = response.json()["sessionId"]
    assert re.fullmatch(r"[0-9A-F]{32}", session_id)
    running = await calls(client)
    assert len(running) == SEEDED_CALLS + 1
    new = running[-1]
    assert [(p["phoneNumber"], p["owner"]) for p in new["participants"]] == [
        ("+492111234567", True),
        ("+493023125499", False),
    ]
    events = sb.call_events(new["callId"])
    assert events is not None and events["sessionId"] == session_id
    hold = await client.put(f"/v2/calls/{new['callId']}/hold", json={"value": True}, auth=PAT_AUTH)
    assert hold.status_code == 204


async def test_new_call_from_a_phone_number_needs_a_device(client: httpx2.AsyncClient) -> None:
    without = await client.post(
        "/v2/sessions/calls", json={"caller": "+4915228895456", "callee": "+4930"}, auth=PAT_AUTH
    )
    assert without.status_code == 400
    body = {"caller": "+4915228895456", "callee": "+493023125499", "deviceId": "y0"}
    with_device = await client.post("/v2/sessions/calls", json=body, auth=PAT_AUTH)
    assert with_device.status_code == 200
    owner = next(p for p in (await calls(client))[-1]["participants"] if p["owner"])
    assert owner["phoneNumber"] == "+4915228895456"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"caller": "e0", "callee": "not-a-number"}, 400),
        ({"caller": "nobody", "callee": "+493023125499"}, 400),
        ({"caller": "e9", "callee": "+493023125499"}, 403),
        ({"caller": "+4915228895456", "callee": "+493023125499", "deviceId": "e9"}, 403),
        ({"caller": "e0", "callee": "+493023125499", "callerId": "hidden"}, 400),
        ({"caller": "e0"}, 400),
        ({"caller": "e0", "callee": 4930123}, 400),
    ],
)
async def test_new_call_rejections(client: httpx2.AsyncClient, body: dict[str, Any], status: int) -> None:
    response = await client.post("/v2/sessions/calls", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (status, b"")  # the spec declares no error body
    assert len(await calls(client)) == SEEDED_CALLS


async def test_sent_sms_lands_in_the_outbox_and_the_history(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    before = (await client.get("/v2/history", params={"types": "SMS"}, auth=PAT_AUTH)).json()["totalCount"]
    body = {"smsId": "s0", "recipient": "+4915228817399", "message": "Ihr Termin ist bestätigt."}
    response = await client.post("/v2/sessions/sms", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (204, b"")

    assert len(sb.outbox) == 1
    sent = sb.outbox[0]
    assert {k: sent[k] for k in ("smsId", "recipient", "message", "sendAt")} == {**body, "sendAt": None}
    assert sent["callerId"] == "+4915228817386"
    admin = await client.get("/_sandbox/outbox")
    assert admin.json() == sb.outbox

    history = await client.get("/v2/history", params={"types": "SMS", "directions": "OUTGOING"}, auth=PAT_AUTH)
    newest = history.json()["items"][0]
    assert set(newest) == HISTORY_KEYS
    assert (newest["type"], newest["direction"], newest["target"]) == ("SMS", "OUTGOING", "+4915228817399")
    assert newest["id"] == sent["historyId"]
    after = (await client.get("/v2/history", params={"types": "SMS"}, auth=PAT_AUTH)).json()["totalCount"]
    assert after == before + 1


async def test_scheduled_sms_within_30_days_is_accepted(timed: tuple[httpx2.AsyncClient, Sandbox]) -> None:
    client, sandbox = timed
    send_at = int(NOW) + 29 * 86400
    body = {"smsId": "s1", "recipient": "+4915228817399", "message": "Erinnerung", "sendAt": send_at}
    response = await client.post("/v2/sessions/sms", json=body, auth=PAT_AUTH)
    assert response.status_code == 204
    assert sandbox.outbox[0]["sendAt"] == send_at
    assert sandbox.outbox[0]["created"] == "2027-01-15T08:00:00Z"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"smsId": "s9"}, 403),
        ({"sendAt": "2027-01-20T10:00:00Z"}, 400),
        ({"sendAt": NOW + 3600.5}, 400),
        ({"sendAt": True}, 400),
        ({"sendAt": int(NOW) - 60}, 400),
        ({"sendAt": int(NOW) + 31 * 86400}, 400),
        ({"recipient": "not a number"}, 400),
        ({"message": "   "}, 400),
        ({"recipient": None}, 400),
        ({"priority": "high"}, 400),
    ],
)
async def test_sms_rejections_send_nothing(
    timed: tuple[httpx2.AsyncClient, Sandbox], changes: dict[str, Any], status: int
) -> None:
    client, sandbox = timed
    body = {"smsId": "s0", "recipient": "+4915228817399", "message": "Hallo", **changes}
    response = await client.post("/v2/sessions/sms", json=body, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (status, b"")
    assert sandbox.outbox == []


async def test_sms_without_recipient_is_400_without_a_body(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    response = await client.post("/v2/sessions/sms", json={"smsId": "s0", "message": "Hallo"}, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (400, b"")
    assert sb.outbox == []


# --------------------------------------------------------------------------------------------- history


async def test_history_defaults_and_paging(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    first = (await client.get("/v2/history", auth=PAT_AUTH)).json()
    visible = [e for e in sb.state.sipgate.history if not e["archived"]]
    assert first["totalCount"] == len(visible) >= 60
    assert len(first["items"]) == 10

    collected: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (await client.get("/v2/history", params={"offset": offset, "limit": 25}, auth=PAT_AUTH)).json()
        if not page["items"]:
            break
        collected.extend(page["items"])
        offset += len(page["items"])
    assert [e["id"] for e in collected] == [e["id"] for e in visible]
    # the schema's fields; voicemails and faxes carry sipgate's type-specific ones too (docs/upstream-notes.md)
    extra = {"VOICEMAIL": {"transcription", "recordingUrl", "duration"}, "FAX": {"faxStatusType", "pageCount"}}
    assert all(set(e) == HISTORY_KEYS | extra.get(e["type"], set()) for e in collected)
    created = [datetime.fromisoformat(e["created"].replace("Z", "+00:00")) for e in collected]
    assert created == sorted(created, reverse=True)
    assert {e["type"] for e in collected} == {"CALL", "VOICEMAIL", "SMS", "FAX"}

    empty = (await client.get("/v2/history", params={"limit": 0}, auth=PAT_AUTH)).json()
    assert empty == {"items": [], "totalCount": len(visible)}


async def test_history_filters(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    async def fetch(**params: Any) -> list[dict[str, Any]]:
        body = (await client.get("/v2/history", params={"limit": 1000, **params}, auth=PAT_AUTH)).json()
        assert body["totalCount"] == len(body["items"])
        return body["items"]

    every = await fetch()
    missed = await fetch(types="CALL", directions=["MISSED_INCOMING", "MISSED_OUTGOING"])
    assert missed and all(e["type"] == "CALL" and e["direction"].startswith("MISSED") for e in missed)
    assert len(missed) == sum(e["type"] == "CALL" and e["direction"].startswith("MISSED") for e in every)

    two_types = await fetch(types=["SMS", "FAX"])
    assert {e["type"] for e in two_types} == {"SMS", "FAX"}

    archived = await fetch(archived="true")
    assert archived and all(e["archived"] for e in archived)
    assert not any(e["archived"] for e in every)

    starred = await fetch(starred="STARRED")
    assert starred and all(e["starred"] for e in starred)

    berlin = await fetch(phonenumber="030 23125420")  # national format matches +493023125420
    assert berlin and all("+493023125420" in (e["source"], e["target"]) for e in berlin)
    assert berlin == await fetch(phonenumber="+49 30 23125420") == await fetch(phonenumber="00493023125420")
    assert await fetch(phonenumber="unknown") == []

    middle = every[len(every) // 2]["created"]
    newer = await fetch(**{"from": middle})
    older = await fetch(to=middle)
    assert len(newer) + len(older) == len(every) + sum(e["created"] == middle for e in every)

    by_connection = await fetch(connectionIds="f0")
    assert by_connection and all(e["type"] == "FAX" for e in by_connection)


@pytest.mark.parametrize(
    "params",
    [
        {"types": "BOGUS"},
        {"directions": "SIDEWAYS"},
        {"starred": "MAYBE"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"archived": "perhaps"},
        {"from": "last tuesday"},
    ],
)
async def test_history_bad_parameters_are_400_without_a_body(
    client: httpx2.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/v2/history", params=params, auth=PAT_AUTH)
    assert (response.status_code, response.content) == (400, b"")


# --------------------------------------------------------------------------------------------- OAuth


async def test_initial_access_token_is_jwt_shaped_with_all_scopes(client: httpx2.AsyncClient) -> None:
    payload = claims(SIPGATE_ACCESS_TOKEN)
    assert payload["scope"].split() == list(SIPGATE_ALL_SCOPES)
    assert payload["exp"] > 4_000_000_000
    assert (await client.get("/v2/calls", headers=bearer())).status_code == 200


async def test_refresh_issues_a_new_token_and_retires_the_previous_one(client: httpx2.AsyncClient) -> None:
    response = await refresh(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "refresh_expires_in", "token_type", "scope"}
    assert (body["expires_in"], body["refresh_expires_in"], body["token_type"]) == (300, 2592000, "Bearer")
    assert body["scope"].split() == list(SIPGATE_ALL_SCOPES)
    token = body["access_token"]
    assert token != SIPGATE_ACCESS_TOKEN
    assert claims(token)["scope"] == body["scope"]

    assert (await client.get("/v2/calls", headers=bearer())).status_code == 401
    assert (await client.get("/v2/calls", headers=bearer(token))).status_code == 200

    second = await refresh(client, body["refresh_token"])
    assert second.status_code == 200
    assert (await client.get("/v2/calls", headers=bearer(token))).status_code == 401
    assert (await client.get("/v2/calls", headers=bearer(second.json()["access_token"]))).status_code == 200


async def test_refresh_accepts_client_credentials_via_basic(client: httpx2.AsyncClient) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": SIPGATE_REFRESH_TOKEN}
    response = await client.post(TOKEN_URL, data=form, auth=(SIPGATE_CLIENT_ID, SIPGATE_CLIENT_SECRET))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"refresh_token": "stolen"}, "invalid_grant"),
        ({"client_secret": "wrong"}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"scope": "account:read addresses:read"}, "invalid_scope"),
    ],
)
async def test_refresh_failures_are_400(client: httpx2.AsyncClient, form: dict[str, str], error: str) -> None:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": SIPGATE_REFRESH_TOKEN,
        "client_id": SIPGATE_CLIENT_ID,
        "client_secret": SIPGATE_CLIENT_SECRET,
        **form,
    }
    response = await client.post(TOKEN_URL, data=data)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert (await client.get("/v2/calls", headers=bearer())).status_code == 200  # nothing was retired


async def test_token_endpoint_wants_a_form(client: httpx2.AsyncClient) -> None:
    response = await client.post(TOKEN_URL, json={"grant_type": "refresh_token"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_expired_access_token_gets_401_until_refreshed(client: httpx2.AsyncClient) -> None:
    expire = await client.post("/_sandbox/sipgate/expire-access-token")
    assert expire.json() == {"expired": 1}
    unauthorized = await client.get("/v2/calls", headers=bearer())
    assert unauthorized.status_code == 401
    assert "Bearer" in unauthorized.headers["www-authenticate"]
    assert (await client.get("/v2/calls", auth=PAT_AUTH)).status_code == 200  # PATs are unaffected
    token = (await refresh(client)).json()["access_token"]
    assert (await client.get("/v2/calls", headers=bearer(token))).status_code == 200


async def test_access_tokens_expire_after_300_seconds() -> None:
    now = [NOW]
    sandbox = Sandbox(clock=lambda: now[0])
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url=BASE_URL) as client:
        token = (await refresh(client)).json()["access_token"]
        assert claims(token)["exp"] == int(NOW) + 300
        now[0] = NOW + 299
        assert (await client.get("/v2/calls", headers=bearer(token))).status_code == 200
        now[0] = NOW + 300
        assert (await client.get("/v2/calls", headers=bearer(token))).status_code == 401


async def test_bearer_token_without_the_scope_gets_403(client: httpx2.AsyncClient) -> None:
    narrow = await refresh(client, scope="account:read history:read")
    assert narrow.status_code == 200
    token = narrow.json()["access_token"]
    assert claims(token)["scope"] == "account:read history:read"
    assert (await client.get("/v2/account", headers=bearer(token))).status_code == 200
    assert (await client.get("/v2/history", headers=bearer(token))).status_code == 200
    forbidden = await client.get("/v2/calls", headers=bearer(token))
    assert (forbidden.status_code, forbidden.content) == (403, b"")
    sms = {"smsId": "s0", "recipient": "+4915228817399", "message": "Hallo"}
    assert (await client.post("/v2/sessions/sms", json=sms, headers=bearer(token))).status_code == 403
