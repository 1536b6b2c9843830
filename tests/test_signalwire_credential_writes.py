"""The SIP credential writes of issue 13: exact requests (FakeUpstream), the questions, and bad input.

The password flow itself (approval page, generated or typed, never seen by the model) is in
tests/approval/test_secret_flow.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FakeUpstream, accept, client_for, decline, response, signalwire_settings, text_of
from test_signalwire_tools import CRED_ID, credential, page

from telco_mcp.catalogue import CATALOGUE
from telco_mcp.operation import SECRET_PLACEHOLDER

pytestmark = pytest.mark.anyio
BASE = "/api/fabric/resources/sip_endpoints"
PROFILE = {
    "domain": "acme-office.sip.signalwire.com",
    "default_codecs": ["OPUS", "G722"],
    "default_ciphers": ["AEAD_AES_256_GCM_8"],
    "default_encryption": "optional",
}
NUMBER = {"id": "6e0c1a52-1111-4a6b-9c3d-0123456789ab", "number": "+15551234567", "name": "Front desk",
          "call_handler": "relay_sip_endpoint", "call_sip_endpoint_id": CRED_ID}  # fmt: skip


def settings(audit: Path, **overrides: Any) -> Any:
    return signalwire_settings(audit, **({"telco_mcp_toolsets": "all", "telco_mcp_allow_writes": True} | overrides))


def serve(fake: FakeUpstream, numbers: list[dict[str, Any]] | None = None) -> FakeUpstream:
    fake.route("GET /api/relay/rest/sip_profile", response(200, PROFILE))
    fake.route(f"GET {BASE}/{CRED_ID}", response(200, credential(username="desk-101")))
    fake.route(f"DELETE {BASE}/{CRED_ID}", response(204))
    url = "https://acme.signalwire.com/api/relay/rest/phone_numbers"
    fake.route("GET /api/relay/rest/phone_numbers", response(200, page(numbers or [], url)))
    return fake


def test_the_three_writes_are_declared_truthfully() -> None:
    ops = {op.name: op for op in CATALOGUE if op.name.endswith("_sip_credential") and op.is_write}
    assert {name: (op.effect, op.scope, op.default, op.idempotent) for name, op in ops.items()} == {
        "signalwire_create_sip_credential": ("write", "signalwire:sip_credentials:write", False, False),
        "signalwire_update_sip_credential": ("write", "signalwire:sip_credentials:write", False, False),
        "signalwire_delete_sip_credential": ("destructive", "signalwire:sip_credentials:write", False, False),
    }
    assert ops["signalwire_create_sip_credential"].secret is not None
    assert ops["signalwire_update_sip_credential"].secret is not None
    assert ops["signalwire_delete_sip_credential"].secret is None


async def test_create_takes_the_profile_defaults_and_holds_a_placeholder_for_the_password(
    fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(settings(audit_path), serve(fake)) as c:
        result = await c.call_tool("signalwire_create_sip_credential", {"username": "anna-desk", "dry_run": True})
    data = result.structured_content
    assert data["status"] == "dry_run", text_of(result)
    assert data["request"]["method"] == "POST" and data["request"]["url"].endswith(BASE)
    assert data["request"]["body"] == {
        "username": "anna-desk",
        "password": SECRET_PLACEHOLDER,
        "caller_id": "anna-desk",
        "send_as": "random",
        "ciphers": ["AEAD_AES_256_GCM_8"],
        "codecs": ["OPUS", "G722"],
        "encryption": "default",
        "call_handler": "default",
        "calling_handler_resource_id": None,
    }
    assert 'codecs ["OPUS", "G722"]' in data["summary"] and "send as a random project number" in data["summary"]
    assert fake.sent("POST") == []
    async with client_for(settings(audit_path), serve(fake)) as c:
        shown = await c.call_tool(
            "signalwire_create_sip_credential", {"username": "anna", "send_as": "+49 89 12345678", "dry_run": True}
        )
    assert "send as +49 89 12345678" in shown.structured_content["summary"]  # the number callees will see


async def test_update_sends_the_changes_and_the_required_handler_id_only(fake: FakeUpstream, audit_path: Path) -> None:
    args = {"id": CRED_ID, "codecs": ["PCMA"], "send_as": "random", "new_password": True, "dry_run": True}
    async with client_for(settings(audit_path), serve(fake)) as c:
        result = await c.call_tool("signalwire_update_sip_credential", args)
    data = result.structured_content
    assert data["request"]["body"] == {
        "codecs": ["PCMA"],
        "send_as": "random",
        "calling_handler_resource_id": None,
        "password": SECRET_PLACEHOLDER,
    }
    assert '"desk-101"' in data["summary"] and 'codecs: ["OPUS", "PCMA"] -> ["PCMA"]' in data["summary"]
    assert 'send_as: +49 30 123456 -> "random"' in data["summary"]


async def test_delete_names_the_credential_and_the_numbers_routed_to_it(fake: FakeUpstream, audit_path: Path) -> None:
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return await accept(context, params)

    async with client_for(settings(audit_path), serve(fake, [NUMBER]), elicitation_callback=answer) as c:
        result = await c.call_tool("signalwire_delete_sip_credential", {"id": CRED_ID})
    assert result.structured_content["status"] == "applied", text_of(result)
    assert 'Permanently delete SIP credential "desk-101"' in asked[0]
    assert "IN USE: the calls of +1 555-123-4567 are routed to it" in asked[0]
    assert [r.url.path for r in fake.sent("DELETE")] == [f"{BASE}/{CRED_ID}"]
    assert result.structured_content["result"] == {"id": CRED_ID, "username": "desk-101", "deleted": True}


async def test_a_declined_delete_sends_nothing_and_an_unknown_id_asks_nobody(
    fake: FakeUpstream, audit_path: Path
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    fake.route(f"GET {BASE}/{unknown}", response(404, {"error": "Not Found"}))
    async with client_for(settings(audit_path), serve(fake), elicitation_callback=decline) as c:
        declined = await c.call_tool("signalwire_delete_sip_credential", {"id": CRED_ID})
        missing = await c.call_tool("signalwire_delete_sip_credential", {"id": unknown})
    assert declined.structured_content["status"] == "declined"
    assert missing.is_error and "not found" in text_of(missing).lower()
    assert fake.sent("DELETE") == []


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("signalwire_create_sip_credential", {"username": "anna desk"}, "username"),
        ("signalwire_create_sip_credential", {"username": "anna@example.com"}, "username"),
        ("signalwire_create_sip_credential", {"username": "anna", "send_as": "0301234567"}, "send_as"),
        ("signalwire_create_sip_credential", {"username": "anna", "password": "hunter22hunter22"}, "password"),
        ("signalwire_create_sip_credential", {"username": "anna", "codecs": ["G711"]}, "codecs"),
        ("signalwire_update_sip_credential", {"id": CRED_ID}, "nothing to change"),
        ("signalwire_update_sip_credential", {"id": "not-a-uuid", "caller_id": "x"}, "id"),
    ],
)
async def test_bad_input_names_the_field_and_sends_nothing(
    tool: str, args: dict[str, Any], field: str, fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(settings(audit_path), serve(fake), elicitation_callback=accept) as c:
        result = await c.call_tool(tool, args)
    assert result.is_error and field in text_of(result), text_of(result)
    assert fake.requests == []
