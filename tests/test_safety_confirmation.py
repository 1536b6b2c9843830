"""Confirmation before every write (issue 4): elicitation, confirmation tokens, policies and dry runs.

Every test counts the WRITE requests (anything but GET) the fake upstream received: it must be exactly
the number of writes a human genuinely confirmed. Supporting reads (the confirmation summary reads the
gateway or the running calls first) are allowed and not counted.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import (
    CANARIES,
    SG_TOKEN,
    SG_TOKEN_ID,
    SW_PROJECT,
    SW_TOKEN,
    FakeUpstream,
    accept,
    answer_no,
    body_of,
    cancel,
    client_for,
    decline,
    response,
    signalwire_settings,
    sipgate_settings,
    text_of,
)
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from telco_mcp.errors import ConfigError
from telco_mcp.safety.confirm import ConfirmationTokens
from telco_mcp.server import build_server
from telco_mcp.settings import Settings

MODES = ["auto", "legacy"]
CONFIRM_SECRET = "confirm-secret-for-tests-0123456789abcdef"

GW_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"
GW_PATH = f"/api/fabric/resources/sip_gateways/{GW_ID}"
SW_BASE = "https://acme.signalwire.com"
SG_BASE = "https://api.sipgate.com/v2"


# ------------------------------------------------------------------ realistic upstream payloads
def gateway(name: str) -> dict[str, Any]:
    return {
        "id": GW_ID,
        "project_id": SW_PROJECT,
        "display_name": name,
        "type": "sip_gateway",
        "created_at": "2026-03-01T09:12:44Z",
        "updated_at": "2026-03-02T17:03:10Z",
        "sip_gateway": {
            "id": GW_ID,
            "uri": "sip:gw.example.com",
            "name": name,
            "ciphers": ["AEAD_AES_256_GCM_8", "AES_256_CM_HMAC_SHA1_80"],
            "codecs": ["OPUS", "PCMU"],
            "encryption": "optional",
        },
    }


def running_calls() -> dict[str, Any]:
    def call(call_id: str, other: str) -> dict[str, Any]:
        return {
            "callId": call_id,
            "muted": False,
            "recording": False,
            "hold": False,
            "participants": [
                {"participantId": "p-owner", "phoneNumber": "+4921100000000", "owner": True},
                {"participantId": "p-other", "phoneNumber": other, "owner": False},
            ],
        }

    return {"data": [call("c1", "+493012345678"), call("c2", "+498912345678")]}


def signalwire_routes(fake: FakeUpstream) -> None:
    fake.route(f"GET {GW_PATH}", response(200, gateway("Trunk A")))
    fake.route(f"PATCH {GW_PATH}", response(200, gateway("Trunk B")))


def sipgate_routes(fake: FakeUpstream) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Ops", "callerId": "+4915799912345"}]}))
    fake.route("POST /v2/sessions/sms", response(204))
    fake.route("GET /v2/calls", response(200, running_calls()))
    for call_id in ("c1", "c2"):
        fake.route(f"DELETE /v2/calls/{call_id}", response(204))
        fake.route(f"PUT /v2/calls/{call_id}/hold", response(204))
        fake.route(f"PUT /v2/calls/{call_id}/muted", response(204))


@dataclass(frozen=True)
class Scenario:
    """One write tool with arguments, what the server sends for it, and how its target is named."""

    tool: str
    args: dict[str, Any]
    canonical: dict[str, Any]  # the arguments as the server normalises them (what a token signs)
    changed: dict[str, Any]  # the same call with one argument changed
    settings: Callable[..., Settings]
    routes: Callable[[FakeUpstream], None]
    write: tuple[str, str]  # method, path of the upstream write
    target_words: tuple[str, ...]  # the question must name these


def _sw(audit: Path, **overrides: Any) -> Settings:
    return signalwire_settings(audit, telco_mcp_allow_writes=True, **overrides)


def _sg(audit: Path, **overrides: Any) -> Settings:
    return sipgate_settings(audit, "token", telco_mcp_allow_writes=True, **overrides)


SCENARIOS = {
    "gateway": Scenario(
        tool="signalwire_update_sip_gateway",
        args={"id": GW_ID, "name": "Trunk B"},
        canonical={"id": GW_ID, "name": "Trunk B"},
        changed={"id": GW_ID, "name": "Trunk C"},
        settings=_sw,
        routes=signalwire_routes,
        write=("PATCH", GW_PATH),
        target_words=("Update SIP gateway", "Trunk A", GW_ID, "Trunk B"),
    ),
    "sms": Scenario(
        tool="sipgate_send_sms",
        args={"recipient": "+49 1579 9912345", "message": "Running 10 min late"},
        canonical={"recipient": "+4915799912345", "message": "Running 10 min late"},
        changed={"recipient": "+49 1579 9912345", "message": "Running 60 min late"},
        settings=_sg,
        routes=sipgate_routes,
        write=("POST", "/v2/sessions/sms"),
        target_words=("Send SMS", "+49 1579 9912345", "Running 10 min late"),
    ),
    "hangup": Scenario(
        tool="sipgate_hangup_call",
        args={"call_id": "c1"},
        canonical={"call_id": "c1"},
        changed={"call_id": "c2"},
        settings=_sg,
        routes=sipgate_routes,
        write=("DELETE", "/v2/calls/c1"),
        target_words=("Hang up", "c1", "+49 30 12345678"),
    ),
}


def writes(fake: FakeUpstream) -> list[httpx2.Request]:
    return [r for r in fake.requests if r.method != "GET"]


def prepared(name: str, audit: Path, **overrides: Any) -> tuple[Scenario, FakeUpstream, Settings]:
    """The scenario under TELCO_MCP_CONFIRM=token unless overridden: the token mode's own tests live here
    (the default `auto` mode's approval channel is tested in test_safety_approval.py)."""
    scenario = SCENARIOS[name]
    fake = FakeUpstream()
    scenario.routes(fake)
    return scenario, fake, scenario.settings(audit, **({"telco_mcp_confirm": "token"} | overrides))


class Asked:
    """An elicitation callback that records every question and answers like `answer`."""

    def __init__(self, answer: Callable[..., Any] = accept) -> None:
        self.answer = answer
        self.messages: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.messages.append(params.message)
        return await self.answer(context, params)


def dumped(result: Any) -> str:
    return text_of(result) + json.dumps(result.structured_content or {}, default=str)


# ================================================================== elicitation matrix
ANSWERS = {"accept": accept, "answer_no": answer_no, "decline": decline, "cancel": cancel}
HOW = {"answer_no": "answered no", "decline": "declined", "cancel": "cancelled"}


@pytest.mark.anyio
@pytest.mark.parametrize("answer", list(ANSWERS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_an_eliciting_client_writes_exactly_once_only_when_the_human_accepts(
    name: str, mode: str, answer: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path)
    asked = Asked(ANSWERS[answer])

    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as client:
        result = await client.call_tool(scenario.tool, scenario.args)

    assert len(asked.messages) == 1, "the human is asked exactly once per call"
    assert not result.is_error, text_of(result)
    if answer == "accept":
        assert [(r.method, r.url.path) for r in writes(fake)] == [scenario.write]
        assert result.structured_content["status"] == "applied"
    else:
        assert writes(fake) == []
        assert result.structured_content["status"] == "declined"
        assert "Not sent" in text_of(result)
        assert HOW[answer] in result.structured_content["note"]
        assert "result" not in result.structured_content


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_the_elicitation_question_names_the_action_and_its_target(name: str, mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared(name, audit_path)
    asked = Asked(decline)

    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as client:
        await client.call_tool(scenario.tool, scenario.args)

    [question] = asked.messages
    for word in scenario.target_words:
        assert word in question, f"{word!r} missing from the question {question!r}"
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_the_gateway_question_lists_only_the_fields_that_change(mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared("gateway", audit_path)
    asked = Asked(decline)

    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as client:
        await client.call_tool(scenario.tool, scenario.args)

    [question] = asked.messages
    assert 'name: "Trunk A" -> "Trunk B"' in question  # provider text quoted (issue 12)
    assert "dry_run" not in question, question
    assert "confirm_token" not in question, question


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_sequence_of_mixed_answers_sends_exactly_the_accepted_writes(mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared("sms", audit_path)
    answers = [accept, decline, answer_no, accept, cancel, accept]
    pending = list(answers)

    async def scripted(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        return await pending.pop(0)(context, params)

    async with client_for(settings, fake, mode=mode, elicitation_callback=scripted) as client:
        for i in range(len(answers)):
            await client.call_tool(scenario.tool, scenario.args | {"message": f"message {i}"})

    assert pending == []
    assert [body_of(r)["message"] for r in writes(fake)] == ["message 0", "message 3", "message 5"]


# ================================================================== the upstream request itself
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_confirmed_sms_sends_exactly_the_sipgate_body(mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared("sms", audit_path)

    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        await client.call_tool(scenario.tool, scenario.args)

    [sent] = writes(fake)
    assert body_of(sent) == {"smsId": "s0", "recipient": "+4915799912345", "message": "Running 10 min late"}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_confirmed_gateway_update_patches_only_the_requested_fields(mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared("gateway", audit_path)

    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        await client.call_tool(scenario.tool, scenario.args)

    [sent] = writes(fake)
    assert body_of(sent) == {"name": "Trunk B"}


@pytest.mark.anyio
async def test_a_token_confirmed_gateway_update_does_not_send_the_token_upstream(audit_path: Path) -> None:
    scenario, fake, settings = prepared("gateway", audit_path)

    async with client_for(settings, fake) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
        token = preview.structured_content["confirm_token"]
        await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    [sent] = writes(fake)
    assert token not in sent.content.decode()
    assert body_of(sent) == {"name": "Trunk B"}


# ================================================================== confirmation tokens
def _tamper_expiry(token: str) -> str:
    version, expiry, nonce, mac = token.split(".")
    return ".".join((version, str(int(expiry) + 3600), nonce, mac))


def _other_server(tool: str, canonical: dict[str, Any]) -> str:
    return ConfirmationTokens(b"another-server-with-another-key!").issue(tool, canonical)[0]


def _expired(tool: str, canonical: dict[str, Any], shown: str) -> str:
    minted_an_hour_ago = ConfirmationTokens(CONFIRM_SECRET.encode(), ttl=300, clock=lambda: time.time() - 3600)
    return minted_an_hour_ago.issue(tool, canonical, shown=shown)[0]


async def _shown(client: Any, scenario: Scenario) -> str:
    """The summary the user would confirm (a token is bound to it), as a dry run states it."""
    preview = await client.call_tool(scenario.tool, scenario.args | {"dry_run": True})
    assert preview.structured_content is not None, text_of(preview)
    return preview.structured_content["summary"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_without_elicitation_the_first_call_only_previews_and_hands_out_a_token(
    name: str, mode: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake, mode=mode) as client:
        result = await client.call_tool(scenario.tool, scenario.args)

    assert writes(fake) == []
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["status"] == "confirmation_required"
    assert data["confirm_token"].startswith("v1.")
    assert data["expires_at"]
    assert (data["request"]["method"], httpx2.URL(data["request"]["url"]).path) == scenario.write
    assert data["request"]["headers"] == {"Authorization": "Basic [REDACTED]"}
    assert "Not sent yet" in text_of(result)
    for canary in CANARIES:
        assert canary not in dumped(result)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_valid_token_with_identical_arguments_writes_exactly_once(
    name: str, mode: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
        token = preview.structured_content["confirm_token"]
        assert writes(fake) == []
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "applied"
    assert [(r.method, r.url.path) for r in writes(fake)] == [scenario.write]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_replayed_token_is_refused_and_the_write_is_not_repeated(
    name: str, mode: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
        confirmed = scenario.args | {"confirm_token": preview.structured_content["confirm_token"]}
        first = await client.call_tool(scenario.tool, confirmed)
        replay = await client.call_tool(scenario.tool, confirmed)

    assert first.structured_content["status"] == "applied"
    assert replay.is_error
    assert "already used" in text_of(replay)
    assert "Nothing was sent" in text_of(replay)
    assert len(writes(fake)) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_token_for_changed_arguments_is_refused(name: str, mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
        token = preview.structured_content["confirm_token"]
        result = await client.call_tool(scenario.tool, scenario.changed | {"confirm_token": token})
        # the refused token is not burnt for the arguments it was issued for
        original = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    assert result.is_error
    assert "does not match" in text_of(result)
    assert original.structured_content["status"] == "applied"
    assert [(r.method, r.url.path) for r in writes(fake)] == [scenario.write]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(_tamper_expiry, id="expiry-extended"),
        pytest.param(lambda token: token[:-4] + ("0000" if not token.endswith("0000") else "1111"), id="mac-altered"),
        pytest.param(None, id="other-server-key"),
        pytest.param(lambda token: "v1.9999999999.made-up-nonce." + "ab" * 32, id="invented"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_a_forged_token_is_refused_and_nothing_is_sent(
    name: str, mode: str, forge: Callable[[str], str] | None, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
        genuine = preview.structured_content["confirm_token"]
        forged = _other_server(scenario.tool, scenario.canonical) if forge is None else forge(genuine)
        assert forged != genuine
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": forged})

    assert result.is_error
    assert "[confirmation]" in text_of(result)
    assert "does not match" in text_of(result)
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("token", ["garbage", "v2.1.2.3", "v1.notanumber.nonce.mac", ""])
@pytest.mark.parametrize("name", ["gateway", "sms"])
async def test_a_malformed_token_is_refused_and_nothing_is_sent(name: str, token: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared(name, audit_path)

    async with client_for(settings, fake) as client:
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    assert writes(fake) == []
    if token:
        assert result.is_error
        assert "malformed" in text_of(result)
    else:  # an empty token is no token: just the preview
        assert result.structured_content["status"] == "confirmation_required"


MAC = "ab" * 32


def _minted_with_lifetime(ttl: int) -> Callable[[str, dict[str, Any], str], str]:
    """A token signed with the server's own key whose expiry lies `ttl` seconds ahead."""
    return lambda tool, canonical, shown: ConfirmationTokens(CONFIRM_SECRET.encode(), ttl=ttl).issue(
        tool, canonical, shown=shown
    )[0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(lambda *_: f"v1.{'9' * 5000}.nonce.{MAC}", "malformed", id="5000-digit-expiry"),
        pytest.param(lambda *_: f"v1.{10**30}.nonce.{MAC}", "malformed", id="expiry-10e30"),
        pytest.param(lambda *_: f"v1.-5.nonce.{MAC}", "malformed", id="negative-expiry"),
        pytest.param(lambda *_: f"v1.\u00b2\u00b3.nonce.{MAC}", "malformed", id="superscript-digits"),
        pytest.param(lambda *_: f"v1.\u0661\u0662\u0663.nonce.{MAC}", "malformed", id="arabic-indic-digits"),
        pytest.param(lambda *_: f"v1.1e12.nonce.{MAC}", "malformed", id="exponent"),
        pytest.param(lambda *_: "v1.1999999999.nonce." + "\u00e9" * 64, "malformed", id="non-ascii-mac"),
        pytest.param(lambda *_: "v1.1999999999.n\u00f6nce." + MAC, "malformed", id="non-ascii-nonce"),
        pytest.param(lambda *_: f"v1.1999999999.nonce.{MAC}.extra", "malformed", id="five-parts"),
        pytest.param(_minted_with_lifetime(10**30), "malformed", id="signed-expiry-10e30"),
        pytest.param(_minted_with_lifetime(10**7), "expires later than any token", id="signed-expiry-months-ahead"),
    ],
)
async def test_a_token_with_an_absurd_expiry_or_alphabet_gets_a_clear_confirmation_error(
    make: Callable[[str, dict[str, Any], str], str], says: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared("sms", audit_path, telco_mcp_confirm_secret=CONFIRM_SECRET)

    async with client_for(settings, fake) as client:
        token = make(scenario.tool, scenario.canonical, await _shown(client, scenario))
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    text = text_of(result)
    assert result.is_error
    assert text.startswith("[confirmation] "), text
    assert says in text and "Nothing was sent" in text, text
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_an_expired_token_is_refused_and_nothing_is_sent(name: str, mode: str, audit_path: Path) -> None:
    # With a configured HMAC key the test can mint a genuine token whose lifetime ended an hour ago.
    scenario, fake, settings = prepared(name, audit_path, telco_mcp_confirm_secret=CONFIRM_SECRET)
    async with client_for(settings, fake, mode=mode) as client:
        shown = await _shown(client, scenario)
        expired = _expired(scenario.tool, scenario.canonical, shown)
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": expired})
        # control: the same key and arguments with a live token do write, so the refusal is the expiry
        live = ConfirmationTokens(CONFIRM_SECRET.encode()).issue(scenario.tool, scenario.canonical, shown=shown)[0]
        control = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": live})

    assert result.is_error
    assert "expired" in text_of(result)
    assert control.structured_content["status"] == "applied"
    assert len(writes(fake)) == 1
    assert CONFIRM_SECRET not in dumped(result) + dumped(control)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_token_for_another_tool_with_identical_arguments_is_refused(mode: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    args = {"call_id": "c1", "value": True}

    async with client_for(_sg(audit_path, telco_mcp_confirm="token"), fake, mode=mode) as client:
        preview = await client.call_tool("sipgate_hold_call", args)
        token = preview.structured_content["confirm_token"]
        result = await client.call_tool("sipgate_mute_call", args | {"confirm_token": token})

    assert result.is_error
    assert "does not match" in text_of(result)
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_signalwire_token_does_not_confirm_a_sipgate_write(mode: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    signalwire_routes(fake)
    sipgate_routes(fake)
    settings = signalwire_settings(
        audit_path,
        sipgate_token_id=SG_TOKEN_ID,
        sipgate_token=SG_TOKEN,
        telco_mcp_allow_writes=True,
        telco_mcp_confirm="token",
    )
    gw, sms = SCENARIOS["gateway"], SCENARIOS["sms"]

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(gw.tool, gw.args)
        token = preview.structured_content["confirm_token"]
        result = await client.call_tool(sms.tool, sms.args | {"confirm_token": token})

    assert result.is_error
    assert "does not match" in text_of(result)
    assert writes(fake) == []


@pytest.mark.anyio
async def test_a_token_from_a_previous_server_process_is_refused(audit_path: Path) -> None:
    scenario, fake, settings = prepared("sms", audit_path)

    async with client_for(settings, fake) as client:
        preview = await client.call_tool(scenario.tool, scenario.args)
    token = preview.structured_content["confirm_token"]

    async with client_for(settings, fake) as client:  # a new server: a new random HMAC key
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    assert result.is_error
    assert "does not match" in text_of(result)
    assert writes(fake) == []


# ------------------------------------------------------------------ tokens as a unit
class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_works_until_its_expiry_and_not_a_second_later() -> None:
    from telco_mcp.errors import ConfirmationError

    clock = Clock()
    tokens = ConfirmationTokens(b"k" * 32, ttl=120, clock=clock)
    args = {"recipient": "+4915799912345", "message": "hi"}
    on_time, expiry = tokens.issue("sipgate_send_sms", args)
    late, _ = tokens.issue("sipgate_send_sms", args)
    assert expiry == int(clock.now) + 120

    clock.now = expiry
    tokens.redeem("sipgate_send_sms", args, on_time)

    clock.now = expiry + 1
    with pytest.raises(ConfirmationError, match="expired"):
        tokens.redeem("sipgate_send_sms", args, late)


def test_a_token_is_bound_to_tool_arguments_and_single_use() -> None:
    from telco_mcp.errors import ConfirmationError

    tokens = ConfirmationTokens(b"k" * 32, clock=Clock())
    args = {"call_id": "c1", "value": True}
    token, _ = tokens.issue("sipgate_hold_call", args)

    with pytest.raises(ConfirmationError, match="does not match"):
        tokens.redeem("sipgate_mute_call", args, token)
    with pytest.raises(ConfirmationError, match="does not match"):
        tokens.redeem("sipgate_hold_call", {"call_id": "c1", "value": False}, token)
    with pytest.raises(ConfirmationError, match="does not match"):
        tokens.redeem("sipgate_hold_call", args | {"extra": "x"}, token)
    # key order, dry_run, confirm_token and None values do not change the canonical arguments
    tokens.redeem("sipgate_hold_call", {"value": True, "call_id": "c1", "dry_run": False, "note": None}, token)
    with pytest.raises(ConfirmationError, match="already used"):
        tokens.redeem("sipgate_hold_call", args, token)


def test_tokens_from_another_key_do_not_verify() -> None:
    from telco_mcp.errors import ConfirmationError

    args = {"call_id": "c1"}
    token, _ = ConfirmationTokens(b"a" * 32, clock=Clock()).issue("sipgate_hangup_call", args)
    with pytest.raises(ConfirmationError, match="does not match"):
        ConfirmationTokens(b"b" * 32, clock=Clock()).redeem("sipgate_hangup_call", args, token)


# ================================================================== TELCO_MCP_CONFIRM policies
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_policy_elicit_refuses_a_write_from_a_client_without_elicitation(
    name: str, mode: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(name, audit_path, telco_mcp_confirm="elicit")

    async with client_for(settings, fake, mode=mode) as client:
        result = await client.call_tool(scenario.tool, scenario.args)

    assert result.is_error
    assert "TELCO_MCP_CONFIRM=elicit" in text_of(result)
    assert "Nothing was sent" in text_of(result)
    assert "v1." not in text_of(result), "no confirmation token is handed out under policy elicit"
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["gateway", "sms"])
async def test_policy_elicit_still_writes_after_an_elicited_yes(name: str, mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared(name, audit_path, telco_mcp_confirm="elicit")
    asked = Asked(accept)

    async with client_for(settings, fake, mode=mode, elicitation_callback=asked) as client:
        result = await client.call_tool(scenario.tool, scenario.args)

    assert len(asked.messages) == 1
    assert result.structured_content["status"] == "applied"
    assert [(r.method, r.url.path) for r in writes(fake)] == [scenario.write]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["gateway", "sms"])
async def test_policy_elicit_does_not_accept_confirmation_tokens_either(name: str, mode: str, audit_path: Path) -> None:
    # A genuine token for these arguments, as another replica sharing TELCO_MCP_CONFIRM_SECRET (or this
    # server before it was switched to elicit) would have issued it. Under `elicit` only a human answering
    # an elicitation may confirm a write.
    scenario, fake, settings = prepared(
        name, audit_path, telco_mcp_confirm="elicit", telco_mcp_confirm_secret=CONFIRM_SECRET
    )
    token = ConfirmationTokens(CONFIRM_SECRET.encode()).issue(scenario.tool, scenario.canonical)[0]

    async with client_for(settings, fake, mode=mode) as client:
        result = await client.call_tool(scenario.tool, scenario.args | {"confirm_token": token})

    assert result.is_error, text_of(result)
    assert "TELCO_MCP_CONFIRM=elicit" in text_of(result)
    assert writes(fake) == []


@pytest.mark.parametrize("name", ["gateway", "sms"])
def test_policy_off_without_the_acknowledgement_is_a_configuration_error(name: str, audit_path: Path) -> None:
    settings = SCENARIOS[name].settings(audit_path, telco_mcp_confirm="off")

    with pytest.raises(ConfigError, match="TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED"):
        settings.check()
    with pytest.raises(ConfigError, match="TELCO_MCP_CONFIRM=off"):
        build_server(settings)


@pytest.mark.anyio
@pytest.mark.parametrize("eliciting", [True, False], ids=["eliciting-client", "plain-client"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_policy_off_with_the_acknowledgement_writes_without_asking(
    name: str, mode: str, eliciting: bool, audit_path: Path
) -> None:
    scenario, fake, settings = prepared(
        name, audit_path, telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True
    )
    asked = Asked(decline)  # would refuse if it were ever asked
    kwargs: dict[str, Any] = {"elicitation_callback": asked} if eliciting else {}

    async with client_for(settings, fake, mode=mode, **kwargs) as client:
        result = await client.call_tool(scenario.tool, scenario.args)

    assert asked.messages == []
    assert result.structured_content["status"] == "applied"
    assert [(r.method, r.url.path) for r in writes(fake)] == [scenario.write]


# ================================================================== dry runs
@pytest.mark.anyio
@pytest.mark.parametrize("eliciting", [True, False], ids=["eliciting-client", "plain-client"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_dry_run_sms_returns_the_exact_request_and_sends_nothing(
    mode: str, eliciting: bool, audit_path: Path
) -> None:
    scenario, fake, settings = prepared("sms", audit_path)
    asked = Asked(accept)
    kwargs: dict[str, Any] = {"elicitation_callback": asked} if eliciting else {}

    async with client_for(settings, fake, mode=mode, **kwargs) as client:
        result = await client.call_tool(scenario.tool, scenario.args | {"dry_run": True})

    assert writes(fake) == []
    assert asked.messages == [], "a dry run needs no confirmation"
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["status"] == "dry_run"
    assert "confirm_token" not in data
    assert data["request"] == {
        "method": "POST",
        "url": f"{SG_BASE}/sessions/sms",
        "headers": {"Authorization": "Basic [REDACTED]"},
        "body": {"smsId": "s0", "recipient": "+4915799912345", "message": "Running 10 min late"},
    }
    assert "Running 10 min late" in data["summary"]
    assert "nothing was sent" in text_of(result).lower()
    basic = base64.b64encode(f"{SG_TOKEN_ID}:{SG_TOKEN}".encode()).decode()
    for secret in (*CANARIES, basic):
        assert secret not in dumped(result)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_dry_run_gateway_update_returns_exactly_the_patch_that_would_be_sent(
    mode: str, audit_path: Path
) -> None:
    scenario, fake, settings = prepared("gateway", audit_path)

    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(scenario.tool, scenario.args | {"dry_run": True})

    assert writes(fake) == []
    data = result.structured_content
    assert data["status"] == "dry_run"
    assert data["request"] == {
        "method": "PATCH",
        "url": f"{SW_BASE}{GW_PATH}",
        "headers": {"Authorization": "Basic [REDACTED]"},
        "body": {"name": "Trunk B"},
    }
    basic = base64.b64encode(f"{SW_PROJECT}:{SW_TOKEN}".encode()).decode()
    for secret in (*CANARIES, basic):
        assert secret not in dumped(result)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_dry_run_hangup_shows_a_bodyless_delete_and_sends_nothing(mode: str, audit_path: Path) -> None:
    scenario, fake, settings = prepared("hangup", audit_path)

    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool(scenario.tool, scenario.args | {"dry_run": True})

    assert writes(fake) == []
    request = result.structured_content["request"]
    assert request["method"] == "DELETE"
    assert request["url"] == f"{SG_BASE}/calls/c1"
    assert request.get("body") is None
    assert request["headers"] == {"Authorization": "Basic [REDACTED]"}


@pytest.mark.anyio
async def test_a_dry_run_with_an_oauth_token_redacts_the_bearer_token(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    settings = sipgate_settings(audit_path, "oauth", telco_mcp_allow_writes=True)
    sms = SCENARIOS["sms"]

    async with client_for(settings, fake) as client:
        result = await client.call_tool(sms.tool, sms.args | {"dry_run": True})

    assert writes(fake) == []
    assert result.structured_content["request"]["headers"] == {"Authorization": "Bearer [REDACTED]"}
    for canary in CANARIES:
        assert canary not in dumped(result)
