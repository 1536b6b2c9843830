"""docs/clients.md: every JSON configuration and `claude mcp add` line it gives to copy (the block `telco-mcp config`
generates, with the example install's command standing for this install's) is well formed and names a command
that is installed and accepts its arguments, and the client matrix names a test for every row it says was run
or parsed.

These are the rows for clients that cannot run on this machine (Claude Desktop by hand, Claude Code,
VS Code, Cursor): their configuration is what a reader copies, so it is what is checked.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from telco_mcp import client_config
from telco_mcp.settings import Settings

from .conftest import ROOT

DOC = (ROOT / "docs" / "clients.md").read_text()  # the README points here
SECTION = DOC[DOC.index("## Every client, and how it is checked") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)]
# The configurations to copy: what `telco-mcp config` prints for an example install (`telco-mcp manifest --check`
# keeps this block equal to it); its command path stands for this install's.
GENERATED = DOC[DOC.index(client_config.START) : DOC.index(client_config.END)]
VENV_BIN = Path(sys.executable).parent
THIS_INSTALL = {client_config.EXAMPLE_COMMAND[0]: str(VENV_BIN / "telco-mcp")}
LOCAL_URL = "http://127.0.0.1:8000/mcp"  # what `make serve` serves
SECRET_PLACEHOLDERS = re.compile(r"(scrypt\$)?…|\$\{input:[a-z0-9-]+\}")


def here(text: str) -> str:
    for example, installed in THIS_INSTALL.items():
        text = text.replace(example, installed)
    return text


def json_snippets() -> list[dict[str, Any]]:
    """Every ```json block of the generated configurations, and every inline `{...}` config of the docs."""
    blocks = re.findall(r"```json\n(.*?)\n```", GENERATED, flags=re.DOTALL)
    inline = re.findall(r"`(\{\"(?:mcpServers|servers)\".*?\})`", DOC)
    return [json.loads(here(text)) for text in [*blocks, *inline]]


def claude_mcp_add_lines() -> list[list[str]]:
    """The generated `claude mcp add ...` lines, split as a shell would."""
    return [shlex.split(here(line)) for line in re.findall(r"^(claude mcp add .+)$", GENERATED, flags=re.M)]


def resolve(command: str) -> str:
    """The command as a reader's shell finds it after the docs' install (here: this venv first)."""
    found = shutil.which(command, path=f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin")
    assert found, f"{command!r} is not installed"
    return found


def assert_runs(command: str, args: list[str]) -> None:
    """The command exists and takes these arguments (`--help` after them: nothing is started)."""
    done = subprocess.run([resolve(command), *args, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{command} {' '.join(args)} --help -> {done.returncode}\n{done.stderr}"


def assert_settings(env: dict[str, str], declared_inputs: frozenset[str] = frozenset()) -> None:
    fields = Settings.model_fields
    for name, value in env.items():
        assert name.lower() in fields, f"{name} is not a telco-mcp setting"
        if SecretStr in typing.get_args(fields[name.lower()].annotation):
            assert SECRET_PLACEHOLDERS.fullmatch(value), f"{name}: the docs show a placeholder, not {value!r}"
        for ref in re.findall(r"\$\{input:([a-z0-9-]+)\}", value):
            assert ref in declared_inputs, f"{name} uses ${{input:{ref}}}, which is not declared in inputs"


def test_every_json_snippet_parses_and_names_an_installed_command() -> None:
    snippets = json_snippets()
    assert len(snippets) >= 4, "Claude Desktop, VS Code, Cursor and the HTTP form"
    shapes = set()
    for doc in snippets:
        key = "mcpServers" if "mcpServers" in doc else "servers"
        servers = doc[key]
        assert servers, doc
        inputs = frozenset(item["id"] for item in doc.get("inputs", []))
        for entry in servers.values():
            if "url" in entry:
                assert entry.get("type", "http") == "http" and entry["url"] == LOCAL_URL, entry
                assert set(entry) <= {"type", "url"}, entry
                shapes.add((key, "http"))
                continue
            assert entry.get("type", "stdio") == "stdio", entry
            assert_runs(entry["command"], entry["args"])
            assert not [a for a in entry["args"] if "TOKEN" in a.upper() or "=" in a], "secrets go in env"
            assert_settings(entry.get("env", {}), inputs)
            shapes.add((key, "stdio"))
    assert shapes == {("mcpServers", "stdio"), ("servers", "stdio"), ("servers", "http"), ("mcpServers", "http")}


def test_every_claude_mcp_add_line_names_an_installed_command() -> None:
    lines = claude_mcp_add_lines()
    assert len(lines) == 2, lines
    for words in lines:
        if "--" in words:
            command, *args = words[words.index("--") + 1 :]
            assert_runs(command, args)
            env = dict(w.split("=", 1) for w in words[words.index("--env") : words.index("--")] if "=" in w)
            assert_settings(env)
            assert env.get("TELCO_MCP_APPROVER_PIN", "").startswith("scrypt$")  # the hash, never the PIN
        else:
            assert words[3:] == ["--transport", "http", "telco", LOCAL_URL], words
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PORT \?= 8000$", makefile, flags=re.MULTILINE), "make serve's port moved: fix the docs"


def test_client_matrix_names_a_test_for_every_row() -> None:
    start, end = SECTION.index("<!-- START CLIENT MATRIX"), SECTION.index("<!-- END CLIENT MATRIX -->")
    rows = [line for line in SECTION[start:end].splitlines() if line.startswith("| ") and "---" not in line][1:]
    clients = [row.split(" | ")[0].lstrip("| ") for row in rows]
    for wanted in (
        "Claude Desktop, bundle",
        "Claude Desktop, by hand",
        "Claude Code",
        "VS Code",
        "Cursor",
        "MCP Inspector",
        "TypeScript SDK 1.x",
        "TypeScript client 2.x",
        "a remote HTTP client",
    ):
        assert any(client.startswith(wanted) for client in clients), f"no row for {wanted}"
    for row in rows:
        checked = row.rstrip(" |").split(" | ")[-1]
        assert checked.startswith(("run", "parsed")), row
        tests = re.findall(r"`(tests/[^`]+\.py)`", checked)
        assert tests and all((ROOT / t).is_file() for t in tests), row
