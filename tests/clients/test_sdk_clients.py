"""The Python SDK's `mcp.Client` against a real `telco-mcp serve` subprocess.

Over stdio (the client spawns the server) and over streamable HTTP, each in both protocol eras:
`mode="auto"` negotiates 2026-07-28 (stateless, elicitation through `InputRequiredResult`),
`mode="legacy"` the 2025-11-25 handshake (elicitation as a live server->client request).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

from .conftest import SANDBOX_META, TELCO_MCP, ServerProcess, applied_writes, approvals_cli, audit_records, clean_env

Transport = Literal["stdio", "http"]
Mode = Literal["auto", "legacy"]
ERA = {"auto": "2026-07-28", "legacy": "2025-11-25"}
TIMEOUT = 60
SMS = {"recipient": "+4915799912345", "message": "hi"}


@dataclass
class Asker:
    """An elicitation callback that answers every question the same way and remembers the questions."""

    action: Literal["accept", "decline", "cancel"] = "accept"
    questions: list[str] = field(default_factory=list)

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action=self.action)


@dataclass
class Target:
    transport: Transport
    mode: Mode
    state_home: Path
    workdir: Path
    http: ServerProcess | None = None

    @asynccontextmanager
    async def client(self, asker: Asker | None = None) -> AsyncIterator[Client]:
        kwargs: dict[str, Any] = {
            "mode": self.mode,
            "elicitation_callback": asker,
            "read_timeout_seconds": 30,
            "cache": None,  # every call must reach the server
        }
        if self.http is not None:
            async with Client(self.http.url, **kwargs) as client:
                yield client
            return
        params = StdioServerParameters(
            command=str(TELCO_MCP), args=["serve"], env=clean_env(self.state_home), cwd=self.workdir
        )
        with (self.workdir / "stdio-server.stderr").open("a") as errlog:
            async with Client(stdio_client(params, errlog=errlog), **kwargs) as client:
                yield client


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> Mode:
    return request.param


@pytest.fixture
def target(transport: Transport, mode: Mode, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if transport == "http":
        server: ServerProcess = request.getfixturevalue("http_server")
        return Target(transport, mode, server.state_home, tmp_path, server)
    return Target(transport, mode, tmp_path / "state", tmp_path)


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def assert_sandboxed(result: CallToolResult) -> None:
    assert result.meta is not None and result.meta.get(SANDBOX_META) is True, result.meta
    assert text_of(result).startswith("[SANDBOX"), text_of(result)[:80]


@pytest.mark.anyio
async def test_lists_tools_and_calls_a_read_tool(target: Target) -> None:
    with anyio.fail_after(TIMEOUT):
        async with target.client() as client:
            assert client.protocol_version == ERA[target.mode]
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert {"sipgate_list_calls", "signalwire_list_sip_gateways", "sipgate_send_sms"} <= tools.keys()
            read = tools["signalwire_list_sip_gateways"]
            assert read.annotations is not None and read.annotations.read_only_hint is True
            assert read.output_schema is not None
            write = tools["sipgate_send_sms"]
            assert write.annotations is not None and write.annotations.read_only_hint is False

            result = await client.call_tool("signalwire_list_sip_gateways", {})
            assert not result.is_error, text_of(result)
            assert_sandboxed(result)
            assert isinstance(result.structured_content, dict)
            gateways = result.structured_content["items"]
            assert gateways and all(g["id"] for g in gateways)
            # the model-facing text carries the same data as the structured content
            assert gateways[0]["id"] in text_of(result)


@pytest.mark.anyio
async def test_write_confirmed_by_elicitation_is_applied(target: Target) -> None:
    asker = Asker("accept")
    with anyio.fail_after(TIMEOUT):
        async with target.client(asker) as client:
            calls = (await client.call_tool("sipgate_list_calls", {})).structured_content
            assert calls is not None and calls["calls"], calls
            call = calls["calls"][0]
            want = not call["hold"]
            before = len(applied_writes(target.state_home, "sipgate_hold_call"))

            result = await client.call_tool("sipgate_hold_call", {"call_id": call["call_id"], "value": want})
            assert not result.is_error, text_of(result)
            assert_sandboxed(result)
            assert result.structured_content is not None
            assert result.structured_content["status"] == "applied", result.structured_content
            assert len(asker.questions) == 1 and call["call_id"] in asker.questions[0]

            after = (await client.call_tool("sipgate_list_calls", {})).structured_content
            assert after is not None
            assert {c["call_id"]: c["hold"] for c in after["calls"]}[call["call_id"]] is want
    records = applied_writes(target.state_home, "sipgate_hold_call")
    assert len(records) == before + 1 and records[-1]["confirmed_by"] == "elicitation"


@pytest.mark.anyio
async def test_declined_elicitation_writes_nothing(target: Target) -> None:
    asker = Asker("decline")
    with anyio.fail_after(TIMEOUT):
        async with target.client(asker) as client:
            before = len(applied_writes(target.state_home, "sipgate_send_sms"))
            result = await client.call_tool("sipgate_send_sms", SMS)
            assert result.structured_content is not None, text_of(result)
            assert result.structured_content["status"] == "declined"
            assert len(asker.questions) == 1
    assert len(applied_writes(target.state_home, "sipgate_send_sms")) == before


@pytest.mark.anyio
async def test_write_without_elicitation_waits_for_an_approval_given_in_a_terminal(target: Target) -> None:
    with anyio.fail_after(TIMEOUT):
        async with target.client() as client:  # no callback: the client declares no elicitation
            before = len(applied_writes(target.state_home, "sipgate_send_sms"))
            seen = len(audit_records(target.state_home))
            pending = await client.call_tool("sipgate_send_sms", SMS)
            assert not pending.is_error, text_of(pending)
            assert_sandboxed(pending)
            data = pending.structured_content
            assert data is not None and data["status"] == "approval_pending", data
            assert not [
                r
                for r in audit_records(target.state_home)[seen:]
                if r.get("tool") == "sipgate_send_sms" and r.get("event") == "intent"
            ]
            assert len(applied_writes(target.state_home, "sipgate_send_sms")) == before

            listed = await anyio.to_thread.run_sync(approvals_cli, target.state_home, "list", "--json")
            assert data["approval_id"] in {item["id"] for item in json.loads(listed.stdout)}, listed.stderr
            done = await anyio.to_thread.run_sync(approvals_cli, target.state_home, "approve", data["approval_id"])
            assert done.returncode == 0, done.stderr

            confirmed = await client.call_tool("sipgate_send_sms", {**SMS, "approval_id": data["approval_id"]})
            assert confirmed.structured_content is not None, text_of(confirmed)
            assert confirmed.structured_content["status"] == "applied"
    records = applied_writes(target.state_home, "sipgate_send_sms")
    assert len(records) == before + 1 and records[-1]["confirmed_by"] == "cli"


def test_stdio_stdout_carries_only_protocol_messages(tmp_path: Path) -> None:
    """At DEBUG level every log line goes to stderr; stdout holds nothing but JSON-RPC messages."""
    env = clean_env(tmp_path / "state", TELCO_MCP_LOG_LEVEL="DEBUG")
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:  # a file, not a pipe: nobody drains stderr while we talk
        proc = subprocess.Popen(
            [str(TELCO_MCP), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=tmp_path,
        )
    watchdog = threading.Timer(TIMEOUT, proc.kill)
    watchdog.start()
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    def reply(request_id: int) -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline().decode()
            assert line, "server closed stdout"
            lines.append(line)
            message = json.loads(line)  # a log line on stdout would fail here
            if message.get("id") == request_id:
                return message

    try:
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        assert reply(1)["result"]["serverInfo"]["name"] == "telco-mcp"
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "sipgate_list_calls"}})
        assert reply(2)["result"]["structuredContent"]["calls"]
        proc.stdin.close()  # EOF: the server shuts down
        rest = proc.stdout.read()
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    lines += rest.decode().splitlines()
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in lines if line.strip())
    log = stderr_path.read_text()
    assert "SANDBOX MODE" in log and "DEBUG" in log, log[-2000:]
