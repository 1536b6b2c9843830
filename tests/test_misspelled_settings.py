"""A misspelled setting stops startup: ignored, it would fail open (`TELCO_MCP_SCOPE=...` exposed every write tool,
`TELCO_MCP_CONFIRMATION=token` kept the default confirmation). The command runs as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from telco_mcp.settings import Settings, check_names, setting_names

EXE = Path(sys.executable).with_name("telco-mcp")


def telco(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return subprocess.run(
        [str(EXE), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | {"XDG_STATE_HOME": str(tmp_path / "state")} | env,
        cwd=tmp_path,
    )


def stopped(done: subprocess.CompletedProcess[str], name: str, closest: str) -> None:
    """Exit 2 with one line naming the unknown name and the closest setting, and nothing on stdout."""
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"telco-mcp: {name}") and f"did you mean {closest}?" in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("name", "value", "closest"),
    [
        ("TELCO_MCP_SCOPE", "sipgate:*:read", "TELCO_MCP_SCOPES"),
        ("TELCO_MCP_CONFIRMATION", "token", "TELCO_MCP_CONFIRM"),
        ("telco_mcp_scope", "sipgate:*:read", "TELCO_MCP_SCOPES"),  # read case-insensitively, like the settings
        ("SIPGATE_TOKNE", "not-a-secret", "SIPGATE_TOKEN"),  # a provider name within edit distance 2
        ("SIGNALWIRE_API_TOKN", "not-a-secret", "SIGNALWIRE_API_TOKEN"),
    ],
)
def test_a_misspelled_setting_in_the_environment_stops_startup_naming_the_closest(
    tmp_path: Path, name: str, value: str, closest: str
) -> None:
    stopped(telco(tmp_path, "tools", **{name: value}), name, closest)
    assert value not in telco(tmp_path, "tools", **{name: value}).stderr  # a value may be a secret


def test_a_misspelled_setting_in_the_env_file_stops_startup_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELCO_MCP_ALLOW_WRITES=1\nTELCO_MCP_SCOPE=sipgate:*:read\n")
    done = telco(tmp_path, "tools")
    stopped(done, "TELCO_MCP_SCOPE", "TELCO_MCP_SCOPES")
    assert "(in .env)" in done.stderr
    (tmp_path / ".env").write_text("TELCO_MCP_ALLOW_WRITES=1\nTELCO_MCP_SCOPES=sipgate:*:read\n")
    fixed = telco(tmp_path, "tools")
    assert fixed.returncode == 0, fixed.stderr
    assert re.search(r"hidden\s+sipgate_send_sms", fixed.stdout), fixed.stdout  # the scope, spelled right, counts


@pytest.mark.parametrize(
    "argv", [["serve"], ["serve", "--transport", "http", "--port", "0"], ["sandbox", "--port", "0"], ["tools"],
             ["doctor"], ["approvals", "list"]],
)  # fmt: skip
def test_every_command_that_reads_settings_checks_the_names(tmp_path: Path, argv: list[str]) -> None:
    stopped(telco(tmp_path, *argv, TELCO_MCP_SCOPE="sipgate:*:read"), "TELCO_MCP_SCOPE", "TELCO_MCP_SCOPES")


def test_a_far_off_provider_name_is_a_warning_naming_the_closest_setting(tmp_path: Path) -> None:
    done = telco(tmp_path, "tools", SIPGATE_SOMETHING_ELSE="x", TELCO_MCP_LOG_LEVEL="INFO")
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "SIPGATE_SOMETHING_ELSE" in line]
    assert "WARNING" in line and "not a telco-mcp setting" in line and "closest setting: SIPGATE_" in line


def test_names_the_project_uses_outside_the_settings_and_empty_values_start(tmp_path: Path) -> None:
    done = telco(tmp_path, "tools", TELCO_MCP_TEST_ARTIFACTS=str(tmp_path), TELCO_MCP_SCOPE="")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_every_setting_and_alias_is_known_so_settings_added_later_are_too() -> None:
    """The known names come from `Settings` itself: a field added in another part is known without a list."""
    known = setting_names()
    assert {name.upper() for name in Settings.model_fields} <= known
    assert "TELCO_MCP_WEBHOOK_TRUSTED_PROXIES" in known  # the deprecated name is still a setting
    check_names({name.upper(): "x" for name in Settings.model_fields})  # raises nothing
