"""The whole consent matrix, counting the writes that reach the provider (the embedded sandbox):

    TELCO_MCP_CONFIRM  x  a client that elicits / one that does not  x  both protocol eras
                       x  the human's answer: yes, no, cancel, no answer at all

A write reaches the provider only after a human's yes given out of the model's reach (elicitation,
the approval page, the terminal), or when the operator chose `token` (the model relays the yes) or
`off` (nobody is asked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from .conftest import SMS, Browser, client, csrf_of, server_for, writes

pytestmark = pytest.mark.anyio
PIN = "972-5531"
ANSWERS = ["yes", "no", "cancel", "none"]


class Human:
    """The person behind an eliciting client: answers forms and URL prompts, or never answers."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        if self.answer == "none":
            await anyio.sleep_forever()
        if self.answer == "cancel":
            return ElicitResult(action="cancel")
        if params.mode == "url":
            return ElicitResult(action="accept")  # opens the page; the decision is made there
        if self.answer == "no":
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"confirm": True})


async def decide_with_pin(url: str, approve: bool) -> None:
    """The approver following a link without a launch code: sign in with the PIN, then decide."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
        signin = await http.get(url)
        origin = f"{signin.url.scheme}://{signin.url.netloc.decode()}"
        page = await http.post(
            f"{origin}/approvals/signin",
            data={"csrf": csrf_of(signin.text), "pin": PIN, "next": str(signin.url.path)},
            headers={"Origin": origin},
        )
        await http.post(
            str(page.url) + "/decide",
            data={"csrf": csrf_of(page.text), "decision": "approve" if approve else "deny", "pin": PIN},
            headers={"Origin": origin},
        )


def expected_writes(confirm: str, eliciting: bool, answer: str) -> int:
    if confirm == "off":
        return 1
    if confirm == "elicit" and not eliciting:
        return 0
    return 1 if answer == "yes" else 0


@pytest.mark.parametrize("answer", ANSWERS)
@pytest.mark.parametrize("era", ["auto", "legacy"])
@pytest.mark.parametrize("eliciting", [True, False], ids=["eliciting", "plain"])
@pytest.mark.parametrize("confirm", ["auto", "elicit", "approval", "token", "off"])
async def test_a_write_reaches_the_provider_only_after_a_humans_yes(
    confirm: str, eliciting: bool, era: str, answer: str, audit_path: Path, browser: Browser
) -> None:
    extra: dict[str, Any] = {"telco_mcp_confirm_off_acknowledged": True} if confirm == "off" else {}
    server = server_for(audit_path, telco_mcp_confirm=confirm, telco_mcp_approver_pin=PIN, **extra)
    human = Human(answer)
    kwargs: dict[str, Any] = {"elicitation_callback": human} if eliciting else {}
    async with client(server, mode=era, **kwargs) as c:
        with anyio.move_on_after(2):  # "no answer": the client never comes back with one
            first = await c.call_tool("sipgate_send_sms", SMS)
            data = first.structured_content or {}
            status = data.get("status")
            if status == "approval_pending":
                approval_id = data["approval_id"]
                if answer in ("yes", "no"):
                    # With a PIN no link carries a launch code: the browser's (or, for an eliciting client
                    # under `approval`, the one URL-mode elicitation showed) leads to the PIN sign-in.
                    # The browser is started as a process: wait for it (`links`) unless the client showed the link.
                    shown = [p.url for p in human.asked if p.mode == "url"]  # type: ignore[union-attr]
                    link = shown[-1] if shown else browser.links()[0]
                    await decide_with_pin(link, answer == "yes")
                await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
            elif status == "confirmation_required" and answer == "yes":  # token mode: the model relays the yes
                await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": data["confirm_token"]})
    assert len(writes(server)) == expected_writes(confirm, eliciting, answer)
    if eliciting and confirm in ("auto", "elicit", "token"):
        assert [p.mode for p in human.asked] == ["form"], "an eliciting client is always asked, by a form"
    if confirm == "approval" and eliciting:
        assert all(p.mode == "url" for p in human.asked), "the approver is not the chat user: never a form"


@pytest.mark.parametrize("era", ["auto", "legacy"])
async def test_under_elicit_a_valid_token_from_an_eliciting_client_sends_nothing(audit_path: Path, era: str) -> None:
    """The surviving mutant of issue 12 §6: an eliciting client with a genuine token, under `elicit`."""
    from telco_mcp.safety.confirm import ConfirmationTokens

    secret = "matrix-test-confirm-secret-0123456789abcdef"
    server = server_for(audit_path, telco_mcp_confirm="elicit", telco_mcp_confirm_secret=secret)
    canonical = {"recipient": "+4915799912345", "message": SMS["message"]}
    token = ConfirmationTokens(secret.encode()).issue("sipgate_send_sms", canonical)[0]
    human = Human("no")
    async with client(server, mode=era, elicitation_callback=human) as c:
        result = await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
    assert result.is_error and "TELCO_MCP_CONFIRM=elicit" in "".join(getattr(b, "text", "") for b in result.content)
    assert writes(server) == []
