"""`telco-mcp config CLIENT` (issue 26, item 1): each printed configuration is run the way its client would run
it: the JSON or command line parsed, the server started exactly as configured (command, arguments and the
entry's environment, on a PATH without the virtualenv, as a desktop app starts it) over stdio, and its tools
listed with the SDK's stdio client; the HTTP forms reach a running server. No secret is printed. `--write`
merges into the client's file: diff first, question, backup, other entries kept."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from telco_mcp import client_config

from .conftest import ROOT, TELCO_MCP, clean_env, running_server

CANARY = "config-canary-sipgate-token-5521"
CREDENTIALS = {"SIPGATE_TOKEN_ID": "token-ABC123", "SIPGATE_TOKEN": CANARY, "TELCO_MCP_ALLOW_WRITES": "1"}
BARE_PATH = "/usr/bin:/bin"  # what a desktop app's child sees: no virtualenv, no ~/.local/bin
TYPED = "what-the-user-typed-into-vscode"


def config(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in clean_env(tmp_path / "state").items() if not k.startswith("TELCO_MCP_")}
    return subprocess.run(
        [str(TELCO_MCP), "config", *args],
        input=stdin,
        env=base | {"HOME": str(tmp_path / "home")} | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed(tmp_path: Path, *args: str, **env: str) -> str:
    done = config(tmp_path, *args, **env)
    assert done.returncode == 0, done.stderr
    assert CANARY not in done.stdout + done.stderr
    return done.stdout


async def _tools(command: str, args: list[str], env: dict[str, str], cwd: Path) -> set[str]:
    params = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
    with anyio.fail_after(60), (cwd / "server.stderr").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            return {tool.name for tool in (await client.list_tools()).tools}


def start(tmp_path: Path, command: str, args: list[str], entry_env: dict[str, str]) -> set[str]:
    """Start the server as the client would: only the entry's variables on top of a desktop's bare env."""
    assert Path(command).is_absolute(), command
    env = {"HOME": str(tmp_path / "home"), "PATH": BARE_PATH, "XDG_STATE_HOME": str(tmp_path / "state")} | entry_env
    return anyio.run(_tools, command, args, env, tmp_path)


def assert_configured(tools: set[str]) -> None:
    """The entry's settings reached the server: sipgate (token given) with writes, no SignalWire, no sandbox."""
    assert {"sipgate_list_calls", "sipgate_send_sms"} <= tools, tools
    assert not [t for t in tools if t.startswith("signalwire_")], tools


@pytest.mark.parametrize("client", ["claude-desktop", "cursor"])
def test_mcp_servers_json_starts_the_server_as_configured(tmp_path: Path, client: str) -> None:
    doc = json.loads(printed(tmp_path, client, **CREDENTIALS))
    (entry,) = doc["mcpServers"].values()
    assert entry["command"] == str(TELCO_MCP) and entry["args"] == ["serve"]
    assert entry["env"] == {"SIPGATE_TOKEN_ID": "token-ABC123", "SIPGATE_TOKEN": "…", "TELCO_MCP_ALLOW_WRITES": "1"}
    assert_configured(start(tmp_path, entry["command"], entry["args"], entry["env"]))


def test_vscode_json_declares_an_input_for_each_secret_and_starts_the_server(tmp_path: Path) -> None:
    doc = json.loads(printed(tmp_path, "vscode", **CREDENTIALS))
    entry = doc["servers"]["telco"]
    assert entry["type"] == "stdio"
    assert doc["inputs"] == [
        {"type": "promptString", "id": "sipgate-token", "description": "SIPGATE_TOKEN (telco-mcp)", "password": True}
    ]
    # VS Code replaces ${input:id} with what the user typed when asked
    env = {k: re.sub(r"\$\{input:sipgate-token\}", TYPED, v) for k, v in entry["env"].items()}
    assert env["SIPGATE_TOKEN"] == TYPED
    assert_configured(start(tmp_path, entry["command"], entry["args"], env))


