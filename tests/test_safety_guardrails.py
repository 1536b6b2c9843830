"""Telephony guardrails (issue 4): each rule fires with its name, before any human is asked, and sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import phonenumbers
import pytest
from conftest import (
    FakeUpstream,
    accept,
    body_of,
    client_for,
    decline,
    response,
    sipgate_settings,
    text_of,
)
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult
from phonenumbers import PhoneNumberType

from telco_mcp.safety.guardrails import sms_segments
from telco_mcp.settings import Settings

MODES = ["auto", "legacy"]

PREMIUM = "+49 900 1234567"
SHARED_COST = "+49 180 1234567"
MOBILE = "+49 1579 9912345"
BERLIN = "+49 30 12345678"
LONDON = "+44 20 7946 0958"


def sipgate_routes(fake: FakeUpstream) -> None:
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Ops", "callerId": "+4915799912345"}]}))
    fake.route("POST /v2/sessions/sms", response(204))
    fake.route("POST /v2/sessions/calls", response(200, {"sessionId": "3f2a9c1e0b7d4a55"}))
    fake.route(
        "GET /v2/calls",
        response(
            200,
            {
                "data": [
                    {
                        "callId": "c1",
                        "participants": [
                            {"participantId": "p1", "phoneNumber": "+4921100000000", "owner": True},
                            {"participantId": "p2", "phoneNumber": "+493012345678", "owner": False},
                        ],
                    }
                ]
            },
        ),
    )
    fake.route("POST /v2/calls/c1/transfer", response(204))


def settings_for(audit: Path, **overrides: Any) -> Settings:
    return sipgate_settings(audit, "token", telco_mcp_allow_writes=True, **overrides)


def writes(fake: FakeUpstream) -> list[httpx2.Request]:
    return [r for r in fake.requests if r.method != "GET"]


class Asked:
    def __init__(self, answer: Callable[..., Any] = accept) -> None:
        self.answer = answer
        self.messages: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.messages.append(params.message)
        return await self.answer(context, params)


def sms(recipient: str = MOBILE, message: str = "Running 10 min late") -> dict[str, Any]:
    return {"recipient": recipient, "message": message}


def call(callee: str = BERLIN) -> dict[str, Any]:
    return {"callee": callee, "caller": "e0"}


def transfer(target: str) -> dict[str, Any]:
    return {"call_id": "c1", "phone_number": target}


async def refused(
    settings: Settings, tool: str, args: dict[str, Any], rule: str, *, mode: str, eliciting: bool = True
) -> str:
    """Call `tool`, assert it was refused by `rule` before anything was sent or asked, return the text."""
    fake = FakeUpstream()
    sipgate_routes(fake)
    asked = Asked(accept)
    kwargs: dict[str, Any] = {"elicitation_callback": asked} if eliciting else {}

    async with client_for(settings, fake, mode=mode, **kwargs) as client:
        result = await client.call_tool(tool, args)

    text = text_of(result)
    assert result.is_error, text
    assert f"rule {rule}" in text, text
    assert "Nothing was sent" in text
    assert asked.messages == [], "a guardrail refusal comes before the human is asked"
    assert "v1." not in text and not result.structured_content, "no confirmation token for a refused write"
    assert fake.requests == [], "the guardrail refuses before even the supporting reads"
    return text


# ================================================================== premium rate and shared cost
def test_phonenumbers_classifies_the_test_numbers_as_premium_rate_and_shared_cost() -> None:
    def kind(number: str) -> int:
        parsed = phonenumbers.parse(number, None)
        assert phonenumbers.is_valid_number(parsed), number
        return phonenumbers.number_type(parsed)

    assert kind(PREMIUM) == PhoneNumberType.PREMIUM_RATE
    assert kind(SHARED_COST) == PhoneNumberType.SHARED_COST
    assert kind(MOBILE) == PhoneNumberType.MOBILE
    assert kind(BERLIN) == PhoneNumberType.FIXED_LINE


@pytest.mark.anyio
@pytest.mark.parametrize("eliciting", [True, False], ids=["eliciting-client", "plain-client"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args", "kind"),
    [
        ("sipgate_send_sms", sms(PREMIUM), "premium-rate"),
        ("sipgate_send_sms", sms(SHARED_COST), "shared-cost"),
        ("sipgate_start_call", call(PREMIUM), "premium-rate"),
        ("sipgate_start_call", call(SHARED_COST), "shared-cost"),
        ("sipgate_transfer_call", transfer(PREMIUM), "premium-rate"),
    ],
)
async def test_premium_rate_and_shared_cost_destinations_are_refused_by_default(
    tool: str, args: dict[str, Any], kind: str, mode: str, eliciting: bool, audit_path: Path
) -> None:
    text = await refused(settings_for(audit_path), tool, args, "block_premium", mode=mode, eliciting=eliciting)
    assert f"is a {kind} number" in text


@pytest.mark.anyio
async def test_premium_destinations_go_through_when_the_rule_is_switched_off(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)

    async with client_for(
        settings_for(audit_path, telco_mcp_block_premium=False), fake, elicitation_callback=accept
    ) as c:
        result = await c.call_tool("sipgate_send_sms", sms(PREMIUM))

    assert result.structured_content["status"] == "applied"
    assert len(writes(fake)) == 1


# ================================================================== prefix lists
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("sipgate_send_sms", sms(LONDON)),
        ("sipgate_start_call", call(LONDON)),
        ("sipgate_transfer_call", transfer(LONDON)),
    ],
)
async def test_a_denied_prefix_is_refused(tool: str, args: dict[str, Any], mode: str, audit_path: Path) -> None:
    settings = settings_for(audit_path, telco_mcp_denied_prefixes="+44")
    text = await refused(settings, tool, args, "denied_prefixes", mode=mode)
    assert "+44" in text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("sipgate_send_sms", sms(MOBILE)),
        ("sipgate_start_call", call(LONDON)),
        ("sipgate_transfer_call", transfer(MOBILE)),
    ],
)
async def test_a_destination_outside_the_allowed_prefixes_is_refused(
    tool: str, args: dict[str, Any], mode: str, audit_path: Path
) -> None:
    settings = settings_for(audit_path, telco_mcp_allowed_prefixes="+4930")
    text = await refused(settings, tool, args, "allowed_prefixes", mode=mode)
    assert "+4930" in text


@pytest.mark.anyio
async def test_destinations_inside_the_prefix_rules_are_sent(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    settings = settings_for(audit_path, telco_mcp_allowed_prefixes="+4930,+4989", telco_mcp_denied_prefixes="+44")

    async with client_for(settings, fake, elicitation_callback=accept) as client:
        sent = await client.call_tool("sipgate_send_sms", sms(BERLIN))
        started = await client.call_tool("sipgate_start_call", call("+49 89 12345678"))

    assert sent.structured_content["status"] == "applied"
    assert started.structured_content["status"] == "applied"
    assert [(r.method, r.url.path) for r in writes(fake)] == [
        ("POST", "/v2/sessions/sms"),
        ("POST", "/v2/sessions/calls"),
    ]


@pytest.mark.anyio
async def test_a_national_number_is_checked_against_the_prefixes_after_normalisation(audit_path: Path) -> None:
    # "0044 ..." and "+44 ..." are the same destination; the deny list must catch both spellings.
    settings = settings_for(audit_path, telco_mcp_denied_prefixes="+44")
    await refused(settings, "sipgate_send_sms", sms("0044 20 7946 0958"), "denied_prefixes", mode="auto")


def test_prefix_settings_must_be_e164_prefixes(audit_path: Path) -> None:
    from telco_mcp.errors import ConfigError

    with pytest.raises(ConfigError, match="TELCO_MCP_DENIED_PREFIXES"):
        settings_for(audit_path, telco_mcp_denied_prefixes="0044").check()
    with pytest.raises(ConfigError, match="TELCO_MCP_ALLOWED_PREFIXES"):
        settings_for(audit_path, telco_mcp_allowed_prefixes="+49 30").check()


# ================================================================== SMS length
GSM_200 = ("Reminder: the maintenance window for the Berlin office PBX starts at 22:00 tonight. " * 3)[:200]
UCS2_71 = "Meeting moved to 15:00, room 2.17 - bring the signed contract please! \U0001f642"


def test_the_long_test_messages_have_the_intended_lengths() -> None:
    assert len(GSM_200) == 200
    assert len(UCS2_71) == 71


@pytest.mark.anyio
@pytest.mark.parametrize("eliciting", [True, False], ids=["eliciting-client", "plain-client"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("message", "segments"), [(GSM_200, 2), (UCS2_71, 2)], ids=["gsm7-200", "ucs2-71"])
async def test_an_sms_longer_than_the_segment_limit_is_refused(
    message: str, segments: int, mode: str, eliciting: bool, audit_path: Path
) -> None:
    settings = settings_for(audit_path, telco_mcp_max_sms_segments=1)
    text = await refused(
        settings, "sipgate_send_sms", sms(message=message), "max_sms_segments", mode=mode, eliciting=eliciting
    )
    assert f"needs {segments} SMS segments" in text
    assert "limit is 1" in text


@pytest.mark.anyio
@pytest.mark.parametrize("message", ["a" * 160, "ł" * 70, "\U0001f642" * 35], ids=["gsm7-160", "ucs2-70", "emoji-35"])
async def test_an_sms_within_the_segment_limit_is_sent(message: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)

    async with client_for(
        settings_for(audit_path, telco_mcp_max_sms_segments=1), fake, elicitation_callback=accept
    ) as c:
        result = await c.call_tool("sipgate_send_sms", sms(message=message))

    assert result.structured_content["status"] == "applied", text_of(result)
    assert len(writes(fake)) == 1


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("Grüße aus Köln, Straße 12 ÄÖÜ ñ à @£$¥" + "x" * 120, 1),  # GSM-7 letters, not UCS-2
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        ("{}" * 40, 1),
        ("ł" * 70, 1),  # UCS-2
        ("ł" * 71, 2),
        ("ł" * 134, 2),
        ("ł" * 135, 3),
        ("a" * 69 + "ł", 1),  # one non-GSM character makes the whole message UCS-2
        ("a" * 70 + "ł", 2),
        ("\U0001f642" * 35, 1),  # an emoji is a surrogate pair: two UCS-2 units
        ("\U0001f642" * 36, 2),
        ("a" * 69 + "\U0001f642", 2),
        ("a" * 70 + "\U0001f642", 2),
        ("\n\r" * 80, 1),
    ],
    ids=lambda value: f"{len(value)}-chars" if isinstance(value, str) else f"{value}-segments",
)
def test_sms_segments_counts_gsm7_and_ucs2_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


# ================================================================== hourly caps
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_the_hourly_sms_cap_refuses_the_second_sms_and_shows_the_budget(mode: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    asked = Asked(accept)

    async with client_for(
        settings_for(audit_path, telco_mcp_sms_per_hour=1), fake, mode=mode, elicitation_callback=asked
    ) as c:
        first = await c.call_tool("sipgate_send_sms", sms(message="first"))
        second = await c.call_tool("sipgate_send_sms", sms(message="second"))

    assert first.structured_content["status"] == "applied"
    assert first.structured_content["budget"] == {"sms_remaining_this_hour": 0}
    assert second.is_error
    assert "rule sms_per_hour" in text_of(second)
    assert len(asked.messages) == 1, "the second SMS is refused before the human is asked"
    assert len(writes(fake)) == 1


@pytest.mark.anyio
async def test_the_budget_counts_down_with_each_sent_sms(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)

    async with client_for(settings_for(audit_path, telco_mcp_sms_per_hour=3), fake, elicitation_callback=accept) as c:
        budgets = [
            (await c.call_tool("sipgate_send_sms", sms(message=f"m{i}"))).structured_content["budget"] for i in range(3)
        ]

    assert budgets == [{"sms_remaining_this_hour": n} for n in (2, 1, 0)]


@pytest.mark.anyio
async def test_declined_and_dry_run_sms_do_not_use_the_hourly_budget(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    asked = Asked(decline)

    async with client_for(settings_for(audit_path, telco_mcp_sms_per_hour=1), fake, elicitation_callback=asked) as c:
        declined = await c.call_tool("sipgate_send_sms", sms())
        dry = await c.call_tool("sipgate_send_sms", sms() | {"dry_run": True})
        asked.answer = accept
        sent = await c.call_tool("sipgate_send_sms", sms())

    assert declined.structured_content["status"] == "declined"
    assert dry.structured_content["status"] == "dry_run"
    assert sent.structured_content["status"] == "applied", text_of(sent)
    assert sent.structured_content["budget"] == {"sms_remaining_this_hour": 0}
    assert len(writes(fake)) == 1


@pytest.mark.anyio
async def test_a_confirmation_token_does_not_bypass_the_hourly_budget(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)

    settings = settings_for(audit_path, telco_mcp_sms_per_hour=1, telco_mcp_confirm="token")
    async with client_for(settings, fake) as client:
        a = await client.call_tool("sipgate_send_sms", sms(message="a"))
        b = await client.call_tool("sipgate_send_sms", sms(message="b"))
        sent = await client.call_tool(
            "sipgate_send_sms", sms(message="a") | {"confirm_token": a.structured_content["confirm_token"]}
        )
        late = await client.call_tool(
            "sipgate_send_sms", sms(message="b") | {"confirm_token": b.structured_content["confirm_token"]}
        )

    assert sent.structured_content["status"] == "applied"
    assert late.is_error
    assert "rule sms_per_hour" in text_of(late)
    assert len(writes(fake)) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_the_hourly_call_cap_refuses_the_second_call(mode: str, audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    asked = Asked(accept)

    async with client_for(
        settings_for(audit_path, telco_mcp_calls_per_hour=1), fake, mode=mode, elicitation_callback=asked
    ) as c:
        first = await c.call_tool("sipgate_start_call", call())
        second = await c.call_tool("sipgate_start_call", call("+49 30 87654321"))
        sms_result = await c.call_tool("sipgate_send_sms", sms())

    assert first.structured_content["status"] == "applied"
    assert first.structured_content["result"] == {"session_id": "3f2a9c1e0b7d4a55"}
    assert first.structured_content["budget"] == {"call_remaining_this_hour": 0}
    assert second.is_error
    assert "rule calls_per_hour" in text_of(second)
    assert sms_result.structured_content["status"] == "applied", "the call cap does not limit SMS"
    assert len(asked.messages) == 2
    assert [r.url.path for r in writes(fake)] == ["/v2/sessions/calls", "/v2/sessions/sms"]


@pytest.mark.anyio
async def test_a_zero_cap_refuses_every_sms(audit_path: Path) -> None:
    await refused(
        settings_for(audit_path, telco_mcp_sms_per_hour=0), "sipgate_send_sms", sms(), "sms_per_hour", mode="auto"
    )


@pytest.mark.anyio
async def test_the_results_show_both_budgets_when_both_caps_are_set(audit_path: Path) -> None:
    fake = FakeUpstream()
    sipgate_routes(fake)
    settings = settings_for(audit_path, telco_mcp_sms_per_hour=5, telco_mcp_calls_per_hour=2)

    async with client_for(settings, fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", sms())

    assert result.structured_content["budget"] == {"sms_remaining_this_hour": 4, "call_remaining_this_hour": 2}


@pytest.mark.anyio
async def test_every_write_result_shows_the_remaining_hourly_budget(audit_path: Path) -> None:
    fake = FakeUpstream()
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Ops", "callerId": "+4915799912345"}]}))
    fake.route("POST /v2/sessions/sms", response(204))
    settings = sipgate_settings(
        audit_path, telco_mcp_allow_writes=True, telco_mcp_sms_per_hour=3, telco_mcp_confirm="token"
    )
    sms = {"recipient": "+4915799900001", "message": "hi"}
    async with client_for(settings, fake) as client:
        dry = await client.call_tool("sipgate_send_sms", sms | {"dry_run": True})
        preview = await client.call_tool("sipgate_send_sms", sms)
        done = await client.call_tool(
            "sipgate_send_sms", sms | {"confirm_token": preview.structured_content["confirm_token"]}
        )
    assert dry.structured_content["budget"] == {"sms_remaining_this_hour": 3}
    assert preview.structured_content["budget"] == {"sms_remaining_this_hour": 3}
    assert done.structured_content["budget"] == {"sms_remaining_this_hour": 2}


# ================================================================== every number, in every field of every write tool
SW_GATEWAY_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"
SW_RECORDING_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
SW_NUMBER_ID = "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a"
SW_CREDENTIAL_ID = "5b0c2d1e-3f4a-4b5c-8d6e-7f8091a2b3c4"
SW_SENDER = "+1 202 555 0100"
SW_CALL_SID = "2f8a3c1e-6b7d-4e9f-8a0b-1c2d3e4f5a6b"
SW_CONFERENCE_SID = "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"
LAML = "/api/laml/2010-04-01/Accounts/{project}"

# Every write tool with arguments that pass validation, and what each of its phone-number fields is:
# "dialled" (the provider dials or texts it: every number rule applies) or "shown" (displayed to the
# other side only). A new write tool, or a new number field, fails the completeness test below until
# it is listed here.
WRITE_TOOLS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "signalwire_update_sip_gateway": ({"id": SW_GATEWAY_ID, "name": "Trunk B"}, {}),
    "signalwire_update_sip_profile": ({"default_send_as": BERLIN}, {"default_send_as": "shown"}),
    "signalwire_delete_recording": ({"id": SW_RECORDING_ID}, {}),
    "signalwire_create_sip_gateway": (
        {
            "name": "Trunk C",
            "uri": "sip:gw.example",
            "encryption": "optional",
            "ciphers": ["AEAD_AES_256_GCM_8"],
            "codecs": ["PCMU"],
        },
        {},
    ),  # fmt: skip
    "signalwire_delete_sip_gateway": ({"id": SW_GATEWAY_ID}, {}),
    "signalwire_update_phone_number": ({"id": SW_NUMBER_ID, "name": "Hotline"}, {}),
    # The sender is one of the project's own numbers: shown to the recipient, matched, never dialled.
    "signalwire_send_message": (
        {"to_number": MOBILE, "from_number": SW_SENDER, "body": "hi"},
        {"to_number": "dialled", "from_number": "shown"},
    ),
    "sipgate_hold_call": ({"call_id": "c1", "value": True}, {}),
    "sipgate_mute_call": ({"call_id": "c1", "value": True}, {}),
    "sipgate_record_call": ({"call_id": "c1", "value": True}, {}),
    "sipgate_transfer_call": (
        {"call_id": "c1", "phone_number": BERLIN, "caller_id": MOBILE},
        {"phone_number": "dialled", "caller_id": "shown"},
    ),
    "sipgate_send_dtmf": ({"call_id": "c1", "sequence": "123#"}, {}),
    "sipgate_play_announcement": ({"call_id": "c1", "url": "https://example.com/a.wav"}, {}),
    "sipgate_hangup_call": ({"call_id": "c1"}, {}),
    "sipgate_start_call": (
        {"callee": BERLIN, "caller": MOBILE, "device_id": "e0", "caller_id": "+49 30 87654321"},
        {"callee": "dialled", "caller": "dialled", "caller_id": "shown"},
    ),
    "sipgate_send_sms": ({"recipient": MOBILE, "message": "hi"}, {"recipient": "dialled"}),
    # Blocking is not dialling: the number is only shown (in the question) and matched.
    "sipgate_block_number": ({"phone_number": BERLIN}, {"phone_number": "shown"}),
    "sipgate_unblock_number": ({"phone_number": BERLIN}, {"phone_number": "shown"}),
    "sipgate_update_history_entry": ({"entry_id": "h1", "archived": True}, {}),
    "sipgate_delete_history_entry": ({"entry_id": "h1"}, {}),
    # The forwarding targets are nested (each checked, see tests/test_sipgate_forwardings.py); none is top-level.
    "sipgate_set_forwardings": ({"phoneline_id": "p0", "forwardings": [{"destination": "p1"}]}, {}),
    # issue 27: a number's routing names an extension, no number; a fax's recipient is dialled
    "sipgate_route_number": ({"number_id": "1001", "endpoint_id": "p2"}, {}),
    "sipgate_send_fax": ({"file": "a.pdf", "recipient": MOBILE}, {"recipient": "dialled"}),
    "sipgate_resend_fax": ({"fax_id": "fx1", "recipient": MOBILE}, {"recipient": "dialled"}),
    # A credential's send_as is shown to callees as its caller number, never dialled.
    "signalwire_create_sip_credential": ({"username": "anna-desk"}, {"send_as": "shown"}),
    "signalwire_update_sip_credential": ({"id": SW_CREDENTIAL_ID, "caller_id": "Anna"}, {"send_as": "shown"}),
    "signalwire_delete_sip_credential": ({"id": SW_CREDENTIAL_ID}, {}),
    "sipgate_set_webhooks": ({"incoming_url": "https://crm.example.com/in", "outgoing_url": ""}, {}),
    # The Compatibility API (issue 27): the caller is one of the project's numbers, shown to the callee.
    "signalwire_start_call": (
        {"to_number": MOBILE, "from_number": SW_SENDER, "url": "https://acme.signalwire.com/laml-bins/1"},
        {"to_number": "dialled", "from_number": "shown"},
    ),
    "signalwire_update_call": (
        {"call_sid": SW_CALL_SID, "action": "redirect", "url": "https://acme.signalwire.com/laml-bins/2"},
        {},
    ),
    "signalwire_update_conference_participant": (
        {"conference_sid": SW_CONFERENCE_SID, "call_sid": SW_CALL_SID, "action": "mute"},
        {},
    ),
    "signalwire_remove_conference_participant": ({"conference_sid": SW_CONFERENCE_SID, "call_sid": SW_CALL_SID}, {}),
}
SECRET_SETTING = {"signalwire_create_sip_credential"}  # its question is on the approval page (tests/approval)
DIALLED = [(tool, f) for tool, (_, fields) in WRITE_TOOLS.items() for f, how in fields.items() if how == "dialled"]
NUMBER_FIELDS = [(tool, field) for tool, (_, fields) in WRITE_TOOLS.items() for field in fields]
ASKED_NUMBER_FIELDS = [(tool, field) for tool, field in NUMBER_FIELDS if tool not in SECRET_SETTING]


def both_settings(audit: Path, **overrides: Any) -> Settings:
    from conftest import SW_PROJECT, SW_TOKEN

    overrides = {"telco_mcp_toolsets": "all", "telco_mcp_fax_dir": _fax_dir(audit.parent)} | overrides
    # (the write tools outside the default set too; sipgate_send_fax reads its PDF from the fax directory)
    return settings_for(
        audit, signalwire_space="acme", signalwire_project_id=SW_PROJECT, signalwire_api_token=SW_TOKEN, **overrides
    )


def _fax_dir(parent: Path) -> Path:
    """A fax directory holding a.pdf, the file of sipgate_send_fax's arguments here."""
    from io import BytesIO

    from pypdf import PdfWriter

    faxes = parent / "faxes"
    if not (faxes / "a.pdf").exists():
        faxes.mkdir(exist_ok=True)
        writer, out = PdfWriter(), BytesIO()
        writer.add_blank_page(width=595, height=842)
        writer.write(out)
        (faxes / "a.pdf").write_bytes(out.getvalue())
    return faxes


