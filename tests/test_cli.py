"""The telco-mcp command: doctor, tools, manifest check and startup errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telco_mcp.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_doctor_checks_each_provider_with_a_cheap_read_and_prints_no_secret(capsys, monkeypatch):
    code, out, _ = run(["doctor"], capsys)
    assert code == 0
    assert "mode: SANDBOX" in out
    assert "signalwire: OK (signalwire_get_sip_profile)" in out
    assert "sipgate: OK (sipgate_get_account)" in out
    assert "sipgate_send_sms: exposed" in out


def test_doctor_reports_rejected_credentials(capsys, monkeypatch):
    # real-looking credentials pointed at a closed local port: the read fails, nothing is printed secret
    monkeypatch.setenv("SIPGATE_TOKEN_ID", "token-ABC123")
    monkeypatch.setenv("SIPGATE_TOKEN", "doctor-canary-secret")
    monkeypatch.setenv("SIPGATE_BASE_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("TELCO_MCP_MAX_RETRIES", "0")
    code, out, err = run(["doctor"], capsys)
    assert code == 1
    assert "sipgate: FAILED (sipgate_get_account)" in out and "[upstream_unavailable]" in out
    assert "signalwire: not configured" in out
    assert "doctor-canary-secret" not in out + err


def test_a_malformed_setting_stops_startup_naming_it(capsys, monkeypatch):
    monkeypatch.setenv("SIGNALWIRE_SPACE", "acme")
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", "not-a-uuid")
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "PT-secret-value")
    code, _, err = run(["serve"], capsys)
    assert code == 2
    assert "SIGNALWIRE_PROJECT_ID must be a UUID" in err
    assert "PT-secret-value" not in err


def test_secrets_are_not_accepted_as_command_line_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--sipgate-token", "x"])
    assert exit_info.value.code == 2


def test_manifest_check_passes_on_the_repository_and_fails_on_drift(capsys, tmp_path):
    code, out, _ = run(["manifest", "--check", "--root", str(REPO)], capsys)
    assert code == 0, out
    copy = tmp_path / "repo"
    (copy / "tool_manifests").mkdir(parents=True)
    (copy / "README.md").write_text((REPO / "README.md").read_text())
    (copy / "server.json").write_text((REPO / "server.json").read_text())
    for path in (REPO / "tool_manifests").glob("*.json"):
        data = json.loads(path.read_text())
        if data["name"] == "sipgate_send_sms":
            data["description"] = "changed by hand"
        (copy / "tool_manifests" / path.name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    # the schemas the server serves without deriving them: a stale copy is drift too
    schemas = json.loads((REPO / "telco_mcp" / "schemas.json").read_text())
    schemas["sipgate_hangup_call"]["inputSchema"]["properties"].pop("call_id")
    (copy / "telco_mcp").mkdir()
    (copy / "telco_mcp" / "schemas.json").write_text(json.dumps(schemas, indent=1) + "\n")
    code, _, err = run(["manifest", "--check", "--root", str(copy)], capsys)
    assert code == 1 and "tool_manifests/sipgate_send_sms.json" in err
    assert "telco_mcp/schemas.json" in err and "server.json" not in err.replace("schemas.json", "")


def test_serve_announces_the_sandbox_on_stderr_and_keeps_stdout_for_the_protocol(tmp_path):
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("telco-mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    env["XDG_STATE_HOME"] = str(tmp_path)
    done = subprocess.run(  # stdin at EOF: the stdio server starts, then ends cleanly
        [str(exe), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert "SANDBOX MODE (no provider credentials are configured)" in done.stderr
    assert done.stdout == ""
