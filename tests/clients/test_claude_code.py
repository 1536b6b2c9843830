"""Claude Code's own CLI (`@anthropic-ai/claude-code`, pinned in the Makefile) runs the `claude mcp add` lines
of docs/clients.md (what `telco-mcp config claude-code` prints, for this install) and connects to the server they
describe, with no virtualenv on PATH: the line names the command by its absolute path.

`claude mcp add` writes the server into the user's Claude Code configuration (a temporary HOME here);
`claude mcp get` then starts it (stdio) or calls it (streamable HTTP) and reports whether it connected.
The docs' placeholders are filled in: a sipgate token for `…`, and for `scrypt$…` the real hash
`telco-mcp approvals hash-pin` prints.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import APPROVER_PIN, ROOT, TELCO_MCP, NodeTools, ServerProcess, run_bounded
from .test_client_configs import claude_mcp_add_lines

pytestmark = [pytest.mark.node, pytest.mark.client_matrix]  # `make client-matrix` only

# `make client-matrix` installs the pinned CLI into build/claude-code and names it here.
CLAUDE = Path(os.environ.get("TELCO_MCP_CLAUDE_CODE") or ROOT / "build/claude-code/node_modules/.bin/claude")
CANARY_TOKEN = "canary-claude-code-sipgate-pat-3c7e"


def pin_hash() -> str:
    done = subprocess.run(
        [str(TELCO_MCP), "approvals", "hash-pin", "--pin-stdin"],
        input=APPROVER_PIN + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def claude(node_tools: NodeTools, home: Path, *args: str) -> str:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: run `make client-matrix` (it installs Claude Code's CLI)", pytrace=False)
    env = node_tools.env(
        home,
        DISABLE_TELEMETRY="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        XDG_STATE_HOME=str(home / "state"),
    )
    done = run_bounded([CLAUDE, *args], env=env, cwd=home / "project", timeout=120)
    assert done.returncode == 0, f"claude {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    return tmp_path


def test_stdio_line_adds_a_server_that_connects(node_tools: NodeTools, home: Path) -> None:
    (words,) = [w for w in claude_mcp_add_lines() if "--" in w]
    filled = [w.replace("scrypt$…", pin_hash()).replace("…", CANARY_TOKEN) for w in words]
    claude(node_tools, home, *filled[1:])
    shown = claude(node_tools, home, "mcp", "get", "telco")
    assert "Connected" in shown and "Failed" not in shown, shown
    entry = json.loads((home / ".claude.json").read_text())["projects"][str(home / "project")]["mcpServers"]["telco"]
    assert entry["command"] == str(TELCO_MCP) and entry["args"] == ["serve"], entry  # the path `config` printed
    assert entry["env"]["SIPGATE_TOKEN"] == CANARY_TOKEN and CANARY_TOKEN not in entry["args"]


def test_http_line_adds_a_server_that_connects(node_tools: NodeTools, home: Path, http_server: ServerProcess) -> None:
    (words,) = [w for w in claude_mcp_add_lines() if "--" not in w]
    filled = [http_server.url if w.startswith("http://127.0.0.1:8000/") else w for w in words]
    assert http_server.url in filled
    claude(node_tools, home, *filled[1:])
    shown = claude(node_tools, home, "mcp", "get", "telco")
    assert "Connected" in shown and "Failed" not in shown, shown
