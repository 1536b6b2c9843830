"""The approval page across three real replicas behind haproxy's plain round robin (no stickiness at all).

The replicas run under `TELCO_MCP_CONFIRM=approval` with the page's public URL on haproxy: the model's
identical asks land on every replica at once and open one approval; the person opens the launch link on
one replica, the page on the next and approves (typing the new SIP password) on the third; the model's
retry on yet another replica sends the write once, with the password, which was in Redis only sealed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.approval.conftest import Browser, follow_launch_file
from tests.state.conftest import approve_typing
from tests.state.test_replicas import SECRET, Topology, replicas_behind_haproxy

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

CREATE = {"username": "anna-desk", "caller_id": "Anna"}
TYPED = "Tr0ub4dor-and-3"
TOOL = "signalwire_create_sip_credential"


@pytest.fixture(scope="module")
def browser_and_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Browser, Topology]]:
    folder = tmp_path_factory.mktemp("replica-approvals")
    browser = Browser(folder)
    env = {
        "TELCO_MCP_ALLOW_WRITES": "1",
        "TELCO_MCP_CONFIRM": "approval",
        "TELCO_MCP_TOOLSETS": "all",
        "TELCO_MCP_PUBLIC_URL": "{public}",  # links point at haproxy: any replica may serve each request
        "BROWSER": str(browser.script),
    }
    with replicas_behind_haproxy(folder, env) as topology:
        yield browser, topology


def _sip_creations(topology: Topology) -> list[dict[str, Any]]:
    records = httpx2.get(topology.sandbox + "/_sandbox/requests", timeout=10).json()
    return [r for r in records if r["method"] == "POST" and r["path"] == "/api/fabric/resources/sip_endpoints"]


def _text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def test_an_approval_page_flow_spans_replicas_end_to_end(browser_and_topology: tuple[Browser, Topology]) -> None:
    browser, topology = browser_and_topology
    # 1. The same ask reaches all three replicas at once: one approval, one page opened.
    asked: list[dict[str, Any]] = []
    async with (
        Client(topology.replicas[0]) as c0,
        Client(topology.replicas[1]) as c1,
        Client(topology.replicas[2]) as c2,
    ):

        async def ask(c: Client) -> None:
            asked.append((await c.call_tool(TOOL, CREATE)).structured_content or {})

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                for i in range(9):
                    tasks.start_soon(ask, (c0, c1, c2)[i % 3])
    assert {a.get("status") for a in asked} == {"approval_pending"}, asked
    (approval_id,) = {a["approval_id"] for a in asked}
    launch = follow_launch_file(browser.handed()[0])
    assert browser.opened() == 1
    public = topology.round_robin.removesuffix("/mcp").replace("127.0.0.1", "localhost")  # links say localhost
    assert launch.startswith(f"{public}/approvals/a/{approval_id}?code=")

    # 2. The person, through round robin: launch link, page, approve with a typed password.
    served: list[str] = []

    async def note(response: httpx2.Response) -> None:
        served.append(response.headers.get("x-served-by", ""))

    async with httpx2.AsyncClient(timeout=10, event_hooks={"response": [note]}) as http:
        opened = await http.get(launch)
        assert opened.status_code == 200 and "set-cookie" not in opened.headers, opened.text  # the code is no cookie
        code = launch.rsplit("code=", 1)[1]
        page = await http.get(f"{public}/approvals/a/{approval_id}?code={code}")  # another replica knows the code
        assert page.status_code == 200 and "Approve this write?" in page.text, page.text
        decided = await approve_typing(http, public, approval_id, page.text, TYPED)
        assert decided.status_code == 303, decided.text  # to the page, which shows the decision
        cookies = [code]  # what a browser holds of this flow: the launch code, in the form
        again = await http.get(launch)  # the launch code worked once, whichever replica is asked: it shows the decision
        assert again.status_code == 200 and "<h1>Approved — " in again.text and 'name="code"' not in again.text
    launched_on, approved_on = served[0], served[2]
    assert launched_on and approved_on and launched_on != approved_on, served
    dump = topology.redis.dump()  # the password waits for the retry: sealed, never in plain text

    # 3. The model's retry on a replica that served neither the launch link nor the approval.
    third = next(i for i in range(3) if f"r{i}" not in (launched_on, approved_on))
    async with Client(topology.replicas[third]) as retry:
        applied = await retry.call_tool(TOOL, CREATE | {"approval_id": approval_id})
    async with Client(topology.replicas[(third + 1) % 3]) as replay:
        used = await replay.call_tool(TOOL, CREATE | {"approval_id": approval_id})
    assert not applied.is_error and (applied.structured_content or {}).get("status") == "applied", _text(applied)
    assert used.is_error and "already used" in _text(used)
    (created,) = _sip_creations(topology)
    assert created["json"]["password"] == TYPED  # exactly what was typed on another replica reached the provider
    assert b"telco-mcp:page:secret:" + approval_id.encode() in dump and TYPED.encode() not in dump
    assert cookies and not [c for c in cookies if c.encode() in dump]  # sessions are kept under hashes only
    assert not list(topology.redis.client().scan_iter("telco-mcp:page:secret:*"))  # type: ignore[attr-defined]
    for log in sorted(Path(topology.folder).glob("replica-*.log")):
        text = log.read_text(errors="replace")
        assert TYPED not in text and SECRET not in text
    for text in (_text(applied), _text(used)):
        assert TYPED not in text
