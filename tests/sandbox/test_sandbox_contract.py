"""Every sandbox answer, success and error, for every covered operation, against the providers' OpenAPI.

The documents are the cuts in ``tests/contracts/`` (read through ``tests/contracts/specs.py``; their
origins are in ``tests/contracts/SOURCES.md``): the current SignalWire REST document, and sipgate's own
Swagger 2.0 document as openapi-generator converted it to OpenAPI 3, each cut down here once more to
the covered paths and the components they reference. openapi-core validates each
answer's status, media type and body. The only answers allowed to differ from the documents are the
ones listed, with their sources, in ``telco_mcp/sandbox/deviations.py``; an entry there that no
answer needs any more fails too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from telco_mcp.sandbox import SIPGATE_CLIENT_ID, SIPGATE_CLIENT_SECRET, SIPGATE_REFRESH_TOKEN, Sandbox
from telco_mcp.sandbox.deviations import DEVIATIONS, NOTES, Deviation, deviation_for
from tests.contracts import specs

from .conftest import BASE_URL, PAT_AUTH, SW_AUTH

pytestmark = [pytest.mark.anyio, pytest.mark.contract]

REPO = Path(__file__).resolve().parents[2]
NOTES_FILE = REPO / NOTES
HOSTS = {"signalwire": "https://sandbox.signalwire.com", "sipgate": "https://api.sipgate.com"}
PREFIX = {"signalwire": "", "sipgate": "/v2"}

UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
FABRIC = "/api/fabric/resources"
RELAY = "/api/relay/rest"
TOKEN_URL = "/login/third-party/protocol/openid-connect/token"

# The operations the sandbox simulates: (provider, method, spec path template).
COVERED: tuple[tuple[str, str, str], ...] = (
    ("signalwire", "GET", f"{FABRIC}/sip_endpoints"),
    ("signalwire", "GET", f"{FABRIC}/sip_endpoints/{{id}}"),
    ("signalwire", "POST", f"{FABRIC}/sip_endpoints"),
    ("signalwire", "PUT", f"{FABRIC}/sip_endpoints/{{id}}"),
    ("signalwire", "DELETE", f"{FABRIC}/sip_endpoints/{{id}}"),
    ("signalwire", "GET", f"{FABRIC}/sip_gateways"),
    ("signalwire", "GET", f"{FABRIC}/sip_gateways/{{id}}"),
    ("signalwire", "PATCH", f"{FABRIC}/sip_gateways/{{id}}"),
    ("signalwire", "GET", f"{RELAY}/sip_profile"),
    ("signalwire", "PUT", f"{RELAY}/sip_profile"),
    ("signalwire", "GET", f"{RELAY}/recordings"),
    ("signalwire", "GET", f"{RELAY}/recordings/{{id}}"),
    ("signalwire", "DELETE", f"{RELAY}/recordings/{{id}}"),
    ("signalwire", "GET", f"{RELAY}/phone_numbers"),
    ("signalwire", "GET", f"{RELAY}/phone_numbers/{{id}}"),
    ("signalwire", "GET", "/api/voice/logs"),
    ("signalwire", "GET", "/api/voice/logs/{id}"),
    ("signalwire", "GET", "/api/messaging/logs"),
    ("signalwire", "POST", f"{FABRIC}/sip_gateways"),
    ("signalwire", "DELETE", f"{FABRIC}/sip_gateways/{{id}}"),
    ("signalwire", "PUT", f"{RELAY}/phone_numbers/{{id}}"),
    ("signalwire", "POST", "/api/messaging/messages"),
    ("sipgate", "GET", "/account"),
    ("sipgate", "GET", "/authorization/userinfo"),
    ("sipgate", "GET", "/{userId}/sms"),
    ("sipgate", "GET", "/calls"),
    ("sipgate", "PUT", "/calls/{callId}/hold"),
    ("sipgate", "PUT", "/calls/{callId}/muted"),
    ("sipgate", "PUT", "/calls/{callId}/recording"),
    ("sipgate", "POST", "/calls/{callId}/transfer"),
    ("sipgate", "POST", "/calls/{callId}/dtmf"),
    ("sipgate", "POST", "/calls/{callId}/announcements"),
    ("sipgate", "DELETE", "/calls/{callId}"),
    ("sipgate", "POST", "/sessions/calls"),
    ("sipgate", "POST", "/sessions/sms"),
    ("sipgate", "GET", "/history"),
    ("sipgate", "GET", "/users"),
    ("sipgate", "GET", "/{userId}/devices"),
    ("sipgate", "GET", "/{userId}/phonelines"),
    ("sipgate", "GET", "/{userId}/phonelines/{phonelineId}/forwardings"),
    ("sipgate", "PUT", "/{userId}/phonelines/{phonelineId}/forwardings"),
    ("sipgate", "GET", "/numbers"),
    ("sipgate", "GET", "/balance"),
    ("sipgate", "GET", "/contacts"),
    ("sipgate", "GET", "/voicemails"),
    ("sipgate", "GET", "/blacklist/incoming"),
    ("sipgate", "POST", "/blacklist/incoming"),
    ("sipgate", "DELETE", "/blacklist/incoming/{phoneNumber}"),
    ("sipgate", "GET", "/history/{entryId}"),
    ("sipgate", "PUT", "/history/{entryId}"),
    ("sipgate", "DELETE", "/history/{entryId}"),
    ("sipgate", "GET", "/settings/sipgateio"),
    ("sipgate", "PUT", "/settings/sipgateio"),
    ("sipgate", "PUT", "/numbers/{numberId}"),
    ("sipgate", "POST", "/sessions/fax"),
    ("sipgate", "POST", "/sessions/fax/resend"),
    ("sipgate", "GET", "/history/export"),
    ("sipgate", "GET", "/users/{userId}"),
    ("sipgate", "GET", "/{userId}/faxlines"),
)


# --------------------------------------------------------------------------------------------- the documents


def _covered_part(raw: dict[str, Any], provider: str) -> dict[str, Any]:
    """`raw` with only the covered paths and every component they reach; nothing inside is changed."""
    return specs.reachable(raw, {t for p, _, t in COVERED if p == provider})


@pytest.fixture(scope="module")
def documents() -> dict[str, tuple[OpenAPI, dict[str, Any]]]:
    raw_sw = _covered_part(specs.load("signalwire"), "signalwire")
    raw_sg = _covered_part(specs.load("sipgate"), "sipgate")
    return {
        "signalwire": (OpenAPI.from_dict(raw_sw), raw_sw),
        "sipgate": (OpenAPI.from_dict(raw_sg), raw_sg),
    }


# --------------------------------------------------------------------------------------------- the answers


@dataclass
class Answer:
    provider: str
    method: str
    template: str
    status: int
    content_type: str | None
    body: bytes
    request: str


@dataclass
class Recorder:
    """Sends requests to the sandbox and keeps every answer with the operation it belongs to."""

    http: httpx2.AsyncClient
    sandbox: Sandbox
    answers: list[Answer] = field(default_factory=list[Answer])

    async def send(
        self, provider: str, method: str, template: str, path: str, *, auth: Any = None, **kwargs: Any
    ) -> httpx2.Response:
        auth = auth if auth is not None else (SW_AUTH if provider == "signalwire" else PAT_AUTH)
        response = await self.http.request(method, PREFIX[provider] + path, auth=auth, **kwargs)
        self.answers.append(
            Answer(
                provider=provider,
                method=method,
                template=template,
                status=response.status_code,
                content_type=response.headers.get("content-type"),
                body=response.content,
                request=f"{method} {PREFIX[provider]}{path} {kwargs or ''}",
            )
        )
        return response


NO_AUTH = httpx2.BasicAuth("nobody", "wrong")


class Bearer(httpx2.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


async def _signalwire(r: Recorder) -> None:
    sw = r.sandbox.state.signalwire
    endpoint = next(iter(sw.sip_endpoints))
    gateway = next(iter(sw.sip_gateways))
    leg = next(rid for rid, rec in sw.recordings.items() if "relay_conference_id" not in rec)
    conference = next(rid for rid, rec in sw.recordings.items() if "relay_conference_id" in rec)

    async def send(method: str, template: str, path: str, **kwargs: Any) -> httpx2.Response:
        return await r.send("signalwire", method, template, path, **kwargs)

    endpoints, gateways = f"{FABRIC}/sip_endpoints", f"{FABRIC}/sip_gateways"
    first = await send("GET", endpoints, endpoints, params={"page_size": 3})
    await send("GET", endpoints, first.json()["links"]["next"].partition(".com")[2])
    await send("GET", endpoints, endpoints)
    await send("GET", endpoints, endpoints, params={"page_number": 1, "page_token": "PAforged"})
    await send("GET", endpoints, endpoints, auth=NO_AUTH)
    one = f"{endpoints}/{{id}}"
    await send("GET", one, f"{endpoints}/{endpoint}")
    await send("GET", one, f"{endpoints}/{UNKNOWN_UUID}")
    await send("GET", one, f"{endpoints}/{endpoint}", auth=NO_AUTH)
    new = {"username": "anna-desk", "password": "a-long-secret-1", "caller_id": "Anna", "send_as": "random",
           "ciphers": ["AEAD_AES_256_GCM_8"], "codecs": ["OPUS"], "encryption": "default", "call_handler": "default",
           "calling_handler_resource_id": None}  # fmt: skip
    created = (await send("POST", endpoints, endpoints, json=new)).json()["id"]
    await send("POST", endpoints, endpoints, json=new)  # the username is taken: 422
    await send("POST", endpoints, endpoints, json={"username": "no-password"})
    await send("POST", endpoints, endpoints, json=new, auth=NO_AUTH)
    await send("POST", endpoints, endpoints, content=b"{not json", headers={"content-type": "application/json"})
    await send("PUT", one, f"{endpoints}/{created}", json={"codecs": ["PCMA"], "calling_handler_resource_id": None})
    await send("PUT", one, f"{endpoints}/{created}", json={"encryption": "always", "calling_handler_resource_id": None})
    await send("PUT", one, f"{endpoints}/{UNKNOWN_UUID}", json={"calling_handler_resource_id": None})
    await send("PUT", one, f"{endpoints}/{created}", content=b"{not json", headers={"content-type": "application/json"})
    await send("PUT", one, f"{endpoints}/{created}", json={"calling_handler_resource_id": None}, auth=NO_AUTH)
    await send("DELETE", one, f"{endpoints}/{created}", auth=NO_AUTH)
    await send("DELETE", one, f"{endpoints}/{created}")
    await send("DELETE", one, f"{endpoints}/{created}")  # gone: 404

    await send("GET", gateways, gateways, params={"page_size": 2})
    await send("GET", gateways, gateways, params={"page_number": 2})
    await send("GET", gateways, gateways, auth=NO_AUTH)
    gw = f"{gateways}/{{id}}"
    await send("GET", gw, f"{gateways}/{gateway}")
    await send("GET", gw, f"{gateways}/{UNKNOWN_UUID}")
    await send("GET", gw, f"{gateways}/{gateway}", auth=NO_AUTH)
    full = {
        "name": "Berlin",
        "uri": "gw@pbx.example.com",
        "encryption": "required",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS@48000H@20I", "PCMA"],
    }
    await send("PATCH", gw, f"{gateways}/{gateway}", json=full)
    await send("PATCH", gw, f"{gateways}/{gateway}", json={"codecs": []})
    await send("PATCH", gw, f"{gateways}/{gateway}", json={"encryption": "bogus", "codecs": ["G711"]})
    await send("PATCH", gw, f"{gateways}/{gateway}", json={})
    await send("PATCH", gw, f"{gateways}/{gateway}", content=b"{not json", headers={"content-type": "application/json"})
    await send("PATCH", gw, f"{gateways}/{UNKNOWN_UUID}", json={"name": "x"})
    await send("PATCH", gw, f"{gateways}/{gateway}", json={"name": "x"}, auth=NO_AUTH)

    profile = f"{RELAY}/sip_profile"
    await send("GET", profile, profile)
    await send("GET", profile, profile, auth=NO_AUTH)
    change = {"default_codecs": ["OPUS", "AV1"], "default_ciphers": ["AEAD_AES_256_GCM_8"], "default_send_as": ""}
    await send("PUT", profile, profile, json=change)
    await send("PUT", profile, profile, json={"default_send_as": "+15551234567", "domain_identifier": "acme-2"})
    await send("PUT", profile, profile, json={"default_encryption": "default"})
    await send("PUT", profile, profile, content=b"{not json", headers={"content-type": "application/json"})
    await send("PUT", profile, profile, json={"default_encryption": "required"}, auth=NO_AUTH)

    recordings = f"{RELAY}/recordings"
    page = await send("GET", recordings, recordings, params={"page_size": 5})
    await send("GET", recordings, page.json()["links"]["next"].partition(".com")[2])
    await send("GET", recordings, recordings)
    await send("GET", recordings, recordings, params={"page_number": 1})
    await send("GET", recordings, recordings, params={"page_size": 5000})
    await send("GET", recordings, recordings, auth=NO_AUTH)
    rec = f"{recordings}/{{id}}"
    await send("GET", rec, f"{recordings}/{leg}")
    await send("GET", rec, f"{recordings}/{conference}")
    await send("GET", rec, f"{recordings}/{UNKNOWN_UUID}")
    await send("GET", rec, f"{recordings}/{leg}", auth=NO_AUTH)
    await send("DELETE", rec, f"{recordings}/{leg}", auth=NO_AUTH)
    await send("DELETE", rec, f"{recordings}/{leg}")
    await send("DELETE", rec, f"{recordings}/{conference}")
    await send("DELETE", rec, f"{recordings}/{leg}")

    numbers = f"{RELAY}/phone_numbers"
    number = next(iter(sw.phone_numbers))
    first = await send("GET", numbers, numbers, params={"page_size": 2})
    await send("GET", numbers, first.json()["links"]["next"].partition(".com")[2])
    await send("GET", numbers, numbers)
    await send("GET", numbers, numbers, params={"page_number": 1, "page_token": "PAforged"})
    await send("GET", numbers, numbers, auth=NO_AUTH)
    num = f"{numbers}/{{id}}"
    await send("GET", num, f"{numbers}/{number}")
    await send("GET", num, f"{numbers}/{UNKNOWN_UUID}")
    await send("GET", num, f"{numbers}/{number}", auth=NO_AUTH)

    for logs in ("/api/voice/logs", "/api/messaging/logs"):
        first = await send("GET", logs, logs, params={"page_size": 20})
        await send("GET", logs, first.json()["links"]["next"].partition(".com")[2])
        await send("GET", logs, logs, params={"page_size": 1000})
        await send("GET", logs, logs, params={"page_number": 1})
        await send("GET", logs, logs, params={"page_size": 0})
        window = {"created_after": "2026-01-01T00:00:00Z", "created_before": "2026-12-31T00:00:00Z", "page_size": 3}
        first = await send("GET", logs, logs, params=window)
        if "next" in first.json()["links"]:
            await send("GET", logs, first.json()["links"]["next"].partition(".com")[2])
        await send("GET", logs, logs, params={"created_after": "last night"})
        await send("GET", logs, logs, auth=NO_AUTH)
    log = "/api/voice/logs/{id}"
    discarded = next(i for i, g in sw.voice_logs.items() if "discarded_at" in g)
    for log_id in [*list(sw.voice_logs)[:3], discarded]:
        await send("GET", log, f"/api/voice/logs/{log_id}")
    await send("GET", log, f"/api/voice/logs/{UNKNOWN_UUID}")
    await send("GET", log, f"/api/voice/logs/{discarded}", auth=NO_AUTH)

    # the writes of issue 13
    created = await send("POST", gateways, gateways, json=full)
    await send("POST", gateways, gateways, json={"name": "half", "uri": "gw@pbx.example.com"})
    await send("POST", gateways, gateways, json=full | {"encryption": "bogus", "extra": 1})
    await send("POST", gateways, gateways, json=full | {"name": None})
    await send("POST", gateways, gateways, content=b"{not json", headers={"content-type": "application/json"})
    await send("POST", gateways, gateways, json=full, auth=NO_AUTH)
    new_gateway = created.json()["id"]
    await send("DELETE", gw, f"{gateways}/{new_gateway}", auth=NO_AUTH)
    await send("DELETE", gw, f"{gateways}/{new_gateway}")
    await send("DELETE", gw, f"{gateways}/{new_gateway}")
    await send("DELETE", gw, f"{gateways}/not-a-uuid")

    routing = {"call_handler": "laml_webhooks", "call_request_url": "https://hooks.example.com/in",
               "call_request_method": "POST", "message_handler": "laml_webhooks", "name": "Hotline"}  # fmt: skip
    await send("PUT", num, f"{numbers}/{number}", json=routing)
    await send("PUT", num, f"{numbers}/{number}", json={"call_video_room_id": UNKNOWN_UUID})
    await send("PUT", num, f"{numbers}/{number}", json={"call_handler": "sip_gateway"})
    await send("PUT", num, f"{numbers}/{number}", json={"call_request_method": "PATCH", "bogus": True})
    await send("PUT", num, f"{numbers}/{number}", json={"name": None})
    await send("PUT", num, f"{numbers}/{number}", content=b"{not json", headers={"content-type": "application/json"})
    await send("PUT", num, f"{numbers}/{UNKNOWN_UUID}", json={"name": "x"})
    await send("PUT", num, f"{numbers}/{number}", json={"name": "x"}, auth=NO_AUTH)

    messages = "/api/messaging/messages"
    ours = next(n["number"] for n in sw.phone_numbers.values() if "sms" in n["capabilities"])
    await send("POST", messages, messages, json={"to": "+12025550123", "from": ours, "body": "Shipped"})
    await send("POST", messages, messages, json={"to": "+12025550123", "from": ours, "body": "é" * 200})
    await send("POST", messages, messages, json={"to": "+12025550123", "from": ours,
                                                 "media": ["https://example.com/a.png"]})  # fmt: skip
    await send("POST", messages, messages, json={"to": "+12025550123", "from": "+15559999999", "body": "x"})
    await send("POST", messages, messages, json={"to": "+12025550123", "from": ours})
    await send("POST", messages, messages, json={"to": "call me", "from": ours, "body": "x", "bogus": 1})
    await send("POST", messages, messages, json={"from": ours, "body": "x"})
    await send("POST", messages, messages, content=b"{not json", headers={"content-type": "application/json"})
    await send("POST", messages, messages, json={"to": "+12025550123", "from": ours, "body": "x"}, auth=NO_AUTH)
    # a sent message is in the messaging logs, newest first
    await send("GET", "/api/messaging/logs", "/api/messaging/logs", params={"page_size": 3})


async def _sipgate(r: Recorder) -> None:
    sg = r.sandbox.state.sipgate

    async def send(method: str, template: str, path: str, **kwargs: Any) -> httpx2.Response:
        return await r.send("sipgate", method, template, path, **kwargs)

    # A bearer token that may read the history only (what an OAuth client granted one scope holds).
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SIPGATE_REFRESH_TOKEN,
        "client_id": SIPGATE_CLIENT_ID,
        "client_secret": SIPGATE_CLIENT_SECRET,
        "scope": "history:read",
    }
    token = (await r.http.post(TOKEN_URL, data=form)).json()["access_token"]
    narrow = {"auth": Bearer(token)}

    await send("GET", "/account", "/account")
    await send("GET", "/account", "/account", auth=NO_AUTH)
    await send("GET", "/account", "/account", **narrow)
    await send("GET", "/authorization/userinfo", "/authorization/userinfo")
    await send("GET", "/authorization/userinfo", "/authorization/userinfo", auth=NO_AUTH)
    await send("GET", "/{userId}/sms", "/w0/sms")
    await send("GET", "/{userId}/sms", "/w7/sms")
    await send("GET", "/{userId}/sms", "/w0/sms", auth=NO_AUTH)
    await send("GET", "/calls", "/calls")
    await send("GET", "/calls", "/calls", auth=NO_AUTH)
    await send("GET", "/calls", "/calls", **narrow)

    call = next(iter(sg.calls))
    rtcm: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("PUT", "hold", {"value": True}, {"value": "yes"}),
        ("PUT", "muted", {"value": True}, {}),
        ("PUT", "recording", {"value": True, "announcement": False}, {"value": True}),
        ("POST", "dtmf", {"sequence": "123#"}, {"sequence": "12x"}),
        ("POST", "announcements", {"url": "https://static.sipgate.com/example.wav"}, {"url": "not a url"}),
        ("POST", "transfer", {"attended": True, "phoneNumber": "+4940669690"}, {"attended": False}),
    ]
    for method, action, good, bad in rtcm:
        template = f"/calls/{{callId}}/{action}"
        await send(method, template, f"/calls/{call}/{action}", json=good)
        await send(method, template, f"/calls/{call}/{action}", json=bad)
        await send(method, template, f"/calls/0000000000000000/{action}", json=good)
        await send(method, template, f"/calls/{call}/{action}", json=good, auth=NO_AUTH)
    await send("PUT", "/calls/{callId}/hold", f"/calls/{call}/hold", json={"value": False}, **narrow)
    await send(
        "PUT", "/calls/{callId}/hold", f"/calls/{call}/hold", content=b"{", headers={"content-type": "application/json"}
    )

    calls = "/sessions/calls"
    await send("POST", calls, calls, json={"caller": "e0", "callee": "+493023125499"})
    await send("POST", calls, calls, json={"caller": "+4915228895456", "callee": "+493023125499", "deviceId": "y0"})
    await send("POST", calls, calls, json={"caller": "e0", "callee": "not-a-number"})
    await send("POST", calls, calls, json={"caller": "+4915228895456", "callee": "+493023125499"})
    await send("POST", calls, calls, json={"caller": "e9", "callee": "+493023125499"})
    await send("POST", calls, calls, json={"caller": "e0"})
    await send("POST", calls, calls, json={"caller": "e0", "callee": "+493023125499"}, auth=NO_AUTH)
    await send("POST", calls, calls, json={"caller": "e0", "callee": "+493023125499"}, **narrow)

    sms = "/sessions/sms"
    text = {"smsId": "s0", "recipient": "+4915228817399", "message": "Hallo"}
    await send("POST", sms, sms, json=text)
    await send("POST", sms, sms, json=text | {"smsId": "s9"})
    await send("POST", sms, sms, json=text | {"recipient": "not a number"})
    await send("POST", sms, sms, json=text | {"sendAt": "tomorrow"})
    await send("POST", sms, sms, json=text, auth=NO_AUTH)

    for params in (
        {},
        {"limit": 5, "offset": 10},
        {"archived": "true"},
        {"starred": "STARRED", "connectionIds": ["p0", "s0"]},
        {"types": ["CALL", "SMS"], "directions": "MISSED_INCOMING", "from": "2026-10-01T00:00:00Z"},
        {"phonenumber": "+493023125420"},
    ):
        await send("GET", "/history", "/history", params=params)
    one_user = "/users/{userId}"  # the admin flag decides the default ownership (issue 27)
    await send("GET", one_user, "/users/w0")
    await send("GET", one_user, "/users/w1")
    await send("GET", one_user, "/users/w9")
    await send("GET", one_user, "/users/w0", auth=NO_AUTH)
    await send("GET", one_user, "/users/w0", **narrow)
    faxlines = "/{userId}/faxlines"  # a fax in user ownership mode goes only from the user's own fax lines
    await send("GET", faxlines, "/w0/faxlines")
    await send("GET", faxlines, "/w1/faxlines")
    await send("GET", faxlines, "/w9/faxlines")
    await send("GET", faxlines, "/w0/faxlines", auth=NO_AUTH)
    await send("GET", faxlines, "/w0/faxlines", **narrow)
    export = "/history/export"  # CSV (issue 27)
    await send("GET", export, export)
    await send("GET", export, export, params={"types": ["CALL", "FAX"], "limit": 5, "from": "2026-10-01T00:00:00Z"})
    await send("GET", export, export, params={"limit": "many"})
    await send("GET", export, export, auth=NO_AUTH)
    await send("GET", export, export, **narrow)
    await send("GET", "/history", "/history", params={"types": "BOGUS"})
    await send("GET", "/history", "/history", auth=NO_AUTH)
    await send("GET", "/history", "/history", **narrow)

    for template in ("/users", "/balance", "/voicemails", "/blacklist/incoming"):
        await send("GET", template, template)
        await send("GET", template, template, auth=NO_AUTH)
        await send("GET", template, template, **narrow)
    for template, route in (("/{userId}/devices", "devices"), ("/{userId}/phonelines", "phonelines")):
        await send("GET", template, f"/w0/{route}")
        await send("GET", template, f"/w1/{route}")
        await send("GET", template, f"/w9/{route}")
        await send("GET", template, f"/w0/{route}", auth=NO_AUTH)
        await send("GET", template, f"/w0/{route}", **narrow)
    forwardings = "/{userId}/phonelines/{phonelineId}/forwardings"
    await send("GET", forwardings, "/w0/phonelines/p0/forwardings")
    await send("GET", forwardings, "/w1/phonelines/p1/forwardings")
    await send("GET", forwardings, "/w0/phonelines/p1/forwardings")
    await send("GET", forwardings, "/w0/phonelines/p0/forwardings", auth=NO_AUTH)
    await send("GET", forwardings, "/w0/phonelines/p0/forwardings", **narrow)
    new = {"forwardings": [{"destination": "+4915799912345", "timeout": 20, "active": True}, {"destination": "v0"}]}
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json=new)
    await send("GET", forwardings, "/w0/phonelines/p0/forwardings")
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json={"forwardings": []})
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json={"forwardings": [{"destination": "x"}] * 4})
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json={"forwardings": [{"destination": "nowhere"}]})
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json={"forwardings": [{"timeout": 700}]})
    await send("PUT", forwardings, "/w0/phonelines/p1/forwardings", json=new)
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json=new, auth=NO_AUTH)
    await send("PUT", forwardings, "/w0/phonelines/p0/forwardings", json=new, **narrow)
    for template in ("/numbers", "/contacts"):
        await send("GET", template, template)
        await send("GET", template, template, params={"offset": 2, "limit": 2})
        await send("GET", template, template, params={"limit": "many"})
        await send("GET", template, template, auth=NO_AUTH)
        await send("GET", template, template, **narrow)
    await send("GET", "/contacts", "/contacts", params={"phonenumbers": ["+493023125420", "+4915228817399"]})

    blacklist, entry = "/blacklist/incoming", "/blacklist/incoming/{phoneNumber}"
    await send("POST", blacklist, blacklist, json={"phoneNumber": "+4930111222", "isBlock": False})
    await send("POST", blacklist, blacklist, json={"phoneNumber": "+49900"})  # isBlock has a default
    await send("POST", blacklist, blacklist, json={"phoneNumber": "+4930111222"})  # exists: 409
    await send("POST", blacklist, blacklist, json={"phoneNumber": "no number"})
    await send("POST", blacklist, blacklist, content=b"{", headers={"content-type": "application/json"})
    await send("POST", blacklist, blacklist, json={"phoneNumber": "+49900"}, auth=NO_AUTH)
    await send("POST", blacklist, blacklist, json={"phoneNumber": "+49901"}, **narrow)
    await send("DELETE", entry, "/blacklist/incoming/%2B4930111222", auth=NO_AUTH)
    await send("DELETE", entry, "/blacklist/incoming/%2B4930111222", **narrow)
    await send("DELETE", entry, "/blacklist/incoming/%2B4930111222")
    await send("DELETE", entry, "/blacklist/incoming/%2B4930111222")  # gone: 404
    await send("DELETE", entry, "/blacklist/incoming/not-a-number")

    one = "/history/{entryId}"
    first, second = sg.history[0]["id"], sg.history[1]["id"]
    await send("GET", one, f"/history/{first}")
    await send("GET", one, "/history/999")
    await send("GET", one, f"/history/{first}", auth=NO_AUTH)
    await send("PUT", one, f"/history/{first}", json={"archived": True, "starred": True, "read": True, "note": "x"})
    await send("PUT", one, f"/history/{first}", json={})
    await send("PUT", one, f"/history/{first}", json={"archived": "yes"})
    await send("PUT", one, "/history/999", json={"starred": True})
    await send("PUT", one, f"/history/{first}", json={"starred": True}, **narrow)
    await send("DELETE", one, f"/history/{second}", auth=NO_AUTH)
    await send("DELETE", one, f"/history/{second}", **narrow)
    await send("DELETE", one, f"/history/{second}")
    await send("DELETE", one, f"/history/{second}")  # gone: 404

    io = "/settings/sipgateio"  # sipgate.io push URLs (issue 16)
    urls = {"incomingUrl": "http://127.0.0.1:9/in", "outgoingUrl": "", "log": True, "whitelist": ["w0"]}
    await send("GET", io, io)
    await send("GET", io, io, auth=NO_AUTH)
    await send("GET", io, io, **narrow)
    await send("PUT", io, io, json=urls)
    await send("PUT", io, io, json=urls | {"incomingUrl": "https://crm.example.com/in"})  # not loopback: 400
    await send("PUT", io, io, json={"incomingUrl": "http://127.0.0.1:9/in"})  # outgoingUrl missing: 400
    await send("PUT", io, io, json=urls, auth=NO_AUTH)
    await send("PUT", io, io, json=urls, **narrow)
    sg.sipgateio_booked = False  # "sipgate.io feature not booked"
    await send("GET", io, io)
    await send("PUT", io, io, json=urls)
    sg.sipgateio_booked = True

    number = "/numbers/{numberId}"  # number routing (issue 27)
    await send("PUT", number, "/numbers/1001", json={"endpointId": "p2"})
    await send("PUT", number, "/numbers/1001", json={"endpointId": "v0", "quickDial": False, "releaseForMnp": False})
    await send("PUT", number, "/numbers/9999", json={"endpointId": "p2"})  # the declared 404
    await send("PUT", number, "/numbers/1001", json={"endpointId": "nowhere"})
    await send("PUT", number, "/numbers/1001", json={"quickDial": "yes"})
    await send("PUT", number, "/numbers/1001", json={"endpointId": "p2"}, auth=NO_AUTH)
    await send("PUT", number, "/numbers/1001", json={"endpointId": "p2"}, **narrow)
    fax, resend = "/sessions/fax", "/sessions/fax/resend"  # fax (issue 27)
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF").decode()
    document = {"faxlineId": "f0", "recipient": "+493023125477", "filename": "a.pdf", "base64Content": pdf}
    sent_fax = (await send("POST", fax, fax, json=document)).json()["sessionId"]
    await send("GET", one, f"/history/{sent_fax}")  # the session id is the fax's history entry
    await send("POST", fax, fax, json=document | {"faxlineId": "f9"})
    await send("POST", fax, fax, json=document | {"base64Content": "bm90IGEgcGRm"})
    await send("POST", fax, fax, json=document | {"recipient": "nobody"})
    await send("POST", fax, fax, json={"faxlineId": "f0"})
    await send("POST", fax, fax, json=document, auth=NO_AUTH)
    await send("POST", fax, fax, json=document, **narrow)
    await send("POST", resend, resend, json={"faxId": sent_fax, "faxlineId": "f0"})
    await send("POST", resend, resend, json={"faxId": sent_fax})
    await send("POST", resend, resend, json={"faxId": "999"})
    await send("POST", resend, resend, json={"faxId": sent_fax, "faxlineId": "f9"})
    await send("POST", resend, resend, json={"faxId": sent_fax}, auth=NO_AUTH)
    await send("POST", resend, resend, json={"faxId": sent_fax}, **narrow)

    await send("DELETE", "/calls/{callId}", f"/calls/{call}", auth=NO_AUTH)
    await send("DELETE", "/calls/{callId}", f"/calls/{call}", **narrow)
    await send("DELETE", "/calls/{callId}", f"/calls/{call}")
    await send("DELETE", "/calls/{callId}", f"/calls/{call}")


@pytest.fixture(scope="module")
def answers() -> Iterator[list[Answer]]:
    import anyio

    async def run() -> list[Answer]:
        sandbox = Sandbox(seed=0)
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url=BASE_URL) as http:
            recorder = Recorder(http, sandbox)
            await _signalwire(recorder)
            await _sipgate(recorder)
            return recorder.answers

    yield anyio.run(run)


# --------------------------------------------------------------------------------------------- the checks


def _declared(raw: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    return raw["paths"][template][method.lower()]["responses"]


def _check(answer: Answer, documents: dict[str, tuple[OpenAPI, dict[str, Any]]]) -> Deviation | None:
    """Validate one answer; the deviation it needed, if any."""
    api, raw = documents[answer.provider]
    declared = _declared(raw, answer.method, answer.template)
    deviation = deviation_for(answer.provider, answer.method, answer.template, answer.status)
    where = f"{answer.request} -> {answer.status}"
    # A `default` response declares every status the operation does not list (OpenAPI 3, Responses Object).
    key = str(answer.status) if str(answer.status) in declared else "default" if "default" in declared else None
    if key is not None and (deviation is None or deviation.answer not in ("one-object-not-array", "csv")):
        deviation = None  # the spec declares it: the spec decides
        if "content" not in declared[key]:
            assert answer.body == b"", f"{where}: the spec declares no body, the sandbox sent {answer.body[:200]!r}"
            return None
        body = answer.body
    elif deviation is None:
        raise AssertionError(f"{where}: the spec declares no {answer.status} here and no deviation lists it")
    elif deviation.answer == "no-body":
        assert answer.body == b"", f"{where}: listed as answered without a body, got {answer.body[:200]!r}"
        return deviation
    elif deviation.answer == "csv":
        assert (answer.content_type or "").startswith("text/csv"), f"{where}: listed as CSV, got {answer.content_type}"
        rows = answer.body.decode().splitlines()
        assert rows and rows[0].startswith("id,"), f"{where}: no CSV header row in {answer.body[:200]!r}"
        return deviation
    elif deviation.answer == "error-object":
        data = json.loads(answer.body)
        assert isinstance(data, dict) and set(data) == {"error"} and isinstance(data["error"], str), where
        return deviation
    else:  # one-object-not-array: the object must be what the spec's array holds
        body = json.dumps([json.loads(answer.body)]).encode()
    path = re.sub(r"\{[^}]+\}", "x", answer.template)  # any value fits a path parameter for a response
    if answer.template.endswith("{id}"):
        path = path[:-1] + UNKNOWN_UUID
    request = MockRequest(HOSTS[answer.provider], answer.method.lower(), PREFIX[answer.provider] + path)
    response = MockResponse(body, status_code=answer.status, content_type=answer.content_type or "application/json")
    try:
        api.validate_response(request, response)
    except Exception as exc:  # openapi-core's errors carry the schema errors as their cause
        cause = exc.__cause__ or exc
        details = getattr(cause, "schema_errors", None) or [cause]
        raise AssertionError(f"{where}: {exc}; " + "; ".join(str(d)[:300] for d in details)) from None
    return deviation


def test_every_sandbox_answer_matches_the_spec_or_a_listed_deviation(
    answers: list[Answer], documents: dict[str, tuple[OpenAPI, dict[str, Any]]]
) -> None:
    used: set[Deviation] = set()
    failures: list[str] = []
    for answer in answers:
        try:
            deviation = _check(answer, documents)
        except AssertionError as exc:
            failures.append(str(exc))
            continue
        if deviation is not None:
            used.add(deviation)
    assert not failures, "\n".join(failures)
    stale = [d for d in DEVIATIONS if d not in used]
    assert not stale, f"deviations no sandbox answer needs any more: {stale}"


def test_every_covered_operation_was_answered_with_success_and_with_errors(answers: list[Answer]) -> None:
    for provider, method, template in COVERED:
        statuses = {a.status for a in answers if (a.provider, a.method, a.template) == (provider, method, template)}
        assert any(200 <= s < 300 for s in statuses), f"{method} {template}: no success answer checked"
        assert any(s >= 400 for s in statuses), f"{method} {template}: no error answer checked"
    routes = {(a.provider, a.method, a.template) for a in answers}
    assert routes == set(COVERED)


def test_the_sandbox_serves_exactly_the_covered_operations() -> None:
    sandbox = Sandbox(seed=0)
    served: set[tuple[str, str]] = set()
    for route in sandbox.app.routes:
        path = getattr(route, "path", "")
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD" and (path.startswith("/api/") or path.startswith("/v2/")):
                served.add((method, path))
    covered = {
        (method, PREFIX[provider] + re.sub(_SPEC_NAMES, lambda m: "{" + _ROUTE_NAMES[m[1]] + "}", t))
        for provider, method, t in COVERED
    }
    from .test_compatibility_contract import BASE as LAML
    from .test_compatibility_contract import OPERATIONS as LAML_OPERATIONS

    covered |= {(method, LAML + t) for method, t in LAML_OPERATIONS}  # test_compatibility_contract.py checks them
    assert served == covered


_SPEC_NAMES = r"\{(callId|userId|phonelineId|phoneNumber|entryId|numberId)\}"
_ROUTE_NAMES = {
    "callId": "call_id",
    "userId": "user_id",
    "phonelineId": "phoneline_id",
    "phoneNumber": "phone_number",
    "entryId": "entry_id",
    "numberId": "number_id",
}


def test_every_deviation_cites_a_section_of_the_notes() -> None:
    notes = NOTES_FILE.read_text()
    sections = set(re.findall(r"^###\s+(\d+\.\d+)\b", notes, flags=re.MULTILINE))
    for deviation in DEVIATIONS:
        assert deviation.source.startswith(NOTES), deviation
        cited = re.findall(r"§(\d+\.\d+)", deviation.source)
        assert cited and set(cited) <= sections, f"{deviation.source}: no such section in {NOTES}"
        assert deviation.live.strip(), deviation


def test_every_request_deviation_cites_a_section_of_the_upstream_notes() -> None:
    from telco_mcp.sandbox.deviations import NOTES, REQUEST_DEVIATIONS

    notes = (REPO / NOTES).read_text()
    headings = set(re.findall(r"^#+\s+(.+?)\s*$", notes, flags=re.MULTILINE))
    for deviation in REQUEST_DEVIATIONS:
        cited = re.fullmatch(rf"{re.escape(NOTES)} \((.+)\)", deviation.source)
        assert cited and cited[1] in headings, f"{deviation.source}: no such section in {NOTES}"
        assert deviation.live.strip(), deviation
