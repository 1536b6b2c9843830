"""Startup failures a client hides (issue 26, item 3): a stdio server started as Claude Code starts it, with a
malformed approver PIN hash, exits with its one-line reason on stderr and in `last-error` (owner-only, with
time and command, no secret); `telco-mcp doctor` shows that failure and names the malformed setting; the
next start that works removes the file."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from telco_mcp import last_error
from telco_mcp.approval.pin import hash_pin

from .conftest import TELCO_MCP, clean_env

CANARY = "pin-canary-4711"
MALFORMED = f"scrypt$16384$8$1${CANARY}$"  # a hash cut short when pasted: the digest is missing
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "claude-code", "version": "2"},
    },
}


def telco(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TELCO_MCP), *args],
        input=stdin,
        env=clean_env(tmp_path / "state") | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _list_tools(tmp_path: Path, pin: str) -> int:
    params = StdioServerParameters(
        command=str(TELCO_MCP),
        args=["serve", "--transport", "stdio"],
        env=clean_env(tmp_path / "state", TELCO_MCP_APPROVER_PIN=pin),
        cwd=tmp_path,
    )
    with anyio.fail_after(60), (tmp_path / "ok.stderr").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            return len((await client.list_tools()).tools)


def test_a_malformed_pin_hash_is_in_last_error_doctor_shows_it_and_a_good_start_removes_it(tmp_path: Path) -> None:
    state = tmp_path / "state" / "telco-mcp"
    failed = telco(tmp_path, "serve", "--transport", "stdio", stdin=json.dumps(INITIALIZE) + "\n",
                   TELCO_MCP_APPROVER_PIN=MALFORMED)  # fmt: skip
    assert failed.returncode == 2 and failed.stdout == ""  # the client sees only that the connection closed
    assert "TELCO_MCP_APPROVER_PIN looks like a hash (scrypt$...) but is malformed" in failed.stderr
    assert CANARY not in failed.stderr

    written = last_error.path(state)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    text = written.read_text()
    assert CANARY not in text
    doc = json.loads(text)
    assert doc["command"] == "telco-mcp serve --transport stdio"
    assert failed.stderr.strip() == f"telco-mcp: {doc['error']}"  # the same reason as on stderr
    assert doc["time"].endswith("Z") and doc["time"][:2] == "20"
    assert [p.name for p in state.iterdir() if p.name.startswith(".last-error")] == []  # no temporary left

    # doctor with the same settings: the recorded failure first, then the setting named, no value echoed
    doctor = telco(tmp_path, "doctor", TELCO_MCP_APPROVER_PIN=MALFORMED)
    assert doctor.returncode == 2
    assert doctor.stdout.startswith(f"last failed start: {doc['time']} `telco-mcp serve --transport stdio`")
    assert "TELCO_MCP_APPROVER_PIN looks like a hash" in doctor.stdout
    assert "TELCO_MCP_APPROVER_PIN looks like a hash" in doctor.stderr  # and the check of the settings itself
    assert CANARY not in doctor.stdout + doctor.stderr
    assert json.loads(written.read_text()) == doc  # doctor is no failed start

    # the hash as hash-pin makes it: the server starts and lists its tools, and the stale failure is gone
    assert anyio.run(_list_tools, tmp_path, hash_pin("a long approver passphrase")) > 0
    assert not written.exists()
    healthy = telco(tmp_path, "doctor")
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.splitlines()[0] == f"last failed start: none recorded ({written})"


def test_a_misspelled_setting_is_recorded_too(tmp_path: Path) -> None:
    """Any startup error of `serve` (here, before settings even load), not only the PIN's."""
    done = telco(tmp_path, "serve", TELCO_MCP_SCOPE="sipgate:*:read")
    assert done.returncode == 2
    doc = last_error.read(tmp_path / "state" / "telco-mcp")
    assert doc is not None and doc["command"] == "telco-mcp serve"
    assert "TELCO_MCP_SCOPE is not a telco-mcp setting" in doc["error"]


def test_pin_hash_format_is_checked_with_the_settings_without_echoing_it() -> None:
    """Hashes the server used to accept at startup and fail on at the first sign-in are stopped at startup."""
    import pytest

    from telco_mcp.errors import ConfigError
    from telco_mcp.settings import Settings

    good = hash_pin("a long approver passphrase")
    _, n, r, p, salt, digest = good.split("$")
    bad = [
        f"scrypt$1000${r}${p}${salt}${digest}",  # n not a power of 2: scrypt refuses it
        f"scrypt${n}${r}${p}${salt}${digest}{CANARY}",  # a digest longer than 32 bytes
        f"scrypt${n}${r}${p}${salt}${digest[:-4]}!!{CANARY[:2]}",  # not base64url (was silently dropped)
        f"scrypt${n}${r}${p}{CANARY}",  # parts missing
    ]
    assert Settings(_env_file=None, telco_mcp_approver_pin=good).problems() == []  # pyright: ignore[reportCallIssue]
    for value in bad:
        problems = Settings(_env_file=None, telco_mcp_approver_pin=value).problems()  # pyright: ignore[reportCallIssue]
        assert len(problems) == 1 and problems[0].startswith("TELCO_MCP_APPROVER_PIN looks like a hash"), problems
        assert CANARY not in problems[0] and value not in problems[0]
        with pytest.raises(ConfigError, match="TELCO_MCP_APPROVER_PIN"):
            Settings(_env_file=None, telco_mcp_approver_pin=value).check()  # pyright: ignore[reportCallIssue]