def test_claude_code_line_starts_the_server_after_the_double_dash(tmp_path: Path) -> None:
    words = shlex.split(printed(tmp_path, "claude-code", **CREDENTIALS))
    assert words[:4] == ["claude", "mcp", "add", "telco"]
    split = words.index("--")
    options = words[4:split]
    assert options[::2] == ["--env"] * (len(options) // 2)
    env = dict(value.split("=", 1) for value in options[1::2])
    assert env == {"SIPGATE_TOKEN_ID": "token-ABC123", "SIPGATE_TOKEN": "…", "TELCO_MCP_ALLOW_WRITES": "1"}
    command, *args = words[split + 1 :]
    assert_configured(start(tmp_path, command, args, env))


def test_inspector_line_starts_the_server_it_names(tmp_path: Path) -> None:
    done = config(tmp_path, "inspector", **CREDENTIALS)
    assert done.returncode == 0 and "Node >= 22" in done.stderr, done.stderr
    words = shlex.split(done.stdout)
    assert words[:2] == ["npx", "@modelcontextprotocol/inspector"]
    rest, env = words[2:], {}
    while rest[0] == "-e":
        key, _, value = rest[1].partition("=")
        env[key] = value
        rest = rest[2:]
    command, *args = rest
    assert_configured(start(tmp_path, command, args, env))


def test_without_settings_the_printed_entry_runs_the_sandbox(tmp_path: Path) -> None:
    done = config(tmp_path, "claude-desktop")
    assert done.returncode == 0 and "sandbox" in done.stderr, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["telco"]
    assert "env" not in entry
    tools = start(tmp_path, entry["command"], entry["args"], {})
    assert {"signalwire_list_sip_gateways", "sipgate_send_sms"} <= tools


def test_without_the_script_beside_python_the_command_is_python_dash_m(tmp_path: Path) -> None:
    """An interpreter with no `telco-mcp` next to it (a bare `python -m telco_mcp` install)."""
    python = tmp_path / "bin" / "python3"
    python.parent.mkdir()
    python.symlink_to(Path(os.__file__).parents[2] / "bin" / "python3")  # the base interpreter, not the venv
    assert client_config.server_command(str(python)) == [str(python), "-m", "telco_mcp"]
    venv_python = TELCO_MCP.parent / "python"
    assert client_config.server_command(str(venv_python)) == [str(TELCO_MCP)]
    run = client_config.launch(client_config.Settings.model_construct(), [str(venv_python), "-m", "telco_mcp"])
    tools = start(tmp_path, run.command, run.args, run.env)  # the venv's python -m telco_mcp serve
    assert "sipgate_list_calls" in tools


def test_http_forms_reach_a_running_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "serve", "http") as server:
        found: dict[str, str] = {}
        for client in ("vscode", "cursor", "claude-code", "inspector"):
            out = printed(tmp_path, client, "--transport", "http", "--url", server.url).strip()
            if client == "vscode":
                assert json.loads(out) == {"servers": {"telco": {"type": "http", "url": server.url}}}
                found[client] = server.url
            elif client == "cursor":
                found[client] = json.loads(out)["mcpServers"]["telco"]["url"]
            elif client == "claude-code":
                words = shlex.split(out)
                assert words[3:] == ["--transport", "http", "telco", server.url], words
                found[client] = words[-1]
            else:
                words = shlex.split(out)
                assert words[2:] == ["--cli", server.url, "--transport", "http", "--method", "tools/list"], words
                found[client] = words[3]

        async def listed(url: str) -> int:
            async with Client(url) as client:
                return len((await client.list_tools()).tools)

        for client, url in found.items():
            assert anyio.run(listed, url) > 0, client
    refused = config(tmp_path, "claude-desktop", "--transport", "http")
    assert refused.returncode == 2 and "stdio only" in refused.stderr


def test_the_approver_pin_is_a_hash_placeholder_and_a_webhook_url_never_printed(tmp_path: Path) -> None:
    from telco_mcp.approval.pin import hash_pin

    secret_hash = hash_pin("a long approver passphrase")
    hook = f"https://hooks.example.com/services/{CANARY}"
    out = printed(tmp_path, "cursor", TELCO_MCP_APPROVER_PIN=secret_hash, TELCO_MCP_APPROVAL_WEBHOOK=hook)
    env = json.loads(out)["mcpServers"]["telco"]["env"]
    assert env["TELCO_MCP_APPROVER_PIN"] == "scrypt$…" and env["TELCO_MCP_APPROVAL_WEBHOOK"] == "…"
    assert secret_hash not in out
    relative = printed(tmp_path, "cursor", TELCO_MCP_AUDIT_LOG="logs/audit.jsonl")  # read where config ran
    assert json.loads(relative)["mcpServers"]["telco"]["env"] == {
        "TELCO_MCP_AUDIT_LOG": str(tmp_path / "logs/audit.jsonl")
    }


# ------------------------------------------------------------------ --write
def _other_servers() -> dict[str, Any]:
    return {
        "mcpServers": {
            "github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": f"ghp-{CANARY}"}},
            "telco": {"command": "telco-mcp", "args": ["serve"]},  # the old, PATH-dependent entry
        },
        "globalShortcut": "Ctrl+Space",
    }


