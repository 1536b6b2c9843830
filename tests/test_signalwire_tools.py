"""The SignalWire tools end to end through the MCP client: exact requests, parsing, paging, errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest
from conftest import (
    CANARIES,
    SW_BASE,
    SW_PROJECT,
    SW_TOKEN,
    FakeUpstream,
    accept,
    body_of,
    client_for,
    response,
    signalwire_settings,
    text_of,
)

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]

GW_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CRED_ID = "b7a1f4c2-0d3e-4f5a-8b6c-7d8e9f0a1b2c"
REC_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
BASIC = "Basic " + base64.b64encode(f"{SW_PROJECT}:{SW_TOKEN}".encode()).decode()


def gateway(gid: str = GW_ID, codecs: list[str] | None = None, name: str = "Berlin trunk") -> dict[str, Any]:
    return {
        "id": gid,
        "project_id": SW_PROJECT,
        "display_name": name,
        "type": "sip_gateway",
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "sip_gateway": {
            "id": gid,
            "uri": "sip:trunk.example.com:5060",
            "name": name,
            "ciphers": ["AES_CM_128_HMAC_SHA1_80"],
            "codecs": codecs or ["PCMU", "G729"],
            "encryption": "optional",
        },
    }


def credential(cid: str = CRED_ID, username: str = "desk-101") -> dict[str, Any]:
    nulls = [
        "caller_id",
        "call_handler",
        "calling_handler_resource_id",
        "call_request_url",
        "call_request_method",
        "call_fallback_url",
        "call_fallback_method",
        "call_status_callback_url",
        "call_status_callback_method",
        "call_laml_application_id",
        "call_dialogflow_agent_id",
        "call_relay_topic",
        "call_relay_topic_status_callback_url",
        "call_relay_context",
        "call_relay_context_status_callback_url",
        "call_relay_application",
        "call_video_room_id",
        "call_relay_script_url",
    ]
    return {
        "type": "sip_endpoint",
        "id": cid,
        "username": username,
        "send_as": "+4930123456",
        "ciphers": ["AES_CM_128_HMAC_SHA1_80"],
        "codecs": ["OPUS", "PCMA"],
        "encryption": "required",
        **dict.fromkeys(nulls),
    }


def recording(rid: str = REC_ID) -> dict[str, Any]:
    return {
        "id": rid,
        "project_id": SW_PROJECT,
        "created_at": "2025-03-01T10:00:00Z",
        "updated_at": "2025-03-01T10:05:00Z",
        "duration_in_seconds": 300,
        "price": 0.0125,
        "price_unit": "USD",
        "status": "completed",
        "url": f"{SW_BASE}/api/relay/rest/recordings/{rid}.wav",
        "stereo": False,
        "track": "both",
        "relay_pstn_leg_id": "leg-1",
        "byte_size": 4800000,
    }


def page(items: list[Any], self_url: str, next_url: str | None = None) -> dict[str, Any]:
    links = {"self": self_url, "first": self_url}
    if next_url:
        links["next"] = next_url
    return {"data": items, "links": links}


@pytest.mark.parametrize("mode", MODES)
async def test_list_sip_credentials_sends_one_bounded_get_and_parses_compactly(fake, audit_path, mode):
    url = f"{SW_BASE}/api/fabric/resources/sip_endpoints"
    fake.route("GET /api/fabric/resources/sip_endpoints", response(200, page([credential()], url)))
    async with client_for(signalwire_settings(audit_path), fake, mode=mode) as c:
        result = await c.call_tool("signalwire_list_sip_credentials", {"limit": 5})
    assert not result.is_error
    (sent,) = fake.requests
    assert (sent.method, sent.url.path, sent.url.query) == (
        "GET",
        "/api/fabric/resources/sip_endpoints",
        b"",  # the list declares no query parameters: `limit` is applied here, not sent
    )
    assert sent.headers["authorization"] == BASIC
    item = result.structured_content["items"][0]
    assert item["username"] == "desk-101" and item["codecs"] == ["OPUS", "PCMA"]
    assert "call_request_url" not in item  # no wall of nulls
    assert "next_cursor" not in result.structured_content


async def test_the_documented_array_shaped_credentials_list_is_tolerated(fake, audit_path):
    url = f"{SW_BASE}/api/fabric/resources/sip_endpoints"
    fake.route("GET /api/fabric/resources/sip_endpoints", response(200, [page([credential()], url)]))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool("signalwire_list_sip_credentials", {})
    assert result.structured_content["items"][0]["id"] == CRED_ID


async def test_gateways_page_through_links_next_until_the_end(fake, audit_path):
    path = "/api/fabric/resources/sip_gateways"
    ids = [f"3fa85f64-5717-4562-b3fc-2c963f66af{n:02d}" for n in range(5)]

    def serve(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params.get("page_number", "0"))
        chunk = ids[number * 2 : number * 2 + 2]
        nxt = f"{SW_BASE}{path}?page_number={number + 1}&page_size=2&page_token=PA{number + 1}" if number < 2 else None
        return response(200, page([gateway(i) for i in chunk], f"{SW_BASE}{request.url.raw_path.decode()}", nxt))

    fake.route(f"GET {path}", serve)
    seen: list[str] = []
    async with client_for(signalwire_settings(audit_path), fake) as c:
        args: dict[str, Any] = {"limit": 2}
        for _ in range(10):
            result = await c.call_tool("signalwire_list_sip_gateways", args)
            seen += [g["id"] for g in result.structured_content["items"]]
            cursor = result.structured_content.get("next_cursor")
            if cursor is None:
                break
            args = {"cursor": cursor}
    assert seen == ids
    assert [r.url.params.get("page_token") for r in fake.requests] == [None, "PA1", "PA2"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://ACME.signalwire.com",  # host spelt in another case
        "https://acme.signalwire.com:443",  # explicit default port
        "http://signalwire-proxy.internal:8080/upstream/signalwire",  # behind a path-prefixed proxy
        "https://mock.example",  # a mock that prints its own host
        "",  # a relative link
    ],
)
async def test_a_next_link_on_another_origin_still_pages_on_the_configured_base(fake, audit_path, origin):
    path = "/api/fabric/resources/sip_gateways"
    ids = [f"3fa85f64-5717-4562-b3fc-2c963f66af{n:02d}" for n in range(3)]

    def serve(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params.get("page_number", "0"))
        nxt = f"{origin}{path}?page_number=1&page_size=2&page_token=PA1" if number == 0 else None
        return response(200, page([gateway(i) for i in ids[number * 2 : number * 2 + 2]], f"{origin}{path}", nxt))

    fake.route(f"GET {path}", serve)
    async with client_for(signalwire_settings(audit_path), fake) as c:
        first = await c.call_tool("signalwire_list_sip_gateways", {"limit": 2})
        assert not first.is_error, text_of(first)
        second = await c.call_tool("signalwire_list_sip_gateways", {"cursor": first.structured_content["next_cursor"]})
    assert not second.is_error, text_of(second)
    assert [g["id"] for g in first.structured_content["items"] + second.structured_content["items"]] == ids
    later = fake.requests[1]
    assert (later.url.scheme, later.url.host, later.url.port, later.url.path) == (
        "https",
        "acme.signalwire.com",
        None,
        path,
    )
    assert later.url.params.multi_items() == [("page_number", "1"), ("page_size", "2"), ("page_token", "PA1")]


@pytest.mark.parametrize("links", ["next-page", {"self": "x", "next": {"href": "x"}}, {"next": 2}, None])
async def test_a_page_with_an_odd_link_is_still_returned(fake, audit_path, links):
    fake.route("GET /api/relay/rest/recordings", response(200, {"data": [recording()], "links": links}))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool("signalwire_list_recordings", {})
    assert not result.is_error, text_of(result)
    assert [r["id"] for r in result.structured_content["items"]] == [REC_ID]
    assert "next_cursor" not in result.structured_content


def forged_cursor(path: str, query: list[tuple[str, str]]) -> str:
    raw = json.dumps({"p": path, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("tool", ["signalwire_list_sip_credentials", "signalwire_list_sip_gateways",
                                  "signalwire_list_recordings"])  # fmt: skip
async def test_an_edited_cursor_cannot_raise_the_page_size_past_the_limit(fake, audit_path, tool):
    from telco_mcp.catalogue import CATALOGUE

    path = next(op.path for op in CATALOGUE if op.name == tool)
    cursor = forged_cursor(path, [("page_number", "0"), ("page_size", "1000")])
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool(tool, {"cursor": cursor})
    assert result.is_error and "items per page" in text_of(result)
    assert fake.requests == []


async def test_a_tampered_cursor_is_refused_without_a_request(fake, audit_path):
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool("signalwire_list_recordings", {"cursor": "eyJwIjoiL2V0Yy9wYXNzd2QiLCJxIjpbXX0"})
    assert result.is_error and "another list" in text_of(result)
    assert fake.requests == []


async def test_the_fields_an_operator_needs_are_kept(fake, audit_path):
    """Resource type, project and both gateway ids: what tells resources apart across projects and APIs."""
    inner_id = "9e1d2c3b-4a59-4687-8a9b-0c1d2e3f4a5b"
    gw: dict[str, Any] = gateway() | {"display_name": "Berlin trunk (display)"}
    gw["sip_gateway"] = {**gw["sip_gateway"], "id": inner_id}
    fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(200, credential()))
    fake.route(f"GET /api/fabric/resources/sip_gateways/{GW_ID}", response(200, gw))
    fake.route("GET /api/fabric/resources/sip_gateways", response(200, page([gw], SW_BASE)))
    fake.route(f"GET /api/relay/rest/recordings/{REC_ID}", response(200, recording()))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        cred = await c.call_tool("signalwire_get_sip_credential", {"id": CRED_ID})
        listed = await c.call_tool("signalwire_list_sip_gateways", {})
        rec = await c.call_tool("signalwire_get_recording", {"id": REC_ID})
    assert cred.structured_content["type"] == "sip_endpoint"
    (item,) = listed.structured_content["items"]
    assert {k: item[k] for k in ("id", "sip_gateway_id", "project_id", "type", "display_name", "name")} == {
        "id": GW_ID,
        "sip_gateway_id": inner_id,
        "project_id": SW_PROJECT,
        "type": "sip_gateway",
        "display_name": "Berlin trunk (display)",
        "name": "Berlin trunk",
    }
    assert rec.structured_content["project_id"] == SW_PROJECT


async def test_get_sip_credential_puts_the_uuid_in_the_path(fake, audit_path):
    fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(200, credential()))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool("signalwire_get_sip_credential", {"id": CRED_ID})
        bad = await c.call_tool("signalwire_get_sip_credential", {"id": "../../etc"})
    assert result.structured_content["send_as"] == "+4930123456"
    assert bad.is_error and "id" in text_of(bad)
    assert len(fake.requests) == 1


async def test_get_sip_profile_and_recording(fake, audit_path):
    fake.route("GET /api/relay/rest/sip_profile", response(200, {"domain": "acme.sip.signalwire.com",
               "domain_identifier": "acme", "default_codecs": ["OPUS"], "default_ciphers": [],
               "default_encryption": "optional", "default_send_as": None}))  # fmt: skip
    fake.route(f"GET /api/relay/rest/recordings/{REC_ID}", response(200, recording()))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        profile = await c.call_tool("signalwire_get_sip_profile", {})
        rec = await c.call_tool("signalwire_get_recording", {"id": REC_ID})
    assert profile.structured_content == {
        "domain": "acme.sip.signalwire.com",
        "domain_identifier": "acme",
        "default_codecs": ["OPUS"],
        "default_ciphers": [],
        "default_encryption": "optional",
    }
    assert rec.structured_content["leg_type"] == "pstn" and rec.structured_content["leg_id"] == "leg-1"


async def test_list_recordings_returns_a_cursor_for_the_next_page(fake, audit_path):
    path = "/api/relay/rest/recordings"
    nxt = f"{SW_BASE}{path}?page_number=1&page_size=1&page_token=PAxyz"
    fake.route(f"GET {path}", response(200, page([recording()], f"{SW_BASE}{path}", nxt)))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        first = await c.call_tool("signalwire_list_recordings", {"limit": 1})
        await c.call_tool("signalwire_list_recordings", {"cursor": first.structured_content["next_cursor"]})
    assert fake.requests[1].url.params["page_token"] == "PAxyz"


@pytest.mark.parametrize("mode", MODES)
async def test_update_sip_gateway_sends_exactly_the_given_fields_after_confirmation(fake, audit_path, mode):
    path = f"/api/fabric/resources/sip_gateways/{GW_ID}"
    fake.route(f"GET {path}", response(200, gateway()))
    fake.route(f"PATCH {path}", lambda r: response(200, gateway(codecs=body_of(r)["codecs"])))
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    questions: list[str] = []

    async def confirm(context: Any, params: Any) -> Any:
        questions.append(params.message)
        return await accept(context, params)

    async with client_for(settings, fake, mode=mode, elicitation_callback=confirm) as c:
        result = await c.call_tool("signalwire_update_sip_gateway", {"id": GW_ID, "codecs": ["OPUS", "PCMU"]})
    (patch,) = fake.sent("PATCH")
    assert body_of(patch) == {"codecs": ["OPUS", "PCMU"]}
    assert patch.headers["authorization"] == BASIC
    assert result.structured_content["status"] == "applied"
    assert result.structured_content["result"]["codecs"] == ["OPUS", "PCMU"]
    assert "Berlin trunk" in questions[0] and '["PCMU", "G729"] -> ["OPUS", "PCMU"]' in questions[0]


async def test_update_sip_profile_puts_and_accepts_201(fake, audit_path):
    fake.route("PUT /api/relay/rest/sip_profile", lambda r: response(201, {"domain": "d", **body_of(r)}))
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_update_sip_profile", {"default_encryption": "required"})
    assert body_of(fake.sent("PUT")[0]) == {"default_encryption": "required"}
    assert result.structured_content["result"]["default_encryption"] == "required"


async def test_delete_recording_names_the_recording_and_sends_one_delete(fake, audit_path):
    fake.route(f"GET /api/relay/rest/recordings/{REC_ID}", response(200, recording()))
    fake.route(f"DELETE /api/relay/rest/recordings/{REC_ID}", response(204))
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_delete_recording", {"id": REC_ID})
    assert len(fake.sent("DELETE")) == 1
    assert result.structured_content["result"] == {"id": REC_ID, "deleted": True}
    assert '"pstn" leg' in result.structured_content["summary"]  # provider text quoted (issue 12)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"id": GW_ID, "codecs": ["G711"]}, "codecs.0"),
        ({"id": GW_ID, "encryption": "always"}, "encryption"),
        ({"id": GW_ID}, "nothing to change"),
        ({"id": "not-a-uuid", "name": "x"}, "id"),
        ({"id": GW_ID, "name": "x", "colour": "red"}, "colour: unknown field"),
    ],
)
async def test_invalid_gateway_updates_name_the_field_and_send_nothing(fake, audit_path, arguments, field):
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool("signalwire_update_sip_gateway", arguments)
    assert result.is_error
    assert field in text_of(result) and "nothing was sent" in text_of(result)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, {"error": "Unauthorized"}, "[auth]"),
        (403, {"error": "Forbidden"}, "[permission]"),
        (404, {"error": "Not Found"}, "[not_found]"),
        (500, {"error": "Internal Server Error"}, "[upstream_unavailable]"),
        (200, b"<html>oops", "[unexpected_response]"),
        (200, {"unexpected": True}, "[unexpected_response]"),
    ],
)
async def test_upstream_errors_reach_the_model_as_is_error_results(fake, audit_path, status, body, category):
    fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(status, body))
    async with client_for(signalwire_settings(audit_path), fake) as c:
        result = await c.call_tool("signalwire_get_sip_credential", {"id": CRED_ID})
        assert result.is_error and text_of(result).startswith(category)
        # the server keeps serving
        fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(200, credential()))
        assert not (await c.call_tool("signalwire_get_sip_credential", {"id": CRED_ID})).is_error


async def test_no_credential_appears_in_results_errors_or_logs(fake, audit_path, caplog):
    caplog.set_level("DEBUG")
    fake.route("GET /api/relay/rest/sip_profile", response(401, {"error": "Unauthorized"}))
    fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(200, credential()))
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)
    texts: list[str] = [repr(settings), str(settings.model_dump())]
    async with client_for(settings, fake) as c:
        for name, args in [
            ("signalwire_get_sip_profile", {}),
            ("signalwire_get_sip_credential", {"id": CRED_ID}),
            ("signalwire_update_sip_profile", {"default_encryption": "required", "dry_run": True}),
            ("signalwire_update_sip_profile", {"default_encryption": "required"}),
        ]:
            result = await c.call_tool(name, args)
            texts += [text_of(result), str(result.structured_content)]
    texts += [record.getMessage() for record in caplog.records]
    encoded = base64.b64encode(f"{SW_PROJECT}:{SW_TOKEN}".encode()).decode()
    for text in texts:
        for secret in (*CANARIES, encoded):
            assert secret not in text
    assert any("[REDACTED]" in t for t in texts)


async def test_each_tool_is_requested_exactly_as_declared(fake: FakeUpstream, audit_path):
    """Every read tool (in every toolset) sends one GET to its declared path with Basic auth."""
    from telco_mcp.catalogue import CATALOGUE

    fake.route(f"GET /api/fabric/resources/sip_endpoints/{CRED_ID}", response(200, credential()))
    fake.route(f"GET /api/fabric/resources/sip_gateways/{GW_ID}", response(200, gateway()))
    fake.route(f"GET /api/relay/rest/recordings/{REC_ID}", response(200, recording()))
    fake.route(f"GET /api/relay/rest/phone_numbers/{NUM_ID}", response(200, phone_number()))
    fake.route(f"GET /api/voice/logs/{LOG_ID}", response(200, voice_log()))
    for path in (
        "/api/fabric/resources/sip_endpoints",
        "/api/fabric/resources/sip_gateways",
        "/api/relay/rest/recordings",
        "/api/relay/rest/phone_numbers",
        "/api/voice/logs",
        "/api/messaging/logs",
    ):
        fake.route(f"GET {path}", response(200, page([], SW_BASE + path)))
    fake.route("GET /api/relay/rest/sip_profile", response(200, {"domain": "acme.sip.signalwire.com"}))
    ids = {
        "signalwire_get_sip_credential": CRED_ID,
        "signalwire_get_sip_gateway": GW_ID,
        "signalwire_get_recording": REC_ID,
        "signalwire_get_phone_number": NUM_ID,
        "signalwire_get_voice_log": LOG_ID,
    }
    compatibility = _compatibility_routes(fake)  # the Compatibility API's reads (issue 27): their path values
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="all"), fake) as c:
        for op in CATALOGUE:
            if op.provider != "signalwire" or op.is_write:
                continue
            args = {"id": ids[op.name]} if "{id}" in op.path else {}
            args |= {k: v for k, v in compatibility.items() if f"{{{k}}}" in op.path}
            before = len(fake.requests)
            result = await c.call_tool(op.name, args)
            assert not result.is_error, text_of(result)
            (sent,) = fake.requests[before:]
            assert sent.method == op.method
            assert sent.url.path == op.path.format(id=args.get("id", ""), AccountSid=SW_PROJECT, **compatibility)
            assert sent.headers["authorization"] == BASIC


def _compatibility_routes(fake: FakeUpstream) -> dict[str, str]:
    laml = f"/api/laml/2010-04-01/Accounts/{SW_PROJECT}"
    values = {"call_sid": LOG_ID, "conference_sid": NUM_ID, "queue_sid": REC_ID}
    fake.route(f"GET {laml}/Calls", response(200, {"calls": []}))
    fake.route(f"GET {laml}/Calls/{LOG_ID}", response(200, {"sid": LOG_ID}))
    fake.route(f"GET {laml}/Conferences", response(200, {"conferences": []}))
    fake.route(f"GET {laml}/Conferences/{NUM_ID}/Participants", response(200, {"participants": []}))
    fake.route(f"GET {laml}/Queues", response(200, {"queues": []}))
    fake.route(f"GET {laml}/Queues/{REC_ID}/Members", response(200, {"queue_members": []}))
    return values


# ------------------------------------------------------------------ phone numbers, voice and messaging logs
NUM_ID = "5e1f0a3c-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
LOG_ID = "6f2a1b4d-3c5e-4f70-9a8b-1c2d3e4f5a6b"
MSG_ID = "7a3b2c5e-4d6f-4081-8b9c-2d3e4f5a6b7c"
NUMBER_ROUTING = [
    "calling_handler_resource_id",
    "call_request_method",
    "call_fallback_url",
    "call_fallback_method",
    "call_status_callback_url",
    "call_status_callback_method",
    "call_laml_application_id",
    "call_dialogflow_agent_id",
    "call_relay_topic",
    "call_relay_topic_status_callback_url",
    "call_relay_script_url",
    "call_relay_context",
    "call_relay_context_status_callback_url",
    "call_relay_application",
    "call_relay_connector_id",
    "call_sip_endpoint_id",
    "call_verto_resource",
    "call_video_room_id",
    "messaging_handler_resource_id",
    "message_request_method",
    "message_fallback_url",
    "message_fallback_method",
    "message_laml_application_id",
    "message_relay_topic",
    "message_relay_context",
]


def phone_number(nid: str = NUM_ID) -> dict[str, Any]:
    return {
        "id": nid,
        "number": "+15550100101",
        "name": "Support hotline",
        "capabilities": ["voice", "sms"],
        "number_type": "longcode",
        "e911_address_id": None,
        "e911_status": None,
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "next_billed_at": None,
        "call_receive_mode": "voice",
        "country_code": "US",
        **dict.fromkeys(NUMBER_ROUTING),
        "call_handler": "laml_webhooks",
        "call_request_url": "https://hooks.example.com/laml/support",
        "message_handler": "laml_webhooks",
        "message_request_url": "https://hooks.example.com/laml/sms",
    }


def voice_log(lid: str = LOG_ID) -> dict[str, Any]:
    return {
        "id": lid,
        "from": "+15550100150",
        "to": "+15550100101",
        "source": "realtime_api",
        "charge": 0.017,
        "charge_details": [{"description": "Voice minutes", "charge": 0.017}],
        "created_at": "2026-10-31T22:15:00Z",
        "type": "relay_pstn_call",
        "url": None,
        "direction": "inbound",
        "status": "completed",
        "duration": 95,
        "duration_ms": 95000,
        "billing_ms": 120000,
        "parent_id": None,
    }


def messaging_log(mid: str = MSG_ID) -> dict[str, Any]:
    return {
        "id": mid,
        "from": "+15550100101",
        "to": "+15550100160",
        "status": "undelivered",
        "direction": "outbound-api",
        "kind": "sms",
        "source": "laml",
        "type": "laml_message",
        "url": f"{SW_BASE}/api/laml/2010-04-01/Accounts/{SW_PROJECT}/Messages/{mid}",
        "number_of_segments": 2,
        "charge": 0.0158,
        "charge_details": [{"description": "SMS segments", "charge": 0.0158}],
        "created_at": "2026-10-31T22:20:00Z",
        "error_message": "Unknown destination handset",
        "error_code": "30005",
    }


async def test_phone_numbers_show_their_call_and_message_routing_and_page(fake, audit_path):
    path = "/api/relay/rest/phone_numbers"
    nxt = f"https://acme.signalwire.com{path}?page_number=1&page_size=2&page_token=PAxyz"
    listed = phone_number() | {"e911_address_id": "b0e0c8a4-6b1d-4bfa-9a51-7d0a2c3e4f50"}
    pages = iter([page([listed], SW_BASE + path, nxt), page([phone_number(GW_ID)], SW_BASE + path)])
    fake.route(f"GET {path}", lambda request: response(200, next(pages)))
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="signalwire:phone_numbers"), fake) as c:
        first = await c.call_tool("signalwire_list_phone_numbers", {"limit": 2})
        second = await c.call_tool("signalwire_list_phone_numbers", {"cursor": first.structured_content["next_cursor"]})
    assert [r.url.query for r in fake.requests] == [b"page_size=2", b"page_number=1&page_size=2&page_token=PAxyz"]
    item = first.structured_content["items"][0]
    assert item["number"] == "+15550100101" and item["call_handler"] == "laml_webhooks"
    assert item["e911_address_id"] == "b0e0c8a4-6b1d-4bfa-9a51-7d0a2c3e4f50"
    assert item["routing"]["call_request_url"] == "https://hooks.example.com/laml/support"
    assert item["routing"]["message_request_url"] == "https://hooks.example.com/laml/sms"
    assert "call_relay_context" not in item  # null routing fields are dropped
    assert second.structured_content["items"][0]["id"] == GW_ID and "next_cursor" not in second.structured_content


async def test_get_phone_number_and_voice_log_put_the_uuid_in_the_path(fake, audit_path):
    fake.route(f"GET /api/relay/rest/phone_numbers/{NUM_ID}", response(200, phone_number()))
    fake.route(f"GET /api/voice/logs/{LOG_ID}", response(200, voice_log()))
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="all"), fake) as c:
        number = await c.call_tool("signalwire_get_phone_number", {"id": NUM_ID})
        log = await c.call_tool("signalwire_get_voice_log", {"id": LOG_ID})
        bad = await c.call_tool("signalwire_get_voice_log", {"id": "not-a-uuid"})
    assert number.structured_content["name"] == "Support hotline"
    assert "e911_address_id" not in number.structured_content  # null: left out, like every unset field
    assert log.structured_content == {
        "id": LOG_ID,
        "type": "relay_pstn_call",
        "source": "realtime_api",
        "direction": "inbound",
        "status": "completed",
        "from_number": "+15550100150",
        "to_number": "+15550100101",
        "created_at": "2026-10-31T22:15:00Z",
        "duration": 95,
        "billing_ms": 120000,
        "charge": 0.017,
        "duration_ms": 95000,  # these two are kept out of the output schema (its token budget), not the result
        "charge_details": [{"description": "Voice minutes", "charge": 0.017}],
    }
    assert bad.is_error and len(fake.requests) == 2


async def test_a_discarded_voice_log_and_a_failed_message_are_read(fake, audit_path):
    discarded = {"id": LOG_ID, "discarded_at": "2026-10-02T00:00:00Z", "created_at": "2026-10-01T00:00:00Z"}
    fake.route("GET /api/voice/logs", response(200, page([discarded, voice_log(GW_ID)], SW_BASE)))
    fake.route("GET /api/messaging/logs", response(200, page([messaging_log()], SW_BASE)))
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="all"), fake) as c:
        logs = await c.call_tool("signalwire_list_voice_logs", {})
        messages = await c.call_tool("signalwire_list_messaging_logs", {"limit": 100})
    assert logs.structured_content["items"][0] == discarded
    assert logs.structured_content["items"][1]["from_number"] == "+15550100150"
    (msg,) = messages.structured_content["items"]
    assert (msg["status"], msg["error_code"], msg["number_of_segments"]) == ("undelivered", "30005", 2)
    assert msg["url"] == messaging_log()["url"]
    assert msg["charge_details"] == [{"description": "SMS segments", "charge": 0.0158}]
    assert fake.requests[1].url.query == b"page_size=100"


@pytest.mark.parametrize(
    ("tool", "path", "args"),
    [
        ("signalwire_get_phone_number", f"/api/relay/rest/phone_numbers/{NUM_ID}", {"id": NUM_ID}),
        ("signalwire_get_sip_gateway", f"/api/fabric/resources/sip_gateways/{GW_ID}", {"id": GW_ID}),
        ("signalwire_list_messaging_logs", "/api/messaging/logs", {}),
    ],
)
@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (404, {"error": "Not Found"}, "[not_found]"),
        (200, {"data": "nope"}, "[unexpected_response]"),
        (200, {"id": NUM_ID}, "[unexpected_response]"),
    ],
)
async def test_the_new_reads_report_upstream_errors(fake, audit_path, tool, path, args, status, body, category):
    fake.route(f"GET {path}", response(status, body))
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="all"), fake) as c:
        result = await c.call_tool(tool, args)
    assert result.is_error and text_of(result).startswith(category), text_of(result)


async def test_the_new_reads_against_the_sandbox_page_to_the_end_and_read_back(audit_path):
    """Seeded numbers, voice and messaging logs, paged with the cursor and read back one by one."""
    from conftest import make_settings

    async def everything(c: Any, tool: str, **filters: Any) -> list[dict[str, Any]]:
        items, args = [], {"limit": 100, **filters}
        while True:
            result = await c.call_tool(tool, args)
            assert not result.is_error, text_of(result)
            items += result.structured_content["items"]
            if "next_cursor" not in result.structured_content:
                return items
            args = {"cursor": result.structured_content["next_cursor"]}

    async with client_for(make_settings(audit_path, telco_mcp_toolsets="all")) as c:
        numbers = await everything(c, "signalwire_list_phone_numbers")
        logs = await everything(c, "signalwire_list_voice_logs", include_deleted=True)
        messages = await everything(c, "signalwire_list_messaging_logs")
        number = await c.call_tool("signalwire_get_phone_number", {"id": numbers[0]["id"]})
        log = await c.call_tool("signalwire_get_voice_log", {"id": logs[-1]["id"]})
        gateways = (await c.call_tool("signalwire_list_sip_gateways", {})).structured_content["items"]
        gateway = await c.call_tool("signalwire_get_sip_gateway", {"id": gateways[0]["id"]})
        missing = await c.call_tool("signalwire_get_voice_log", {"id": NUM_ID})
    assert len(numbers) == len({n["id"] for n in numbers}) >= 5
    assert all("call_handler" in n for n in numbers if n.get("name"))  # every named number is routed
    assert number.structured_content == numbers[0]
    assert len(logs) > 100 and log.structured_content == logs[-1]
    assert any("discarded_at" in g for g in logs)
    assert messages and all(m["kind"] in ("sms", "mms") for m in messages)
    assert gateway.structured_content == gateways[0]
    assert missing.is_error and "[not_found]" in text_of(missing)


@pytest.mark.parametrize("tool", ["signalwire_list_voice_logs", "signalwire_list_messaging_logs"])
async def test_a_log_window_is_sent_and_kept_across_pages(tool: str, audit_path: Any) -> None:
    """ "Who called last night": only the logs of the window, on every page, against the sandbox."""
    from datetime import datetime

    from conftest import make_settings

    async with client_for(make_settings(audit_path, telco_mcp_toolsets="all")) as c:
        everything = (await c.call_tool(tool, {"limit": 100})).structured_content["items"]
        stamps = sorted(i["created_at"] for i in everything if "created_at" in i)
        after, before = stamps[len(stamps) // 4], stamps[len(stamps) // 2]
        window: list[dict[str, Any]] = []
        args: dict[str, Any] = {"limit": 5, "created_after": after, "created_before": before}
        pages = 0
        while True:
            result = await c.call_tool(tool, args)
            assert not result.is_error, text_of(result)
            window += result.structured_content["items"]
            pages += 1
            if "next_cursor" not in result.structured_content:
                break
            args = {"cursor": result.structured_content["next_cursor"]}
    assert pages > 1, "the window spans several pages, so the cursor had to keep it"

    def when(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    assert window and all(when(after) < when(i["created_at"]) < when(before) for i in window)
    inside = [i for i in everything if when(after) < when(i["created_at"]) < when(before)]
    assert [i["id"] for i in window] == [i["id"] for i in inside]


async def test_a_log_window_is_sent_as_utc_and_a_reversed_one_sends_nothing(fake, audit_path):
    fake.route("GET /api/voice/logs", response(200, page([], "https://acme.signalwire.com/api/voice/logs")))
    async with client_for(signalwire_settings(audit_path, telco_mcp_toolsets="all"), fake) as c:
        ok = await c.call_tool("signalwire_list_voice_logs", {"created_after": "2026-11-28T18:00:00+01:00"})
        reversed_ = await c.call_tool(
            "signalwire_list_voice_logs",
            {"created_after": "2026-11-29T06:00:00Z", "created_before": "2026-11-28T18:00:00Z"},
        )
        naive = await c.call_tool("signalwire_list_voice_logs", {"created_after": "2026-11-28T18:00:00"})
    assert not ok.is_error, text_of(ok)
    (sent,) = fake.requests
    assert sent.url.params["created_after"] == "2026-11-28T17:00:00Z"
    assert reversed_.is_error and "created_after must be earlier than created_before" in text_of(reversed_)
    assert naive.is_error and "created_after" in text_of(naive)  # a time without a zone is ambiguous
