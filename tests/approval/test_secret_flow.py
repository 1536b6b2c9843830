"""A SIP password never passes through the model (issue 13): the approver types it on the approval page, or
has a strong one generated and shown there once; the write pipeline puts it into the request only as it
leaves. It is in no tool argument, result, audit line, error or log; modes without a channel a person reads
refuse the password tools and name the mode.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from telco_mcp.operation import SECRET_PLACEHOLDER

from .conftest import Browser, client, csrf_of, decide_in_browser, follow, server_for, submit, writes

pytestmark = pytest.mark.anyio
CREATE = {"username": "anna-desk", "caller_id": "Anna"}
TYPED = "Tr0ub4dor-and-3"
PIN = "4711-2468"


def everything(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content) + json.dumps(result.structured_content or {})


def passwords(server: Any) -> dict[str, str]:
    return server.telco_runtime.sandbox.state.signalwire.sip_passwords


def sandbox_server(audit: Path, **overrides: Any) -> Any:
    return server_for(audit, **({"telco_mcp_toolsets": "all"} | overrides))


async def test_the_approver_types_the_password_and_only_the_provider_gets_it(
    audit_path: Path, browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = sandbox_server(audit_path)
    async with client(server) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert "password" not in json.dumps(tools["signalwire_create_sip_credential"].input_schema)
        pending = await c.call_tool("signalwire_create_sip_credential", CREATE)
        data = pending.structured_content
        assert data["status"] == "approval_pending", everything(pending)
        assert "password is set by you on the approval page" in data["summary"]
        page = await decide_in_browser(browser.links()[0], secret_mode="typed", secret=TYPED, secret_repeat=TYPED)
        assert "Approved" in page.text and TYPED not in page.text
        applied = await c.call_tool("signalwire_create_sip_credential", CREATE | {"approval_id": data["approval_id"]})
    assert applied.structured_content["status"] == "applied", everything(applied)
    created = applied.structured_content["result"]
    assert created["username"] == "anna-desk" and created["caller_id"] == "Anna"
    assert passwords(server)[created["id"]] == TYPED  # the provider has exactly what the person typed
    assert writes(server) == [("POST", "/api/fabric/resources/sip_endpoints")]
    for where in (everything(pending), everything(applied), audit_path.read_text(), caplog.text):
        assert TYPED not in where
    intent = next(json.loads(x) for x in audit_path.read_text().splitlines() if '"intent"' in x)
    assert intent["request"]["body"]["password"] == SECRET_PLACEHOLDER  # the audit shows what the approver saw


async def test_a_generated_password_is_shown_once_on_the_page_and_is_what_the_provider_gets(
    audit_path: Path, browser: Browser
) -> None:
    server = sandbox_server(audit_path)
    async with client(server) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        link = browser.links()[0]
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
            page = await follow(http, link)
            assert 'name="secret_mode" value="generate" checked' in page.text  # the strong default
            decided = await submit(http, page, "approve", secret_mode="generate")
            shown = re.search(r'<code id="secret_value">([A-Za-z0-9]+)</code>', decided.text)
            assert shown and len(shown.group(1)) == 24, decided.text
            again = await http.get(str(page.url))
            assert shown.group(1) not in again.text  # once
        applied = await c.call_tool(
            "signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]}
        )
    created = applied.structured_content["result"]
    assert passwords(server)[created["id"]] == shown.group(1)
    assert shown.group(1) not in everything(applied)


@pytest.mark.parametrize(
    ("typed", "repeat", "why"),
    [
        ("short-1", "short-1", "12 to 128"),
        (TYPED, TYPED + "x", "differ"),
        ("with space 12345", "with space 12345", "spaces"),
    ],
)
async def test_an_unusable_typed_password_decides_nothing(
    typed: str, repeat: str, why: str, audit_path: Path, browser: Browser
) -> None:
    server = sandbox_server(audit_path)
    async with client(server) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        page = await decide_in_browser(browser.links()[0], secret_mode="typed", secret=typed, secret_repeat=repeat)
        assert page.status_code == 400 and why in page.text and typed not in page.text
        still = await c.call_tool("signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]})
    assert still.structured_content["status"] == "approval_pending"
    assert writes(server) == []


async def test_a_client_with_form_elicitation_is_not_asked_for_a_password_in_a_form(
    audit_path: Path, browser: Browser
) -> None:
    asked: list[str] = []

    async def answer(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    server = sandbox_server(audit_path)
    async with client(server, elicitation_callback=answer) as c:
        result = await c.call_tool("signalwire_create_sip_credential", CREATE)
        # a change without a new password is an ordinary write: the form question is fine there
        credential = (await c.call_tool("signalwire_list_sip_credentials", {})).structured_content["items"][0]
        plain = await c.call_tool("signalwire_update_sip_credential", {"id": credential["id"], "caller_id": "Desk"})
    assert result.structured_content["status"] == "approval_pending"
    assert not plain.is_error and plain.structured_content["status"] == "applied", everything(plain)
    assert len(asked) == 1 and "Update SIP credential" in asked[0]  # only the password-free write asked in a form


@pytest.mark.parametrize(
    ("mode", "extra", "said"),
    [
        ("token", {}, "TELCO_MCP_CONFIRM=token offers neither"),
        ("off", {"telco_mcp_confirm_off_acknowledged": True}, "TELCO_MCP_CONFIRM=off offers neither"),
        ("elicit", {}, "TELCO_MCP_CONFIRM=elicit offers neither"),
    ],
)
async def test_modes_without_a_channel_a_person_reads_refuse_and_name_the_mode(
    mode: str, extra: dict[str, Any], said: str, audit_path: Path
) -> None:
    server = sandbox_server(audit_path, telco_mcp_confirm=mode, **extra)
    async with client(server) as c:
        created = await c.call_tool("signalwire_create_sip_credential", CREATE)
        credential = (await c.call_tool("signalwire_list_sip_credentials", {})).structured_content["items"][0]
        reset = await c.call_tool("signalwire_update_sip_credential", {"id": credential["id"], "new_password": True})
    for result in (created, reset):
        assert result.is_error and said in everything(result), everything(result)
    assert writes(server) == []


async def test_a_terminal_or_bulk_approval_cannot_approve_a_password_write(audit_path: Path, browser: Browser) -> None:
    server = sandbox_server(audit_path, telco_mcp_approver_pin=PIN)
    async with client(server) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        service = server.telco_runtime.approvals
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
            signin = await http.get(service.list_url())
            origin = f"{signin.url.scheme}://{signin.url.netloc.decode()}"
            listing = await http.post(
                str(signin.url.join("/approvals/signin")),
                data={"csrf": csrf_of(signin.text), "pin": PIN, "next": "/approvals/"},
                headers={"Origin": origin},
            )
            bulk = await http.post(
                str(listing.url.join("/approvals/bulk")),
                data={"csrf": csrf_of(listing.text), "action": "approve", "id": pending["approval_id"], "pin": PIN},
                headers={"Origin": origin},
            )
        assert "<h1>Nothing was decided</h1>" in bulk.text and "needs its own page" in bulk.text
        still = await c.call_tool("signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]})
    assert still.structured_content["status"] == "approval_pending"
    assert writes(server) == []


async def test_a_password_reset_goes_through_the_page_too(audit_path: Path, browser: Browser) -> None:
    server = sandbox_server(audit_path)
    async with client(server) as c:
        credential = (await c.call_tool("signalwire_list_sip_credentials", {})).structured_content["items"][0]
        reset = {"id": credential["id"], "new_password": True, "codecs": ["OPUS", "PCMA"]}
        pending = (await c.call_tool("signalwire_update_sip_credential", reset)).structured_content
        assert "password: replaced by one you set on the approval page" in pending["summary"]
        await decide_in_browser(browser.links()[0], secret_mode="typed", secret=TYPED, secret_repeat=TYPED)
        applied = await c.call_tool("signalwire_update_sip_credential", reset | {"approval_id": pending["approval_id"]})
    assert applied.structured_content["status"] == "applied", everything(applied)
    assert applied.structured_content["result"]["codecs"] == ["OPUS", "PCMA"]
    assert passwords(server)[credential["id"]] == TYPED
    assert TYPED not in everything(applied) and TYPED not in audit_path.read_text()


async def test_an_uncertain_outcome_never_echoes_the_password(audit_path: Path, browser: Browser) -> None:
    from telco_mcp.sandbox import Fault

    server = sandbox_server(audit_path)
    async with client(server) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        await decide_in_browser(browser.links()[0], secret_mode="typed", secret=TYPED, secret_repeat=TYPED)
        sandbox = server.telco_runtime.sandbox
        sandbox.add_fault(Fault(kind="drop", method="POST", path_prefix="/api/fabric/resources/sip_endpoints"))
        result = await c.call_tool("signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]})
    assert result.is_error and "Outcome unknown" in everything(result), everything(result)
    assert TYPED not in everything(result) and "********" in everything(result)
    assert TYPED not in audit_path.read_text()
    assert writes(server) == [("POST", "/api/fabric/resources/sip_endpoints")]  # sent once, never retried


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_under_elicit_the_client_opens_the_page_by_url_and_the_password_is_set_there(
    mode: str, audit_path: Path
) -> None:
    """TELCO_MCP_CONFIRM=elicit: never a form for a secret; URL-mode elicitation leads to the page (PIN)."""
    asked: list[ElicitRequestParams] = []

    async def answer(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept") if params.mode == "url" else ElicitResult(action="decline")

    server = sandbox_server(audit_path, telco_mcp_confirm="elicit", telco_mcp_approver_pin=PIN)
    async with client(server, mode=mode, elicitation_callback=answer) as c:
        pending = (await c.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        assert pending["status"] == "approval_pending", pending
        assert [p.mode for p in asked] == ["url"], "a secret is never asked for in a form"
        link = asked[0].url  # type: ignore[union-attr]
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
            signin = await http.get(link)
            origin = f"{signin.url.scheme}://{signin.url.netloc.decode()}"
            page = await http.post(
                str(signin.url.join("/approvals/signin")),
                data={"csrf": csrf_of(signin.text), "pin": PIN, "next": signin.url.path},
                headers={"Origin": origin},
            )
            decided = await http.post(
                str(page.url) + "/decide",
                data={"csrf": csrf_of(page.text), "decision": "approve", "secret_mode": "typed", "secret": TYPED,
                      "secret_repeat": TYPED, "pin": PIN},
                headers={"Origin": origin},
            )  # fmt: skip
        assert "Approved" in decided.text, decided.text
        applied = await c.call_tool(
            "signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]}
        )
    assert applied.structured_content["status"] == "applied", everything(applied)
    assert passwords(server)[applied.structured_content["result"]["id"]] == TYPED
