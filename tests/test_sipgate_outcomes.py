"""Ambiguous outcomes: a write that reached sipgate but whose answer never came back.

A duplicate SMS or a second outbound call is data corruption for the person on the other end, so
such a write is reported as "outcome unknown: check before repeating" with what was sent, it is
never retried, and the audit log keeps the intent and the unknown outcome. Reads and idempotent
writes, by contrast, are retried on 503 with `Retry-After`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import FakeUpstream, accept, client_for, response, sipgate_settings, text_of
from mcp import Client

pytestmark = pytest.mark.anyio

MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])

CALL_ID = "ABCDEF0123456789"
ME = "+4921112345678"
THEM = "+4915799912345"
MESSAGE = "Ihr Paket kommt heute zwischen 14 und 16 Uhr."

SMS = ("sipgate_send_sms", {"recipient": THEM, "message": MESSAGE}, "/v2/sessions/sms")
START = ("sipgate_start_call", {"caller": "e0", "callee": THEM}, "/v2/sessions/calls")
NON_IDEMPOTENT = [pytest.param(*SMS, id="send_sms"), pytest.param(*START, id="start_call")]
NO_ANSWER = [
    pytest.param(httpx2.ReadTimeout, id="read-timeout"),
    pytest.param(httpx2.RemoteProtocolError, id="connection-reset"),
]


def running_calls() -> dict:
    parties = [
        {"participantId": "e0", "phoneNumber": ME, "muted": False, "hold": False, "owner": True},
        {"participantId": "p1", "phoneNumber": THEM, "muted": False, "hold": False, "owner": False},
    ]
    return {"data": [{"callId": CALL_ID, "muted": False, "recording": False, "hold": False, "participants": parties}]}


def serve_lookups(fake: FakeUpstream) -> None:
    """The reads around the writes: userinfo and SMS senders for send_sms, running calls for call control."""
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0", "domain": "sipgate.de"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Zentrale", "callerId": ME}]}))
    fake.route("GET /v2/calls", response(200, running_calls()))


def received_then(error: type[httpx2.TransportError]) -> Callable[[httpx2.Request], httpx2.Response]:
    """sipgate got the request (FakeUpstream recorded it), then the answer was lost."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        raise error("the response never arrived", request=request)

    return answer


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def settings(audit_path: Path, **overrides: Any):
    # Token mode: these tests confirm by token as a means; the approval channel has its own tests.
    return sipgate_settings(audit_path, telco_mcp_allow_writes=True, **({"telco_mcp_confirm": "token"} | overrides))


async def confirmed_by_token(client: Client, tool: str, args: dict[str, Any]) -> tuple[Any, str]:
    preview = await client.call_tool(tool, args)
    assert preview.structured_content["status"] == "confirmation_required", text_of(preview)
    token = preview.structured_content["confirm_token"]
    return await client.call_tool(tool, args | {"confirm_token": token}), token


def assert_unknown_outcome_audited(audit_path: Path, tool: str) -> None:
    lines = audit_lines(audit_path)
    assert [(line["event"], line.get("outcome")) for line in lines] == [("intent", None), ("attempt", "unknown")]
    intent, attempt = lines
    assert intent["tool"] == attempt["tool"] == tool
    assert intent["attempt"] == attempt["attempt"]
    assert intent["request"]["method"] == "POST"


# ------------------------------------------------------------------ no answer after sending
@MODES
@pytest.mark.parametrize("error", NO_ANSWER)
@pytest.mark.parametrize(("tool", "args", "path"), NON_IDEMPOTENT)
async def test_a_lost_answer_to_a_non_idempotent_write_is_outcome_unknown_and_never_retried(
    fake: FakeUpstream,
    audit_path: Path,
    mode: str,
    error: type[httpx2.TransportError],
    tool: str,
    args: dict,
    path: str,
) -> None:
    serve_lookups(fake)
    fake.route(f"POST {path}", received_then(error))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[outcome_unknown] Outcome unknown")
    assert "check" in text.lower() and "not repeat" in text.lower()
    assert f"POST {path.removeprefix('/v2')}" in text and THEM in text  # what was sent
    if tool == "sipgate_send_sms":
        assert MESSAGE in text
    assert len(fake.sent("POST", path)) == 1
    assert_unknown_outcome_audited(audit_path, tool)


