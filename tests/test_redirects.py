"""Upstream redirects are never followed: a 3xx is reported as an unexpected response.

A followed redirect could re-send a write somewhere else or carry the credentials to another origin.
These tests go through the server's own provider clients (not a client built here), so switching
`follow_redirects` on anywhere on the way makes them fail.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from conftest import (
    SG_TOKEN,
    SG_TOKEN_ID,
    SW_PROJECT,
    FakeUpstream,
    accept,
    client_for,
    response,
    signalwire_settings,
    text_of,
)

pytestmark = pytest.mark.anyio

GW_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"
GW_PATH = f"/api/fabric/resources/sip_gateways/{GW_ID}"
PROFILE = "/api/relay/rest/sip_profile"
ELSEWHERE = "/elsewhere"
GATEWAY = {
    "id": GW_ID,
    "project_id": SW_PROJECT,
    "display_name": "Trunk A",
    "type": "sip_gateway",
    "created_at": "2026-03-01T09:12:44Z",
    "updated_at": "2026-03-02T17:03:10Z",
    "sip_gateway": {"id": GW_ID, "uri": "sip:gw.example.com", "name": "Trunk A", "ciphers": [], "codecs": ["OPUS"],
                    "encryption": "optional"},
}  # fmt: skip


def redirect(status: int, location: str) -> httpx2.Response:
    return response(status, headers={"Location": location})


def target(fake: FakeUpstream, location_kind: str) -> str:
    """A Location that would answer 200 if followed, on this origin or another one."""
    for method in ("GET", "PATCH", "POST", "PUT", "DELETE"):
        fake.route(f"{method} {ELSEWHERE}", response(200, GATEWAY))
    return ELSEWHERE if location_kind == "same-origin" else f"https://evil.example{ELSEWHERE}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("location_kind", ["same-origin", "other-origin"])
async def test_a_read_answered_with_a_redirect_is_an_unexpected_response_and_not_followed(
    audit_path: Path, status: int, location_kind: str
) -> None:
    fake = FakeUpstream()
    fake.route(f"GET {PROFILE}", redirect(status, target(fake, location_kind)))

    async with client_for(signalwire_settings(audit_path), fake) as client:
        result = await client.call_tool("signalwire_get_sip_profile", {})

    assert result.is_error
    assert text_of(result).startswith("[unexpected_response]") and f"unexpected status {status}" in text_of(result)
    assert [r.url.path for r in fake.requests] == [PROFILE], "the redirect was not followed"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("location_kind", ["same-origin", "other-origin"])
async def test_a_write_answered_with_a_redirect_is_an_unexpected_response_and_sent_once(
    audit_path: Path, status: int, location_kind: str
) -> None:
    fake = FakeUpstream()
    fake.route(f"GET {GW_PATH}", response(200, GATEWAY))
    fake.route(f"PATCH {GW_PATH}", redirect(status, target(fake, location_kind)))
    settings = signalwire_settings(audit_path, telco_mcp_allow_writes=True)

    async with client_for(settings, fake, elicitation_callback=accept) as client:
        result = await client.call_tool("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"})

    assert result.is_error
    assert text_of(result).startswith("[unexpected_response]") and f"unexpected status {status}" in text_of(result)
    writes = [r for r in fake.requests if r.method != "GET"]
    assert [(r.method, r.url.path) for r in writes] == [("PATCH", GW_PATH)], "sent once, never re-sent elsewhere"
    assert all(r.url.path != ELSEWHERE for r in fake.requests)


@pytest.mark.parametrize("status", [302, 307])
async def test_a_sipgate_write_answered_with_a_redirect_does_not_carry_the_credentials_on(
    audit_path: Path, status: int
) -> None:
    fake = FakeUpstream()
    fake.route("GET /v2/calls", response(200, {"data": [{"callId": "c1", "participants": []}]}))
    fake.route("DELETE /v2/calls/c1", redirect(status, target(fake, "other-origin")))
    settings = signalwire_settings(
        audit_path, sipgate_token_id=SG_TOKEN_ID, sipgate_token=SG_TOKEN, telco_mcp_allow_writes=True
    )

    async with client_for(settings, fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_hangup_call", {"call_id": "c1"})

    assert result.is_error and "[unexpected_response]" in text_of(result)
    assert [r.url.host for r in fake.requests if r.url.path == ELSEWHERE] == []
    assert len([r for r in fake.requests if r.method == "DELETE"]) == 1
