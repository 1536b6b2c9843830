"""The read-only sipgate directory tools of issue 13: users, devices, phonelines, numbers, balance,
contacts, forwardings, voicemail boxes and blocked numbers.

Each is checked for its exact upstream request (FakeUpstream), its result, its errors, its toolset
exposure (never in the default set) and end to end against the sandbox.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import FakeUpstream, client_for, make_settings, response, sipgate_settings, text_of

from telco_mcp.catalogue import CATALOGUE

pytestmark = pytest.mark.anyio

DIRECTORY = {
    "sipgate_list_users": ("sipgate:users:read", {}),
    "sipgate_list_devices": ("sipgate:devices:read", {}),
    "sipgate_list_phonelines": ("sipgate:phonelines:read", {}),
    "sipgate_list_numbers": ("sipgate:numbers:read", {}),
    "sipgate_get_balance": ("sipgate:balance:read", {}),
    "sipgate_list_contacts": ("sipgate:contacts:read", {}),
    "sipgate_get_forwardings": ("sipgate:phonelines:forwardings:read", {"phoneline_id": "p0"}),
    "sipgate_list_voicemails": ("sipgate:voicemails:read", {}),
    "sipgate_list_blocked_numbers": ("sipgate:blacklist:read", {}),
}

USERINFO = {"sub": "w3", "domain": "sipgate.de"}
ANSWERS: dict[str, Any] = {
    "GET /v2/users": {
        "items": [
            {"id": "w3", "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
             "defaultDevice": "e0", "busyOnBusy": False, "addressId": "13", "directDialIds": ["101"],
             "timezone": "Europe/Berlin", "admin": True}
        ]
    },
    "GET /v2/w3/devices": {
        "items": [{"id": "e0", "alias": "Desk", "type": "REGISTER", "online": True, "dnd": False,
                   "activePhonelines": [{"id": "p0", "alias": "Ada"}], "activeGroups": []}]
    },
    "GET /v2/w3/phonelines": {"items": [{"id": "p0", "alias": "Ada", "forwardingsUrl": "/w3/phonelines/p0/fw"}]},
    "GET /v2/numbers": {"items": [{"id": "1", "number": "+4921112345678", "localized": "0211 12345678",
                                   "type": "LANDLINE", "endpointId": "p0", "endpointAlias": "Ada",
                                   "endpointUrl": "https://api.sipgate.com/v2/w3/phonelines/p0"}]},
    "GET /v2/balance": {"amount": 1234500, "currency": "EUR"},
    "GET /v2/contacts": {"items": [{"id": "c1", "name": "Grace", "picture": "AAAA", "scope": "SHARED",
                                    "emails": [{"email": "grace@example.com", "type": ["work"]}],
                                    "numbers": [{"number": "+4915799912345", "type": ["cell"]}],
                                    "addresses": [{"streetAddress": "Gladbacher Str. 74", "locality": "Düsseldorf",
                                                   "postalCode": "40219", "country": "DE"}],
                                    "organization": [["Navy"]]}], "totalCount": 1},
    "GET /v2/w3/phonelines/p0/forwardings": {
        "items": [{"alias": "Mobile", "destination": "+4915799912345", "timeout": 20, "active": True}]
    },
    "GET /v2/voicemails": {"items": [{"id": "v0", "alias": "Ada's box",
                                      "belongsToEndpoint": {"extension": "p0", "type": "PHONELINE"}}]},
    "GET /v2/blacklist/incoming": {"items": [{"phoneNumber": "+4990012345", "isBlock": True}]},
}  # fmt: skip

# tool -> (arguments, the one directory request it sends: path and query, its structured result)
EXPECTED: dict[str, tuple[dict[str, Any], str, list[tuple[str, str]], dict[str, Any]]] = {
    "sipgate_list_users": ({}, "/v2/users", [], {"items": [
        {"id": "w3", "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com", "default_device": "e0",
         "admin": True, "busy_on_busy": False, "timezone": "Europe/Berlin", "direct_dial_ids": ["101"],
         "address_id": "13"}]}),
    "sipgate_list_devices": ({}, "/v2/w3/devices", [], {"items": [
        {"id": "e0", "alias": "Desk", "type": "REGISTER", "online": True, "dnd": False,
         "active_phonelines": [{"id": "p0", "alias": "Ada"}], "active_groups": []}]}),
    "sipgate_list_phonelines": ({}, "/v2/w3/phonelines", [], {"items": [
        {"id": "p0", "alias": "Ada", "links": {"forwardings": "/w3/phonelines/p0/fw"}}]}),
    "sipgate_list_numbers": ({}, "/v2/numbers", [("offset", "0"), ("limit", "20")], {"items": [
        {"id": "1", "number": "+4921112345678", "localized": "0211 12345678", "type": "LANDLINE",
         "endpoint_id": "p0", "endpoint_alias": "Ada", "endpoint_url": "https://api.sipgate.com/v2/w3/phonelines/p0"}]}),
    "sipgate_get_balance": ({}, "/v2/balance", [], {"amount": 1234500, "currency": "EUR"}),
    "sipgate_list_contacts": ({"phonenumbers": ["+49 1579 9912345"], "limit": 5}, "/v2/contacts",
                              [("offset", "0"), ("limit", "5"), ("phonenumbers", "+4915799912345")],
                              {"items": [{"id": "c1", "name": "Grace", "picture": "AAAA", "addresses": [
                                              {"streetAddress": "Gladbacher Str. 74", "locality": "Düsseldorf",
                                               "postalCode": "40219", "country": "DE"}],
                                          "emails": [{"email": "grace@example.com", "type": ["work"]}],
                                          "numbers": [{"number": "+4915799912345", "type": ["cell"]}],
                                          "organization": [["Navy"]], "scope": "SHARED"}], "total_count": 1}),
    "sipgate_get_forwardings": ({"phoneline_id": "p0"}, "/v2/w3/phonelines/p0/forwardings", [],
                                {"phoneline_id": "p0", "items": [
                                    {"alias": "Mobile", "destination": "+4915799912345", "timeout": 20,
                                     "active": True}]}),
    "sipgate_list_voicemails": ({}, "/v2/voicemails", [], {"items": [
        {"id": "v0", "alias": "Ada's box", "extension": "p0", "extension_type": "PHONELINE"}]}),
    "sipgate_list_blocked_numbers": ({}, "/v2/blacklist/incoming", [], {"items": [
        {"phone_number": "+4990012345", "prefix": True}]}),
}  # fmt: skip


def every_toolset(audit: Path, **overrides: Any) -> Any:
    return sipgate_settings(audit, **({"telco_mcp_toolsets": "all"} | overrides))


def serve(fake: FakeUpstream) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, USERINFO))
    for route, body in ANSWERS.items():
        fake.route(route, response(200, body))


# ------------------------------------------------------------------ declaration and exposure
def test_each_tool_is_a_read_outside_the_default_set_with_sipgates_own_scope() -> None:
    ops = {op.name: op for op in CATALOGUE if op.name in DIRECTORY}
    assert set(ops) == set(DIRECTORY)
    for name, op in ops.items():
        assert (op.scope, op.effect, op.default, op.method) == (DIRECTORY[name][0], "read", False, "GET"), name


async def test_the_default_exposure_is_unchanged_and_all_lists_them(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True)) as c:
        default = {t.name for t in (await c.list_tools()).tools}
    async with client_for(every_toolset(audit_path), fake) as c:
        everything = {t.name for t in (await c.list_tools()).tools}
    assert len(default) == 23 and not default & set(DIRECTORY)  # 22, plus sipgate_wait_for_call_event (issue 16)
    assert set(DIRECTORY) <= everything


async def test_a_toolset_named_alone_lists_only_its_tool(fake: FakeUpstream, audit_path: Path) -> None:
    settings = sipgate_settings(audit_path, telco_mcp_toolsets="sipgate:phonelines:forwardings, sipgate:blacklist")
    async with client_for(settings, fake) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"sipgate_get_forwardings", "sipgate_list_blocked_numbers"}


async def test_a_phonelines_read_token_also_grants_the_forwardings(fake: FakeUpstream, audit_path: Path) -> None:
    import jwt

    token = jwt.encode({"sub": "w0", "exp": 4102444800, "scope": "phonelines:read"}, "k" * 32, algorithm="HS256")
    settings = sipgate_settings(audit_path, "oauth", sipgate_access_token=token, telco_mcp_toolsets="all")
    async with client_for(settings, fake) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {"sipgate_list_phonelines", "sipgate_get_forwardings"}


# ------------------------------------------------------------------ exact requests and results
@pytest.mark.parametrize("tool", sorted(EXPECTED))
async def test_each_tool_sends_its_exact_request_and_reads_the_answer(
    tool: str, fake: FakeUpstream, audit_path: Path
) -> None:
    serve(fake)
    args, path, query, result = EXPECTED[tool]
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool(tool, args)
    assert not answer.is_error, text_of(answer)
    sent = [r for r in fake.requests if r.url.path != "/v2/authorization/userinfo"]
    assert [(r.method, r.url.path, r.url.params.multi_items(), r.content) for r in sent] == [("GET", path, query, b"")]
    assert answer.structured_content == result
    assert "<untrusted-data" in text_of(answer)


@pytest.mark.parametrize("tool", ["sipgate_list_devices", "sipgate_list_phonelines", "sipgate_get_forwardings"])
async def test_a_given_user_id_is_used_without_asking_who_is_signed_in(
    tool: str, fake: FakeUpstream, audit_path: Path
) -> None:
    fake.route(f"GET /v2/w7/{'phonelines/p0/forwardings' if 'forward' in tool else tool.split('_')[-1]}",
               response(200, {"items": []}))  # fmt: skip
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool(tool, {"user_id": "w7"} | EXPECTED[tool][0])
    assert not answer.is_error, text_of(answer)
    assert [r.url.path for r in fake.requests] == [
        "/v2/w7/" + ("phonelines/p0/forwardings" if "forward" in tool else tool.split("_")[-1])
    ]


@pytest.mark.parametrize("bad", [{"user_id": "../users"}, {"user_id": "w0/x"}, {"phoneline_id": "p0/../x"}])
async def test_ids_that_are_no_path_segment_are_refused_before_any_request(
    bad: dict[str, str], fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p0"} | bad)
    assert answer.is_error and fake.requests == []


async def test_an_unknown_phoneline_is_reported_not_found(fake: FakeUpstream, audit_path: Path) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, USERINFO))
    fake.route("GET /v2/w3/phonelines/p9/forwardings", response(404))
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p9"})
    assert answer.is_error and "No phoneline p9 for user w3" in text_of(answer)


async def test_a_missing_feature_is_reported_as_a_403(fake: FakeUpstream, audit_path: Path) -> None:
    fake.route("GET /v2/balance", response(403))
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool("sipgate_get_balance", {})
    assert answer.is_error and "403" in text_of(answer)


async def test_an_odd_answer_is_reported_as_unexpected(fake: FakeUpstream, audit_path: Path) -> None:
    fake.route("GET /v2/voicemails", response(200, {"items": [{"alias": "no id"}]}))
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool("sipgate_list_voicemails", {})
    assert answer.is_error and "'id'" in text_of(answer)


# ------------------------------------------------------------------ paging
async def test_numbers_page_on_while_pages_come_back_full(fake: FakeUpstream, audit_path: Path) -> None:
    numbers = [{"number": f"+49211123456{n}"} for n in range(5)]

    def page(request: httpx2.Request) -> httpx2.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return response(200, {"items": numbers[offset : offset + limit]})

    fake.route("GET /v2/numbers", page)
    seen: list[str] = []
    async with client_for(every_toolset(audit_path), fake) as c:
        args: dict[str, Any] = {"limit": 2}
        for _ in range(5):
            answer = await c.call_tool("sipgate_list_numbers", args)
            seen += [item["number"] for item in answer.structured_content["items"]]
            if "next_cursor" not in answer.structured_content:
                break
            args = {"cursor": answer.structured_content["next_cursor"]}
    assert seen == [n["number"] for n in numbers]
    assert [r.url.params["offset"] for r in fake.requests] == ["0", "2", "4"]


async def test_contacts_page_by_the_total_and_keep_the_filter(fake: FakeUpstream, audit_path: Path) -> None:
    fake.route("GET /v2/contacts", response(200, {"items": [{"id": "c1"}, {"id": "c2"}], "totalCount": 3}))
    async with client_for(every_toolset(audit_path), fake) as c:
        first = await c.call_tool("sipgate_list_contacts", {"limit": 2, "phonenumbers": ["+4930123456"]})
        second = await c.call_tool("sipgate_list_contacts", {"cursor": first.structured_content["next_cursor"]})
    assert not second.is_error, text_of(second)
    assert fake.requests[1].url.params.multi_items() == [
        ("offset", "2"), ("limit", "2"), ("phonenumbers", "+4930123456")
    ]  # fmt: skip


@pytest.mark.parametrize("query", [[["offset", "0"]], [["offset", "0"], ["limit", "5000"]]])
async def test_an_edited_cursor_cannot_lift_the_page_bound(
    query: list[list[str]], fake: FakeUpstream, audit_path: Path
) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps({"p": "/contacts", "q": query}).encode()).decode().rstrip("=")
    async with client_for(every_toolset(audit_path), fake) as c:
        answer = await c.call_tool("sipgate_list_contacts", {"cursor": cursor})
    assert answer.is_error and fake.requests == []


# ------------------------------------------------------------------ against the sandbox
SANDBOX_CALLS: dict[str, dict[str, Any]] = {
    "sipgate_list_users": {},
    "sipgate_list_devices": {},
    "sipgate_list_phonelines": {"user_id": "w1"},
    "sipgate_list_numbers": {"limit": 2},
    "sipgate_get_balance": {},
    "sipgate_list_contacts": {"limit": 10},
    "sipgate_get_forwardings": {"phoneline_id": "p0"},
    "sipgate_list_voicemails": {},
    "sipgate_list_blocked_numbers": {},
}


async def test_every_directory_tool_reads_the_sandbox(audit_path: Path) -> None:
    settings = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_toolsets="all")
    async with client_for(settings) as c:
        got = {tool: await c.call_tool(tool, args) for tool, args in SANDBOX_CALLS.items()}
        p1 = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p1"})
        nobody = await c.call_tool("sipgate_list_devices", {"user_id": "w9"})
        found = await c.call_tool("sipgate_list_contacts", {"phonenumbers": ["+493023125420"]})
    for tool, answer in got.items():
        assert not answer.is_error, f"{tool}: {text_of(answer)}"
    data = {tool: answer.structured_content for tool, answer in got.items()}
    assert [u["id"] for u in data["sipgate_list_users"]["items"]] == ["w0", "w1", "w2"]
    assert [d["id"] for d in data["sipgate_list_devices"]["items"]] == ["e0", "e1", "y0"]
    assert data["sipgate_list_phonelines"]["items"] == [{"id": "p1", "alias": "Leitung Ben Fischer"}]
    assert len(data["sipgate_list_numbers"]["items"]) == 2 and "next_cursor" in data["sipgate_list_numbers"]
    assert data["sipgate_get_balance"]["currency"] == "EUR"
    assert data["sipgate_list_contacts"]["total_count"] == 45 and len(data["sipgate_list_contacts"]["items"]) == 10
    assert data["sipgate_get_forwardings"]["items"][0]["destination"] == "+4915228895456"
    assert [v["extension"] for v in data["sipgate_list_voicemails"]["items"]] == ["p0", "p1", "p2"]
    assert {"phone_number": "+49137", "prefix": True} in data["sipgate_list_blocked_numbers"]["items"]
    assert p1.is_error and "403" in text_of(p1), "w0 has no phoneline p1: sipgate refuses another user's line"
    assert nobody.is_error and "403" in text_of(nobody)
    assert not found.is_error and found.structured_content["items"]
    for contact in found.structured_content["items"]:
        assert any(n["number"] == "+493023125420" for n in contact["numbers"])
