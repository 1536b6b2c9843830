"""The official TypeScript SDK clients against a real `telco-mcp serve`, over stdio and streamable HTTP.

`@modelcontextprotocol/sdk` 1.x speaks the 2025-11-25 handshake; `@modelcontextprotocol/client` 2.x with
`versionNegotiation: {mode: 'auto'}` negotiates 2026-07-28 (elicitation then rides `input_required`
results). Each run (`ts_client.mjs`) lists the tools, reads the configuration resource, calls a read
tool and then a write, once with an elicitation handler that says yes (the write is applied, exactly
once) and once without elicitation (an approval is pending and nothing is written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest

from telco_mcp import __version__
from telco_mcp.safety.scopes import exposed_operations

from .conftest import NODE_DIR, TELCO_MCP, NodeTools, ServerProcess, applied_writes, clean_env, run_bounded, settings

pytestmark = [pytest.mark.node, pytest.mark.clients]

SCRIPT = Path(__file__).with_name("ts_client.mjs")
ERA = {"sdk1": "2025-11-25", "client2": "2026-07-28"}
Flavour = Literal["sdk1", "client2"]


def run_client(
    node_tools: NodeTools, workdir: Path, flavour: Flavour, elicit: bool, server: ServerProcess | None
) -> dict[str, Any]:
    if server is not None:
        target: dict[str, Any] = {"url": server.url}
    else:
        target = {
            "command": str(TELCO_MCP),
            "args": ["serve"],
            "env": clean_env(workdir / "state"),
            "cwd": str(workdir),
        }
    target_file = workdir / f"target-{flavour}.json"
    target_file.write_text(json.dumps(target))
    done = run_bounded(
        [node_tools.node22_bin / "node", SCRIPT, flavour, "elicit" if elicit else "no-elicit", target_file],
        env=node_tools.env(workdir, NODE_TOOLS=str(NODE_DIR)),
        cwd=workdir,
        timeout=120,
    )
    assert done.returncode == 0, f"{flavour} failed (rc={done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.json()


@pytest.mark.parametrize("flavour", ["sdk1", "client2"])
@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("elicit", [True, False], ids=["elicitation", "no-elicitation"])
def test_typescript_client_lists_reads_and_writes(
    node_tools: NodeTools,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    flavour: Flavour,
    transport: str,
    elicit: bool,
) -> None:
    server: ServerProcess | None = request.getfixturevalue("http_server") if transport == "http" else None
    state_home = server.state_home if server else tmp_path / "state"
    before = len(applied_writes(state_home, "sipgate_hold_call"))

    seen = run_client(node_tools, tmp_path, flavour, elicit, server)

    assert seen["protocolVersion"] == ERA[flavour]
    assert seen["server"]["name"] == "telco-mcp" and seen["server"]["version"] == __version__
    assert set(seen["tools"]) == {op.name for op in exposed_operations(settings())}
    assert seen["config"] == {
        "mode": "sandbox (both providers simulated, nothing real is touched)",
        "confirmation": "auto",
    }
    assert seen["read"] == {"isError": False, "items": seen["read"]["items"]} and seen["read"]["items"] > 0
    writes = applied_writes(state_home, "sipgate_hold_call")
    if elicit:
        assert seen["write"] == {"isError": False, "status": "applied"}
        assert seen["call"]["held"] is seen["call"]["wanted"]
        assert len(seen["questions"]) == 1 and seen["call"]["id"] in seen["questions"][0]
        assert len(writes) == before + 1 and writes[-1]["confirmed_by"] == "elicitation"
    else:
        assert seen["write"] == {"isError": False, "status": "approval_pending"}
        assert seen["call"]["held"] is not seen["call"]["wanted"], "nothing may change before a person approves"
        assert seen["questions"] == [] and len(writes) == before
