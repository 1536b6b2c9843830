"""Every request issue 13's tools send, run end to end against the sandbox, against the providers' OpenAPI.

The tools outside the default set (the directory and log reads, the blacklist, history, forwarding and
SIP credential writes) are called through the MCP client; each request the sandbox received, lookups
included, is validated with openapi-core against the document it belongs to (SignalWire's REST document,
sipgate's converted Swagger). A SIP credential's password is set on the approval page, so those writes
are approved there, as a person would. The SignalWire writes of the same issue have their own check in
tests/test_signalwire_write_tools.py.

Two request deviations are listed, both in SignalWire's fabric `sip_endpoints` bodies
(../shared/notes/upstream-apis.md §2.2): the create body's schema requires an `id` (the server assigns it)
and neither schema has `password`, which every sibling SIP endpoint request documents and a SIP credential
cannot work without. The check below applies exactly those two changes to its copy of the document.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from mcp.types import ElicitResult
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from telco_mcp.catalogue import BY_NAME
from telco_mcp.tools import live_schemas, result_schema

from .conftest import Browser, client, decide_in_browser, follow_launch_file, server_for

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]
SPECS = REPO.parent / "shared" / "specs"
HOSTS = {"signalwire": "https://example.signalwire.com", "sipgate": "https://api.sipgate.com"}
AUTH = {"signalwire": "Basic eDp5", "sipgate": "Bearer x"}
TYPED = "Tr0ub4dor-and-3"


def _documents() -> dict[str, OpenAPI]:
    from sandbox.test_sandbox_contract import (
        SIGNALWIRE_SPEC,
        SIPGATE_SPEC,
        _shared,
        _without_generator_artefacts,
        reachable,
    )

    _shared(SPECS)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sw = yaml.load(SIGNALWIRE_SPEC.read_text(), Loader=loader)
    wanted = {"/api/fabric/resources/sip_endpoints", "/api/fabric/resources/sip_endpoints/{id}",
              "/api/fabric/resources/sip_gateways/{id}", "/api/relay/rest/phone_numbers",
              "/api/relay/rest/phone_numbers/{id}", "/api/relay/rest/sip_profile", "/api/voice/logs",
              "/api/voice/logs/{id}", "/api/messaging/logs"}  # fmt: skip
    sw = copy.deepcopy(reachable(sw, wanted))  # a copy: the two deviations below change its schemas
    schemas = sw["components"]["schemas"]
    create, update = schemas["SipEndpointCreateRequest"], schemas["SipEndpointUpdateRequest"]
    create["required"] = [name for name in create["required"] if name != "id"]  # deviation 1: server-assigned
    for body in (create, update):  # deviation 2: the password the live API takes
        body["properties"]["password"] = {"type": "string"}
    for scheme in sw["components"]["securitySchemes"].values():
        if scheme.get("type") == "http":  # RFC 7235: schemes are case-insensitive; openapi-core compares as written
            scheme["scheme"] = scheme["scheme"].lower()
    sg = _without_generator_artefacts(yaml.safe_load(SIPGATE_SPEC.read_text()))
    # openapi-core cannot check OAuth2 (it warns); the credentials are not what this test is about.
    sg["security"] = []
    for item in sg["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation["security"] = []
    return {"signalwire": OpenAPI.from_dict(sw), "sipgate": OpenAPI.from_dict(sg)}


@pytest.fixture(scope="module")
def documents() -> dict[str, OpenAPI]:
    return _documents()


async def accept(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


async def _approve_with_password(c: Any, browser: Browser, tool: str, args: dict[str, Any]) -> Any:
    opened = browser.opened()
    pending = (await c.call_tool(tool, args)).structured_content
    assert pending["status"] == "approval_pending", pending
    link = follow_launch_file(browser.handed(opened + 1)[-1])
    page = await decide_in_browser(link, secret_mode="typed", secret=TYPED, secret_repeat=TYPED)
    assert page.status_code == 200, page.text
    return await c.call_tool(tool, args | {"approval_id": pending["approval_id"]})


async def test_every_request_of_issue_13s_tools_matches_the_providers_documents(
    documents: dict[str, OpenAPI], audit_path: Path, browser: Browser
) -> None:
    faxes = audit_path.parent / "faxes"  # issue 27's fax tool reads its PDF from here
    faxes.mkdir()
    (faxes / "a.pdf").write_bytes(_pdf())
    server = server_for(audit_path, telco_mcp_toolsets="all", telco_mcp_fax_dir=faxes)
    sandbox = server.telco_runtime.sandbox
    state = sandbox.state
    sw = state.signalwire
    number_id, log_id = next(iter(sw.phone_numbers)), next(iter(sw.voice_logs))
    gateway_id = next(iter(sw.sip_gateways))
    entry, other = state.sipgate.history[0]["id"], state.sipgate.history[1]["id"]
    fax = next(e for e in state.sipgate.history if e["type"] == "FAX" and e["direction"] == "OUTGOING")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("signalwire_get_sip_gateway", {"id": gateway_id}),
        ("signalwire_list_phone_numbers", {"limit": 2}),
        ("signalwire_get_phone_number", {"id": number_id}),
        ("signalwire_list_voice_logs", {"limit": 3, "created_after": "2026-01-01T00:00:00Z"}),
        ("signalwire_get_voice_log", {"id": log_id}),
        ("signalwire_list_messaging_logs", {"created_before": "2027-01-01T00:00:00+01:00"}),
        ("sipgate_list_users", {}),
        ("sipgate_list_devices", {}),
        ("sipgate_list_phonelines", {"user_id": "w0"}),
        ("sipgate_list_numbers", {"limit": 2}),
        ("sipgate_get_balance", {}),
        ("sipgate_list_contacts", {"phonenumber": "+49 30 23125420"}),
        ("sipgate_get_forwardings", {"phoneline_id": "p0"}),
        ("sipgate_list_voicemails", {}),
        ("sipgate_list_blocked_numbers", {}),
        ("sipgate_block_number", {"phone_number": "+49 900", "prefix": True}),
        ("sipgate_unblock_number", {"phone_number": "+49 900"}),
        ("sipgate_update_history_entry", {"entry_id": entry, "starred": True, "note": "called back"}),
        ("sipgate_delete_history_entry", {"entry_id": other}),
        ("sipgate_set_forwardings", {"phoneline_id": "p0", "forwardings": [{"destination": "+49 30 123456",
                                                                             "timeout": 20}, {"destination": "v0"}]}),
        # issue 27
        ("sipgate_route_number", {"number_id": "1001", "endpoint_id": "p2"}),
        ("sipgate_get_voicemail", {"voicemail_id": "v0", "limit": 3}),
        ("sipgate_get_fax_status", {"fax_id": fax["id"]}),
        ("sipgate_send_fax", {"file": "a.pdf", "recipient": "+49 30 23125477"}),
        ("sipgate_resend_fax", {"fax_id": fax["id"], "recipient": fax["target"]}),
        ("sipgate_export_history", {"types": ["CALL", "SMS"], "archived": False, "start": "2026-01-01T00:00:00Z"}),
    ]  # fmt: skip
    results: list[tuple[str, Any]] = []
    async with client(server, elicitation_callback=accept) as c:
        for tool, args in calls:
            result = await c.call_tool(tool, args)
            assert not result.is_error, (tool, result.content)
            results.append((tool, result))
        created = await _approve_with_password(c, browser, "signalwire_create_sip_credential", {"username": "anna-d"})
        credential = created.structured_content["result"]["id"]
        reset = {"id": credential, "new_password": True, "codecs": ["PCMA"]}
        updated = await _approve_with_password(c, browser, "signalwire_update_sip_credential", reset)
        deleted = await c.call_tool("signalwire_delete_sip_credential", {"id": credential})
    for result in (created, updated, deleted):
        assert result.structured_content["status"] == "applied", result.content
    results += [("signalwire_create_sip_credential", created), ("signalwire_update_sip_credential", updated),
                ("signalwire_delete_sip_credential", deleted)]  # fmt: skip
    for tool, result in results:  # what each tool returned holds to its full contract, writes' results too
        op = BY_NAME[tool]
        data = result.structured_content
        full = result_schema(op) if op.is_write else live_schemas(op)["outputSchema"]
        jsonschema.validate(data["result"] if op.is_write else data, full)

    sent = {(r.method, r.path) for r in sandbox.requests if r.method != "GET"}
    assert ("POST", "/api/fabric/resources/sip_endpoints") in sent
    assert ("PUT", "/v2/w0/phonelines/p0/forwardings") in sent
    assert {("PUT", "/v2/numbers/1001"), ("POST", "/v2/sessions/fax"), ("POST", "/v2/sessions/fax/resend")} <= sent
    for request in sandbox.requests:
        body = json.dumps(request.json).encode() if request.json is not None else None
        mock = MockRequest(
            HOSTS[request.provider], request.method.lower(), request.path, args=dict(request.query),
            headers={"Authorization": AUTH[request.provider]}, data=body, content_type="application/json",
        )  # fmt: skip
        documents[request.provider].validate_request(mock)  # raises, naming the field, on any mismatch


def _pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_check_would_catch_a_body_the_documents_forbid(documents: dict[str, OpenAPI]) -> None:
    """A control: a forwarding that rings longer than sipgate allows, a credential body with a stray field."""
    from openapi_core.validation.request.exceptions import RequestValidationError

    bad = [
        (
            "sipgate",
            "put",
            "/v2/w0/phonelines/p0/forwardings",
            {"forwardings": [{"destination": "p1", "timeout": 601}]},
        ),
        ("signalwire", "post", "/api/fabric/resources/sip_endpoints", {"username": "x", "colour": "red"}),
    ]
    for provider, method, path, body in bad:
        mock = MockRequest(
            HOSTS[provider], method, path, headers={"Authorization": AUTH[provider]},
            data=json.dumps(body).encode(), content_type="application/json",
        )  # fmt: skip
        with pytest.raises(RequestValidationError):
            documents[provider].validate_request(mock)
