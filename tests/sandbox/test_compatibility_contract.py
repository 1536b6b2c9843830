"""The Compatibility API (issue 27) against SignalWire's `signalwire-compatibility-openapi.yaml`.

Every request the Compatibility tools send (form bodies and lookups included) and every answer the sandbox gives
to them, success and error, is validated with openapi-core against the document: its structural extract in
``tests/contracts/`` (read through ``tests/contracts/specs.py``; origin and licence in SOURCES.md there), cut
once more to the covered paths and the components they reach. A form body is validated as the form it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import RequestValidationError

from telco_mcp.sandbox import SIGNALWIRE_API_TOKEN, SIGNALWIRE_PROJECT_ID, Sandbox
from tests.contracts import specs

pytestmark = [pytest.mark.anyio, pytest.mark.contract]

HOST = "https://sandbox.signalwire.com"
BASE = specs.BASE["signalwire-compatibility"]  # the document's paths are relative to it
ACCOUNT = f"{BASE}/Accounts/{SIGNALWIRE_PROJECT_ID}"
FORM = "application/x-www-form-urlencoded"
AUTH = "Basic eDp5"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
# The operations the sandbox simulates: (method, spec path template under the base).
OPERATIONS = {
    ("GET", "/Accounts/{AccountSid}/Calls"),
    ("POST", "/Accounts/{AccountSid}/Calls"),
    ("GET", "/Accounts/{AccountSid}/Calls/{Sid}"),
    ("POST", "/Accounts/{AccountSid}/Calls/{Sid}"),
    ("GET", "/Accounts/{AccountSid}/Conferences"),
    ("GET", "/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants"),
    ("GET", "/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}"),
    ("POST", "/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}"),
    ("DELETE", "/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants/{CallSid}"),
    ("GET", "/Accounts/{AccountSid}/Queues"),
    ("GET", "/Accounts/{AccountSid}/Queues/{QueueSid}/Members"),
    ("GET", "/Accounts/{AccountSid}/IncomingPhoneNumbers"),
}
COVERED = {template for _, template in OPERATIONS}


@pytest.fixture(scope="module")
def raw_document() -> dict[str, Any]:
    return specs.reachable(specs.load("signalwire-compatibility"), COVERED)


@pytest.fixture(scope="module")
def document(raw_document: dict[str, Any]) -> OpenAPI:
    raw = dict(raw_document)
    raw["servers"] = [{"url": HOST + BASE}]  # the sandbox's space; the spec's own is a template of it
    for scheme in raw["components"]["securitySchemes"].values():
        if scheme.get("type") == "http":  # RFC 7235: schemes are case-insensitive; openapi-core compares as written
            scheme["scheme"] = scheme["scheme"].lower()
    return OpenAPI.from_dict(raw)


def mock(method: str, path: str, query: list[tuple[str, str]], form: list[tuple[str, str]] | None) -> MockRequest:
    data = urlencode(form).encode() if form is not None else None
    return MockRequest(
        HOST, method.lower(), path, args=dict(query), headers={"Authorization": AUTH}, data=data,
        content_type=FORM if form is not None else "application/json",
    )  # fmt: skip


async def test_every_request_of_the_compatibility_tools_matches_the_document(
    document: OpenAPI, raw_document: dict[str, Any], audit_path: Path
) -> None:
    from mcp import Client
    from mcp.types import ElicitResult

    from telco_mcp.server import build_server
    from telco_mcp.settings import Settings

    async def accept(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    overrides: dict[str, Any] = {"_env_file": None, "telco_mcp_audit_log": audit_path, "telco_mcp_sandbox": True,
                                 "telco_mcp_allow_writes": True, "telco_mcp_toolsets": "all",
                                 "telco_mcp_allowed_routing_hosts": "hooks.example.com"}  # fmt: skip
    settings = Settings(**overrides)
    server: Any = build_server(settings)
    async with Client(server, elicitation_callback=accept) as c:
        numbers = (await c.call_tool("signalwire_list_phone_numbers", {})).structured_content["items"]
        caller = next(n["number"] for n in numbers if "voice" in (n.get("capabilities") or []))
        start = {"to_number": "+1 202 555 0123", "from_number": caller, "url": "https://hooks.example.com/a.xml",
                 "fallback_url": "https://hooks.example.com/f.xml", "status_callback": "https://hooks.example.com/s",
                 "timeout": 30}  # fmt: skip
        sid = (await c.call_tool("signalwire_start_call", start)).structured_content["result"]["sid"]
        redirect = {"call_sid": sid, "action": "redirect", "url": "https://hooks.example.com/b.xml"}
        page = (await c.call_tool("signalwire_list_calls", {"limit": 2, "status": "in-progress"})).structured_content
        conference = (await c.call_tool("signalwire_list_conferences", {"status": "in-progress"})).structured_content
        where = {"conference_sid": conference["items"][0]["sid"]}
        people = (await c.call_tool("signalwire_list_conference_participants", where)).structured_content["items"]
        queue = (await c.call_tool("signalwire_list_queues", {})).structured_content["items"][0]
        calls: list[tuple[str, dict[str, Any]]] = [
            ("signalwire_update_call", redirect),
            ("signalwire_update_call", {"call_sid": sid, "action": "hangup"}),
            ("signalwire_get_call", {"call_sid": sid}),
            ("signalwire_list_calls", {"limit": 2, "cursor": page["next_cursor"]}),
            ("signalwire_list_calls", {"from_number": caller, "to_number": "+12025550123",
                                       "started_after": "2026-01-01T00:00:00Z", "started_before": "2027-01-01T00:00Z"}),
            ("signalwire_update_conference_participant", where | {"call_sid": people[0]["call_sid"], "action": "mute"}),
            ("signalwire_update_conference_participant", where | {"call_sid": people[0]["call_sid"],
                                                                   "action": "unhold"}),
            ("signalwire_remove_conference_participant", where | {"call_sid": people[1]["call_sid"]}),
            ("signalwire_list_queue_members", {"queue_sid": queue["sid"]}),
        ]  # fmt: skip
        for tool, args in calls:
            result = await c.call_tool(tool, args)
            assert not result.is_error, (tool, result.content)
    sandbox: Sandbox = server.telco_runtime.sandbox
    laml = [r for r in sandbox.requests if r.path.startswith(BASE)]
    forms = [r for r in laml if r.method == "POST"]
    assert len(forms) == 5 and all(r.form for r in forms)
    assert {r.method for r in laml} == {"GET", "POST", "DELETE"}
    for request in laml:
        document.validate_request(mock(request.method, request.path, request.query, request.form))
        # openapi-core reads only the declared fields of a form: an undeclared one is checked here
        assert not set(dict(request.form or [])) - declared_fields(raw_document, request.method, request.path)


def declared_fields(raw: dict[str, Any], method: str, path: str) -> set[str]:
    """The properties of the form schema the document declares for `method` on `path` (empty: no body)."""
    template = next(t for t in COVERED if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path.removeprefix(BASE)))
    body = raw["paths"][template][method.lower()].get("requestBody")
    if body is None:
        return set()
    ref = body["content"][FORM]["schema"]["$ref"].rsplit("/", 1)[-1]
    return set(raw["components"]["schemas"][ref]["properties"])


def test_the_check_would_catch_a_form_the_document_forbids(document: OpenAPI, raw_document: dict[str, Any]) -> None:
    """A control: a create without From, a Status the update does not take, and Twiml (inline instructions, which
    no tool offers) is no declared field."""
    assert "Twiml" not in declared_fields(raw_document, "POST", f"{ACCOUNT}/Calls")
    bad = [
        ("post", f"{ACCOUNT}/Calls", [("To", "+12025550123"), ("Url", "https://x.example/a")]),
        ("post", f"{ACCOUNT}/Calls/{UNKNOWN}", [("Status", "busy")]),
    ]
    for method, path, form in bad:
        with pytest.raises(RequestValidationError):
            document.validate_request(mock(method, path, [], form))


async def test_every_answer_of_the_sandbox_matches_the_document(document: OpenAPI) -> None:
    sandbox = Sandbox()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sandbox.app),
        base_url=HOST,
        auth=(SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN),
    ) as http:
        answers: list[tuple[str, str, list[tuple[str, str]], list[tuple[str, str]] | None, httpx2.Response]] = []

        async def send(
            method: str,
            path: str,
            query: list[tuple[str, str]] | None = None,
            form: list[tuple[str, str]] | None = None,
        ) -> httpx2.Response:
            headers = {"content-type": FORM} if form is not None else {}
            content = urlencode(form).encode() if form is not None else None
            answer = await http.request(
                method, ACCOUNT + path, params=dict(query or []), content=content, headers=headers
            )
            answers.append((method, ACCOUNT + path, query or [], form, answer))
            return answer

        first = (await send("GET", "/Calls", [("PageSize", "2")])).json()
        await send("GET", first["next_page_uri"].removeprefix(ACCOUNT).partition("?")[0],
                   [tuple(p.split("=", 1)) for p in first["next_page_uri"].partition("?")[2].split("&")])  # fmt: skip
        await send("GET", "/Calls", [("Status", "completed"), ("StartTime>", "2026-01-01")])
        await send("GET", "/Calls", [("Page", "3")])  # no token: 400
        call = first["calls"][0]["sid"]
        await send("GET", f"/Calls/{call}")
        await send("GET", f"/Calls/{UNKNOWN}")
        ours = next(iter(sandbox.state.signalwire.phone_numbers.values()))["number"]
        created = await send(
            "POST", "/Calls", form=[("To", "+12025550123"), ("From", ours), ("Url", "https://x.example/a")]
        )
        await send(
            "POST", "/Calls", form=[("To", "+12025550123"), ("From", "+12025550999"), ("Url", "https://x.example/a")]
        )
        await send("POST", "/Calls", form=[("To", "+12025550123"), ("From", ours)])  # neither Url nor ApplicationSid
        new = created.json()["sid"]
        await send("POST", f"/Calls/{new}", form=[("Url", "https://x.example/b")])
        await send("POST", f"/Calls/{new}", form=[("Status", "canceled")])
        await send("POST", f"/Calls/{new}", form=[("Status", "completed")])  # already ended: 422
        await send("POST", f"/Calls/{UNKNOWN}", form=[("Status", "completed")])
        conferences = (await send("GET", "/Conferences", [("Status", "in-progress")])).json()["conferences"]
        sid = conferences[0]["sid"]
        people = (await send("GET", f"/Conferences/{sid}/Participants")).json()["participants"]
        await send("GET", f"/Conferences/{UNKNOWN}/Participants")
        one = f"/Conferences/{sid}/Participants/{people[0]['call_sid']}"
        await send("GET", one)
        await send("GET", f"/Conferences/{sid}/Participants/{UNKNOWN}")
        await send("POST", one, form=[("Muted", "true")])
        await send("POST", one, form=[("Hold", "true")])
        await send("POST", one, form=[("Colour", "red")])  # not a field: 422
        await send("POST", f"/Conferences/{sid}/Participants/{UNKNOWN}", form=[("Muted", "true")])
        await send("DELETE", one)
        await send("DELETE", one)  # gone: 404
        queue = (await send("GET", "/Queues")).json()["queues"][0]["sid"]
        await send("GET", f"/Queues/{queue}/Members")
        await send("GET", f"/Queues/{UNKNOWN}/Members")
        await send("GET", "/IncomingPhoneNumbers", [("PhoneNumber", ours)])
    statuses = {answer.status_code for *_, answer in answers}
    assert statuses == {200, 204, 400, 404, 422}, statuses
    for method, template in OPERATIONS:  # every operation answered, successfully and (but a filter list) in error
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", BASE + template)
        seen = {a.status_code for m, path, *_, a in answers if m == method and re.fullmatch(pattern, path)}
        assert any(s < 300 for s in seen), (method, template, seen)
        if template.endswith(("/Calls/{Sid}", "/Participants", "/Participants/{CallSid}", "/Members")):
            assert any(s >= 400 for s in seen), (method, template, seen)
    for method, path, query, form, answer in answers:
        request = mock(method, path, query, form)
        response = MockResponse(answer.content, status_code=answer.status_code,
                                content_type=answer.headers.get("content-type", "application/json"))  # fmt: skip
        document.validate_response(request, response)  # raises, naming the field, on any mismatch