def all_routes(fake: FakeUpstream) -> FakeUpstream:
    sipgate_routes(fake)
    gateway = {"id": SW_GATEWAY_ID, "sip_gateway": {"id": SW_GATEWAY_ID, "name": "Trunk A", "uri": "sip:gw.example"}}
    fake.route(f"GET /api/fabric/resources/sip_gateways/{SW_GATEWAY_ID}", response(200, gateway))
    fake.route(
        f"GET /api/relay/rest/recordings/{SW_RECORDING_ID}",
        response(200, {"id": SW_RECORDING_ID, "leg_type": "pstn", "status": "completed"}),
    )
    fake.route("GET /v2/blacklist/incoming", response(200, {"items": [{"phoneNumber": "+498912345678"}]}))
    fake.route("GET /v2/history/h1", response(200, {"id": "h1", "type": "SMS", "direction": "OUTGOING"}))
    fax = {"id": "fx1", "type": "FAX", "direction": "OUTGOING", "target": "+498912345678", "faxStatusType": "SENT"}
    fake.route("GET /v2/history/fx1", response(200, fax))  # a sent fax (to the question test's probe number)
    fake.route("POST /v2/sessions/fax", response(200, {"sessionId": "fx2"}))
    fake.route("POST /v2/sessions/fax/resend", response(204))
    # The project's numbers: the SignalWire SMS sender (and the probe number of the question test) are among them.
    numbers = [{"id": SW_NUMBER_ID, "number": n, "capabilities": ["sms"]} for n in ("+12025550100", "+498912345678")]
    fake.route("GET /api/relay/rest/phone_numbers", response(200, {"data": numbers, "links": {}}))
    fake.route(f"GET /api/relay/rest/phone_numbers/{SW_NUMBER_ID}", response(200, numbers[0]))
    fake.route("GET /api/fabric/resources/sip_endpoints", response(200, {"data": [], "links": {}}))
    credential = {"id": SW_CREDENTIAL_ID, "username": "anna-desk", "send_as": "random"}
    fake.route(f"GET /api/fabric/resources/sip_endpoints/{SW_CREDENTIAL_ID}", response(200, credential))
    fake.route("POST /api/messaging/messages", response(201, {"id": "m1", "status": "queued"}))
    # The Compatibility API: the project's numbers (a call's caller is one of them) and a live call.
    from conftest import SW_PROJECT

    laml = LAML.format(project=SW_PROJECT)
    incoming = [{"phone_number": n, "capabilities": {"voice": True}} for n in ("+12025550100", "+498912345678")]
    fake.route(f"GET {laml}/IncomingPhoneNumbers", response(200, {"incoming_phone_numbers": incoming}))
    fake.route(f"POST {laml}/Calls", response(200, {"sid": SW_CALL_SID, "status": "queued"}))
    return fake