def test_write_shows_the_diff_asks_keeps_a_backup_and_keeps_other_entries(tmp_path: Path) -> None:
    target = tmp_path / "claude_desktop_config.json"
    original = json.dumps(_other_servers(), indent=4) + "\n"
    target.write_text(original)
    target.chmod(0o600)

    declined = config(tmp_path, "claude-desktop", "--write", "--file", str(target), stdin="n\n")
    assert declined.returncode == 1 and "nothing was written" in declined.stdout
    assert target.read_text() == original and list(tmp_path.glob("*.bak-*")) == []

    done = config(tmp_path, "claude-desktop", "--write", "--file", str(target), stdin="y\n", **CREDENTIALS)
    assert done.returncode == 0, done.stderr
    assert f"Write {target}; the old file is kept as claude_desktop_config.json.bak-" in done.stderr
    assert '-      "command": "telco-mcp",' in done.stdout and f'+      "command": "{TELCO_MCP}",' in done.stdout
    assert CANARY not in done.stdout + done.stderr  # the other server's secret is not shown in the diff
    written = json.loads(target.read_text())
    assert written["mcpServers"]["github"] == _other_servers()["mcpServers"]["github"]  # kept, secret and all
    assert written["globalShortcut"] == "Ctrl+Space"
    assert written["mcpServers"]["telco"]["command"] == str(TELCO_MCP)
    assert written["mcpServers"]["telco"]["env"]["SIPGATE_TOKEN"] == "…"
    (backup,) = tmp_path.glob("claude_desktop_config.json.bak-*")
    assert backup.read_text() == original
    assert target.stat().st_mode & 0o777 == 0o600

    again = config(tmp_path, "claude-desktop", "--write", "--file", str(target), "--yes", **CREDENTIALS)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert len(list(tmp_path.glob("*.bak-*"))) == 1


def test_write_merges_vscode_inputs_and_creates_a_missing_file(tmp_path: Path) -> None:
    target = tmp_path / "User" / "mcp.json"
    done = config(tmp_path, "vscode", "--write", "--file", str(target), "--yes", **CREDENTIALS)
    assert done.returncode == 0, done.stderr
    first = json.loads(target.read_text())
    assert [i["id"] for i in first["inputs"]] == ["sipgate-token"] and list(first["servers"]) == ["telco"]
    assert target.stat().st_mode & 0o777 == 0o600  # a new file may come to hold secrets: owner-only
    first["inputs"].append({"type": "promptString", "id": "other", "description": "x"})
    first["servers"]["other"] = {"type": "http", "url": "https://example.com/mcp"}
    target.write_text(json.dumps(first))
    done = config(tmp_path, "vscode", "--write", "--file", str(target), "--yes", "--name", "telco2", **CREDENTIALS)
    assert done.returncode == 0, done.stderr
    merged = json.loads(target.read_text())
    assert list(merged["servers"]) == ["telco", "other", "telco2"]
    assert [i["id"] for i in merged["inputs"]] == ["other", "sipgate-token"]


def test_write_leaves_a_file_it_cannot_read_alone(tmp_path: Path) -> None:
    target = tmp_path / "mcp.json"
    jsonc = '{\n  // my servers\n  "servers": {}\n}\n'
    target.write_text(jsonc)
    done = config(tmp_path, "vscode", "--write", "--file", str(target), "--yes")
    assert done.returncode == 2 and "is not plain JSON" in done.stderr and "nothing was changed" in done.stderr
    assert target.read_text() == jsonc and list(tmp_path.glob("*.bak-*")) == []
    refused = config(tmp_path, "claude-code", "--write")
    assert refused.returncode == 2 and "keeps its own configuration" in refused.stderr


def test_default_paths_are_the_documented_ones(tmp_path: Path) -> None:
    home = Path("/home/you")
    assert client_config.default_path("cursor", home=home) == home / ".cursor" / "mcp.json"
    mac = home / "Library" / "Application Support"
    assert client_config.default_path("claude-desktop", system="Darwin", home=home) == (
        mac / "Claude" / "claude_desktop_config.json"
    )
    assert client_config.default_path("vscode", system="Darwin", home=home) == mac / "Code" / "User" / "mcp.json"
    doc = (ROOT / "docs" / "clients.md").read_text()
    for shown in ("~/Library/Application Support/Claude/claude_desktop_config.json", "~/.cursor/mcp.json",
                  "~/Library/Application Support/Code/User/mcp.json"):  # fmt: skip
        assert shown in doc


def test_the_command_offers_every_client() -> None:
    from telco_mcp.cli import CONFIG_CLIENTS

    assert CONFIG_CLIENTS == client_config.CLIENTS


def test_the_docs_show_what_the_command_prints() -> None:
    """docs/clients.md's snippets are the command's output (telco-mcp manifest --check fails otherwise)."""
    doc = (ROOT / "docs" / "clients.md").read_text()
    assert client_config.with_doc_block(doc) == doc
    block = doc[doc.index(client_config.START) : doc.index(client_config.END)]
    for client in client_config.CLIENTS:
        assert f"`telco-mcp config {client}`" in block
    assert "example-secret-never-shown" not in doc
