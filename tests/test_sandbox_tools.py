"""The tools against the embedded sandbox: branches that only the sandbox's seed and answers reach.

The server is built in sandbox mode exactly as `telco-mcp serve` without credentials builds it;
the sandbox's own request log shows what reached the simulated providers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import spec_requests
from conftest import accept, make_settings, text_of
from mcp import Client

from telco_mcp.sandbox import Sandbox
from telco_mcp.server import build_server

pytestmark = [pytest.mark.anyio, pytest.mark.contract]  # the request check reads the cuts

SMS = {"recipient": "+4915799912345", "message": "Trunk to Frankfurt is down"}


def sandbox_server(audit_path: Path, **settings: Any) -> tuple[Any, Sandbox]:
    server = build_server(make_settings(audit_path, telco_mcp_sandbox=True, **settings))
    sandbox = server.telco_runtime.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, Sandbox)
    return server, spec_requests.watch(sandbox)  # every request the tools send it is checked against the spec


@pytest.fixture(autouse=True)
def _requests_match_the_spec() -> Iterator[None]:
    yield from spec_requests.check_watched()


def reads_of(sandbox: Sandbox, path: str) -> int:
    return sum(1 for r in sandbox.requests if r.method == "GET" and r.path == path)


@pytest.mark.parametrize(
    ("arguments", "client_kwargs", "status", "rounds"),
    [
        # 2025-11-25 handshake: the user is asked by elicitation inside the one call, then the sender is read
        # again (what they said yes to must still be true after their answer) and it is sent
        ({}, {"elicitation_callback": accept, "mode": "legacy"}, "applied", 2),
        # 2026-07-28: the question rides an InputRequiredResult and the answer comes on a retry of the
        # call, which recomputes the question to check it is the one the user answered: one read per round
        ({}, {"elicitation_callback": accept}, "applied", 2),
        ({"dry_run": True}, {"elicitation_callback": accept}, "dry_run", 1),
        ({}, {}, "approval_pending", 1),  # a client that cannot elicit gets a pending approval
    ],
)
async def test_send_sms_reads_the_sender_list_once_per_call(
    audit_path: Path, arguments: dict[str, Any], client_kwargs: dict[str, Any], status: str, rounds: int
) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, **client_kwargs) as client:
        result = await client.call_tool("sipgate_send_sms", SMS | arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == status
    assert reads_of(sandbox, "/v2/w0/sms") == rounds


async def test_send_sms_with_a_token_reads_the_sender_list_once_per_call(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path, telco_mcp_confirm="token")
    async with Client(server) as client:
        preview = await client.call_tool("sipgate_send_sms", SMS)
        token = preview.structured_content["confirm_token"]
        sent = await client.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
    assert sent.structured_content["status"] == "applied", text_of(sent)
    assert reads_of(sandbox, "/v2/w0/sms") == 2  # one per call: the preview and the confirmed send
    assert len(sandbox.outbox) == 1


# ------------------------------------------------------------------ possible vs valid numbers
EXAMPLE = "+15551234567"  # SignalWire's own example for default_send_as: possible, but in no assigned range


async def test_a_shown_number_from_the_providers_examples_is_accepted_where_no_money_moves(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        profile = await client.call_tool("signalwire_update_sip_profile", {"default_send_as": "+1 555 123 4567"})
        call_id = next(iter(sandbox.state.sipgate.calls))
        shown = [
            ("sipgate_transfer_call", {"call_id": call_id, "phone_number": "+493023125499", "caller_id": EXAMPLE}),
            ("sipgate_start_call", {"caller": "e0", "callee": "+493023125499", "caller_id": EXAMPLE}),
        ]
        previews = [await client.call_tool(name, args | {"dry_run": True}) for name, args in shown]
        history = await client.call_tool("sipgate_list_history", {"phonenumber": EXAMPLE})
    assert profile.structured_content["status"] == "applied", text_of(profile)
    assert sandbox.state.signalwire.sip_profile["default_send_as"] == EXAMPLE
    for preview in previews:
        assert preview.structured_content["status"] == "dry_run", text_of(preview)
        assert preview.structured_content["request"]["body"]["callerId"] == EXAMPLE
    assert not history.is_error, text_of(history)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("sipgate_transfer_call", {"call_id": "ABCDEF0123456789", "phone_number": EXAMPLE}),
        ("sipgate_start_call", {"caller": "e0", "callee": EXAMPLE}),
        ("sipgate_send_sms", {"recipient": EXAMPLE, "message": "hi"}),
    ],
)
async def test_a_number_that_is_dialled_or_texted_must_still_be_valid(
    audit_path: Path, tool: str, arguments: dict[str, Any]
) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        result = await client.call_tool(tool, arguments | {"dry_run": True})
    assert result.is_error and "not a valid number" in text_of(result)
    assert sandbox.requests == []


@pytest.mark.parametrize("junk", ["1", "+49", "call me", "+1555123456789012"])
async def test_a_shown_number_must_still_be_a_possible_number(audit_path: Path, junk: str) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        profile = await client.call_tool("signalwire_update_sip_profile", {"default_send_as": junk})
        history = await client.call_tool("sipgate_list_history", {"phonenumber": junk})
    assert profile.is_error and "default_send_as" in text_of(profile)
    assert history.is_error and "phonenumber" in text_of(history)
    assert sandbox.requests == []


# ------------------------------------------------------------------ SMS text
@pytest.mark.parametrize("text", ["  indented", "signed\n-- \nOps\n", "\ttab and trailing space "])
async def test_sms_text_is_sent_exactly_as_written(audit_path: Path, text: str) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": "+4915799912345", "message": text})
    assert result.structured_content["status"] == "applied", text_of(result)
    assert [sms["message"] for sms in sandbox.outbox] == [text]


async def test_an_sms_of_only_whitespace_is_refused_before_anything_is_sent(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    async with Client(server, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": "+4915799912345", "message": " \n\t"})
    assert result.is_error and "message" in text_of(result)
    assert sandbox.requests == []


# ------------------------------------------------------------------ paging through canonical links
async def test_signalwire_lists_page_through_the_sandboxs_canonical_links(audit_path: Path) -> None:
    """The sandbox prints https://sandbox.signalwire.com in links.next, as the real API prints its own
    host; the server is configured with another base URL and must page on it all the same."""
    server, sandbox = sandbox_server(audit_path)
    seen: list[str] = []
    async with Client(server) as client:
        arguments: dict[str, Any] = {"limit": 100}
        for _ in range(3):
            page = await client.call_tool("signalwire_list_recordings", arguments)
            assert not page.is_error, text_of(page)
            seen += [item["id"] for item in page.structured_content["items"]]
            arguments = {"cursor": page.structured_content["next_cursor"]}
    assert len(seen) == len(set(seen)) == 300
    # the list declares no page size: each call of 100 reads two of the sandbox's default pages of 50
    assert [(r.status, r.query) for r in sandbox.requests][:2] == [
        (200, []),
        (200, [("page_number", "1"), ("page_size", "50"), ("page_token", ANY)]),
    ]
    assert [r.status for r in sandbox.requests] == [200] * 6


# ------------------------------------------------------------------ conference recordings, anonymous callers
async def test_conference_recordings_are_listed_read_and_deleted(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    conference = next(r for r in sandbox.state.signalwire.recordings.values() if "relay_conference_id" in r)
    async with Client(server, elicitation_callback=accept) as client:
        found: dict[str, Any] | None = None
        arguments: dict[str, Any] = {"limit": 100}
        while found is None:
            page = await client.call_tool("signalwire_list_recordings", arguments)
            found = next((i for i in page.structured_content["items"] if i["id"] == conference["id"]), None)
            arguments = {"cursor": page.structured_content["next_cursor"]}
        got = await client.call_tool("signalwire_get_recording", {"id": conference["id"]})
        deleted = await client.call_tool("signalwire_delete_recording", {"id": conference["id"]})
    for item in (found, got.structured_content):
        assert (item["leg_type"], item["leg_id"]) == ("conference", conference["relay_conference_id"])
        assert "conference_id" not in item  # only a leg recording names the conference it was part of
    assert deleted.structured_content["status"] == "applied", text_of(deleted)
    assert f'(conference "{conference["relay_conference_id"]}" from' in deleted.structured_content["summary"]
    assert conference["id"] not in sandbox.state.signalwire.recordings


async def test_a_call_from_an_anonymous_caller_is_listed_and_controlled(audit_path: Path) -> None:
    server, sandbox = sandbox_server(audit_path)
    questions: list[str] = []

    async def confirm(context: Any, params: Any) -> Any:
        questions.append(params.message)
        return await accept(context, params)

    async with Client(server, elicitation_callback=confirm) as client:
        listed = await client.call_tool("sipgate_list_calls", {})
        call = next(
            c for c in listed.structured_content["calls"] if any("phone_number" not in p for p in c["participants"])
        )
        held = await client.call_tool("sipgate_hold_call", {"call_id": call["call_id"], "value": True})
        moved = await client.call_tool(
            "sipgate_transfer_call", {"call_id": call["call_id"], "phone_number": "+493023125499"}
        )
    anonymous = next(p for p in call["participants"] if not p.get("owner"))
    assert "phone_number" not in anonymous  # sipgate's empty phoneNumber is absent, not ""
    assert held.structured_content["status"] == "applied", text_of(held)
    assert held.structured_content["result"]["call"]["hold"] is True
    assert "(with anonymous)" in questions[0]
    assert moved.structured_content["status"] == "applied", text_of(moved)
    assert moved.structured_content["result"]["call"]["call_id"] != call["call_id"]  # blind transfer: a new id