def test_every_phone_number_field_of_every_write_tool_is_declared() -> None:
    """Probe each input field with a number in international spacing: a field that normalises it holds a number."""
    from pydantic import ValidationError

    from telco_mcp.catalogue import CATALOGUE

    writes_ = {op.name: op for op in CATALOGUE if op.is_write}
    assert set(writes_) == set(WRITE_TOOLS), "list every write tool in WRITE_TOOLS"
    for name, op in writes_.items():
        base, declared = WRITE_TOOLS[name]
        op.input.model_validate(base)
        found = set()
        for field in op.input.model_fields:
            try:
                probed = op.input.model_validate(base | {field: "+49 30 12345678"})
            except ValidationError:
                continue
            if getattr(probed, field) == "+493012345678":
                found.add(field)
        assert found == set(declared), f"{name}: phone-number fields {sorted(found)}, declared {sorted(declared)}"


PREMIUM_SPELLINGS = ["+49 900 1234567", "+499001234567", "0900 1234567", "0049 900 1234567", "(0900) 123-4567"]


@pytest.mark.anyio
@pytest.mark.parametrize("spelling", PREMIUM_SPELLINGS)
@pytest.mark.parametrize(("tool", "field"), DIALLED)
async def test_a_premium_number_is_refused_in_every_dialled_field_in_every_spelling(
    tool: str, field: str, spelling: str, audit_path: Path
) -> None:
    args = WRITE_TOOLS[tool][0] | {field: spelling}
    text = await refused(both_settings(audit_path), tool, args, "block_premium", mode="auto")
    assert "+49 900 ***4567 is a premium-rate number" in text


