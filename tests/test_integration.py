"""End to end: the real server and its real shared clients against the sandbox on a loopback port.

`telco-mcp sandbox` runs as a subprocess serving real HTTP on 127.0.0.1; the server is pointed at it
with SIGNALWIRE_BASE_URL / SIPGATE_BASE_URL exactly as an operator would, and an MCP client drives a
realistic operator session. The sandbox's request log shows exactly what reached the upstream.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import accept, make_settings, text_of
from mcp import Client

from telco_mcp import sandbox as sb
from telco_mcp.server import build_server
from telco_mcp.settings import Settings
from tests.ports import free_port, wait_listening
from tests.processes import FAULTHANDLER, interrupt

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = Path(sys.executable).with_name("telco-mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    env |= FAULTHANDLER
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    for _ in range(5):  # until it listens on a port nobody else took first
        port = free_port()
        with log.open("ab") as errlog:
            proc = subprocess.Popen(
                [str(exe), "sandbox", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=errlog, env=env
            )
        try:
            if wait_listening(proc, port, 20):
                break
        except TimeoutError:
            proc.kill()
            proc.wait(timeout=10)
            raise RuntimeError(f"sandbox did not start: {log.read_text()[-2000:]}") from None
    else:
        raise RuntimeError(f"sandbox found no free port: {log.read_text()[-2000:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        interrupt(proc, log)  # Ctrl-C: no SIGTERM drain


@pytest.fixture
def sandbox(sandbox_url: str) -> str:
    httpx2.post(f"{sandbox_url}/_sandbox/reset").raise_for_status()
    return sandbox_url


def live_settings(url: str, audit: Path, **overrides: Any) -> Settings:
    """Settings exactly as an operator points a real install at a mock: base URLs plus credentials."""
    return make_settings(
        audit,
        signalwire_space=sb.SIGNALWIRE_SPACE,
        signalwire_project_id=sb.SIGNALWIRE_PROJECT_ID,
        signalwire_api_token=sb.SIGNALWIRE_API_TOKEN,
        signalwire_base_url=url,
        sipgate_token_id=sb.SIPGATE_TOKEN_ID,
        sipgate_token=sb.SIPGATE_TOKEN,
        sipgate_base_url=f"{url}/v2",
        telco_mcp_allow_writes=True,
        **overrides,
    )


def upstream_writes(url: str) -> list[tuple[str, str]]:
    log = httpx2.get(f"{url}/_sandbox/requests").json()
    entries = log["requests"] if isinstance(log, dict) else log
    return [(r["method"], r["path"]) for r in entries if r["method"] != "GET"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_operator_holds_and_transfers_the_berlin_caller(sandbox, audit_path, mode):
    async with Client(build_server(live_settings(sandbox, audit_path)), mode=mode, elicitation_callback=accept) as c:
        calls = (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"]
        berlin = next(
            call
            for call in calls
            if any((p.get("phone_number") or "").startswith("+4930") for p in call["participants"])
        )
        held = await c.call_tool("sipgate_hold_call", {"call_id": berlin["call_id"], "value": True})
        assert held.structured_content["status"] == "applied"
        assert held.structured_content["result"]["call"]["hold"] is True

        moved = await c.call_tool(
            "sipgate_transfer_call", {"call_id": berlin["call_id"], "phone_number": "040 1234567"}
        )
        assert moved.structured_content["status"] == "applied", text_of(moved)
        after = (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"]
    assert berlin["call_id"] not in {call["call_id"] for call in after}, "the old call id is gone after a transfer"
    assert any(p.get("phone_number") == "+49401234567" for call in after for p in call["participants"])
    assert upstream_writes(sandbox) == [
        ("PUT", f"/v2/calls/{berlin['call_id']}/hold"),
        ("POST", f"/v2/calls/{berlin['call_id']}/transfer"),
    ]


async def test_an_operator_lists_credentials_and_replaces_g729_on_a_gateway(sandbox, audit_path):
    async with Client(build_server(live_settings(sandbox, audit_path)), elicitation_callback=accept) as c:
        creds = await c.call_tool("signalwire_list_sip_credentials", {"limit": 3})
        assert len(creds.structured_content["items"]) == 3 and creds.structured_content["next_cursor"]
        more = await c.call_tool("signalwire_list_sip_credentials", {"cursor": creds.structured_content["next_cursor"]})
        first_ids = {i["id"] for i in creds.structured_content["items"]}
        assert not first_ids & {i["id"] for i in more.structured_content["items"]}

        gateways = (await c.call_tool("signalwire_list_sip_gateways", {"limit": 100})).structured_content["items"]
        legacy = next(g for g in gateways if "G729" in g["codecs"])
        codecs = [codec for codec in legacy["codecs"] if codec != "G729"] or ["PCMU"]
        update = await c.call_tool("signalwire_update_sip_gateway", {"id": legacy["id"], "codecs": codecs})
        assert update.structured_content["status"] == "applied", text_of(update)
        again = (await c.call_tool("signalwire_list_sip_gateways", {"limit": 100})).structured_content["items"]
    assert next(g for g in again if g["id"] == legacy["id"])["codecs"] == codecs
    assert upstream_writes(sandbox) == [("PATCH", f"/api/fabric/resources/sip_gateways/{legacy['id']}")]


async def test_an_sms_lands_in_the_outbox_and_in_history(sandbox, audit_path):
    async with Client(build_server(live_settings(sandbox, audit_path)), elicitation_callback=accept) as c:
        sent = await c.call_tool(
            "sipgate_send_sms", {"recipient": "+49 1579 9912345", "message": "Trunk to Frankfurt is down"}
        )
        assert sent.structured_content["status"] == "applied", text_of(sent)
        history = await c.call_tool("sipgate_list_history", {"types": ["SMS"], "limit": 5})
    outbox = httpx2.get(f"{sandbox}/_sandbox/outbox").json()
    outbox = outbox["outbox"] if isinstance(outbox, dict) else outbox
    assert [(m["recipient"], m["message"]) for m in outbox] == [("+4915799912345", "Trunk to Frankfurt is down")]
    assert any(item.get("target") == "+4915799912345" for item in history.structured_content["items"])


async def test_recordings_page_through_the_whole_archive_without_duplicates(sandbox, audit_path):
    seen: list[str] = []
    async with Client(build_server(live_settings(sandbox, audit_path))) as c:
        args: dict[str, Any] = {"limit": 100}
        for _ in range(30):
            page = (await c.call_tool("signalwire_list_recordings", args)).structured_content
            seen += [r["id"] for r in page["items"]]
            if not page.get("next_cursor"):
                break
            args = {"cursor": page["next_cursor"]}
    assert len(seen) == len(set(seen)) > 1000


async def test_wrong_credentials_are_reported_as_auth_errors(sandbox, audit_path):
    settings = live_settings(sandbox, audit_path).model_copy(
        update={"sipgate_token": make_settings(audit_path, sipgate_token="nope").sipgate_token}
    )
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("sipgate_list_calls", {})
    assert result.is_error and text_of(result).startswith("[auth]")


# ------------------------------------------------------------------ the embedded sandbox
async def test_no_credentials_means_the_embedded_sandbox_and_every_result_says_so(audit_path):
    server = build_server(make_settings(audit_path))
    assert "SANDBOX" in (server.instructions or "")
    async with Client(server, elicitation_callback=accept) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "sipgate_send_sms" in names, "writes are enabled in the sandbox by default"
        read = await c.call_tool("signalwire_get_sip_profile", {})
        write = await c.call_tool("sipgate_send_sms", {"recipient": "+4915799912345", "message": "hi"})
        error = await c.call_tool("signalwire_get_recording", {"id": "00000000-0000-4000-8000-000000000000"})
    for result in (read, write, error):
        assert result.meta is not None and result.meta.get("io.github.telco-mcp/sandbox") is True
        assert "SANDBOX" in text_of(result)
    assert error.is_error and "[not_found]" in text_of(error)


async def test_the_sandbox_flag_wins_over_real_credentials(audit_path, fake):
    settings = make_settings(
        audit_path,
        telco_mcp_sandbox=True,
        sipgate_token_id="token-ABC123",
        sipgate_token="would-be-real",
    )
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("sipgate_get_account", {})
    assert result.structured_content["company"]  # answered by the sandbox
    assert fake.requests == []


async def test_the_embedded_sandbox_still_asks_before_writing(audit_path):
    async with Client(build_server(make_settings(audit_path))) as c:
        result = await c.call_tool("sipgate_hangup_call", {"call_id": "A20E12ABE5044585"})
        calls = (await c.call_tool("sipgate_list_calls", {})).structured_content["calls"]
    assert result.structured_content["status"] == "approval_pending"
    assert "A20E12ABE5044585" in {call["call_id"] for call in calls}