@MODES
@pytest.mark.parametrize("error", NO_ANSWER)
async def test_after_an_unknown_outcome_the_spent_confirm_token_cannot_send_the_sms_again(
    fake: FakeUpstream, audit_path: Path, mode: str, error: type[httpx2.TransportError]
) -> None:
    tool, args, path = SMS
    serve_lookups(fake)
    fake.route(f"POST {path}", received_then(error))
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result, token = await confirmed_by_token(client, tool, args)
        assert text_of(result).startswith("[outcome_unknown]")
        repeat = await client.call_tool(tool, args | {"confirm_token": token})
    assert repeat.is_error and text_of(repeat).startswith("[confirmation]")
    assert "already used" in text_of(repeat)
    assert len(fake.sent("POST", path)) == 1
    outcomes = [line.get("outcome") for line in audit_lines(audit_path) if line["event"] == "attempt"]
    assert outcomes == ["previewed", "unknown", "refused"]


@MODES
@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize(("tool", "args", "path"), NON_IDEMPOTENT)
async def test_a_gateway_error_on_a_non_idempotent_write_is_outcome_unknown_and_not_retried(
    fake: FakeUpstream, audit_path: Path, mode: str, status: int, tool: str, args: dict, path: str
) -> None:
    serve_lookups(fake)
    fake.route(f"POST {path}", response(status, headers={"Retry-After": "0"}))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[outcome_unknown] Outcome unknown") and f"answered {status}" in text
    assert "check" in text.lower()
    assert len(fake.sent("POST", path)) == 1
    assert_unknown_outcome_audited(audit_path, tool)


@MODES
async def test_a_lost_answer_to_a_hangup_is_outcome_unknown(fake: FakeUpstream, audit_path: Path, mode: str) -> None:
    serve_lookups(fake)
    fake.route(f"DELETE /v2/calls/{CALL_ID}", received_then(httpx2.ReadTimeout))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_hangup_call", {"call_id": CALL_ID})
    assert text_of(result).startswith("[outcome_unknown]")
    assert f"DELETE /calls/{CALL_ID}" in text_of(result)
    assert len(fake.sent("DELETE")) == 1


# ------------------------------------------------------------------ definite failures and retries
@MODES
async def test_a_503_on_send_sms_is_reported_and_not_retried(fake: FakeUpstream, audit_path: Path, mode: str) -> None:
    serve_lookups(fake)
    fake.route("POST /v2/sessions/sms", response(503, headers={"Retry-After": "0"}))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": THEM, "message": MESSAGE})
    assert result.is_error
    assert text_of(result).startswith("[upstream_unavailable]")
    assert len(fake.sent("POST", "/v2/sessions/sms")) == 1
    attempt = audit_lines(audit_path)[-1]
    assert (attempt["event"], attempt["outcome"], attempt["status"]) == ("attempt", "failed", 503)


@MODES
async def test_a_connection_that_never_opened_is_not_retried_for_a_write_and_says_nothing_was_sent(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_lookups(fake)
    fake.route("POST /v2/sessions/calls", received_then(httpx2.ConnectError))
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_start_call", {"caller": "e0", "callee": THEM})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[upstream_unavailable]") and "Nothing was sent" in text
    assert "Outcome unknown" not in text
    assert len(fake.sent("POST", "/v2/sessions/calls")) == 1


@MODES
async def test_a_503_with_retry_after_on_list_calls_is_retried_and_then_succeeds(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/calls", [response(503, headers={"Retry-After": "0"}), response(200, running_calls())])
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_calls", {})
    assert not result.is_error, text_of(result)
    assert [c["call_id"] for c in result.structured_content["calls"]] == [CALL_ID]
    assert len(fake.sent("GET", "/v2/calls")) == 2


@MODES
async def test_a_503_on_list_calls_is_retried_at_most_max_retries_times(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/calls", response(503, headers={"Retry-After": "0"}))
    async with client_for(settings(audit_path, telco_mcp_max_retries=3), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_calls", {})
    assert result.is_error and text_of(result).startswith("[upstream_unavailable]")
    assert len(fake.sent("GET", "/v2/calls")) == 4


@MODES
async def test_a_503_on_an_idempotent_hold_is_retried_because_it_sets_an_absolute_state(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    serve_lookups(fake)
    fake.route(f"PUT /v2/calls/{CALL_ID}/hold", [response(503, headers={"Retry-After": "0"}), response(204)])
    async with client_for(settings(audit_path), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_hold_call", {"call_id": CALL_ID, "value": True})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "applied"
    assert len(fake.sent("PUT")) == 2


@MODES
async def test_a_read_that_times_out_is_a_timeout_not_an_unknown_outcome(
    fake: FakeUpstream, audit_path: Path, mode: str
) -> None:
    fake.route("GET /v2/calls", received_then(httpx2.ReadTimeout))
    async with client_for(settings(audit_path), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_list_calls", {})
    assert result.is_error
    text = text_of(result)
    assert text.startswith("[timeout]") and "Nothing was changed" in text
    assert not audit_path.exists()
