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
