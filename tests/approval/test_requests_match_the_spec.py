"""Every request issue 13's tools send, run end to end against the sandbox, against the providers' OpenAPI.

The tools outside the default set (the directory and log reads, the blacklist, history, forwarding and
SIP credential writes) are called through the MCP client; each request the sandbox received, lookups
included, is validated with openapi-core against the document it belongs to (SignalWire's REST document,
sipgate's converted Swagger). A SIP credential's password is set on the approval page, so those writes
are approved there, as a person would. The SignalWire writes of the same issue have their own check in
tests/test_signalwire_write_tools.py.

The two request deviations, both in SignalWire's fabric `sip_endpoints` bodies (the password the live API
takes, and a create body without the `id` the server assigns), are listed with their sources in
``telco_mcp/sandbox/deviations.py`` (``REQUEST_DEVIATIONS``); ``tests/spec_requests.py`` makes exactly
those changes to its copy of the document, and this test fails if either is no longer needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import spec_requests
from mcp.types import ElicitResult
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from telco_mcp.catalogue import BY_NAME
from telco_mcp.sandbox.deviations import REQUEST_DEVIATIONS
from telco_mcp.tools import live_schemas, result_schema

from .conftest import Browser, client, decide_in_browser, follow_launch_file, server_for

pytestmark = [pytest.mark.anyio, pytest.mark.contract]
REPO = Path(__file__).resolve().parents[2]
HOSTS = {"signalwire": "https://example.signalwire.com", "sipgate": "https://api.sipgate.com"}
AUTH = {"signalwire": "Basic eDp5", "sipgate": "Bearer x"}
TYPED = "Tr0ub4dor-and-3"
UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


@pytest.fixture(scope="module")
def documents() -> dict[str, OpenAPI]:
    return spec_requests.documents().patched


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
        ("signalwire_list_phone_numbers", {"limit": 2, "name": "Support", "number": "+1"}),
        ("signalwire_get_phone_number", {"id": number_id}),
        ("signalwire_list_voice_logs", {"limit": 3, "created_after": "2026-01-01T00:00:00Z", "include_deleted": True}),
        ("signalwire_list_messaging_logs", {"created_on": "2026-10-31"}),
        ("signalwire_get_voice_log", {"id": log_id}),
        ("signalwire_list_messaging_logs", {"created_before": "2027-01-01T00:00:00+01:00"}),
        ("sipgate_list_users", {}),
        ("sipgate_list_devices", {}),
        ("sipgate_list_phonelines", {"user_id": "w0"}),
        ("sipgate_list_numbers", {"limit": 2}),
        ("sipgate_get_balance", {}),
        ("sipgate_list_contacts", {"phonenumbers": ["+49 30 23125420", "+49 1522 8817399"]}),
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
    assert all(spec_requests.from_the_tools(r) for r in sandbox.requests)  # every one of them is checked
    used = spec_requests.assert_requests_match_the_spec(sandbox)  # names the request and field on any mismatch
    assert used == set(REQUEST_DEVIATIONS), (
        f"request deviations no request needs any more: {set(REQUEST_DEVIATIONS) - used}"
    )


def _pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_check_would_catch_a_body_the_documents_forbid(documents: dict[str, OpenAPI]) -> None:
    """A control: a forwarding that rings longer than sipgate allows, credential bodies with a stray field, without
    a password, with a password shorter than the live API's 8 characters."""
    from openapi_core.validation.request.exceptions import RequestValidationError

    bad = [
        (
            "sipgate",
            "put",
            "/v2/w0/phonelines/p0/forwardings",
            {"forwardings": [{"destination": "p1", "timeout": 601}]},
        ),
        ("signalwire", "post", "/api/fabric/resources/sip_endpoints", {"username": "x", "colour": "red"}),
        ("signalwire", "post", "/api/fabric/resources/sip_endpoints", {"username": "anna-d"}),
        (
            "signalwire",
            "put",
            f"/api/fabric/resources/sip_endpoints/{UUID}",
            {"password": "short", "calling_handler_resource_id": None},
        ),
    ]
    for provider, method, path, body in bad:
        mock = MockRequest(
            HOSTS[provider], method, path, headers={"Authorization": AUTH[provider]},
            data=json.dumps(body).encode(), content_type="application/json",
        )  # fmt: skip
        with pytest.raises(RequestValidationError):
            documents[provider].validate_request(mock)
