"""The official MCP Inspector CLI (`@modelcontextprotocol/inspector --cli`) against the sandbox.

Over stdio (the Inspector spawns `telco-mcp serve`), streamable HTTP (`/mcp`) and SSE (`/sse`), in
the handshake era and the 2026-07-28 era. The Inspector declares no elicitation, so a write tool
must answer with a pending out-of-band approval and must not write until a person approves it
(here with `telco-mcp approvals` from a second process).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from .conftest import (
    APPROVER_PIN,
    SANDBOX_META,
    TELCO_MCP,
    Completed,
    NodeTools,
    ServerProcess,
    applied_writes,
    approvals_cli,
    audit_records,
    run_bounded,
)

pytestmark = [pytest.mark.node, pytest.mark.clients]

Target = Literal["stdio", "http", "sse"]
READ_TOOLS = {"sipgate_list_calls", "signalwire_get_sip_profile", "signalwire_list_sip_gateways"}
WRITE_TOOLS = {"sipgate_send_sms", "sipgate_hold_call", "signalwire_update_sip_gateway"}
SMS = {"recipient": "+4915799912345", "message": "hi"}
CONFIRM_SECRET = "inspector-test-confirm-secret-0123456789abcdef"


class Inspector:
    """`mcp-inspector --cli -q --format json [--protocol-era E] <target> --method ...` for one target."""

    def __init__(self, tools: NodeTools, workdir: Path, target: Target, server: ServerProcess | None) -> None:
        self.tools = tools
        self.workdir = workdir
        self.target = target
        self.server = server
        self.state_home = server.state_home if server else workdir / "state"

    def _target_args(self) -> list[str]:
        if self.server is not None:
            return [self.server.url]
        # stdio: the Inspector spawns the server with only these variables added to its small default env
        return [
            "-e",
            f"XDG_STATE_HOME={self.state_home}",
            "-e",
            "TELCO_MCP_LOG_LEVEL=WARNING",
            "-e",
            f"TELCO_MCP_APPROVER_PIN={APPROVER_PIN}",
            "-e",  # one key for every spawned server, so a token from one run is valid in the next
            f"TELCO_MCP_CONFIRM_SECRET={CONFIRM_SECRET}",
            "--cwd",
            str(self.workdir),
            str(TELCO_MCP),
            "serve",
        ]

    def run(self, *method_args: str, era: str = "legacy") -> Completed:
        cmd = [
            str(self.tools.inspector),
            "--cli",
            "-q",
            "--format",
            "json",
            "--protocol-era",
            era,
            *self._target_args(),
            *method_args,
        ]
        return run_bounded(cmd, env=self.tools.env(self.workdir), cwd=self.workdir, timeout=90)

    def ok(self, *method_args: str, era: str = "legacy") -> dict[str, Any]:
        done = self.run(*method_args, era=era)
        assert done.returncode == 0, f"inspector rc={done.returncode}\n{done.stdout}\n{done.stderr}"
        data = done.json()
        assert isinstance(data, dict) and "result" in data, data
        return data["result"]

    def call(self, tool: str, arguments: dict[str, Any] | None = None, era: str = "legacy") -> dict[str, Any]:
        args: Sequence[str] = ["--tool-args-json", json.dumps(arguments)] if arguments else []
        return self.ok("--method", "tools/call", "--tool-name", tool, *args, era=era)


@pytest.fixture(params=["stdio", "http", "sse"])
def inspector(request: pytest.FixtureRequest, node_tools: NodeTools, tmp_path: Path) -> Inspector:
    target: Target = request.param
    server: ServerProcess | None = None
    if target != "stdio":
        server = request.getfixturevalue(f"{target}_server")
    return Inspector(node_tools, tmp_path, target, server)


def _sandbox_text(result: dict[str, Any]) -> str:
    texts = [block["text"] for block in result["content"] if block.get("type") == "text"]
    assert texts, result
    return texts[0]


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_lists_tools_with_annotations(inspector: Inspector, era: str) -> None:
    result = inspector.ok("--method", "tools/list", era=era)
    tools = {tool["name"]: tool for tool in result["tools"]}
    assert tools.keys() >= READ_TOOLS | WRITE_TOOLS
    for name, tool in tools.items():
        annotations = tool.get("annotations")
        assert isinstance(annotations, dict), f"{name} has no annotations"
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert isinstance(annotations.get(hint), bool), f"{name}: {hint} missing"
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object", f"{name} has no output schema"
    for name in READ_TOOLS:
        assert tools[name]["annotations"]["readOnlyHint"] is True
    for name in WRITE_TOOLS:
        assert tools[name]["annotations"]["readOnlyHint"] is False
        assert {"dry_run", "approval_id"} <= tools[name]["inputSchema"]["properties"].keys()


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_calls_a_read_tool(inspector: Inspector, era: str) -> None:
    result = inspector.call("sipgate_list_calls", era=era)
    assert result.get("isError") is not True, result
    calls = result["structuredContent"]["calls"]
    assert calls and all(call["call_id"] for call in calls)
    assert result["_meta"][SANDBOX_META] is True
    assert _sandbox_text(result).startswith("[SANDBOX")

    profile = inspector.call("signalwire_get_sip_profile", era=era)
    assert profile.get("isError") is not True, profile
    assert profile["structuredContent"]["domain"].endswith(".signalwire.com")
    assert profile["_meta"][SANDBOX_META] is True


def _writes(state_home: Path, tool: str) -> list[dict[str, Any]]:
    """Audit lines that exist only when a write reached (or was about to reach) the provider."""
    return [
        r
        for r in audit_records(state_home)
        if r.get("tool") == tool and (r.get("event") == "intent" or r.get("outcome") == "applied")
    ]


def test_inspector_write_returns_a_pending_approval_and_writes_nothing(inspector: Inspector) -> None:
    before = len(_writes(inspector.state_home, "sipgate_send_sms"))
    result = inspector.call("sipgate_send_sms", SMS)
    assert result.get("isError") is not True, result
    pending = result["structuredContent"]
    assert pending["status"] == "approval_pending"
    assert pending["approval_id"].startswith("apr_")
    assert "confirm_token" not in pending and "request" not in pending
    assert "Not sent yet" in _sandbox_text(result)
    assert "telco-mcp approvals approve <id> (approver PIN)" in _sandbox_text(result)
    assert len(_writes(inspector.state_home, "sipgate_send_sms")) == before, "asking must not write"


def test_inspector_approval_round_trip_writes_once(inspector: Inspector) -> None:
    """Positive control for the check above: approved from a second process, the retry writes exactly once."""
    applied_before = len(applied_writes(inspector.state_home, "sipgate_send_sms"))
    # An approval belongs to the session that asked (docs/approvals.md) and each Inspector run is one session:
    # over HTTP the runs speak 2026-07-28, which is sessionless (every holder of the bearer token is one
    # principal), so a later run redeems it; in the 2025 era a run's session closes when it exits.
    era = "legacy" if inspector.server is None else "modern"
    pending = inspector.call("sipgate_send_sms", SMS, era=era)["structuredContent"]
    approval_id = pending["approval_id"]
    confirmed = {**SMS, "approval_id": approval_id}
    if inspector.server is None:
        # stdio: the Inspector spawns a server per call, and pending approvals live in that one process.
        gone = inspector.run(
            "--method", "tools/call", "--tool-name", "sipgate_send_sms", "--tool-args-json", json.dumps(confirmed)
        )
        assert "does not belong to this call" in gone.stdout, gone.stdout
        assert len(applied_writes(inspector.state_home, "sipgate_send_sms")) == applied_before
        return

    still = inspector.call("sipgate_send_sms", confirmed, era=era)
    assert still["structuredContent"]["status"] == "approval_pending"
    assert "Still pending" in _sandbox_text(still)
    assert len(applied_writes(inspector.state_home, "sipgate_send_sms")) == applied_before

    done = approvals_cli(inspector.state_home, "approve", approval_id)
    assert done.returncode == 0, done.stderr
    assert f"{approval_id} approved" in done.stdout

    applied = inspector.call("sipgate_send_sms", confirmed, era=era)
    assert applied["structuredContent"]["status"] == "applied", applied
    records = applied_writes(inspector.state_home, "sipgate_send_sms")
    assert len(records) == applied_before + 1
    assert records[-1]["confirmed_by"] == "cli" and records[-1]["approval"] == approval_id

    replay = inspector.run(
        "--method", "tools/call", "--tool-name", "sipgate_send_sms", "--tool-args-json", json.dumps(confirmed), era=era
    )
    assert replay.returncode != 0 or '"isError":true' in replay.stdout.replace(" ", ""), replay.stdout
    assert applied_writes(inspector.state_home, "sipgate_send_sms") == records


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_inspector_strict_schema_check_is_clean(node_tools: NodeTools, tmp_path: Path, era: str) -> None:
    """`--strict` reports every schema-portability problem; with every tool listed (sandbox: writes on) it finds none.

    A field without a type (as `RequestPreview.body` once was) is a warning on every write tool.
    """
    inspector = Inspector(node_tools, tmp_path, "stdio", None)
    done = inspector.run("--method", "tools/list", "--strict", era=era)
    assert done.returncode == 0, f"inspector rc={done.returncode}\n{done.stderr}"
    names = {tool["name"] for tool in done.json()["result"]["tools"]}
    assert names >= READ_TOOLS | WRITE_TOOLS, "the check must see the write tools' output schemas"
    problems = [line for line in done.stderr.splitlines() if line.startswith(("Warning", "Error"))]
    assert not problems, done.stderr
    assert "warnings across" not in done.stderr, done.stderr
