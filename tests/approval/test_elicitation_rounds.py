"""A 2026-07-28 elicitation answer counts only for the question it answers, only within
`TELCO_MCP_CONFIRM_TTL`, and only a client that declares form elicitation is asked a form question
(issue 22, section 5: each of these broke without a test noticing).

The answer to a 2026-07-28 question comes on a retry of the call, with the `requestState` the server
sealed in the first round (the SDK binds it to the tool and the exact arguments, ours carries the
question's digest and when it was asked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import ClientRequestContext
from mcp.server.request_state import AESGCMRequestStateCodec
from mcp.types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    CallToolResult,
    ElicitRequestParams,
    ElicitResult,
    InputRequiredResult,
    InputResponses,
)

from telco_mcp.safety import keys

from .conftest import SMS, Browser, client, server_for, writes
from .test_session_binding import TOKEN, http_server

pytestmark = pytest.mark.anyio

SECRET = "elicitation-rounds-confirm-secret-0123456789"
YES: InputResponses = {"telco_mcp:confirm": ElicitResult(action="accept", content={"confirm": True})}


async def answered_by_hand(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    raise AssertionError("the rounds are driven by hand here")


def text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(result, "content", []))


def question(result: InputRequiredResult) -> str:
    [request] = (result.input_requests or {}).values()
    return request.params.message  # type: ignore[union-attr]


async def _number(c: Any) -> dict[str, Any]:
    numbers = (await c.call_tool("signalwire_list_phone_numbers", {})).structured_content["items"]
    return next(n for n in numbers if n.get("number_type") == "longcode")


async def test_an_answer_is_accepted_only_for_the_question_it_answers(audit_path: Path) -> None:
    """The question showed the number's routing (old -> new); re-routed before the answer came back, the yes
    answers a question that is no longer the one this call would ask: nothing is sent, the person is asked
    again with what is true now."""
    server = server_for(audit_path, telco_mcp_toolsets="all", telco_mcp_confirm="elicit")
    async with client(server, elicitation_callback=answered_by_hand) as c:
        number = await _number(c)
        args = {"id": number["id"], "call_handler": "relay_topic", "call_relay_topic": "night-desk"}
        first = await c.session.call_tool("signalwire_update_phone_number", args, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        server.telco_runtime.sandbox.state.signalwire.phone_numbers[number["id"]]["call_relay_topic"] = "colleagues"
        retry = await c.session.call_tool(
            "signalwire_update_phone_number", args, input_responses=YES, request_state=first.request_state,
            allow_input_required=True,
        )  # fmt: skip
        assert isinstance(retry, InputRequiredResult), text(retry)
        assert question(retry) != question(first) and "colleagues" in question(retry)
        assert writes(server) == []
        # the yes to the question as it is now is accepted
        applied = await c.session.call_tool(
            "signalwire_update_phone_number", args, input_responses=YES, request_state=retry.request_state,
            allow_input_required=True,
        )  # fmt: skip
    assert isinstance(applied, CallToolResult) and applied.structured_content["status"] == "applied"  # type: ignore[index]
    assert writes(server) == [("PUT", f"/api/relay/rest/phone_numbers/{number['id']}")]


def aged(sealed: str, seconds: float) -> str:
    """`sealed` as if its question had been asked `seconds` earlier: what a person answering that late sends.

    Unsealed and sealed again with the request-state key the server derives from TELCO_MCP_CONFIRM_SECRET (as
    another replica would seal it), the SDK's envelope (binding, expiry) untouched."""
    codec = AESGCMRequestStateCodec([keys.derive(SECRET.encode(), keys.REQUEST_STATE)])
    claims = json.loads(codec.unseal(sealed))
    ours = json.loads(claims["s"])
    claims["s"] = json.dumps(ours | {"t": ours["t"] - seconds})
    return codec.seal(json.dumps(claims).encode())


@pytest.mark.parametrize(("late", "sent"), [(35, False), (20, True)], ids=["after-the-ttl", "within-the-ttl"])
async def test_an_answer_is_accepted_only_within_telco_mcp_confirm_ttl(
    audit_path: Path, late: float, sent: bool
) -> None:
    server = server_for(audit_path, telco_mcp_confirm_ttl=30, telco_mcp_confirm_secret=SECRET)
    async with client(server, elicitation_callback=answered_by_hand) as c:
        first = await c.session.call_tool("sipgate_send_sms", SMS, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.request_state
        retry = await c.session.call_tool(
            "sipgate_send_sms", SMS, input_responses=YES, request_state=aged(first.request_state, late),
            allow_input_required=True,
        )  # fmt: skip
    if sent:
        assert isinstance(retry, CallToolResult) and retry.structured_content["status"] == "applied"  # type: ignore[index]
        assert writes(server) == [("POST", "/v2/sessions/sms")]
    else:
        assert isinstance(retry, InputRequiredResult), "too late: the person is asked again"
        assert writes(server) == []


@pytest.mark.parametrize("pin", [None, "4711-0815"], ids=["no-pin", "pin"])
async def test_a_client_that_declares_only_url_elicitation_is_never_asked_a_form_question(
    audit_path: Path, pin: str | None, browser: Browser
) -> None:
    """A raw 2026-07-28 request over streamable HTTP declaring `elicitation: {url: {}}` (the SDK's client always
    declares both modes): the write goes to the approval page, by a URL question when the page takes a PIN."""
    overrides = {"telco_mcp_approver_pin": pin} if pin else {}
    with http_server(audit_path, "http", **overrides) as (server, base):
        meta = {
            PROTOCOL_VERSION_META_KEY: "2026-07-28",
            CLIENT_INFO_META_KEY: {"name": "url-only", "version": "1.0"},
            CLIENT_CAPABILITIES_META_KEY: {"elicitation": {"url": {}}},
        }
        call = {"name": "sipgate_send_sms", "arguments": SMS, "_meta": meta}
        headers = {
            "Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "sipgate_send_sms",
        }  # fmt: skip
        async with httpx2.AsyncClient(timeout=30) as http:
            answer = await http.post(
                base + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}, headers=headers
            )
        result = answer.json()["result"]
        asked = [r["params"] for r in (result.get("inputRequests") or {}).values()]
        assert all(p.get("mode") == "url" and "requestedSchema" not in p for p in asked), asked
        if pin:
            assert len(asked) == 1 and "/approvals/a/apr_" in asked[0]["url"]
        else:
            assert asked == [] and result["structuredContent"]["status"] == "approval_pending"
        assert writes(server) == []
