"""Operator workflow prompts: listed only with their tools, naming the tools they use."""

from __future__ import annotations

import logging

import pytest
from conftest import client_for, make_settings, sipgate_settings
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sandbox_lists_all_three_workflows_and_renders_them(audit_path, mode):
    async with client_for(make_settings(audit_path), mode=mode) as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert set(prompts) == {"handle_live_call", "sip_security_review", "clean_up_old_recordings"}
        assert [a.name for a in prompts["handle_live_call"].arguments or []] == ["caller", "goal"]
        live = await c.get_prompt("handle_live_call", {"caller": "+49 30 23125420", "goal": "transfer to Anna"})
        review = await c.get_prompt("sip_security_review", {})
        cleanup = await c.get_prompt("clean_up_old_recordings", {"older_than_days": "30"})
    text = live.messages[0].content.text  # type: ignore[union-attr]
    assert "+49 30 23125420" in text and "transfer to Anna" in text
    for tool in ("sipgate_list_calls", "sipgate_hold_call", "sipgate_transfer_call", "sipgate_hangup_call"):
        assert tool in text
    assert "confirm" in text
    assert "signalwire_list_sip_gateways" in review.messages[0].content.text  # type: ignore[union-attr]
    assert "30 days" in cleanup.messages[0].content.text  # type: ignore[union-attr]


async def test_prompts_need_their_tools(audit_path):
    async with client_for(sipgate_settings(audit_path)) as c:
        names = {p.name for p in (await c.list_prompts()).prompts}
    assert names == {"handle_live_call"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    ("name", "arguments", "said"),
    [
        ("no_such_prompt", {}, "Unknown prompt: 'no_such_prompt'"),
        ("sip_security_review", {}, None),  # positive control: served in sandbox mode
        ("handle_live_call", {}, "Invalid arguments for prompt 'handle_live_call'"),  # caller is required
        ("clean_up_old_recordings", {"older_than_days": "ninety"}, "Invalid arguments"),
    ],
)
async def test_a_bad_prompts_get_is_invalid_params_without_a_traceback(
    audit_path, mode, name, arguments, said, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    async with client_for(make_settings(audit_path), mode=mode) as c:
        if said is None:
            assert (await c.get_prompt(name, arguments)).messages
            return
        with pytest.raises(MCPError) as caught:
            await c.get_prompt(name, arguments)
    assert caught.value.error.code == INVALID_PARAMS
    assert said in caught.value.error.message
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
