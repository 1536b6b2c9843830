"""Out-of-band approval through the MCP client (issue 11): what the model sees, what a person does,
and how many writes reach the provider (the embedded sandbox, counting every non-GET request).

A client that cannot elicit gets `approval_pending` at once; a person decides on the approval page
(opened in their browser with a single-use launch code) or with `telco-mcp approvals`; the model's
retry with the same tool, arguments and client sends the write exactly once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from telco_mcp.approval.store import Approval, MemoryApprovalStore
from telco_mcp.errors import ConfirmationError

from .conftest import (
    SMS,
    Browser,
    client,
    decide_in_browser,
    first_call_id,
    follow,
    server_for,
    submit,
    writes,
)

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


def everything(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content) + json.dumps(result.structured_content or {})


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_elicitation_gets_an_approval_at_once_and_nothing_is_sent(
    mode: str, audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server, mode=mode) as c:  # decided while the session that asked lives
        result = await c.call_tool("sipgate_send_sms", SMS)
        await check_and_decide(result, server, browser)


async def check_and_decide(result: Any, server: Any, browser: Browser) -> None:
    data = result.structured_content
    assert not result.is_error and data["status"] == "approval_pending"
    assert data["approval_id"].startswith("apr_") and data["expires_at"]
    assert writes(server) == []
    handed = browser.handed()[0]
    assert handed.startswith("file://") and "code=" not in handed, "no launch code on a command line"
    launch_file = Path(handed.removeprefix("file://"))
    assert launch_file.stat().st_mode & 0o777 == 0o600
    link = browser.links()[0]
    code = link.split("code=", 1)[1]
    assert f"/approvals/a/{data['approval_id']}?code=" in link
    assert code not in everything(result), "nothing that approves reaches the model"
    assert "telco-mcp approvals" not in everything(result), "without a PIN the terminal cannot approve"
    await decide_in_browser(link)
    assert not launch_file.exists(), "a used launch code leaves no file behind"


@pytest.mark.parametrize("mode", MODES)
async def test_a_retry_before_the_decision_uses_nothing_up_and_the_approved_write_is_sent_once(
    mode: str, audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server, mode=mode) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        retry = SMS | {"approval_id": pending["approval_id"]}
        for _ in range(2):
            still = await c.call_tool("sipgate_send_sms", retry)
            assert still.structured_content["status"] == "approval_pending"
            assert "Still pending" in everything(still)
        assert writes(server) == []
        decided = await decide_in_browser(browser.links()[0])
        assert "Approved" in decided.text
        applied = await c.call_tool("sipgate_send_sms", retry)
        assert applied.structured_content["status"] == "applied", everything(applied)
        replayed = await c.call_tool("sipgate_send_sms", retry)
    assert replayed.is_error and "already used" in everything(replayed)
    assert writes(server) == [("POST", "/v2/sessions/sms")]
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    applied_line = next(r for r in lines if r.get("outcome") == "applied")
    assert applied_line["confirmed_by"] == "approval-page" and applied_line["approval"] == pending["approval_id"]


@pytest.mark.parametrize("mode", MODES)
async def test_denied_on_the_page_nothing_is_sent(mode: str, audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server, mode=mode) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        decided = await decide_in_browser(browser.links()[0], "deny")
        assert "Denied" in decided.text
        result = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert result.structured_content["status"] == "declined"
    assert "denied it on the approval page" in everything(result)
    assert writes(server) == []


async def test_an_approval_is_bound_to_its_tool_arguments_and_client(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        call_id = await first_call_id(c)
        hold = {"call_id": call_id, "value": True}
        approval_id = (await c.call_tool("sipgate_hold_call", hold)).structured_content["approval_id"]
        await decide_in_browser(browser.links()[0])
        other_args = await c.call_tool("sipgate_hold_call", hold | {"value": False, "approval_id": approval_id})
        other_tool = await c.call_tool("sipgate_mute_call", hold | {"approval_id": approval_id})
    async with client(server, name="another-client") as other:
        other_client = await other.call_tool("sipgate_hold_call", hold | {"approval_id": approval_id})
    for refused in (other_args, other_tool, other_client):
        assert refused.is_error and "[confirmation]" in everything(refused)
        assert "does not belong to this call" in everything(refused)
    assert writes(server) == []
    async with client(server) as c:  # the rightful call still works, once
        applied = await c.call_tool("sipgate_hold_call", hold | {"approval_id": approval_id})
    assert applied.structured_content["status"] == "applied"
    assert writes(server) == [("PUT", f"/v2/calls/{call_id}/hold")]


async def test_an_altered_or_invented_approval_id_is_refused(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        approval_id = (await c.call_tool("sipgate_send_sms", SMS)).structured_content["approval_id"]
        await decide_in_browser(browser.links()[0])
        for forged in (approval_id[:-1] + ("A" if approval_id[-1] != "A" else "B"), "apr_" + "x" * 22, "../" * 5):
            result = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": forged})
            assert result.is_error and "[confirmation]" in everything(result)
    assert writes(server) == []


def test_approvals_expire_and_are_decided_and_used_once() -> None:
    now = [1_000.0]
    store = MemoryApprovalStore(clock=lambda: now[0])

    def approval(approval_id: str) -> Approval:
        return Approval(
            id=approval_id, tool="t", digest="d", client="c", client_label="c", summary="s", provider="sipgate",
            method="POST", url="u", body=None, verdict=None, created=now[0], expires=now[0] + 300,
        )  # fmt: skip

    store.add(approval("a"))
    store.add(approval("b"))
    store.decide("a", True, "cli")
    with pytest.raises(ConfirmationError, match="already decided"):
        store.decide("a", False, "approval-page")
    now[0] += 301
    with pytest.raises(ConfirmationError, match="expired"):
        store.redeem("a", "t", "d", "c")
    with pytest.raises(ConfirmationError, match="expired"):
        store.decide("b", True, "cli")
    assert store.pending() == []


@pytest.mark.parametrize(
    ("confirm", "field", "value"),
    [
        ("auto", "confirm_token", "v1.1.n.m"),
        ("approval", "confirm_token", "v1.1.n.m"),
        ("token", "approval_id", "apr_x"),
        ("elicit", "approval_id", "apr_x"),
        ("elicit", "confirm_token", "v1.1.n.m"),
        ("off", "approval_id", "apr_x"),
    ],
)
async def test_a_consent_field_of_another_mode_is_refused_naming_the_mode(
    confirm: str, field: str, value: str, audit_path: Path
) -> None:
    extra = {"telco_mcp_confirm_off_acknowledged": True} if confirm == "off" else {}
    server = server_for(audit_path, telco_mcp_confirm=confirm, **extra)
    async with client(server) as c:
        result = await c.call_tool("sipgate_send_sms", SMS | {field: value})
    assert result.is_error
    assert "[confirmation]" in everything(result) and f"TELCO_MCP_CONFIRM={confirm}" in everything(result)
    assert writes(server) == []


@pytest.mark.parametrize(
    ("confirm", "fields", "statuses"),
    [
        ("auto", {"approval_id"}, {"approval_pending", "declined"}),
        ("approval", {"approval_id"}, {"approval_pending", "declined"}),
        ("token", {"confirm_token"}, {"confirmation_required", "declined"}),
        ("elicit", set(), {"declined"}),
        ("off", set(), set()),
    ],
)
async def test_each_mode_publishes_only_the_consent_field_and_statuses_it_uses(
    confirm: str, fields: set[str], statuses: set[str], audit_path: Path
) -> None:
    extra = {"telco_mcp_confirm_off_acknowledged": True} if confirm == "off" else {}
    async with client(server_for(audit_path, telco_mcp_confirm=confirm, **extra)) as c:
        tools = (await c.list_tools()).tools
    writes_listed = 0
    for tool in tools:
        props = set(tool.input_schema.get("properties", {}))
        if tool.annotations and not tool.annotations.read_only_hint and tool.output_schema:
            writes_listed += 1
            assert props & {"approval_id", "confirm_token"} == fields, tool.name
            assert "dry_run" in props
            assert set(tool.output_schema["properties"]) & {"approval_id", "confirm_token"} == fields, tool.name
            assert set(tool.output_schema["properties"]["status"]["enum"]) == {"applied", "dry_run"} | statuses
    assert writes_listed >= 10


class Asked:
    def __init__(self, action: Literal["accept", "decline", "cancel"] = "accept") -> None:
        self.action: Literal["accept", "decline", "cancel"] = action
        self.params: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.params.append(params)
        if params.mode == "url":
            return ElicitResult(action="accept")
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action=self.action)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("confirm", ["auto", "token", "elicit"])
async def test_an_eliciting_client_is_always_asked_whatever_the_model_sends(
    confirm: str, mode: str, audit_path: Path, browser: Browser
) -> None:
    """A valid approval (auto) or token (token mode) from a non-eliciting session does not skip the question."""
    server = server_for(audit_path, telco_mcp_confirm=confirm)
    field = {"auto": "approval_id", "token": "confirm_token"}.get(confirm)
    carried: dict[str, str] = {}
    if field:
        async with client(server, mode=mode) as quiet:  # a session that cannot elicit gets its approval/token
            first = (await quiet.call_tool("sipgate_send_sms", SMS)).structured_content
            carried = {field: first[field]}
            if field == "approval_id":
                await decide_in_browser(browser.links()[0])
    asked = Asked("decline")
    async with client(server, mode=mode, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_send_sms", SMS | carried)
    assert len(asked.params) == 1 and asked.params[0].mode == "form"
    assert result.structured_content["status"] == "declined"
    assert writes(server) == []


@pytest.mark.parametrize("mode", MODES)
async def test_approval_mode_sends_an_eliciting_client_to_the_page_by_url_elicitation(
    mode: str, audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path, telco_mcp_confirm="approval", telco_mcp_approver_pin="246810")
    asked = Asked()
    async with client(server, mode=mode, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_send_sms", SMS)
    data = result.structured_content
    assert data["status"] == "approval_pending", everything(result)
    assert [p.mode for p in asked.params] == ["url"], "never a form: the approver is not the chat user"
    url = asked.params[0].url  # type: ignore[union-attr]
    assert url.endswith(f"/approvals/a/{data['approval_id']}") and "code=" not in url
    assert browser.opened() == 0, "the link went through the client, not a local browser"
    assert writes(server) == []


async def test_approval_mode_without_a_pin_opens_the_local_browser_instead(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path, telco_mcp_confirm="approval")
    asked = Asked()
    async with client(server, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_send_sms", SMS)
    assert result.structured_content["status"] == "approval_pending"
    assert asked.params == [] and browser.opened() == 1


@pytest.mark.parametrize("mode", MODES)
async def test_declining_the_url_elicitation_denies_the_approval(mode: str, audit_path: Path) -> None:
    server = server_for(audit_path, telco_mcp_confirm="approval", telco_mcp_approver_pin="246810")

    async def no(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    async with client(server, mode=mode, elicitation_callback=no) as c:
        result = await c.call_tool("sipgate_send_sms", SMS)
    assert result.structured_content["status"] == "declined"
    assert server.telco_runtime.approvals.store.pending() == []
    assert writes(server) == []


async def test_a_grant_covers_hold_mute_and_dtmf_on_one_call_only(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        calls = (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"]
        one, other = calls[0]["call_id"], calls[1]["call_id"]
        first = (await c.call_tool("sipgate_hold_call", {"call_id": one, "value": True})).structured_content
        await decide_in_browser(browser.links()[0], grant="1", grant_minutes="5")
        await c.call_tool("sipgate_hold_call", {"call_id": one, "value": True, "approval_id": first["approval_id"]})
        mute = await c.call_tool("sipgate_mute_call", {"call_id": one, "value": True})
        dtmf = await c.call_tool("sipgate_send_dtmf", {"call_id": one, "sequence": "1"})
        elsewhere = await c.call_tool("sipgate_mute_call", {"call_id": other, "value": True})
        hangup = await c.call_tool("sipgate_hangup_call", {"call_id": one})
    assert mute.structured_content["status"] == "applied" and dtmf.structured_content["status"] == "applied"
    assert elsewhere.structured_content["status"] == "approval_pending", "a grant covers one call"
    assert hangup.structured_content["status"] == "approval_pending", "never a grant for a hang-up"
    assert writes(server) == [
        ("PUT", f"/v2/calls/{one}/hold"), ("PUT", f"/v2/calls/{one}/muted"), ("POST", f"/v2/calls/{one}/dtmf"),
    ]  # fmt: skip
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert {r["approval"] for r in lines if r.get("outcome") == "applied"} == {first["approval_id"]}


async def status_of(c: Any, name: str, args: dict[str, Any]) -> str:
    return (await c.call_tool(name, args)).structured_content["status"]


async def test_the_page_names_exactly_the_tools_a_grant_covers(audit_path: Path, browser: Browser) -> None:
    """One list: the tools the page offers to allow on the call are the tools the grant then lets through."""
    server = server_for(audit_path)
    async with client(server) as c, httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
        call_id = await first_call_id(c)
        first = (await c.call_tool("sipgate_mute_call", {"call_id": call_id, "value": True})).structured_content
        page = await follow(http, browser.links()[0])
        offer = re.search(r'<label for="grant">(.*?)</label>', page.text, re.S)
        assert offer is not None, page.text
        named = set(re.findall(r"<code>([a-z_]+)</code>", offer.group(1)))
        assert named == {"sipgate_hold_call", "sipgate_mute_call", "sipgate_send_dtmf"}
        decided = await submit(http, page, "approve", grant="1", grant_minutes="5")
        assert all(name in decided.text for name in named), decided.text
        await c.call_tool("sipgate_mute_call", {"call_id": call_id, "value": True, "approval_id": first["approval_id"]})
        covered = {
            "sipgate_hold_call": {"call_id": call_id, "value": True},
            "sipgate_mute_call": {"call_id": call_id, "value": False},
            "sipgate_send_dtmf": {"call_id": call_id, "sequence": "12"},
        }
        not_covered = {
            "sipgate_record_call": {"call_id": call_id, "value": True},
            "sipgate_play_announcement": {"call_id": call_id, "url": "https://example.com/a.wav"},
            "sipgate_transfer_call": {"call_id": call_id, "phone_number": "+4915799912345"},
        }
        went = {name: await status_of(c, name, args) for name, args in covered.items()}
        held = {name: await status_of(c, name, args) for name, args in not_covered.items()}
    assert went == dict.fromkeys(covered, "applied")
    assert held == dict.fromkeys(not_covered, "approval_pending")
    decision = next(json.loads(line) for line in audit_path.read_text().splitlines() if '"decision"' in line)
    assert set(decision["grant"]["tools"]) == named


async def test_the_grant_is_for_the_client_that_asked(audit_path: Path, browser: Browser) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        call_id = await first_call_id(c)
        first = (await c.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True})).structured_content
        await decide_in_browser(browser.links()[0], grant="1", grant_minutes="5")
    async with client(server, name="another-client") as other:
        mute = await other.call_tool("sipgate_mute_call", {"call_id": call_id, "value": True})
    assert first["status"] == "approval_pending" and mute.structured_content["status"] == "approval_pending"
    assert writes(server) == []


async def test_the_webhook_gets_a_notice_whose_link_carries_no_secret(audit_path: Path) -> None:
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    notices: list[dict[str, Any]] = []

    async def receive(request: Request) -> Response:
        notices.append(await request.json())
        return Response(status_code=204)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/hook", receive, methods=["POST"])]), log_config=None, lifespan="off")
    )
    server = server_for(
        audit_path, telco_mcp_approval_webhook=f"http://127.0.0.1:{port}/hook", telco_mcp_approver_pin="246810"
    )
    pending: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver.serve, [sock])
        async with client(server) as c:
            pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content or {}
        with anyio.fail_after(10):
            while not notices:
                await anyio.sleep(0.05)
        receiver.should_exit = True
    notice = notices[0]
    assert notice["approval_id"] == pending["approval_id"] and notice["summary"] == pending["summary"]
    assert notice["url"].endswith(f"/approvals/a/{pending['approval_id']}") and "code" not in notice["url"]
    assert notice["asked_by"].startswith("the client says it is "), notice  # a claim, as the page words it
    assert writes(server) == []


async def test_dry_runs_previews_and_opened_approvals_are_on_record(audit_path: Path, browser: Browser) -> None:
    """Nothing is sent by any of them, and none writes an intent line; each leaves one attempt line."""
    server = server_for(audit_path)
    async with client(server) as c:
        await c.call_tool("sipgate_send_sms", SMS | {"dry_run": True})
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert [(r["event"], r["outcome"], r["confirmed_by"]) for r in lines] == [
        ("attempt", "dry_run", "none"),
        ("attempt", "pending", "approval-page"),
    ]
    assert lines[1]["approval"] == pending["approval_id"]
    assert writes(server) == []


async def test_telco_mcp_approval_port_fixes_the_pages_loopback_port(audit_path: Path, browser: Browser) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = server_for(audit_path, telco_mcp_approval_port=port)
    async with client(server) as c:
        await c.call_tool("sipgate_send_sms", SMS)
        link = browser.links()[0]
        assert link.startswith(f"http://localhost:{port}/approvals/a/apr_")
        decided = await decide_in_browser(link)
    assert "Approved" in decided.text


async def test_under_http_the_links_use_telco_mcp_public_url(audit_path: Path) -> None:
    """The page is mounted in the server's own HTTP app; a link that leaves the machine names the public URL."""
    from telco_mcp.transports import http_app

    public = "https://telco.example.com"
    server = server_for(
        audit_path, telco_mcp_confirm="approval", telco_mcp_approver_pin="246810", telco_mcp_public_url=public
    )
    http_app(server, server.telco_runtime.settings, transport="http", host="127.0.0.1", port=8765)
    asked = Asked()
    async with client(server, elicitation_callback=asked) as c:
        result = await c.call_tool("sipgate_send_sms", SMS)
    approval_id = result.structured_content["approval_id"]
    assert asked.params[0].url == f"{public}/approvals/a/{approval_id}"  # type: ignore[union-attr]


