"""Paging the lists as their specs declare them (issue 22, contract findings).

SignalWire's SIP credential, gateway and recording lists declare no query parameters, so the tools send
none and apply `limit` themselves; with a cursor, a `limit` the call gives is honoured on every list. The
sandbox runs check every request the tools sent against the providers' documents (tests/spec_requests.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import spec_requests
from conftest import SW_BASE, client_for, make_settings, response, signalwire_settings
from mcp import Client

from telco_mcp.server import build_server

pytestmark = [pytest.mark.anyio, pytest.mark.contract]  # the request check reads the cuts


@pytest.fixture(autouse=True)
def _requests_match_the_spec() -> Iterator[None]:
    yield from spec_requests.check_watched()


def sandbox_server(audit_path: Path) -> Any:
    server = build_server(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_toolsets="all"))
    spec_requests.watch(server.telco_runtime.sandbox)  # type: ignore[attr-defined]
    return server


GATEWAYS = "/api/fabric/resources/sip_gateways"
IDS = [f"3fa85f64-5717-4562-b3fc-2c963f66af{n:02d}" for n in range(7)]


def _gateway(gid: str) -> dict[str, Any]:
    return {
        "id": gid, "project_id": "p", "display_name": "gw", "type": "sip_gateway",
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
        "sip_gateway": {"id": gid, "uri": "gw@pbx.example.com", "name": "gw", "ciphers": [], "codecs": ["PCMU"],
                        "encryption": "optional"},
    }  # fmt: skip


async def test_a_list_without_query_parameters_is_asked_for_none_and_limited_here(fake: Any, audit_path: Path) -> None:
    """The provider's default page holds 5 and its next 2; `limit` 2 shows them 2, 2, 2 and 1, none twice."""

    def serve(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params.get("page_number", "0"))
        chunk = IDS[number * 5 : number * 5 + 5]
        nxt = f"{SW_BASE}{GATEWAYS}?page_number=1&page_size=5&page_token=PA1" if number == 0 else None
        links = {"self": f"{SW_BASE}{GATEWAYS}", "first": f"{SW_BASE}{GATEWAYS}"} | ({"next": nxt} if nxt else {})
        return response(200, {"data": [_gateway(i) for i in chunk], "links": links})

    fake.route(f"GET {GATEWAYS}", serve)
    seen: list[str] = []
    counts: list[int] = []
    async with client_for(signalwire_settings(audit_path), fake) as c:
        args: dict[str, Any] = {"limit": 2}
        for _ in range(10):
            result = (await c.call_tool("signalwire_list_sip_gateways", args)).structured_content
            counts.append(len(result["items"]))
            seen += [g["id"] for g in result["items"]]
            if "next_cursor" not in result:
                break
            args = {"cursor": result["next_cursor"]}
    assert seen == IDS  # nothing skipped, nothing twice
    following = b"page_number=1&page_size=5&page_token=PA1"  # the provider's links.next, verbatim
    # the third call fills its two from the end of the first page and the start of the next
    assert [r.url.query for r in fake.requests] == [b"", b"", b"", following, following]
    assert counts == [2, 2, 2, 1]


@pytest.mark.parametrize("tool", ["signalwire_list_sip_credentials", "signalwire_list_recordings"])
async def test_the_other_unsized_lists_send_no_page_size_to_the_sandbox(audit_path: Path, tool: str) -> None:
    server = sandbox_server(audit_path)
    async with Client(server) as c:
        result = await c.call_tool(tool, {"limit": 1})
    assert len(result.structured_content["items"]) == 1
    assert all(not r.query for r in server.telco_runtime.sandbox.requests)


