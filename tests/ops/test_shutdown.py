"""SIGTERM on `telco-mcp serve --transport http`, against real processes: drain, then a graceful exit.

During TELCO_MCP_SHUTDOWN_DRAIN the server still listens: /readyz is 503, /healthz 200, a new session
gets a JSON-RPC error saying the server is stopping, and a session opened before keeps working. Then
uvicorn's exit waits TELCO_MCP_SHUTDOWN_GRACE for calls in flight; a write cut there is audited
`unknown` (sent) or `refused` (not sent), and the process exits 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from telco_mcp import sandbox as sb

pytestmark = pytest.mark.xdist_group("serial")  # timing and load: on one xdist worker

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def initialize(version: str = "2025-11-25") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "drain", "version": "1"}},
    }  # fmt: skip


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_MCP_", "SIPGATE_", "SIGNALWIRE_"))}
    return (
        env | {"XDG_STATE_HOME": str(tmp_path / "state"), "TELCO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")} | extra
    )


@contextmanager
def process(tmp_path: Path, argv: list[str], env: dict[str, str], ready: str, name: str) -> Iterator[tuple[Any, int]]:
    log = tmp_path / f"{name}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "telco_mcp", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(ready, log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield proc, int(found.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


SERVING = r"serving streamable HTTP on http://127\.0\.0\.1:(\d+)/mcp"


async def open_session(http: httpx2.AsyncClient) -> dict[str, str]:
    """A 2025-11-25 session: initialize, then initialized; the headers its requests carry."""
    opened = await http.post("/mcp", json=initialize(), headers=MCP_HEADERS)
    headers = {**MCP_HEADERS, "mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return headers


def rpc_answer(response: httpx2.Response) -> dict[str, Any]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sigterm_drains_then_exits_0_keeping_open_sessions_and_refusing_new_ones(tmp_path: Path):
    env = env_for(tmp_path, TELCO_MCP_SANDBOX="1", TELCO_MCP_SHUTDOWN_DRAIN="4", TELCO_MCP_SHUTDOWN_GRACE="5")
    with process(tmp_path, ["serve", "--transport", "http", "--port", "0"], env, SERVING, "server") as (proc, port):
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, timeout=30) as http:
            opened = http.post("/mcp", json=initialize(), headers=MCP_HEADERS)
            session = opened.headers["mcp-session-id"]
            session_headers = {**MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
            http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session_headers)
            assert http.get("/readyz").status_code == 200

            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while (ready := http.get("/readyz")).status_code == 200:  # the handler runs on the next tick
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert ready.status_code == 503 and ready.json()["missing"] == ["draining"]
            assert http.get("/healthz").status_code == 200  # still listening: balancers see the 503

            refused = http.post("/mcp", json=initialize(), headers=MCP_HEADERS)
            assert refused.status_code == 503
            error = refused.json()
            assert error["id"] == 1 and error["error"]["code"] == -32000 and "stopping" in error["error"]["message"]
            sessionless = http.post(
                "/mcp", json={"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}},
                headers={**MCP_HEADERS, "mcp-protocol-version": "2026-07-28"},
            )  # fmt: skip
            assert sessionless.status_code == 503 and sessionless.json()["id"] == 7

            listed = http.post(
                "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=session_headers
            )
            assert listed.status_code == 200
            assert rpc_answer(listed)["result"]["tools"]
        assert proc.wait(timeout=30) == 0
    log = (tmp_path / "server.log").read_text()
    assert "SIGTERM: draining for 4 s" in log


def test_a_drain_of_0_stops_at_once(tmp_path: Path):
    env = env_for(tmp_path, TELCO_MCP_SANDBOX="1", TELCO_MCP_SHUTDOWN_DRAIN="0")
    with process(tmp_path, ["serve", "--transport", "http", "--port", "0"], env, SERVING, "server") as (proc, port):
        assert httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # uvicorn's handlers are in place
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=4) == 0  # the default drain (5 s) would still be listening
    assert "draining" not in (tmp_path / "server.log").read_text()


@pytest.mark.anyio
async def test_a_write_cut_by_the_grace_period_is_audited_unknown_and_the_process_exits_0(tmp_path: Path):
    sandbox_env = env_for(tmp_path)
    with process(
        tmp_path, ["sandbox", "--port", "0"], sandbox_env, r"sandbox on http://127\.0\.0\.1:(\d+) ", "sandbox"
    ) as (
        _,
        sandbox_port,
    ):
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        slow_send = {"kind": "latency", "method": "POST", "path_prefix": "/v2/sessions/sms", "latency_ms": 60000}
        httpx2.post(f"{sandbox}/_sandbox/faults", json=slow_send).raise_for_status()  # lookups stay fast
        env = env_for(
            tmp_path,
            SIPGATE_TOKEN_ID=sb.SIPGATE_TOKEN_ID, SIPGATE_TOKEN=sb.SIPGATE_TOKEN, SIPGATE_BASE_URL=f"{sandbox}/v2",
            TELCO_MCP_ALLOW_WRITES="1", TELCO_MCP_CONFIRM="off", TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED="1",
            TELCO_MCP_SHUTDOWN_DRAIN="0", TELCO_MCP_SHUTDOWN_GRACE="1",
        )  # fmt: skip
        argv = ["serve", "--transport", "http", "--port", "0"]
        with process(tmp_path, argv, env, SERVING, "server") as (proc, port):
            call = {
                "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "sipgate_send_sms", "arguments": {"recipient": "+4915799912345", "message": "x"}},
            }  # fmt: skip
            import anyio

            async def send_sms() -> None:
                async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=90) as http:
                    session = await open_session(http)
                    with contextlib.suppress(httpx2.HTTPError):  # closed at the end of the grace period
                        await http.post("/mcp", json=call, headers=session)

            async with anyio.create_task_group() as group:
                group.start_soon(send_sms)
                with anyio.fail_after(30):
                    while not any(line["event"] == "intent" for line in audit_lines(tmp_path)):
                        await anyio.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
                with anyio.fail_after(12):  # the grace of 1 s, not the default 20, cuts the write
                    while proc.poll() is None:
                        await anyio.sleep(0.05)
                group.cancel_scope.cancel()
            assert proc.returncode == 0
    lines = audit_lines(tmp_path)
    intent = next(line for line in lines if line["event"] == "intent")
    outcome = [line for line in lines if line["event"] == "attempt" and line.get("attempt") == intent["attempt"]]
    assert [line["outcome"] for line in outcome] == ["unknown"]
    assert "cut before the provider answered" in outcome[0]["detail"]


@pytest.mark.anyio
async def test_a_write_cut_while_a_person_is_still_asked_is_audited_refused(audit_path: Path):
    """Cut before it was sent (here the client cancels while the question is open; a shutdown cuts the same
    way): nothing was sent, and the audit says so."""
    import anyio
    from mcp import Client
    from mcp.types import ElicitResult

    from telco_mcp.server import build_server
    from tests.conftest import make_settings

    asked = anyio.Event()

    async def never_answers(context: Any, params: Any) -> ElicitResult:
        asked.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    server = build_server(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_confirm="elicit"))
    async with Client(server, mode="legacy", elicitation_callback=never_answers) as client:
        with anyio.move_on_after(30) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "sipgate_send_sms", {"recipient": "+4915799912345", "message": "x"})
                await asked.wait()
                group.cancel_scope.cancel()
        assert not scope.cancelled_caught
        with anyio.fail_after(10):
            while not [line for line in audit_lines(audit_path.parent) if line.get("outcome") == "refused"]:
                await anyio.sleep(0.05)
    lines = audit_lines(audit_path.parent)
    assert not [line for line in lines if line["event"] == "intent"]  # never got as far as being sent
    refused = [line for line in lines if line.get("outcome") == "refused"]
    assert len(refused) == 1 and "cut before it was sent" in refused[0]["detail"]
