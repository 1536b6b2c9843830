"""The SignalWire writes of issue 13 through the out-of-band approval page, against the embedded sandbox.

Their requests depend on lookups (the SMS sender among the project's numbers, the number's current
routing), so the request rebuilt when the approved write is sent must be the one the person saw, and
the write reaches the provider exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Browser, client, decide_in_browser, server_for, writes

pytestmark = pytest.mark.anyio


async def _number(c: Any, **where: Any) -> dict[str, Any]:
    numbers = (await c.call_tool("signalwire_list_phone_numbers", {})).structured_content["items"]
    return next(n for n in numbers if all(n.get(k) == v for k, v in where.items()))


async def test_an_approved_signalwire_sms_is_sent_once(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_toolsets="all")
    async with client(server) as c:
        sender = (await _number(c, number_type="longcode", name=None))["number"]
        args = {"to_number": "+1 202 555 0123", "from_number": sender, "body": "The trunk is back"}
        pending = (await c.call_tool("signalwire_send_message", args)).structured_content
        assert pending["status"] == "approval_pending" and writes(server) == []
        await decide_in_browser(browser.links()[0])
        retry = args | {"approval_id": pending["approval_id"]}
        applied = await c.call_tool("signalwire_send_message", retry)
        replayed = await c.call_tool("signalwire_send_message", retry)
    assert applied.structured_content["status"] == "applied", applied.content
    assert replayed.is_error
    assert writes(server) == [("POST", "/api/messaging/messages")]


async def test_a_sender_released_since_the_approval_sends_nothing(audit_path: Path, browser: Browser) -> None:
    """The sender is looked up again when the approved write is sent: gone from the project, nothing is sent."""
    server = server_for(audit_path, telco_mcp_toolsets="all")
    async with client(server) as c:
        sender = await _number(c, number_type="longcode", name=None)
        args = {"to_number": "+1 202 555 0123", "from_number": sender["number"], "body": "The trunk is back"}
        pending = (await c.call_tool("signalwire_send_message", args)).structured_content
        await decide_in_browser(browser.links()[0])
        del server.telco_runtime.sandbox.state.signalwire.phone_numbers[sender["id"]]  # released meanwhile
        late = await c.call_tool("signalwire_send_message", args | {"approval_id": pending["approval_id"]})
    text = "\n".join(getattr(block, "text", "") for block in late.content)
    assert late.is_error and "is not one of this project's numbers" in text, text
    assert writes(server) == []


@pytest.mark.parametrize("confirm", ["auto", "token"])
@pytest.mark.parametrize("changed", [True, False], ids=["routing-changed-meanwhile", "unchanged"])
async def test_a_yes_holds_only_while_what_the_person_read_is_true(
    audit_path: Path, browser: Browser, changed: bool, confirm: str
) -> None:
    """The question showed the number's routing before the change (old -> new). If someone re-routes the
    number between the yes (an approval, or a confirmation the model relays with a token) and the write,
    the person agreed to a change from a state that is gone: nothing is sent."""
    server = server_for(audit_path, telco_mcp_toolsets="all", telco_mcp_confirm=confirm)
    async with client(server) as c:
        number = await _number(c, number_type="longcode")
        args = {"id": number["id"], "call_handler": "relay_topic", "call_relay_topic": "night-desk"}
        first = (await c.call_tool("signalwire_update_phone_number", args)).structured_content
        assert "->" in first["summary"]
        if confirm == "auto":
            assert first["status"] == "approval_pending"
            await decide_in_browser(browser.links()[0])
            retry = args | {"approval_id": first["approval_id"]}
        else:
            assert first["status"] == "confirmation_required"
            retry = args | {"confirm_token": first["confirm_token"]}
        if changed:  # a colleague points the number elsewhere in SignalWire's dashboard meanwhile
            held = server.telco_runtime.sandbox.state.signalwire.phone_numbers[number["id"]]
            held["call_relay_topic"] = "colleagues-topic"
        late = await c.call_tool("signalwire_update_phone_number", retry)
    text = "\n".join(getattr(block, "text", "") for block in late.content)
    if changed:
        assert late.is_error and "no longer true" in text and "Nothing was sent" in text, text
        assert writes(server) == []
    else:
        assert late.structured_content["status"] == "applied", text
        assert writes(server) == [("PUT", f"/api/relay/rest/phone_numbers/{number['id']}")]


@pytest.mark.parametrize("changed", [True, False], ids=["re-routed-while-asked", "unchanged"])
async def test_an_in_call_yes_holds_only_if_the_state_it_asked_about_is_still_true(
    audit_path: Path, changed: bool
) -> None:
    """2025-era elicitation waits inside the call for the person's answer, maybe for minutes: the number is
    read again after the yes, and a change meanwhile sends nothing."""
    from mcp.types import ElicitResult

    server = server_for(audit_path, telco_mcp_toolsets="all", telco_mcp_confirm="elicit")
    asked: list[str] = []
    holder: dict[str, Any] = {}

    async def person(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        if changed:  # a colleague re-routes the number while the question is open
            server.telco_runtime.sandbox.state.signalwire.phone_numbers[holder["id"]]["call_relay_topic"] = "other"
        return ElicitResult(action="accept", content={"confirm": True})

    async with client(server, mode="legacy", elicitation_callback=person) as c:
        number = await _number(c, number_type="longcode")
        holder["id"] = number["id"]
        args = {"id": number["id"], "call_handler": "relay_topic", "call_relay_topic": "night-desk"}
        result = await c.call_tool("signalwire_update_phone_number", args)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert len(asked) == 1 and "->" in asked[0]
    if changed:
        assert result.is_error and "no longer true" in text and "Nothing was sent" in text, text
        assert writes(server) == []
    else:
        assert result.structured_content["status"] == "applied", text
        assert writes(server) == [("PUT", f"/api/relay/rest/phone_numbers/{number['id']}")]