@pytest.mark.anyio
@pytest.mark.parametrize(("tool", "field"), DIALLED)
async def test_the_prefix_rules_apply_to_every_dialled_field(tool: str, field: str, audit_path: Path) -> None:
    args = WRITE_TOOLS[tool][0] | {field: LONDON}
    denied = both_settings(audit_path, telco_mcp_denied_prefixes="+44")
    await refused(denied, tool, args, "denied_prefixes", mode="auto")
    only_germany = both_settings(audit_path, telco_mcp_allowed_prefixes="+49")
    await refused(only_germany, tool, args, "allowed_prefixes", mode="legacy", eliciting=False)


@pytest.mark.anyio
@pytest.mark.parametrize(("tool", "field"), ASKED_NUMBER_FIELDS)
async def test_every_number_a_write_dials_or_shows_is_in_the_question_the_human_reads(
    tool: str, field: str, audit_path: Path
) -> None:
    fake = all_routes(FakeUpstream())
    asked = Asked(decline)
    number = "+49 89 12345678"
    args = WRITE_TOOLS[tool][0] | {field: number}

    async with client_for(both_settings(audit_path), fake, elicitation_callback=asked) as client:
        result = await client.call_tool(tool, args)

    assert result.structured_content["status"] == "declined", text_of(result)
    [question] = asked.messages
    assert number in question, question
    assert writes(fake) == []