def test_without_browser_or_display_no_console_browser_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console browser on PATH would read the stdio protocol's stdin: it is never a fallback."""
    from telco_mcp.approval.notify import browser_commands, open_browser

    for name in ("www-browser", "lynx", "w3m", "links", "elinks", "xdg-open"):
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\ntouch {tmp_path}/started-{name}\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert browser_commands("http://127.0.0.1:1/approvals/") == []
    assert open_browser("http://127.0.0.1:1/approvals/") is False
    assert not list(tmp_path.glob("started-*"))
    monkeypatch.setenv("DISPLAY", ":0")  # a graphical session: xdg-open, never a console browser
    assert browser_commands("http://x/") == [["xdg-open", "http://x/"]]
    monkeypatch.setenv("BROWSER", f"firefox %s{os.pathsep}chromium")
    assert browser_commands("http://x/") == [["firefox", "http://x/"], ["chromium", "http://x/"]]


@pytest.mark.parametrize("mode", MODES)
async def test_with_a_pin_the_browser_gets_the_sign_in_page_and_the_model_is_told_about_the_terminal(
    mode: str, audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path, telco_mcp_approver_pin="246810")
    async with client(server, mode=mode) as c:  # the page is served while the session that asked lives
        result = await c.call_tool("sipgate_send_sms", SMS)
        approval_id = result.structured_content["approval_id"]
        assert browser.handed() == [f"{server.telco_runtime.approvals.page_url(approval_id)}"]
    assert "telco-mcp approvals approve <id> (approver PIN)" in everything(result)


