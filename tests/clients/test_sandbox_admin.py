"""The sandbox's controls on `make serve` (issue 26, item 2): docs/sandbox.md's commands, run as printed
against a real `telco-mcp serve --transport http` in sandbox mode; the admin API absent with credentials,
behind the bearer token on a network bind; and the stdio recipe (`telco-mcp sandbox` plus the documented
settings) checked against the sandbox's constants and by `telco-mcp doctor`."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from telco_mcp import sandbox as sb
from telco_mcp import transports
from telco_mcp.server import build_server

from .conftest import ROOT, TELCO_MCP, clean_env, free_port, port_open, running_server, settings, stop_process

DOC = (ROOT / "docs" / "sandbox.md").read_text()
TOKEN = "sandbox-admin-test-token-0123456789abcdef"


def _block(name: str) -> str:
    start = DOC.index(f"<!-- START {name}")
    end = DOC.index(f"<!-- END {name} -->")
    return re.findall(r"```bash\n(.*?)\n```", DOC[start:end], flags=re.DOTALL)[0]


def curl_lines(port: int) -> list[list[str]]:
    """The documented curl commands, split as a shell would, pointed at `port` instead of make serve's 8000."""
    lines = _block("SANDBOX COMMANDS").splitlines()
    assert lines and all(line.startswith("curl ") and "127.0.0.1:8000/_sandbox/" in line for line in lines)
    return [shlex.split(line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")) for line in lines]


def run(words: list[str]) -> Any:
    done = subprocess.run(["/usr/bin/curl", "--max-time", "30", *words[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _timed_read(url: str) -> float:
    async with Client(url, read_timeout_seconds=30) as client:
        start = time.monotonic()
        result = await client.call_tool("signalwire_list_sip_gateways", {})
        assert not result.is_error
        return time.monotonic() - start


def test_documented_commands_ring_a_call_and_set_latency_on_serve_http(tmp_path: Path) -> None:
    with running_server(tmp_path / "serve", "http") as server:
        ring, slow, webhooks, fast = curl_lines(server.port)
        rung = run(ring)
        assert re.fullmatch(r"[0-9A-F]{16}", rung["callId"]) and rung["webhook_status"] == 200, rung
        assert run(slow) == {"ms": 1500}
        delayed = anyio.run(_timed_read, server.url)
        posted = run(webhooks)
        assert {"event": "newCall", "callId": rung["callId"]}.items() <= posted[0].items(), posted
        assert run(fast) == {"ms": 0}
        quick = anyio.run(_timed_read, server.url)
        assert delayed >= 1.5 > quick, (delayed, quick)


def test_no_admin_api_with_credentials(tmp_path: Path) -> None:
    """Real credentials: no sandbox, so nothing under /_sandbox/ (the MCP app's 404, not the admin's)."""
    env = {"SIPGATE_TOKEN_ID": "token-ABCDEF", "SIPGATE_TOKEN": "sandbox-admin-test-not-a-real-token"}
    with running_server(tmp_path / "live", "http", env=env) as server, httpx2.Client(timeout=15) as http:
        ring = http.post(f"{server.base}/_sandbox/sipgate/ring", json={"from": "+49 30 1234567"})
        summary = http.get(f"{server.base}/_sandbox/summary")
    assert ring.status_code == 404 and summary.status_code == 404
    assert "callId" not in ring.text


def _network_app(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "telco_mcp_sandbox": True,
        "telco_mcp_http_token": TOKEN,
        "telco_mcp_allowed_hosts": "mcp.example.com",
    } | overrides
    config = settings(**values)
    return transports.http_app(build_server(config), config, transport="http", host="0.0.0.0", port=8000)


@pytest.mark.anyio
async def test_admin_api_sits_behind_the_bearer_token_on_a_network_bind() -> None:
    app = _network_app()
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://mcp.example.com") as http:
        ring = {"from": "+49 30 1234567"}
        assert (await http.post("/_sandbox/sipgate/ring", json=ring)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await http.put("/_sandbox/latency", json={"ms": 5}, headers=wrong)).status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        rung = await http.post("/_sandbox/sipgate/ring", headers=bearer, json=ring)
        assert rung.status_code == 201 and rung.json()["callId"], rung.text
        assert (await http.put("/_sandbox/latency", json={"ms": 5}, headers=bearer)).json() == {"ms": 5}
        # the MCP endpoint's Host and Origin checks apply too
        evil = await http.get("/_sandbox/summary", headers=bearer | {"Host": "evil.example"})
        assert evil.status_code == 421
        origin = await http.get("/_sandbox/summary", headers=bearer | {"Origin": "https://evil.example"})
        assert origin.status_code == 403


def test_stdio_recipe_settings_are_the_sandboxes_and_work_with_doctor(tmp_path: Path) -> None:
    lines = dict(line.split("=", 1) for line in _block("SANDBOX SETTINGS").splitlines())
    assert lines == {
        "SIGNALWIRE_SPACE": sb.SIGNALWIRE_SPACE,
        "SIGNALWIRE_PROJECT_ID": sb.SIGNALWIRE_PROJECT_ID,
        "SIGNALWIRE_API_TOKEN": sb.SIGNALWIRE_API_TOKEN,
        "SIGNALWIRE_BASE_URL": "http://127.0.0.1:8080",
        "SIPGATE_TOKEN_ID": sb.SIPGATE_TOKEN_ID,
        "SIPGATE_TOKEN": sb.SIPGATE_TOKEN,
        "SIPGATE_BASE_URL": "http://127.0.0.1:8080/v2",
    }
    port = free_port()
    env = clean_env(tmp_path / "state")
    with (tmp_path / "sandbox.stderr").open("wb") as err:
        proc = subprocess.Popen([str(TELCO_MCP), "sandbox", "--port", str(port)], stderr=err, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "sandbox.stderr").read_text()
            time.sleep(0.1)
        pointed = {k: v.replace(":8080", f":{port}") for k, v in lines.items()}
        doctor = subprocess.run(
            [str(TELCO_MCP), "doctor"], env=env | pointed, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    finally:
        stop_process(proc)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "mode: live" in doctor.stdout
    assert re.search(r"^signalwire: OK", doctor.stdout, flags=re.MULTILINE), doctor.stdout
    assert re.search(r"^sipgate: OK", doctor.stdout, flags=re.MULTILINE), doctor.stdout


@pytest.mark.anyio
async def test_with_oauth_on_a_network_bind_the_admin_api_is_not_mounted() -> None:
    oauth = {
        "telco_mcp_http_token": None,
        "telco_mcp_oauth_issuer": "https://id.example.com",
        "telco_mcp_oauth_resource": "https://mcp.example.com/mcp",
        "telco_mcp_oauth_jwks_url": "https://id.example.com/jwks",
    }
    app = _network_app(**oauth)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://mcp.example.com") as http:
        ring = await http.post("/_sandbox/sipgate/ring", json={"from": "+49 30 1234567"})
    assert ring.status_code in (401, 404) and "callId" not in ring.text, ring.text
