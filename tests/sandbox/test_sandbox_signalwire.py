"""The SignalWire half of the sandbox, checked against the upstream subset spec's shapes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from telco_mcp.sandbox import SIGNALWIRE_API_TOKEN, SIGNALWIRE_PROJECT_ID, SIPGATE_ACCESS_TOKEN, Sandbox

from .conftest import SW_AUTH, basic

pytestmark = pytest.mark.anyio

FABRIC = "/api/fabric/resources"
RELAY = "/api/relay/rest"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
CANONICAL = "https://sandbox.signalwire.com"  # the space's own host, where the real API's links point

SIP_ENDPOINT_FIELDS = {
    "type",
    "id",
    "username",
    "caller_id",
    "send_as",
    "ciphers",
    "codecs",
    "encryption",
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
}
GATEWAY_FIELDS = {"id", "project_id", "display_name", "type", "created_at", "updated_at", "sip_gateway"}
GATEWAY_INNER_FIELDS = {"id", "uri", "name", "ciphers", "codecs", "encryption"}
RECORDING_REQUIRED = {
    "id",
    "project_id",
    "created_at",
    "updated_at",
    "duration_in_seconds",
    "price",
    "price_unit",
    "status",
    "url",
    "stereo",
    "track",
}
LEG_KEYS = {"relay_pstn_leg_id", "relay_sip_leg_id", "relay_webrtc_leg_id"}
FABRIC_ERROR_KEYS = {"type", "code", "message", "attribute", "url"}
RELAY_ERROR_KEYS = {"detail", "status", "title", "code"}


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def first_gateway(client: httpx2.AsyncClient) -> dict[str, Any]:
    response = await client.get(f"{FABRIC}/sip_gateways", auth=SW_AUTH)
    return response.json()["data"][0]


async def walk(client: httpx2.AsyncClient, path: str, page_size: int) -> list[dict[str, Any]]:
    """Follow links.next verbatim until it disappears."""
    items: list[dict[str, Any]] = []
    url: str | None = f"{path}?page_size={page_size}"
    pages = 0
    while url is not None:
        response = await client.get(url, auth=SW_AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= page_size
        assert ("prev" in body["links"]) == (pages > 0)
        items.extend(body["data"])
        url = body["links"].get("next")
        pages += 1
        assert pages < 100
    return items


# --------------------------------------------------------------------------------------------- auth


ALL_OPERATIONS = [
    ("GET", f"{FABRIC}/sip_endpoints"),
    ("GET", f"{FABRIC}/sip_endpoints/{UNKNOWN_UUID}"),
    ("GET", f"{FABRIC}/sip_gateways"),
    ("GET", f"{FABRIC}/sip_gateways/{UNKNOWN_UUID}"),
    ("PATCH", f"{FABRIC}/sip_gateways/{UNKNOWN_UUID}"),
    ("GET", f"{RELAY}/sip_profile"),
    ("PUT", f"{RELAY}/sip_profile"),
    ("GET", f"{RELAY}/recordings"),
    ("GET", f"{RELAY}/recordings/{UNKNOWN_UUID}"),
    ("DELETE", f"{RELAY}/recordings/{UNKNOWN_UUID}"),
]
BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    basic(SIGNALWIRE_PROJECT_ID, "wrong"),
    basic("someone-else", SIGNALWIRE_API_TOKEN),
    {"Authorization": "Basic not-base64!"},
    {"Authorization": f"Bearer {SIPGATE_ACCESS_TOKEN}"},
]


@pytest.mark.parametrize(("method", "path"), ALL_OPERATIONS)
@pytest.mark.parametrize("headers", BAD_CREDENTIALS, ids=["none", "wrong-token", "wrong-project", "garbage", "bearer"])
async def test_every_operation_answers_401_without_valid_basic_credentials(
    client: httpx2.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers, json={"name": "x"})
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}


async def test_unauthorized_requests_change_nothing(client: httpx2.AsyncClient) -> None:
    gateway = await first_gateway(client)
    await client.patch(f"{FABRIC}/sip_gateways/{gateway['id']}", json={"name": "hijacked"})
    after = await client.get(f"{FABRIC}/sip_gateways/{gateway['id']}", auth=SW_AUTH)
    assert after.json()["display_name"] == gateway["display_name"]


# --------------------------------------------------------------------------------------------- SIP credentials


async def test_sip_endpoints_list_is_an_object_with_complete_items(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{FABRIC}/sip_endpoints", auth=SW_AUTH)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, dict)  # not the spec's (buggy) array
    assert set(body) == {"data", "links"}
    endpoints = body["data"]
    assert len(endpoints) == 8
    for endpoint in endpoints:
        assert set(endpoint) == SIP_ENDPOINT_FIELDS
        assert endpoint["type"] == "sip_endpoint"
        assert endpoint["encryption"] in {"default", "required", "optional"}
    assert {e["encryption"] for e in endpoints} == {"default", "required", "optional"}
    assert any("G729" in e["codecs"] for e in endpoints)
    assert len({e["id"] for e in endpoints}) == 8
    assert body["links"]["self"].startswith(f"{CANONICAL}{FABRIC}/sip_endpoints?")
    assert "next" not in body["links"] and "prev" not in body["links"]


async def test_sip_endpoint_by_id_matches_the_list_and_unknown_ids_are_404(client: httpx2.AsyncClient) -> None:
    listed = (await client.get(f"{FABRIC}/sip_endpoints", auth=SW_AUTH)).json()["data"]
    for endpoint in listed:
        response = await client.get(f"{FABRIC}/sip_endpoints/{endpoint['id']}", auth=SW_AUTH)
        assert response.status_code == 200
        assert response.json() == endpoint
    upper = await client.get(f"{FABRIC}/sip_endpoints/{listed[0]['id'].upper()}", auth=SW_AUTH)
    assert upper.json() == listed[0]
    for bad in (UNKNOWN_UUID, "not-a-uuid", "12345"):
        response = await client.get(f"{FABRIC}/sip_endpoints/{bad}", auth=SW_AUTH)
        assert response.status_code == 404
        assert response.json() == {"error": "Not Found"}


async def test_sip_endpoints_paginate_with_small_pages(client: httpx2.AsyncClient) -> None:
    items = await walk(client, f"{FABRIC}/sip_endpoints", page_size=3)
    assert len(items) == 8
    assert len({i["id"] for i in items}) == 8


# --------------------------------------------------------------------------------------------- SIP gateways


async def test_sip_gateways_list_and_get(client: httpx2.AsyncClient) -> None:
    body = (await client.get(f"{FABRIC}/sip_gateways", auth=SW_AUTH)).json()
    gateways = body["data"]
    assert len(gateways) == 5
    for gateway in gateways:
        assert set(gateway) == GATEWAY_FIELDS
        assert set(gateway["sip_gateway"]) == GATEWAY_INNER_FIELDS
        assert gateway["type"] == "sip_gateway"
        assert gateway["project_id"] == SIGNALWIRE_PROJECT_ID
        assert parse_ts(gateway["updated_at"]) >= parse_ts(gateway["created_at"])
        single = await client.get(f"{FABRIC}/sip_gateways/{gateway['id']}", auth=SW_AUTH)
        assert single.json() == gateway
    assert sum("G729" in g["sip_gateway"]["codecs"] for g in gateways) >= 2
    assert any(g["sip_gateway"]["encryption"] == "optional" for g in gateways)
    missing = await client.get(f"{FABRIC}/sip_gateways/{UNKNOWN_UUID}", auth=SW_AUTH)
    assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})


async def test_patch_sip_gateway_updates_and_persists(client: httpx2.AsyncClient) -> None:
    gateway = await first_gateway(client)
    update = {
        "name": "Berlin PBX (no G.729)",
        "uri": "gw@pbx-berlin-2.example.com",
        "encryption": "required",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS@48000H@20I", "PCMA"],
    }
    response = await client.patch(f"{FABRIC}/sip_gateways/{gateway['id']}", json=update, auth=SW_AUTH)
    assert response.status_code == 200
    updated = response.json()
    assert set(updated) == GATEWAY_FIELDS
    assert updated["display_name"] == update["name"]
    assert {k: updated["sip_gateway"][k] for k in update} == update
    assert updated["sip_gateway"]["id"] == gateway["sip_gateway"]["id"]
    assert updated["created_at"] == gateway["created_at"]
    assert parse_ts(updated["updated_at"]) > parse_ts(gateway["updated_at"])
    again = await client.get(f"{FABRIC}/sip_gateways/{gateway['id']}", auth=SW_AUTH)
    assert again.json() == updated


async def test_patch_sip_gateway_with_one_field_keeps_the_others(client: httpx2.AsyncClient) -> None:
    gateway = await first_gateway(client)
    response = await client.patch(f"{FABRIC}/sip_gateways/{gateway['id']}", json={"codecs": ["PCMU"]}, auth=SW_AUTH)
    inner = response.json()["sip_gateway"]
    assert inner["codecs"] == ["PCMU"]
    assert {k: v for k, v in inner.items() if k != "codecs"} == {
        k: v for k, v in gateway["sip_gateway"].items() if k != "codecs"
    }


@pytest.mark.parametrize(
    ("body", "attribute"),
    [
        ({"codecs": ["G7291"]}, "codecs"),
        ({"codecs": "PCMU"}, "codecs"),
        ({"encryption": "bogus"}, "encryption"),
        ({"ciphers": ["ROT13"]}, "ciphers"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"password": "hunter2"}, "password"),
    ],
)
async def test_patch_sip_gateway_rejects_invalid_bodies_with_fabric_422(
    client: httpx2.AsyncClient, body: dict[str, Any], attribute: str
) -> None:
    gateway = await first_gateway(client)
    response = await client.patch(f"{FABRIC}/sip_gateways/{gateway['id']}", json=body, auth=SW_AUTH)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors and all(set(e) == FABRIC_ERROR_KEYS for e in errors)
    assert errors[0]["type"] == "validation_error"
    assert errors[0]["code"] == "invalid_parameter"
    assert errors[0]["attribute"] == attribute
    assert errors[0]["url"].startswith("https://developer.signalwire.com/rest/overview/error-codes#")
    unchanged = await client.get(f"{FABRIC}/sip_gateways/{gateway['id']}", auth=SW_AUTH)
    assert unchanged.json() == gateway


async def test_patch_sip_gateway_without_body_is_422_and_malformed_json_is_400(client: httpx2.AsyncClient) -> None:
    gateway = await first_gateway(client)
    url = f"{FABRIC}/sip_gateways/{gateway['id']}"
    empty = await client.patch(url, auth=SW_AUTH)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["code"] == "missing_required_parameter"
    not_object = await client.patch(url, json=["PCMU"], auth=SW_AUTH)
    assert not_object.status_code == 422
    malformed = await client.patch(
        url, content=b'{"codecs": [', headers={"content-type": "application/json"}, auth=SW_AUTH
    )
    assert malformed.status_code == 400


async def test_patch_unknown_or_non_uuid_gateway_is_404(client: httpx2.AsyncClient) -> None:
    for bad in (UNKNOWN_UUID, "not-a-uuid"):
        response = await client.patch(f"{FABRIC}/sip_gateways/{bad}", json={"name": "x"}, auth=SW_AUTH)
        assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


# --------------------------------------------------------------------------------------------- SIP profile


async def test_sip_profile_get(client: httpx2.AsyncClient) -> None:
    response = await client.get(f"{RELAY}/sip_profile", auth=SW_AUTH)
    assert response.status_code == 200
    profile = response.json()
    assert set(profile) == {
        "domain",
        "domain_identifier",
        "default_codecs",
        "default_ciphers",
        "default_encryption",
        "default_send_as",
    }
    assert profile["default_encryption"] in {"required", "optional"}
    assert profile["domain"].endswith(".sip.signalwire.com")


async def test_sip_profile_put_answers_201_and_persists(client: httpx2.AsyncClient) -> None:
    update = {
        "domain_identifier": "newco",
        "default_codecs": ["OPUS", "PCMU"],
        "default_encryption": "required",
        "default_send_as": "+15550100199",
    }
    response = await client.put(f"{RELAY}/sip_profile", json=update, auth=SW_AUTH)
    assert response.status_code == 201
    profile = response.json()
    assert {k: profile[k] for k in update} == update
    assert profile["domain"] == "sandbox-newco.sip.signalwire.com"
    again = await client.get(f"{RELAY}/sip_profile", auth=SW_AUTH)
    assert again.json() == profile


async def test_sip_profile_send_as_null_means_random(client: httpx2.AsyncClient) -> None:
    response = await client.put(f"{RELAY}/sip_profile", json={"default_send_as": None}, auth=SW_AUTH)
    assert response.status_code == 201
    assert response.json()["default_send_as"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"default_encryption": "default"},  # valid for gateways, not for the profile
        {"default_codecs": [""]},
        {"default_codecs": "OPUS"},
        {"default_ciphers": "AEAD_AES_256_GCM_8"},
        {"domain_identifier": "Not Valid!"},
        {"default_send_as": "0301234567"},
        {"default_encryption": None},
        {"domain": "evil.example.com"},  # read-only / unknown field
    ],
)
async def test_sip_profile_put_rejects_invalid_bodies_with_relay_422(
    client: httpx2.AsyncClient, body: dict[str, Any]
) -> None:
    before = (await client.get(f"{RELAY}/sip_profile", auth=SW_AUTH)).json()
    response = await client.put(f"{RELAY}/sip_profile", json=body, auth=SW_AUTH)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors and all(set(e) == RELAY_ERROR_KEYS for e in errors)
    assert errors[0]["status"] == "422"
    assert errors[0]["title"] == "Invalid Parameter"
    assert errors[0]["code"] == "invalid_parameter"
    assert next(iter(body)) in errors[0]["detail"]
    assert (await client.get(f"{RELAY}/sip_profile", auth=SW_AUTH)).json() == before


async def test_sip_profile_put_malformed_json_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.put(
        f"{RELAY}/sip_profile", content=b"{nope", headers={"content-type": "application/json"}, auth=SW_AUTH
    )
    assert response.status_code == 400


# --------------------------------------------------------------------------------------------- recordings


async def test_recordings_paginate_across_all_pages_without_duplicates(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    total = len(sb.state.signalwire.recordings)
    assert total >= 1200
    items = await walk(client, f"{RELAY}/recordings", page_size=97)
    assert len(items) == total
    assert len({r["id"] for r in items}) == total
    created = [parse_ts(r["created_at"]) for r in items]
    assert created == sorted(created, reverse=True)  # newest first


async def test_recordings_are_complete_and_span_three_leg_types_and_conferences_over_two_years(
    client: httpx2.AsyncClient,
) -> None:
    items = await walk(client, f"{RELAY}/recordings", page_size=1000)
    legs: dict[str, int] = dict.fromkeys(LEG_KEYS | {"relay_conference_id"}, 0)
    for recording in items:
        assert set(recording) >= RECORDING_REQUIRED
        present = (LEG_KEYS | {"relay_conference_id"}) & set(recording)
        assert len(present) == 1
        legs[present.pop()] += 1
        assert isinstance(recording["duration_in_seconds"], int)
        assert isinstance(recording["price"], float)
        assert recording["project_id"] == SIGNALWIRE_PROJECT_ID
        assert recording["created_at"].endswith("Z")
    assert legs.pop("relay_conference_id") == 30  # the spec's ConferenceRecording: no leg, a conference
    assert all(count > 100 for count in legs.values())
    created = [parse_ts(r["created_at"]) for r in items]
    assert max(created) - min(created) > timedelta(days=600)
    assert max(created) - min(created) < timedelta(days=731)


async def test_default_page_size_is_50_and_links_are_absolute(client: httpx2.AsyncClient) -> None:
    body = (await client.get(f"{RELAY}/recordings", auth=SW_AUTH)).json()
    assert len(body["data"]) == 50
    links = body["links"]
    assert set(links) == {"self", "first", "next"}
    nxt = urlsplit(links["next"])
    assert (nxt.scheme, nxt.netloc, nxt.path) == ("https", "sandbox.signalwire.com", f"{RELAY}/recordings")
    query = parse_qs(nxt.query)
    assert query["page_number"] == ["1"] and query["page_size"] == ["50"]
    assert query["page_token"][0].startswith("PA")


@pytest.mark.parametrize(
    "path", [f"{RELAY}/recordings", f"{FABRIC}/sip_endpoints?page_size=3", f"{FABRIC}/sip_gateways"]
)
async def test_links_name_the_canonical_host_whatever_host_was_asked(sb: Sandbox, path: str) -> None:
    """Like the real API, which prints its own host: a client behind a proxy or mock must cope."""
    transport = httpx2.ASGITransport(app=sb.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8443") as other:
        links = (await other.get(path, auth=SW_AUTH)).json()["links"]
    assert links
    for link in links.values():
        assert link.startswith(f"{CANONICAL}{path.partition('?')[0]}?")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("page_size=0", "invalid_parameter"),
        ("page_size=1001", "invalid_parameter"),
        ("page_size=ten", "invalid_parameter"),
        ("page_number=-1", "invalid_parameter"),
        ("page_number=1", "page_token_required"),
        ("page_number=1&page_token=PAforged", "invalid_parameter"),
    ],
)
async def test_recordings_pagination_parameters_are_validated(
    client: httpx2.AsyncClient, query: str, code: str
) -> None:
    response = await client.get(f"{RELAY}/recordings?{query}", auth=SW_AUTH)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert set(error) == RELAY_ERROR_KEYS
    assert error["code"] == code


async def test_page_token_is_bound_to_its_page(client: httpx2.AsyncClient) -> None:
    first = (await client.get(f"{RELAY}/recordings?page_size=10", auth=SW_AUTH)).json()
    token = parse_qs(urlsplit(first["links"]["next"]).query)["page_token"][0]
    ok = await client.get(f"{RELAY}/recordings?page_size=10&page_number=1&page_token={token}", auth=SW_AUTH)
    assert ok.status_code == 200
    wrong_page = await client.get(f"{RELAY}/recordings?page_size=10&page_number=2&page_token={token}", auth=SW_AUTH)
    assert wrong_page.status_code == 422
    wrong_size = await client.get(f"{RELAY}/recordings?page_size=20&page_number=1&page_token={token}", auth=SW_AUTH)
    assert wrong_size.status_code == 422


@pytest.mark.parametrize("list_path", [f"{FABRIC}/sip_gateways", f"{FABRIC}/sip_endpoints"])
@pytest.mark.parametrize("query", ["page_number=3", "page_number=1&page_token=PAforged", "page_size=ten"])
async def test_fabric_lists_answer_an_unservable_page_with_their_declared_404(
    client: httpx2.AsyncClient, list_path: str, query: str
) -> None:
    """The Fabric lists declare 200, 401, 404 and 500 only: no 422."""
    response = await client.get(f"{list_path}?{query}", auth=SW_AUTH)
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


async def test_a_gateway_update_may_clear_the_codecs(client: httpx2.AsyncClient) -> None:
    gateway = await first_gateway(client)
    response = await client.patch(f"{FABRIC}/sip_gateways/{gateway['id']}", json={"codecs": []}, auth=SW_AUTH)
    assert response.status_code == 200
    assert response.json()["sip_gateway"]["codecs"] == []


async def test_profile_codecs_and_ciphers_are_strings_not_an_enum(client: httpx2.AsyncClient) -> None:
    """The spec types them as plain strings; its descriptions list today's values, which grow."""
    body = {"default_codecs": ["OPUS@48000H@20I", "AV1"], "default_ciphers": ["AEAD_AES_128_GCM"]}
    response = await client.put(f"{RELAY}/sip_profile", json=body, auth=SW_AUTH)
    assert response.status_code == 201
    assert {key: response.json()[key] for key in body} == body