@pytest.mark.anyio
async def test_a_phone_number_caller_is_rung_first_so_it_is_named_in_the_question(audit_path: Path) -> None:
    fake = all_routes(FakeUpstream())
    asked = Asked(accept)
    args = {"callee": BERLIN, "caller": "0157 99912345", "device_id": "e0"}

    async with client_for(settings_for(audit_path), fake, elicitation_callback=asked) as client:
        result = await client.call_tool("sipgate_start_call", args)

    assert result.structured_content["status"] == "applied", text_of(result)
    [question] = asked.messages
    assert f"rings {MOBILE}" in question and BERLIN in question, question
    assert body_of(writes(fake)[0])["caller"] == "+4915799912345"


# ================================================================== high-cost international services
def _example(country_code: int, kind: str) -> str:
    example = phonenumbers.example_number_for_non_geo_entity(country_code)
    assert example is not None
    metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(country_code)
    description = getattr(metadata, kind)
    number = phonenumbers.parse(f"+{country_code}{description.example_number}", None)
    assert phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


HIGH_COST = {
    "satellite-881": (_example(881, "mobile"), "Global Mobile Satellite System (+881)"),
    "networks-882": (_example(882, "mobile"), "International Networks (+882"),
    "networks-883": (_example(883, "voip"), "International Networks (+883"),
    "inmarsat-870": (_example(870, "mobile"), "Inmarsat satellite (+870)"),
    "upt-878": (_example(878, "voip"), "Universal Personal Telecommunications (+878)"),
    "premium-979": (_example(979, "premium_rate"), "International Premium Rate Service (+979)"),
    "shared-cost-808": (_example(808, "shared_cost"), "International Shared Cost Service (+808)"),
    "ocha-888": (_example(888, "uan"), "OCHA disaster-relief (+888)"),
    "personal-de-700": ("+49 700 12345678", "a personal number"),
    "personal-uk-70": ("+44 70 1234 5678", "a personal number"),
    "premium-uk-870": ("+44 870 123 4567", "a premium-rate number"),
    "premium-us-900": ("+1 900 555 0123", "a premium-rate number"),
    "shared-cost-at-820": ("+43 820 123456", "a shared-cost number"),
}