@pytest.mark.parametrize(
    ("tool", "key"),
    [
        ("signalwire_list_phone_numbers", "id"),  # page_number/page_size/page_token: paged on our side too
        ("signalwire_list_voice_logs", "id"),
        ("signalwire_list_sip_gateways", "id"),
        ("sipgate_list_numbers", "id"),  # offset/limit: the cursor's limit is replaced
        ("sipgate_list_history", "id"),
    ],
)
async def test_with_a_cursor_an_explicit_limit_is_honoured(audit_path: Path, tool: str, key: str) -> None:
    server = sandbox_server(audit_path)
    async with Client(server) as c:
        everything = (await c.call_tool(tool, {"limit": 100})).structured_content["items"]
        first = (await c.call_tool(tool, {"limit": 3})).structured_content
        second = (await c.call_tool(tool, {"cursor": first["next_cursor"], "limit": 1})).structured_content
        third = (await c.call_tool(tool, {"cursor": second["next_cursor"]})).structured_content
    assert len(everything) >= 5, "the seed has too few items to page"
    assert len(second["items"]) == 1  # the explicit limit holds with a cursor
    assert len(third["items"]) == 1  # and the next page goes on with it
    shown = [item[key] for item in first["items"] + second["items"] + third["items"]]
    assert shown == [item[key] for item in everything[:5]]  # nothing skipped, nothing twice


def test_the_request_check_refuses_a_query_parameter_the_spec_does_not_declare() -> None:
    """A control for tests/spec_requests.py: openapi-core alone lets an undeclared query parameter through."""
    from telco_mcp.sandbox import RecordedRequest
    from telco_mcp.upstream import USER_AGENT

    def sent(path: str, query: list[tuple[str, str]]) -> RecordedRequest:
        return RecordedRequest(method="GET", path=path, query=query, headers={"user-agent": USER_AGENT},
                               auth_scheme="basic", json=None, status=200, provider="signalwire")  # fmt: skip

    followed = [("page_number", "1"), ("page_size", "50"), ("page_token", "PA1")]  # the provider's own links.next
    failures, _ = spec_requests.mismatches(
        [sent(GATEWAYS, [("page_size", "20")]), sent(GATEWAYS, followed), sent("/api/relay/rest/phone_numbers",
                                                                               [("page_size", "20")])]
    )  # fmt: skip
    assert len(failures) == 1 and "page_size" in failures[0] and GATEWAYS in failures[0]


def test_the_request_check_takes_a_compatibility_request_to_its_own_document_form_and_all() -> None:
    """A control for tests/spec_requests.py: a request under the laml base is checked against the Compatibility
    document (its query parameters, and its form body as a form), not against SignalWire's REST document."""
    from telco_mcp.sandbox import RecordedRequest
    from telco_mcp.upstream import USER_AGENT

    calls = "/api/laml/2010-04-01/Accounts/5f1c3a52-8d5e-4b6a-9c1e-0a1b2c3d4e5f/Calls"

    def sent(method: str, query: list[tuple[str, str]], form: list[tuple[str, str]] | None = None) -> RecordedRequest:
        return RecordedRequest(method=method, path=calls, query=query, headers={"user-agent": USER_AGENT}, form=form,
                               auth_scheme="basic", json=None, status=200, provider="signalwire")  # fmt: skip

    call = [("To", "+12025550123"), ("From", "+12025550100"), ("Url", "https://hooks.example.com/a.xml")]
    fine = [sent("GET", [("PageSize", "20"), ("Status", "in-progress")]), sent("POST", [], call)]
    assert spec_requests.mismatches(fine) == ([], set())
    failures, _ = spec_requests.mismatches([sent("GET", [("page_size", "20")]), sent("POST", [], call[::2])])
    assert len(failures) == 2, failures
    assert "page_size" in failures[0] and "From" in failures[1]


@pytest.mark.parametrize("edit", [{"n": 5000}, {"s": -1}, {"s": "3"}, {"n": True}])
async def test_an_edited_cursor_position_is_refused_before_any_request(
    edit: dict[str, Any], fake: Any, audit_path: Path
) -> None:
    import base64
    import json

    raw = {"p": GATEWAYS, "q": [["page_number", "1"], ["page_size", "50"], ["page_token", "PA1"]]} | edit
    cursor = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    async with client_for(signalwire_settings(audit_path), fake) as c:
        answer = await c.call_tool("signalwire_list_sip_gateways", {"cursor": cursor})
    assert answer.is_error and "cursor" in answer.content[0].text and fake.requests == []  # type: ignore[union-attr]
