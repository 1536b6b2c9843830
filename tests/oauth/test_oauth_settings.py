"""The OAuth and four-eyes settings: what stops startup, each named by its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from telco_mcp.settings import Settings

TELCO_MCP = Path(sys.executable).parent / "telco-mcp"
OAUTH = {
    "telco_mcp_oauth_issuer": "https://id.example.com/realms/ops",
    "telco_mcp_oauth_resource": "https://mcp.example.com/mcp",
    "telco_mcp_oauth_jwks_url": "https://id.example.com/realms/ops/protocol/openid-connect/certs",
}


def problems(**values: Any) -> list[str]:
    return Settings(_env_file=None, **values).problems()  # pyright: ignore[reportCallIssue]


def test_a_complete_oauth_configuration_is_accepted() -> None:
    assert problems(**OAUTH) == []
    approvals = "https://mcp.example.com/api/approvals"
    assert problems(**OAUTH, telco_mcp_four_eyes="destructive", telco_mcp_oauth_approval_resource=approvals) == []


@pytest.mark.parametrize("missing", list(OAUTH))
def test_oauth_needs_issuer_resource_and_jwks(missing: str) -> None:
    found = problems(**{k: v for k, v in OAUTH.items() if k != missing})
    assert any(missing.upper() in p and "is missing" in p for p in found), found


def test_oauth_urls_must_be_http_urls() -> None:
    found = problems(**(OAUTH | {"telco_mcp_oauth_jwks_url": "file:///etc/keys.json"}))
    assert any("TELCO_MCP_OAUTH_JWKS_URL must be an http(s) URL" in p for p in found)


def test_static_token_and_oauth_are_one_or_the_other() -> None:
    found = problems(**OAUTH, telco_mcp_http_token="s3cret-token-value")
    assert any("choose the static bearer token or OAuth" in p for p in found)
    assert all("s3cret-token-value" not in p for p in found)


@pytest.mark.parametrize(
    ("value", "why"),
    [("not json", "not JSON"), ('["a"]', "JSON object"), ('{"ops": 3}', "'ops' must map to")],
)
def test_a_malformed_scope_map_stops_startup(value: str, why: str) -> None:
    found = problems(**OAUTH, telco_mcp_oauth_scope_map=value)
    assert any(p.startswith("TELCO_MCP_OAUTH_SCOPE_MAP") and why in p for p in found), found


@pytest.mark.parametrize("rule", ["destructive", "writes"])
def test_four_eyes_without_oauth_is_a_startup_error(tmp_path: Path, rule: str) -> None:
    assert any(f"TELCO_MCP_FOUR_EYES={rule} needs OAuth" in p for p in problems(telco_mcp_four_eyes=rule))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TELCO_MCP_FOUR_EYES": rule,
    }
    run = subprocess.run(
        [str(TELCO_MCP), "serve", "--transport", "http", "--port", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and f"TELCO_MCP_FOUR_EYES={rule} needs OAuth" in run.stderr
    assert run.stdout == ""


def test_four_eyes_over_stdio_is_a_startup_error(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TELCO_MCP_FOUR_EYES": "writes",
        "TELCO_MCP_OAUTH_APPROVAL_RESOURCE": "https://mcp.example.com/api/approvals",
        **{k.upper(): v for k, v in OAUTH.items()},
    }
    run = subprocess.run(
        [str(TELCO_MCP), "serve", "--transport", "stdio"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 2 and "needs the HTTP transports with OAuth" in run.stderr
    assert run.stdout == ""


def test_four_eyes_contradicts_confirm_off() -> None:
    found = problems(**OAUTH, telco_mcp_four_eyes="writes", telco_mcp_confirm="off",
                     telco_mcp_confirm_off_acknowledged=True)  # fmt: skip
    assert any("contradicts TELCO_MCP_CONFIRM=off" in p for p in found)


def test_oauth_satisfies_the_network_bind_rule() -> None:
    from telco_mcp.transports import check_network_settings

    check_network_settings(Settings(_env_file=None, **OAUTH, telco_mcp_allowed_hosts="mcp.example.com"), "0.0.0.0")  # pyright: ignore[reportCallIssue]


def test_approvals_url_needs_a_token_from_the_environment_or_a_file(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    run = subprocess.run(
        [str(TELCO_MCP), "approvals", "list", "--url", "http://127.0.0.1:9/mcp"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and "TELCO_MCP_APPROVER_TOKEN" in run.stderr and "--token-file" in run.stderr


def test_the_jwks_comes_over_https_unless_it_is_on_loopback() -> None:
    plain = problems(**(OAUTH | {"telco_mcp_oauth_jwks_url": "http://id.example.com/certs"}))
    assert any("TELCO_MCP_OAUTH_JWKS_URL must be https" in p for p in plain)
    assert problems(**(OAUTH | {"telco_mcp_oauth_jwks_url": "http://127.0.0.1:8080/certs"})) == []


def test_approvals_url_refuses_plain_http_off_loopback(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "TELCO_MCP_APPROVER_TOKEN": "eyJ.some.token",
    }
    run = subprocess.run(
        [str(TELCO_MCP), "approvals", "list", "--url", "http://mcp.example.com/mcp"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and "plain http" in run.stderr and "eyJ.some.token" not in run.stderr


@pytest.mark.anyio
@pytest.mark.parametrize("reachable", [True, False])
async def test_doctor_checks_the_issuers_keys(tmp_path: Path, issuer: Any, reachable: bool) -> None:
    from telco_mcp.doctor import run_doctor

    jwks = issuer.jwks_url if reachable else issuer.url + "/no-such-jwks.json"
    settings = Settings(
        _env_file=None,  # pyright: ignore[reportCallIssue]
        telco_mcp_sandbox=True,
        telco_mcp_audit_log=tmp_path / "audit.jsonl",
        telco_mcp_oauth_issuer=issuer.url,
        telco_mcp_oauth_resource="http://127.0.0.1:8000/mcp",
        telco_mcp_oauth_approval_resource="http://127.0.0.1:8000/api/approvals",
        telco_mcp_oauth_jwks_url=jwks,
    )
    lines: list[str] = []
    code = await run_doctor(settings, lines.append)
    (line,) = [x for x in lines if x.startswith("oauth:")]
    if reachable:
        assert code == 0 and line.startswith("oauth: OK (1 signing key from") and issuer.fetches == 1
        assert "approvers' tokens for http://127.0.0.1:8000/api/approvals" in line
    else:
        assert code == 1 and "oauth: FAILED" in line and "TELCO_MCP_OAUTH_JWKS_URL" in line