async def test_asking_again_reuses_the_pending_approval_and_a_flood_is_refused(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        first = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        again = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        assert again["approval_id"] == first["approval_id"] and browser.opened() == 1
        for n in range(9):
            await c.call_tool("sipgate_send_sms", SMS | {"message": f"message {n}"})
        flooded = await c.call_tool("sipgate_send_sms", SMS | {"message": "one too many"})
    assert flooded.is_error and "still waiting for a person" in everything(flooded)
    assert len(server.telco_runtime.approvals.store.pending()) == 10
    assert writes(server) == []


async def test_a_page_port_in_use_is_a_clear_error_and_no_dead_link(audit_path: Path, browser: Browser) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = server_for(audit_path, telco_mcp_approval_port=taken.getsockname()[1])
        async with client(server) as c:
            result = await c.call_tool("sipgate_send_sms", SMS)
    assert result.is_error and "TELCO_MCP_APPROVAL_PORT" in everything(result)
    assert browser.opened() == 0 and server.telco_runtime.approvals.store.pending() == []


def test_an_unparsable_browser_setting_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from telco_mcp.approval.notify import browser_commands

    monkeypatch.setenv("BROWSER", f"firefox 'unbalanced{os.pathsep}chromium")
    assert browser_commands("http://x/") == [["chromium", "http://x/"]]


async def test_one_elicited_yes_sends_one_write_however_often_its_answer_is_replayed(audit_path: Path) -> None:
    """2026-07-28: the answer rides a retry with the sealed request_state; re-sending that retry (a client
    retry, a replaying proxy) must not send the write again, at once or later."""
    from mcp.types import CallToolResult, ElicitResult, InputRequiredResult, InputResponses

    server = server_for(audit_path)

    async def unused(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        raise AssertionError("answered by hand below")

    async with client(server, elicitation_callback=unused) as c:
        session = c.session
        first = await session.call_tool("sipgate_send_sms", SMS, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        yes: InputResponses = {"telco_mcp:confirm": ElicitResult(action="accept", content={"confirm": True})}
        results = [
            await session.call_tool(
                "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state,
                allow_input_required=True,
            )
            for _ in range(3)
        ]  # fmt: skip
    assert all(isinstance(r, CallToolResult) for r in results), "no round asks again"
    assert results[0].structured_content["status"] == "applied"  # type: ignore[union-attr]
    for replay in results[1:]:
        assert replay.is_error and "already used" in everything(replay)  # type: ignore[union-attr]
    assert writes(server) == [("POST", "/v2/sessions/sms")]


async def test_with_no_channel_to_a_person_the_result_says_how_to_make_one(audit_path: Path) -> None:
    """No $BROWSER, no display, no PIN, no webhook (a headless box): the approval would wait for nobody."""
    server = server_for(audit_path)
    async with client(server) as c:
        result = await c.call_tool("sipgate_send_sms", SMS)
    assert result.structured_content["status"] == "approval_pending"
    text = everything(result)
    assert "no approval channel could reach a person" in text and "TELCO_MCP_APPROVER_PIN" in text
    assert writes(server) == []


async def test_what_is_sent_must_be_what_was_approved(audit_path: Path, browser: Browser) -> None:
    """The SMS sender is looked up again when the write is sent; if the provider's answer changed since the
    person approved, the request would differ from the one they saw: it is refused, not sent."""
    server = server_for(audit_path)
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        await decide_in_browser(browser.links()[0])
        senders = server.telco_runtime.sandbox.state.sipgate.sms_extensions
        senders.insert(0, {**senders[0], "id": "s9", "alias": "Another sender"})  # the provider's state changes
        result = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert result.is_error and "differs from what was approved" in everything(result)
    assert writes(server) == []


async def test_decisions_and_grants_are_on_record_and_writes_under_a_grant_name_it(
    audit_path: Path, browser: Browser
) -> None:
    server = server_for(audit_path)
    async with client(server) as c:
        call_id = await first_call_id(c)
        first = (await c.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True})).structured_content
        await decide_in_browser(browser.links()[0], grant="1", grant_minutes="5")
        await c.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True, "approval_id": first["approval_id"]})
        await c.call_tool("sipgate_mute_call", {"call_id": call_id, "value": True})
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    [decision] = [r for r in lines if r["event"] == "decision"]
    assert (decision["approval"], decision["status"], decision["decided_by"]) == (
        first["approval_id"], "approved", "approval-page",
    )  # fmt: skip
    assert decision["grant"]["call"] == call_id and "sipgate_mute_call" in decision["grant"]["tools"]
    applied = [r for r in lines if r.get("outcome") == "applied"]
    assert [r["tool"] for r in applied] == ["sipgate_hold_call", "sipgate_mute_call"]
    assert "grant" not in applied[0] and applied[1]["grant"] == decision["grant"]["id"]


async def test_the_write_path_uses_the_shared_state_off_the_event_loop(audit_path: Path, browser: Browser) -> None:
    """Approvals (and nonces, caps) may live in Redis, whose client blocks: a slow one must stall the write
    that uses it, not every session. Each approval-store call of a write runs in a worker thread."""
    import threading

    class Recording(MemoryApprovalStore):
        threads: list[int]

        def open(self, approval: Approval, max_pending: int) -> tuple[Approval, bool]:
            self.threads.append(threading.get_ident())
            return super().open(approval, max_pending)

        def redeem(self, approval_id: str, tool: str, digest: str, client: str) -> Approval:
            self.threads.append(threading.get_ident())
            return super().redeem(approval_id, tool, digest, client)

    server = server_for(audit_path)
    store = Recording()
    store.threads = []
    server.telco_runtime.approvals.store = store
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        server.telco_runtime.approvals.decide(pending["approval_id"], True, "cli")
        sent = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert sent.structured_content["status"] == "applied"
    assert len(store.threads) == 2 and threading.get_ident() not in store.threads
