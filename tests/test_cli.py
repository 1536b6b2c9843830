"""The telco-mcp command: doctor, tools, manifest check and startup errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from telco_mcp.cli import main
from tests.processes import FAULTHANDLER, interrupt

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
    (copy / "docs").mkdir()
    (copy / "docs" / "configuration.md").write_text((REPO / "docs" / "configuration.md").read_text())
    (copy / "docs" / "clients.md").write_text((REPO / "docs" / "clients.md").read_text())
    # the tool table lives in docs/tools.md: a row edited by hand is drift
    tools_doc = (REPO / "docs" / "tools.md").read_text()
    edited = tools_doc.replace("| `sipgate_hangup_call` | yes |", "| `sipgate_hangup_call` | no |")
    assert edited != tools_doc
    (copy / "docs" / "tools.md").write_text(edited)
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
    # the MCP Bundle's tools list: a tool missing from it is drift as well
    (copy / "bundle").mkdir()
    (copy / "bundle" / "manifest.template.json").write_text((REPO / "bundle" / "manifest.template.json").read_text())
    bundle = json.loads((REPO / "bundle" / "manifest.json").read_text())
    bundle["tools"] = [tool for tool in bundle["tools"] if tool["name"] != "sipgate_hangup_call"]
    (copy / "bundle" / "manifest.json").write_text(json.dumps(bundle, indent=2) + "\n")
    code, _, err = run(["manifest", "--check", "--root", str(copy)], capsys)
    assert code == 1 and "tool_manifests/sipgate_send_sms.json" in err and "bundle/manifest.json" in err
    assert "docs/tools.md" in err and "README.md" not in err and "docs/clients.md" not in err
    assert "telco_mcp/schemas.json" in err and "server.json" not in err.replace("schemas.json", "")


def test_serve_announces_the_sandbox_on_stderr_and_keeps_stdout_for_the_protocol(tmp_path):
    exe = Path(sys.executable).with_name("telco-mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    env["XDG_STATE_HOME"] = str(tmp_path)
    done = subprocess.run(  # stdin at EOF: the stdio server starts, then ends cleanly
        [str(exe), "serve"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert "SANDBOX MODE (no provider credentials are configured)" in done.stderr
    assert done.stdout == ""


# ------------------------------------------------------------------ the command as a real subprocess
EXE = Path(sys.executable).with_name("telco-mcp")


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # Not the provider settings, and not the make variables of a `make test` this suite may run under: an
    # MCP client starts `make serve` itself, at make level 0 (a sub-make always announces its directory).
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {"XDG_STATE_HOME": str(tmp_path / "state")} | FAULTHANDLER | extra


def telco(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # stdin at EOF: a stdio server starts, then ends cleanly
        [str(EXE), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(tmp_path, **env),
        cwd=tmp_path,
    )


@contextmanager
def started(tmp_path: Path, *argv: str, wait_for: str) -> Iterator[tuple[subprocess.Popen[bytes], re.Match[str]]]:
    """Run the command until its stderr matches `wait_for`; always terminated afterwards."""
    err_path = tmp_path / "stderr.log"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(EXE), *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=child_env(tmp_path), cwd=tmp_path,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(wait_for, err_path.read_text())):
            assert proc.poll() is None, f"exited {proc.returncode}: {err_path.read_text()}"
            assert time.monotonic() < deadline, err_path.read_text()
            time.sleep(0.1)
        yield proc, found
    finally:
        interrupt(proc, err_path)  # Ctrl-C: no SIGTERM drain


def answers_http(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return sock.recv(16).startswith(b"HTTP/1.1 ")


def test_sandbox_on_port_0_prints_the_port_it_really_listens_on(tmp_path):
    with started(tmp_path, "sandbox", "--port", "0", wait_for=r"sandbox on http://127\.0\.0\.1:(\d+) ") as (_, found):
        port = int(found.group(1))
        assert port != 0
        assert answers_http(port)
    log = (tmp_path / "stderr.log").read_text()
    assert ":0 " not in log and ":0/" not in log and ":0;" not in log, log


def test_serve_http_on_port_0_prints_the_port_it_really_listens_on(tmp_path):
    pattern = r"serving streamable HTTP on http://127\.0\.0\.1:(\d+)/mcp"
    with started(tmp_path, "serve", "--transport", "http", "--port", "0", wait_for=pattern) as (_, found):
        port = int(found.group(1))
        assert port != 0
        assert answers_http(port)
    log = (tmp_path / "stderr.log").read_text()
    # said once the app is up, with uvicorn's signal handlers in place: Ctrl-C from then on is a clean stop
    assert log.index("Application startup complete") < log.index("serving streamable HTTP"), log


@pytest.mark.parametrize("command", [["sandbox"], ["serve", "--transport", "http"], ["serve", "--transport", "sse"]])
@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_one_clear_line_and_exit_2(tmp_path, command, port):
    done = telco(tmp_path, *command, "--port", port)
    assert done.returncode == 2
    assert done.stderr == f"telco-mcp: --port {port} is not a TCP port: use 1-65535, or 0 for any free port\n"
    assert done.stdout == ""


@pytest.mark.parametrize("command", [["sandbox"], ["serve", "--transport", "http"], ["serve", "--transport", "sse"]])
def test_a_port_in_use_is_one_clear_line_and_exit_2_with_nothing_announced_before(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = telco(tmp_path, *command, "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"telco-mcp: cannot listen on 127.0.0.1:{port}: address already in use")
    assert done.stdout == ""


@pytest.mark.parametrize("command", ["serve", "sandbox", "tools", "doctor", "manifest"])
def test_help_gives_every_option_its_text_and_default(tmp_path, command):
    done = telco(tmp_path, command, "--help")
    assert done.returncode == 0
    options = done.stdout.split("options:", 1)[1]
    blocks = re.split(r"\n(?=  -)", options.strip("\n"))
    for block in blocks:
        if block.lstrip().startswith("-h, --help"):
            continue
        option = block.split()[0]
        words = re.sub(r"^\s*-[^\s]+( [A-Z{][^\s]*)?", "", block)
        assert len(words.split()) >= 4, f"{command} {option} has no help text: {block!r}"
        assert "(default: " in " ".join(block.split()), f"{command} {option} does not say its default: {block!r}"
    assert len(blocks) >= 2


def test_telco_mcp_sandbox_0_without_credentials_refuses_to_start_naming_the_setting(tmp_path):
    done = telco(tmp_path, "serve", TELCO_MCP_SANDBOX="0")
    assert done.returncode == 2
    assert "TELCO_MCP_SANDBOX=0 forbids the embedded sandbox, but no provider credentials are configured" in done.stderr
    assert "SANDBOX MODE" not in done.stderr and done.stdout == ""


def test_telco_mcp_sandbox_0_with_credentials_serves_live(tmp_path):
    done = telco(
        tmp_path, "tools", TELCO_MCP_SANDBOX="0", SIPGATE_TOKEN_ID="token-ABC123", SIPGATE_TOKEN="cli-canary-secret"
    )
    assert done.returncode == 0, done.stderr
    assert "(live)" in done.stdout and "cli-canary-secret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("argv", "env", "why"),
    [
        (["serve"], {"TELCO_MCP_SANDBOX": "1"}, "TELCO_MCP_SANDBOX is set"),
        (["serve", "--sandbox"], {}, "--sandbox was given"),
        (["serve"], {}, "no provider credentials are configured"),
    ],
)
def test_the_sandbox_announcement_names_what_asked_for_it(tmp_path, argv, env, why):
    done = telco(tmp_path, *argv, **env)
    assert done.returncode == 0, done.stderr
    assert f"SANDBOX MODE ({why})" in done.stderr
    assert done.stdout == ""


def test_doctor_on_an_unreachable_base_url_names_the_url_and_what_to_check(capsys, monkeypatch):
    monkeypatch.setenv("SIPGATE_TOKEN_ID", "token-ABC123")
    monkeypatch.setenv("SIPGATE_TOKEN", "doctor-canary-secret")
    monkeypatch.setenv("SIPGATE_BASE_URL", "http://someone:url-canary@127.0.0.1:9/v2")
    monkeypatch.setenv("SIGNALWIRE_SPACE", "acme")
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", "0b7c5d1e-9a4f-4c2b-8e3d-0000000c0a01")
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "doctor-canary-token")
    monkeypatch.setenv("SIGNALWIRE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TELCO_MCP_MAX_RETRIES", "0")
    code, out, err = run(["doctor"], capsys)
    assert code == 1
    lines = {line.split(":", 1)[0]: line for line in out.splitlines()}
    assert "could not reach http://127.0.0.1:9/v2. Check SIPGATE_BASE_URL" in lines["sipgate"]
    assert "could not reach http://127.0.0.1:9. Check SIGNALWIRE_BASE_URL" in lines["signalwire"]
    for line in (lines["sipgate"], lines["signalwire"]):
        assert "DNS, firewall, proxy" in line and "try again later" not in line
    for secret in ("doctor-canary-secret", "doctor-canary-token", "url-canary"):
        assert secret not in out + err


@pytest.mark.parametrize(
    "how", [["make"], ["make", "--no-print-directory", "-C", str(REPO)]], ids=["in-repo", "from-elsewhere"]
)
def test_make_serve_stdio_writes_nothing_but_the_protocol_to_stdout(tmp_path, how):
    """A client that runs `make serve TRANSPORT=stdio` reads stdout as JSON-RPC: no echoed command, no directory."""
    make = shutil.which("make")
    assert make, "make is required (README: Quick start)"
    venv = Path(sys.executable).parent.parent
    installed = venv / "bin" / ".installed"
    done = subprocess.run(
        # -o: this venv is installed already; the test is about what `serve` itself prints
        [make, *how[1:], "serve", "TRANSPORT=stdio", f"VENV={venv}", "-o", str(installed)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(tmp_path),
        cwd=REPO if how == ["make"] else tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "SANDBOX MODE" in done.stderr, "the server did run"
    assert done.stdout == ""


def test_the_entry_point_runs_as_a_script_as_a_bundle_host_may_start_it(tmp_path):
    # `python telco_mcp/__main__.py` puts the package folder first on sys.path: a module there named like
    # a standard-library one (the former telco_mcp/http.py) shadows it, and the start fails.
    main_py = REPO / "telco_mcp" / "__main__.py"
    result = subprocess.run(
        [sys.executable, str(main_py), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


def test_no_module_at_the_package_top_shadows_a_standard_library_module():
    top = {p.stem for p in (REPO / "telco_mcp").glob("*.py")} | {
        p.name for p in (REPO / "telco_mcp").iterdir() if (p / "__init__.py").exists()
    }
    assert sorted(top & set(sys.stdlib_module_names)) == []
