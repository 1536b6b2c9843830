"""Settings that no other test would notice being ignored, each set by its documented variable name.

Every setting documented in README.md or docs/*.md (the generated reference in docs/configuration.md lists
them all) has a test that fails when the setting is ignored; these cover the ones that had none: the
confirmation token lifetime, the default region for national numbers, and the log level. The first test
checks that each documented setting is named by some test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SG_TOKEN, SG_TOKEN_ID, FakeUpstream, accept, body_of, client_for, response, text_of

from telco_mcp.settings import load_settings, setting_names

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
# Files that name settings without exercising them: the reference's renderer and the misspelled-name check.
NOT_EVIDENCE = {TESTS / "test_config_reference.py", TESTS / "test_misspelled_settings.py"}


def documented_settings() -> set[str]:
    """Every `TELCO_MCP_*` setting that README.md or a page in docs/ names."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    named = {name for page in pages for name in re.findall(r"\bTELCO_MCP_[A-Z0-9_]*[A-Z0-9]\b", page.read_text())}
    return named & setting_names()


def test_every_documented_setting_is_named_by_a_test() -> None:
    documented = documented_settings()
    assert len(documented) >= 40, f"README.md and docs/ were not read: {sorted(documented)}"
    tests = [p.read_text() for p in TESTS.rglob("*.py") if p not in NOT_EVIDENCE]
    # by its variable name, or by its field name (`Settings(telco_mcp_...=...)`); this test names none itself
    untested = sorted(n for n in documented if not any(n in text or n.lower() in text for text in tests))
    assert untested == [], f"documented settings that no test sets: {untested}"


SMS_ROUTES = {
    "GET /v2/authorization/userinfo": response(200, {"sub": "w0"}),
    "GET /v2/w0/sms": response(200, {"items": [{"id": "s0", "alias": "Ops", "callerId": "+4915799912345"}]}),
    "POST /v2/sessions/sms": response(204),
}


def sipgate_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> FakeUpstream:
    monkeypatch.setenv("SIPGATE_TOKEN_ID", SG_TOKEN_ID)
    monkeypatch.setenv("SIPGATE_TOKEN", SG_TOKEN)
    monkeypatch.setenv("TELCO_MCP_ALLOW_WRITES", "1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fake = FakeUpstream()
    for key, answer in SMS_ROUTES.items():
        fake.route(key, answer)
    return fake


# ------------------------------------------------------------------ TELCO_MCP_CONFIRM_TTL
@pytest.mark.anyio
@pytest.mark.parametrize(("confirm", "status"), [("token", "confirmation_required"), ("auto", "approval_pending")])
@pytest.mark.parametrize("ttl", [45, 1800])
async def test_tokens_and_approvals_expire_after_telco_mcp_confirm_ttl(
    monkeypatch: pytest.MonkeyPatch, ttl: int, confirm: str, status: str
) -> None:
    # A client that cannot elicit gets a token preview (token mode) or a pending approval (auto).
    fake = sipgate_from_env(monkeypatch, TELCO_MCP_CONFIRM_TTL=str(ttl), TELCO_MCP_CONFIRM=confirm)
    before = datetime.now(UTC)
    async with client_for(load_settings(), fake) as client:
        preview = await client.call_tool("sipgate_send_sms", {"recipient": "+49 1579 9912345", "message": "hi"})
    after = datetime.now(UTC)
    data = preview.structured_content
    assert data is not None and data["status"] == status, text_of(preview)
    expires = datetime.fromisoformat(data["expires_at"])
    assert (before - expires).total_seconds() + ttl <= 1.5
    assert (expires - after).total_seconds() <= ttl + 1.5
    assert fake.sent("POST") == []


# ------------------------------------------------------------------ TELCO_MCP_DEFAULT_REGION
@pytest.mark.anyio
async def test_a_national_number_is_read_in_telco_mcp_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0664 1234567 is an Austrian mobile number; read as German it would be +49 664 1234567
    fake = sipgate_from_env(monkeypatch, TELCO_MCP_DEFAULT_REGION="AT")
    async with client_for(load_settings(), fake, elicitation_callback=accept) as client:
        sent = await client.call_tool("sipgate_send_sms", {"recipient": "0664 1234567", "message": "hi"})
    assert not sent.is_error, text_of(sent)
    assert [body_of(r)["recipient"] for r in fake.sent("POST", "/v2/sessions/sms")] == ["+436641234567"]


@pytest.mark.anyio
async def test_prefix_rules_are_checked_against_the_number_in_its_default_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = sipgate_from_env(monkeypatch, TELCO_MCP_DEFAULT_REGION="AT", TELCO_MCP_DENIED_PREFIXES="+43")
    async with client_for(load_settings(), fake, elicitation_callback=accept) as client:
        refused = await client.call_tool("sipgate_send_sms", {"recipient": "0664 1234567", "message": "hi"})
    assert refused.is_error and "[refused]" in text_of(refused), text_of(refused)
    assert fake.sent("POST") == []


# ------------------------------------------------------------------ TELCO_MCP_LOG_LEVEL
@pytest.mark.parametrize(("level", "info_shown"), [("INFO", True), ("WARNING", False), ("error", False)])
def test_telco_mcp_log_level_decides_what_reaches_stderr(tmp_path: Path, level: str, info_shown: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_"))}
    env |= {"XDG_STATE_HOME": str(tmp_path), "TELCO_MCP_LOG_LEVEL": level}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("telco-mcp")), "serve"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert ("INFO telco_mcp: telco-mcp " in done.stderr) is info_shown, done.stderr
    assert ("SANDBOX MODE" in done.stderr) is (level != "error"), "a warning shows at WARNING, not at ERROR"


# ------------------------------------------------------------------ an empty variable is unset
def test_empty_environment_variables_are_treated_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Desktop passes "" for every optional MCP Bundle field the user left blank."""
    from telco_mcp.settings import Settings

    defaults = load_settings().model_dump()  # the test environment sets none of them
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), "")
    blank = load_settings().check()  # no "invalid boolean/integer/choice" for the blanks
    assert blank.model_dump() == defaults
    assert blank.use_sandbox and blank.telco_mcp_confirm == "auto" and blank.telco_mcp_scopes == "*"
    assert blank.telco_mcp_block_premium is True and blank.telco_mcp_sms_per_hour is None

    # a value next to the blanks still counts
    monkeypatch.setenv("TELCO_MCP_CONFIRM", "approval")
    monkeypatch.setenv("TELCO_MCP_ALLOW_WRITES", "false")
    set_one = load_settings()
    assert set_one.telco_mcp_confirm == "approval" and set_one.writes_enabled is False
