"""How an approval's link reached a person (`Approval.channels`), kept in either state backend and named on
every retry: "Still pending" says where the person can decide it, never that nothing reached them when the
page was opened, and never begins with a dangling "or" when the approver PIN adds the pending list and the
terminal.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import anyio
import pytest

from telco_mcp.approval.store import MemoryApprovalStore
from telco_mcp.server import build_server
from telco_mcp.state.redis import RedisApprovalStore
from tests.approval.conftest import SMS, Browser, client, writes
from tests.state.conftest import RedisServer
from tests.state.test_redis_state import SEAL, approval, settings

pytestmark = pytest.mark.anyio

PIN = "246810"


def everything(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content) + json.dumps(result.structured_content or {})


def lead(result: Any) -> str:
    return result.content[0].text


def test_both_stores_keep_the_channels_an_approval_reached_a_person_through(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    store = RedisApprovalStore(maybe_redis.client(), SEAL) if maybe_redis is not None else MemoryApprovalStore()
    store.add(approval("apr_c"))
    assert store.get("apr_c").channels == ()  # type: ignore[union-attr]
    for channel in ("browser", "webhook", "browser"):
        store.add_channel("apr_c", channel)  # type: ignore[arg-type]
    store.add_channel("apr_unknown", "browser")  # an approval that is gone: nothing recorded, nothing raised
    assert store.get("apr_unknown") is None
    assert store.get("apr_c").channels == ("browser", "webhook")  # type: ignore[union-attr]
    assert [a.channels for a in store.pending()] == [("browser", "webhook")]
    assert store.redeem("apr_c", "sipgate_send_sms", "d1", "c1|").channels == ("browser", "webhook")
    assert store.decide("apr_c", False, "cli").channels == ("browser", "webhook")


@pytest.mark.parametrize("pin", [None, PIN], ids=["no-pin", "pin"])
async def test_every_retry_names_the_browser_the_page_was_opened_in(
    kind: str, maybe_redis: RedisServer | None, pin: str | None, audit_path: Path, browser: Browser
) -> None:
    extra = {"telco_mcp_approver_pin": pin} if pin else {}
    server = build_server(settings(audit_path, maybe_redis, **extra))
    async with client(server) as c:
        first = await c.call_tool("sipgate_send_sms", SMS)
        approval_id = first.structured_content["approval_id"]
        retries = [
            await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id}),
            await c.call_tool("sipgate_send_sms", SMS),  # asked again without the id: the same approval
        ]
    assert browser.opened() == 1
    for result in [first, *retries]:
        text = lead(result)
        assert result.structured_content["approval_id"] == approval_id
        assert "the approval page was opened in the user's browser" in text, text
        assert "no approval channel" not in everything(result)
        assert "(or " not in text and "; or or" not in text
        if pin:
            assert "; or on the pending list at http://localhost:" in text and "in a terminal" in text
        else:
            assert "pending list" not in text and "telco-mcp approvals" not in text
    assert all("Still pending: nobody has approved" in lead(r) for r in retries)
    assert writes(server) == []


async def test_with_a_pin_and_nothing_opened_the_places_start_without_a_dangling_or(
    kind: str, maybe_redis: RedisServer | None, audit_path: Path
) -> None:
    """No browser (no $BROWSER, no display): the pending list and the terminal are the places, in a sentence."""
    server = build_server(settings(audit_path, maybe_redis, telco_mcp_approver_pin=PIN))
    async with client(server) as c:
        first = await c.call_tool("sipgate_send_sms", SMS)
        still = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": first.structured_content["approval_id"]})
    for result in (first, still):
        text = lead(result)
        assert "(on the pending list at http://localhost:" in text, text
        assert "(or " not in text and "opened in the user's browser" not in text
        assert "no approval channel" not in text


@pytest.mark.parametrize("answer", [204, 500])
async def test_the_webhook_is_named_once_its_receiver_took_the_notice(
    kind: str, maybe_redis: RedisServer | None, answer: int, audit_path: Path
) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    notices: list[dict[str, Any]] = []

    async def receive(request: Request) -> Response:
        notices.append(await request.json())
        return Response(status_code=answer)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/hook", receive, methods=["POST"])]), log_config=None, lifespan="off")
    )
    server = build_server(settings(audit_path, maybe_redis, telco_mcp_approval_webhook=f"http://127.0.0.1:{port}/hook"))
    texts: list[str] = []
    first: Any = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver.serve, [sock])
        async with client(server) as c:
            first = await c.call_tool("sipgate_send_sms", SMS)
            retry = SMS | {"approval_id": first.structured_content["approval_id"]}
            with anyio.fail_after(10):
                while not notices:
                    await anyio.sleep(0.02)
            for _ in range(50):  # the delivery is recorded right after the receiver answered
                texts.append(lead(await c.call_tool("sipgate_send_sms", retry)))
                if "a notice went to the team's approval channel" in texts[-1]:
                    break
                await anyio.sleep(0.05)
        receiver.should_exit = True
    assert "no approval channel" not in lead(first)
    if answer == 204:
        assert "a notice went to the team's approval channel" in texts[-1], texts[-1]
        assert "not confirmed" not in texts[-1]
    else:
        assert all("a notice went" not in t for t in texts)
        assert "a notice was posted to the team's approval channel (not confirmed received)" in texts[-1]
