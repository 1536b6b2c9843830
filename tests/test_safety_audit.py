"""The audit log (issue 4): one `attempt` line per write attempt, an `intent` line flushed before the
request, masked phone numbers, and nothing secret."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import (
    CANARIES,
    SG_TOKEN,
    SG_TOKEN_ID,
    SW_PROJECT,
    FakeUpstream,
    accept,
    answer_no,
    cancel,
    client_for,
    decline,
    response,
    signalwire_settings,
    sipgate_settings,
    text_of,
)

from telco_mcp.settings import Settings

MODES = ["auto", "legacy"]
CONFIRM_SECRET = "audit-test-confirm-secret-0123456789abcdef"

GW_ID = "0823a606-0aff-4c90-9eba-f88ba118fe05"
GW_PATH = f"/api/fabric/resources/sip_gateways/{GW_ID}"
RECIPIENT = "+49 170 1234567"
RECIPIENT_E164 = "+491701234567"
RECIPIENT_MASKED = "+49 170 ***4567"  # country code and prefix kept, subscriber digits hidden
SMS = {"recipient": RECIPIENT, "message": "Running 10 min late"}


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
            "ciphers": ["AEAD_AES_256_GCM_8"],
            "codecs": ["OPUS", "PCMU"],
            "encryption": "optional",
        },
    }


def routes(fake: FakeUpstream, *, sms: Any = None) -> FakeUpstream:
    fake.route(f"GET {GW_PATH}", response(200, gateway("Trunk A")))
    fake.route(f"PATCH {GW_PATH}", response(200, gateway("Trunk B")))
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0"}))
    fake.route("GET /v2/w0/sms", response(200, {"items": [{"id": "s0", "alias": "Ops", "callerId": "+4915799912345"}]}))
    fake.route("POST /v2/sessions/sms", sms if sms is not None else response(204))
    fake.route("POST /v2/sessions/calls", response(200, {"sessionId": "3f2a9c1e0b7d4a55"}))
    return fake


def both(audit: Path, **overrides: Any) -> Settings:
    return signalwire_settings(
        audit, sipgate_token_id=SG_TOKEN_ID, sipgate_token=SG_TOKEN, telco_mcp_allow_writes=True, **overrides
    )


def lines(audit: Path) -> list[dict[str, Any]]:
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]


def attempts(audit: Path) -> list[dict[str, Any]]:
    return [line for line in lines(audit) if line["event"] == "attempt"]


def intents(audit: Path) -> list[dict[str, Any]]:
    return [line for line in lines(audit) if line["event"] == "intent"]


def outcomes(audit: Path) -> list[tuple[str, str, str]]:
    return [(a["tool"], a["outcome"], a["confirmed_by"]) for a in attempts(audit)]


def writes(fake: FakeUpstream) -> list[httpx2.Request]:
    return [r for r in fake.requests if r.method != "GET"]


def raising(exc: type[Exception]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exc("simulated network failure", request=request)  # pyright: ignore[reportCallIssue]

    return handler


# ================================================================== one line per attempt, with its outcome
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_each_elicitation_answer_leaves_exactly_one_attempt_line(mode: str, audit_path: Path) -> None:
    fake = routes(FakeUpstream())
    answers = [accept, decline, answer_no, cancel]
    pending = list(answers)

    async def scripted(context: Any, params: Any) -> Any:
        return await pending.pop(0)(context, params)

    async with client_for(both(audit_path), fake, mode=mode, elicitation_callback=scripted) as client:
        for _ in answers:
            await client.call_tool("sipgate_send_sms", SMS)

    assert outcomes(audit_path) == [
        ("sipgate_send_sms", "applied", "elicitation"),
        ("sipgate_send_sms", "declined", "elicitation"),
        ("sipgate_send_sms", "declined", "elicitation"),
        ("sipgate_send_sms", "declined", "elicitation"),
    ]
    assert [a.get("detail") for a in attempts(audit_path)][1:] == [
        "user declined",
        "user answered no",
        "user cancelled",
    ]
    assert len(intents(audit_path)) == 1, "only the write that was sent has an intent line"
    assert len(writes(fake)) == 1


@pytest.mark.anyio
async def test_a_full_session_leaves_one_attempt_line_per_attempt_with_the_right_outcome(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path, telco_mcp_confirm="token"), fake) as client:  # no elicitation: tokens
        preview = await client.call_tool("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"})
        token = preview.structured_content["confirm_token"]
        await client.call_tool(
            "signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B", "confirm_token": token}
        )
        await client.call_tool(
            "signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B", "confirm_token": token}
        )
        await client.call_tool("sipgate_send_sms", SMS | {"confirm_token": "v1.1.forged.00"})
        await client.call_tool("sipgate_send_sms", SMS | {"recipient": "+49 900 1234567"})
        await client.call_tool("sipgate_send_sms", SMS | {"dry_run": True})
    fake.route("POST /v2/sessions/sms", response(422, {"errors": [{"detail": "invalid", "source": {"pointer": "/x"}}]}))
    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        await client.call_tool("sipgate_send_sms", SMS)
    fake.route("POST /v2/sessions/sms", raising(httpx2.ReadTimeout))
    off = both(audit_path, telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True)
    async with client_for(off, fake) as client:
        await client.call_tool("sipgate_send_sms", SMS)
        await client.call_tool("sipgate_start_call", {"callee": "+49 30 12345678", "caller": "e0"})

    assert outcomes(audit_path) == [
        ("signalwire_update_sip_gateway", "previewed", "token"),  # the preview with its token: nothing sent
        ("signalwire_update_sip_gateway", "applied", "token"),
        ("signalwire_update_sip_gateway", "refused", "token"),  # replayed token
        ("sipgate_send_sms", "refused", "token"),  # forged token
        ("sipgate_send_sms", "refused", "none"),  # premium-rate guardrail, before anyone was asked
        ("sipgate_send_sms", "dry_run", "none"),  # a dry run is on record too
        ("sipgate_send_sms", "failed", "elicitation"),  # upstream 422
        ("sipgate_send_sms", "unknown", "off"),  # the request went out, no answer came back
        ("sipgate_start_call", "applied", "off"),
    ]
    assert [i["tool"] for i in intents(audit_path)] == [
        "signalwire_update_sip_gateway",
        "sipgate_send_sms",
        "sipgate_send_sms",
        "sipgate_start_call",
    ]
    assert len(writes(fake)) == 4


@pytest.mark.anyio
async def test_an_attempt_line_records_time_status_and_the_providers_id(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        await client.call_tool("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"})
        await client.call_tool("sipgate_start_call", {"callee": "+49 30 12345678", "caller": "e0"})
        await client.call_tool("sipgate_send_sms", SMS)

    gw, started, sent = attempts(audit_path)
    assert (gw["status"], gw["provider_id"]) == (200, GW_ID)
    assert gw["arguments"] == {"id": GW_ID, "name": "Trunk B"}
    assert (started["status"], started["provider_id"]) == (200, "3f2a9c1e0b7d4a55")
    assert sent["status"] == 204
    for line in lines(audit_path):
        assert datetime.fromisoformat(line["time"]).tzinfo is not None
        assert len(line["attempt"]) >= 8
    assert [i["attempt"] for i in intents(audit_path)] == [a["attempt"] for a in attempts(audit_path)]
    assert len({a["attempt"] for a in attempts(audit_path)}) == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "outcome", "status"),
    [
        pytest.param(
            response(422, {"errors": [{"detail": "bad number", "source": {"pointer": "/recipient"}}]}),
            "failed",
            422,
            id="422",
        ),  # fmt: skip
        pytest.param(response(403, {"errors": [{"detail": "no SMS feature"}]}), "failed", 403, id="403"),
        pytest.param(response(402), "failed", 402, id="402"),
        pytest.param(response(502), "unknown", 502, id="502-after-send"),
        # a 500 to a write: the provider may have applied part of it before failing, so it is never "failed"
        pytest.param(response(500), "unknown", 500, id="500-after-send"),
        pytest.param(raising(httpx2.ReadTimeout), "unknown", None, id="read-timeout"),
        pytest.param(raising(httpx2.RemoteProtocolError), "unknown", None, id="connection-dropped"),
    ],
)
async def test_a_failed_write_is_recorded_with_its_outcome_after_an_intent_line(
    answer: Any, outcome: str, status: int | None, audit_path: Path
) -> None:
    fake = routes(FakeUpstream(), sms=answer)

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", SMS)

    assert result.is_error
    assert len(writes(fake)) == 1, "a non-idempotent write is never repeated"
    events = [(line["event"], line.get("outcome")) for line in lines(audit_path)]
    assert events == [("intent", None), ("attempt", outcome)]
    [attempt] = attempts(audit_path)
    assert attempt["confirmed_by"] == "elicitation"
    assert attempt.get("status") == status
    assert attempt["detail"]
    if outcome == "unknown" and status != 500:
        assert "Outcome unknown" in text_of(result)
    if outcome == "unknown":
        assert "check the current state" in text_of(result).lower()


@pytest.mark.anyio
async def test_the_intent_line_is_on_disk_before_the_request_reaches_the_provider(audit_path: Path) -> None:
    seen_on_arrival: list[list[dict[str, Any]]] = []

    def provider(request: httpx2.Request) -> httpx2.Response:
        seen_on_arrival.append(lines(audit_path))  # what a crash at this instant would leave behind
        return httpx2.Response(204)

    fake = routes(FakeUpstream(), sms=provider)

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        await client.call_tool("sipgate_send_sms", SMS)

    [on_arrival] = seen_on_arrival
    assert [line["event"] for line in on_arrival] == ["intent"]
    intent = on_arrival[0]
    assert intent["tool"] == "sipgate_send_sms"
    assert intent["confirmed_by"] == "elicitation"
    assert intent["request"]["method"] == "POST"
    assert intent["request"]["url"] == "https://api.sipgate.com/v2/sessions/sms"
    assert intent["request"]["body"]["message"] == "Running 10 min late"
    assert [line["event"] for line in lines(audit_path)] == ["intent", "attempt"]


@pytest.mark.anyio
async def test_refused_declined_and_dry_run_calls_write_no_intent_line(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path), fake, elicitation_callback=decline) as client:
        await client.call_tool("sipgate_send_sms", SMS)
        await client.call_tool("sipgate_send_sms", SMS | {"recipient": "+49 900 1234567"})
        await client.call_tool("sipgate_send_sms", SMS | {"dry_run": True})

    assert intents(audit_path) == []
    assert outcomes(audit_path) == [
        ("sipgate_send_sms", "declined", "elicitation"),
        ("sipgate_send_sms", "refused", "none"),
        ("sipgate_send_sms", "dry_run", "none"),
    ]
    assert "rule block_premium" in attempts(audit_path)[1]["detail"]
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_write_refused_by_the_elicit_policy_is_audited_as_refused(mode: str, audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path, telco_mcp_confirm="elicit"), fake, mode=mode) as client:
        result = await client.call_tool("sipgate_send_sms", SMS)

    assert result.is_error
    assert writes(fake) == []
    assert outcomes(audit_path) == [("sipgate_send_sms", "refused", "none")]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_no_write_is_sent_when_the_intent_line_cannot_be_written(mode: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    fake = routes(FakeUpstream())

    async with client_for(both(blocker / "audit.jsonl"), fake, mode=mode, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", SMS)

    assert result.is_error
    assert writes(fake) == [], "without a record there is no write"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["directory", "under-a-file"])
@pytest.mark.parametrize("answer", ["accept", "decline", "refused-by-a-guardrail"])
async def test_an_unwritable_log_gives_a_specific_error_on_every_path(
    mode: str, path: str, answer: str, tmp_path: Path
) -> None:
    """Which path failed, why, and what to fix: also where the attempt was declined or refused before sending."""
    blocker = tmp_path / "blocker"
    if path == "directory":
        blocker.mkdir()
        audit, why = blocker, f"{blocker} is a directory, not a file"
    else:
        blocker.write_text("")
        audit, why = blocker / "audit.jsonl", f"{blocker} is a file, so it cannot hold the log's folder"
    overrides = {"telco_mcp_allowed_prefixes": "+44"} if answer == "refused-by-a-guardrail" else {}
    callback = decline if answer == "decline" else accept
    fake = routes(FakeUpstream())

    async with client_for(both(audit, **overrides), fake, mode=mode, elicitation_callback=callback) as client:
        result = await client.call_tool("sipgate_send_sms", SMS)

    assert result.is_error
    text = text_of(result)
    assert why in text and "TELCO_MCP_AUDIT_LOG" in text, text
    assert writes(fake) == []


# ================================================================== one record, one line
@pytest.mark.anyio
async def test_separators_and_invisible_characters_in_sms_text_are_escaped_not_written_raw(audit_path: Path) -> None:
    fake = routes(FakeUpstream())
    sneaky = (
        'Meet at 5\u2028{"event":"attempt","outcome":"declined"}\u2029'  # line and paragraph separators
        "\u0085next line\u000bvertical tab\u001b[31m red \u007f"  # NEL, VT, ESC, DEL
        "\u202eevil\u202c \u2066isolate\u2069 zero\u200bwidth \ufeffbom \U000e0041tag ok: ü 😀"
    )

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", {"recipient": RECIPIENT, "message": sneaky})
    assert not result.is_error, text_of(result)

    raw = audit_path.read_bytes().decode()
    for char in ("\u2028", "\u2029", "\u0085", "\u000b", "\u001b", "\u007f", "\u202e", "\u2066", "\u200b", "\ufeff"):
        assert char not in raw, f"U+{ord(char):04X} written raw"
    assert "\U000e0041" not in raw
    assert "ü 😀" in raw, "printable text stays readable"
    records = [json.loads(line) for line in raw.splitlines()]  # str.splitlines splits at U+2028 and U+0085 too
    assert [r["event"] for r in records] == ["intent", "attempt"]
    assert all(r["arguments"]["message"] == sneaky for r in records), "escaped, not altered"


# ================================================================== masking
@pytest.mark.anyio
async def test_phone_numbers_are_masked_keeping_country_code_prefix_and_last_four_digits(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        await client.call_tool("sipgate_send_sms", SMS)
        await client.call_tool("sipgate_start_call", {"callee": "+49 30 12345678", "caller": "e0"})
        await client.call_tool("sipgate_send_sms", SMS | {"recipient": "+49 900 1234567"})

    text = audit_path.read_text()
    for digits in ("491701234567", "1701234567", "4930123456", "499001234567", "9001234567"):
        assert digits not in text
    sms_intent, call_intent = intents(audit_path)
    assert sms_intent["arguments"]["recipient"] == RECIPIENT_MASKED
    assert sms_intent["request"]["body"]["recipient"] == RECIPIENT_MASKED
    assert call_intent["arguments"]["callee"] == "+49 30 ****5678"
    sms_attempt = attempts(audit_path)[0]
    assert sms_attempt["arguments"] == {"recipient": RECIPIENT_MASKED, "message": "Running 10 min late"}
    premium = attempts(audit_path)[2]
    assert premium["arguments"]["recipient"] == "+49 900 ***4567", "a reviewer sees it was a premium-rate number"
    assert premium["outcome"] == "refused"
    assert "+49 900 ***4567 is a premium-rate number" in premium["detail"]


@pytest.mark.anyio
async def test_numbers_in_failure_details_are_masked_too(audit_path: Path) -> None:
    fake = routes(FakeUpstream(), sms=raising(httpx2.ReadTimeout))

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        result = await client.call_tool("sipgate_send_sms", SMS)

    assert RECIPIENT_E164 in text_of(result)  # the model may see it; the log may not
    [attempt] = attempts(audit_path)
    assert attempt["outcome"] == "unknown"
    assert RECIPIENT_MASKED in attempt["detail"]
    assert "1701234567" not in audit_path.read_text()


@pytest.mark.anyio
async def test_phone_numbers_are_written_in_full_when_configured_unmasked(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path, telco_mcp_audit_unmasked=True), fake, elicitation_callback=accept) as c:
        await c.call_tool("sipgate_send_sms", SMS)

    [intent] = intents(audit_path)
    [attempt] = attempts(audit_path)
    assert intent["arguments"]["recipient"] == RECIPIENT_E164
    assert intent["request"]["body"]["recipient"] == RECIPIENT_E164
    assert attempt["arguments"]["recipient"] == RECIPIENT_E164
    assert "*" not in audit_path.read_text()


# ================================================================== nothing secret
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("signalwire_update_sip_gateway", {"id": GW_ID, "name": "Trunk B"}),
        ("sipgate_send_sms", SMS),
    ],
)
async def test_the_audit_file_holds_no_secret_and_no_confirmation_token(
    tool: str, args: dict[str, Any], mode: str, audit_path: Path
) -> None:
    fake = routes(FakeUpstream())
    settings = both(audit_path, telco_mcp_confirm_secret=CONFIRM_SECRET, telco_mcp_confirm="token")

    async with client_for(settings, fake, mode=mode) as client:
        preview = await client.call_tool(tool, args)
        token = preview.structured_content["confirm_token"]
        applied = await client.call_tool(tool, args | {"confirm_token": token})
        replayed = await client.call_tool(tool, args | {"confirm_token": token})
    async with client_for(settings, fake, mode=mode, elicitation_callback=accept) as client:
        await client.call_tool(tool, args)

    assert applied.structured_content["status"] == "applied"
    assert replayed.is_error
    assert [(a["outcome"], a["confirmed_by"]) for a in attempts(audit_path)] == [
        ("previewed", "token"),
        ("applied", "token"),
        ("refused", "token"),
        ("applied", "elicitation"),
    ]
    text = audit_path.read_text()
    assert '"confirm_token"' not in text, "no confirm_token field, in arguments or request bodies"
    assert token not in text
    assert token.rsplit(".", 1)[-1] not in text, "not even the token's MAC"
    assert "dry_run" not in text
    for secret in (*CANARIES, CONFIRM_SECRET, "Authorization", "Basic "):
        assert secret not in text


@pytest.mark.anyio
async def test_the_audit_file_is_private_to_its_owner(audit_path: Path) -> None:
    fake = routes(FakeUpstream())

    async with client_for(both(audit_path), fake, elicitation_callback=accept) as client:
        await client.call_tool("sipgate_send_sms", SMS)

    assert stat.S_IMODE(audit_path.stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_the_audit_file_defaults_to_the_users_state_directory(tmp_path: Path) -> None:
    fake = routes(FakeUpstream())
    settings = sipgate_settings(tmp_path / "unused.jsonl", "token", telco_mcp_allow_writes=True).model_copy(
        update={"telco_mcp_audit_log": None}
    )

    async with client_for(settings, fake, elicitation_callback=accept) as client:
        await client.call_tool("sipgate_send_sms", SMS)

    default = tmp_path / "state" / "telco-mcp" / "audit.jsonl"  # XDG_STATE_HOME is set by conftest
    assert [a["outcome"] for a in attempts(default)] == ["applied"]
    assert not (tmp_path / "unused.jsonl").exists()