async def test_get_and_delete_recording(client: httpx2.AsyncClient, sb: Sandbox) -> None:
    total = len(sb.state.signalwire.recordings)
    recording = (await client.get(f"{RELAY}/recordings?page_size=1", auth=SW_AUTH)).json()["data"][0]
    got = await client.get(f"{RELAY}/recordings/{recording['id']}", auth=SW_AUTH)
    assert (got.status_code, got.json()) == (200, recording)

    deleted = await client.delete(f"{RELAY}/recordings/{recording['id']}", auth=SW_AUTH)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"{RELAY}/recordings/{recording['id']}", auth=SW_AUTH)
    assert (gone.status_code, gone.json()) == (404, {"error": "Not Found"})
    again = await client.delete(f"{RELAY}/recordings/{recording['id']}", auth=SW_AUTH)
    assert again.status_code == 404

    remaining = await walk(client, f"{RELAY}/recordings", page_size=1000)
    assert len(remaining) == total - 1
    assert recording["id"] not in {r["id"] for r in remaining}


async def test_recording_non_uuid_id_is_404(client: httpx2.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{RELAY}/recordings/latest", auth=SW_AUTH)
        assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


async def test_unknown_api_path_is_json_404(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/fabric/resources/nothing_here", auth=SW_AUTH)
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


# --------------------------------------------------------------------------------------------- determinism


async def test_seed_data_is_deterministic_per_seed() -> None:
    def snapshot(sandbox: Sandbox) -> tuple[Any, ...]:
        sw = sandbox.state.signalwire
        return (list(sw.sip_endpoints.values()), list(sw.sip_gateways.values()), list(sw.recordings.values()))

    assert snapshot(Sandbox(seed=0)) == snapshot(Sandbox(seed=0))
    assert snapshot(Sandbox(seed=0)) != snapshot(Sandbox(seed=1))