@pytest.mark.anyio
@pytest.mark.parametrize(("number", "why"), list(HIGH_COST.values()), ids=list(HIGH_COST))
@pytest.mark.parametrize(("tool", "field"), DIALLED)
async def test_satellite_international_network_and_personal_numbers_are_refused_as_high_cost(
    tool: str, field: str, number: str, why: str, audit_path: Path
) -> None:
    args = WRITE_TOOLS[tool][0] | {field: number}
    text = await refused(both_settings(audit_path), tool, args, "block_premium", mode="auto")
    assert why in text, text


@pytest.mark.anyio
@pytest.mark.parametrize(
    "number",
    [_example(800, "toll_free"), "+49 32 123456789", "+44 300 123 4567", "+1 202 555 0123", "+49 800 1234567"],
    ids=["freephone-800", "voip-de-32", "uan-uk-300", "us-fixed-or-mobile", "toll-free-de"],
)
async def test_freephone_voip_and_company_numbers_are_ordinary(number: str, audit_path: Path) -> None:
    fake = all_routes(FakeUpstream())

    async with client_for(settings_for(audit_path), fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", sms(number))

    assert result.structured_content["status"] == "applied", text_of(result)


# ================================================================== transfers use the call budget
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("sipgate_transfer_call", transfer(BERLIN)), ("sipgate_transfer_call", transfer("+49 89 12345678"))),
        (("sipgate_transfer_call", transfer(BERLIN)), ("sipgate_start_call", call())),
        (("sipgate_start_call", call()), ("sipgate_transfer_call", transfer(BERLIN))),
    ],
    ids=["transfer-then-transfer", "transfer-then-call", "call-then-transfer"],
)
async def test_transfers_count_against_the_hourly_call_cap(
    first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]], mode: str, audit_path: Path
) -> None:
    fake = all_routes(FakeUpstream())
    asked = Asked(accept)

    async with client_for(
        settings_for(audit_path, telco_mcp_calls_per_hour=1), fake, mode=mode, elicitation_callback=asked
    ) as client:
        done = await client.call_tool(*first)
        late = await client.call_tool(*second)

    assert done.structured_content["status"] == "applied", text_of(done)
    assert done.structured_content["budget"] == {"call_remaining_this_hour": 0}
    assert late.is_error and "rule calls_per_hour" in text_of(late), text_of(late)
    assert len(writes(fake)) == 1
    assert len(asked.messages) == 1
