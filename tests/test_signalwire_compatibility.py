"""SignalWire's Compatibility API tools (issue 27): calls, conferences and queues, end to end against the sandbox.

Each tool is read back (a started call is listed, a hang-up changes its status, a participant's mute and removal
show), its errors are clear (an unknown call is a 404 naming it, invalid input names the field), its writes ask a
person (the question names the call's parties), and the guardrails refuse before anything is sent: a premium or
satellite callee, a URL on a host not allowed, a caller that is not one of the project's numbers, the hourly call
cap that sipgate's call start shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import accept, client_for, decline, make_settings
from conftest import text_of as text

from telco_mcp.catalogue import BY_NAME, CATALOGUE
from telco_mcp.providers.compatibility.operations import compatibility_operations
from telco_mcp.providers.signalwire.compatibility import BASE

pytestmark = pytest.mark.anyio

UNKNOWN = "00000000-0000-4000-8000-000000000000"
CALLEE = "+1 202 555 0123"
BIN = "https://sandbox.signalwire.com/laml-bins/on-call"
READS = {
    "signalwire_list_calls": "signalwire:calls:read",
    "signalwire_get_call": "signalwire:calls:read",
    "signalwire_list_conferences": "signalwire:conferences:read",
    "signalwire_list_conference_participants": "signalwire:conferences:read",
    "signalwire_list_queues": "signalwire:queues:read",
    "signalwire_list_queue_members": "signalwire:queues:read",
}
WRITES = {  # tool -> (scope, effect)
    "signalwire_start_call": ("signalwire:calls:write", "write"),
    "signalwire_update_call": ("signalwire:calls:write", "destructive"),
    "signalwire_update_conference_participant": ("signalwire:conferences:write", "write"),
    "signalwire_remove_conference_participant": ("signalwire:conferences:write", "destructive"),
}


class Asked:
    def __init__(self, answer: Any = accept) -> None:
        self.answer, self.messages = answer, []

    async def __call__(self, context: Any, params: Any) -> Any:
        self.messages.append(params.message)
        return await self.answer(context, params)


def sandbox(audit: Path, **overrides: Any) -> Any:
    base = {"telco_mcp_sandbox": True, "telco_mcp_allow_writes": True, "telco_mcp_toolsets": "all"}
    return make_settings(audit, **(base | overrides))


async def our_number(c: Any) -> str:
    numbers = (await c.call_tool("signalwire_list_phone_numbers", {})).structured_content["items"]
    return next(n["number"] for n in numbers if "voice" in (n.get("capabilities") or []))


# ------------------------------------------------------------------ declarations
def test_every_signalwire_tool_name_is_at_most_40_characters() -> None:
    long = [op.name for op in CATALOGUE if op.provider == "signalwire" and len(op.name) > 40]
    assert long == []
    assert max(len(op.name) for op in CATALOGUE if op.provider == "signalwire") == len(
        "signalwire_remove_conference_participant"
    )


def test_the_tools_are_declared_outside_the_default_set_with_scopes_named_like_their_toolsets() -> None:
    for name, scope in READS.items():
        op = BY_NAME[name]
        assert (op.scope, op.effect, op.default) == (scope, "read", False), name
    for name, (scope, effect) in WRITES.items():
        op = BY_NAME[name]
        assert (op.scope, op.effect, op.default) == (scope, effect, False), name
        assert op.toolset == scope.rsplit(":", 1)[0]
    assert {BY_NAME[n].toolset for n in [*READS, *WRITES]} == {
        "signalwire:calls",
        "signalwire:conferences",
        "signalwire:queues",
    }


def test_the_operations_are_declared_once_for_any_provider_of_the_2010_api_shape() -> None:
    """Another provider's instance differs in its base path and account source only (here: SignalWire's own name,
    another base), so nothing is copied to add one."""
    other = compatibility_operations("signalwire", base="/2010-04-01", account=lambda ctx: "AC123")
    ours = [op for op in CATALOGUE if op.path.startswith(BASE)]
    assert [op.name for op in other] == [op.name for op in ours]
    assert [op.path.removeprefix("/2010-04-01") for op in other] == [op.path.removeprefix(BASE) for op in ours]
    assert all(op.path.startswith("/2010-04-01/Accounts/{AccountSid}/") for op in other)


async def test_start_call_lists_the_parameters_it_offers_and_offers_no_inline_instructions(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    start = tools["signalwire_start_call"]
    offered = set(start.input_schema["properties"]) - {"dry_run", "confirm_token", "approval_id"}
    assert offered == {"to_number", "from_number", "url", "fallback_url", "status_callback", "timeout"}
    assert all(word in (start.description or "") for word in ("url", "fallback_url", "status_callback", "timeout"))
    with pytest.raises(Exception, match="twiml|Twiml|Extra inputs"):
        BY_NAME["signalwire_start_call"].input.model_validate(
            {"to_number": CALLEE, "from_number": "+15550100100", "url": BIN, "twiml": "<Response><Dial>+1</Dial>"}
        )


async def test_the_default_exposure_does_not_grow(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path, telco_mcp_toolsets="default")) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert not names & {*READS, *WRITES}
    async with client_for(sandbox(audit_path, telco_mcp_toolsets="signalwire:calls")) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert {n for n in names if "call" in n and n.startswith("signalwire")} >= {
        "signalwire_list_calls",
        "signalwire_get_call",
        "signalwire_start_call",
        "signalwire_update_call",
    }


# ------------------------------------------------------------------ calls, read back
async def test_a_started_call_is_listed_and_a_hang_up_ends_it(audit_path: Path) -> None:
    asked = Asked(accept)
    async with client_for(sandbox(audit_path), elicitation_callback=asked) as c:
        caller = await our_number(c)
        started = await c.call_tool("signalwire_start_call", {"to_number": CALLEE, "from_number": caller, "url": BIN})
        assert started.structured_content["status"] == "applied", text(started)
        sid = started.structured_content["result"]["sid"]
        queued = (await c.call_tool("signalwire_list_calls", {"status": "queued"})).structured_content["items"]
        got = (await c.call_tool("signalwire_get_call", {"call_sid": sid})).structured_content
        hung = await c.call_tool("signalwire_update_call", {"call_sid": sid, "action": "hangup"})
        after = (await c.call_tool("signalwire_get_call", {"call_sid": sid})).structured_content
        again = await c.call_tool("signalwire_update_call", {"call_sid": sid, "action": "hangup"})
    assert [call["sid"] for call in queued] == [sid]
    assert (got["from_number"], got["to_number"], got["status"]) == (caller, "+12025550123", "queued")
    assert hung.structured_content["status"] == "applied", text(hung)
    assert after["status"] == "canceled"  # not yet answered: canceled, as the spec's Status says
    assert again.is_error and "only a queued, ringing or in-progress call" in text(again)
    assert "+1 202-555-0123" in asked.messages[1] and "Hang up" in asked.messages[1]  # the parties are named


async def test_hanging_up_a_call_in_a_conference_completes_it_and_takes_it_out(audit_path: Path) -> None:
    asked = Asked(accept)
    async with client_for(sandbox(audit_path), elicitation_callback=asked) as c:
        conference = (await c.call_tool("signalwire_list_conferences", {})).structured_content["items"][0]
        where = {"conference_sid": conference["sid"]}
        before = (await c.call_tool("signalwire_list_conference_participants", where)).structured_content["items"]
        sid = before[0]["call_sid"]
        call = (await c.call_tool("signalwire_get_call", {"call_sid": sid})).structured_content
        hung = await c.call_tool("signalwire_update_call", {"call_sid": sid, "action": "hangup"})
        after = (await c.call_tool("signalwire_list_conference_participants", where)).structured_content["items"]
        ended = (await c.call_tool("signalwire_get_call", {"call_sid": sid})).structured_content
    assert hung.structured_content["status"] == "applied", text(hung)
    [question] = asked.messages
    assert call["from_number"][-4:] in question.replace("-", "") and call["to_number"][-4:] in question.replace("-", "")
    assert [p["call_sid"] for p in after] == [p["call_sid"] for p in before[1:]]
    assert ended["status"] == "completed" and ended["end_time"]


async def test_list_calls_filters_by_status_parties_and_start_time_and_pages(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path)) as c:
        every = (await c.call_tool("signalwire_list_calls", {})).structured_content["items"]
        done = (await c.call_tool("signalwire_list_calls", {"status": "completed"})).structured_content["items"]
        someone = every[0]["from_number"]
        by_from = (await c.call_tool("signalwire_list_calls", {"from_number": someone})).structured_content["items"]
        window = {"started_after": "2026-11-01T08:50:00Z", "started_before": "2026-11-01T09:00:00+00:00"}
        recent = (await c.call_tool("signalwire_list_calls", window)).structured_content["items"]
        first = (await c.call_tool("signalwire_list_calls", {"limit": 2})).structured_content
        second = await c.call_tool("signalwire_list_calls", {"limit": 2, "cursor": first["next_cursor"]})
    assert len(every) == 4 and [c_["status"] for c_ in done] == ["completed"]
    assert by_from and all(c_["from_number"] == someone for c_ in by_from)
    assert recent and all("08:5" in c_["start_time"] for c_ in recent) and len(recent) < len(every)
    rest = second.structured_content["items"]
    assert [x["sid"] for x in first["items"] + rest] == [x["sid"] for x in every]
    assert "next_cursor" not in second.structured_content


async def test_an_unknown_call_is_a_404_naming_it(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path), elicitation_callback=accept) as c:
        got = await c.call_tool("signalwire_get_call", {"call_sid": UNKNOWN})
        hang = await c.call_tool("signalwire_update_call", {"call_sid": UNKNOWN, "action": "hangup"})
        members = await c.call_tool("signalwire_list_queue_members", {"queue_sid": UNKNOWN})
    assert got.is_error and f"No call {UNKNOWN}." in text(got)
    assert hang.is_error and f"No call {UNKNOWN}. Nothing was sent." in text(hang)
    assert members.is_error and f"No queue {UNKNOWN}." in text(members)


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("signalwire_get_call", {"call_sid": "not-a-sid"}, "call_sid"),
        ("signalwire_list_calls", {"status": "dancing"}, "status"),
        ("signalwire_list_calls", {"started_after": "2026-11-02T00:00:00Z", "started_before": "2026-11-01T00:00:00Z"},
         "started_after"),
        ("signalwire_start_call", {"to_number": CALLEE, "from_number": "+15550100100"}, "url"),
        ("signalwire_start_call", {"to_number": CALLEE, "from_number": "+15550100100", "url": BIN, "timeout": 0},
         "timeout"),
        ("signalwire_start_call", {"to_number": CALLEE, "from_number": "+15550100100", "url": "http://x.example/a"},
         "url"),
        ("signalwire_update_call", {"call_sid": UNKNOWN, "action": "redirect"}, "url"),
        ("signalwire_update_conference_participant", {"conference_sid": UNKNOWN, "call_sid": UNKNOWN,
                                                       "action": "shout"}, "action"),
    ],
)  # fmt: skip
async def test_invalid_input_names_the_field_and_sends_nothing(
    tool: str, args: dict[str, Any], field: str, audit_path: Path
) -> None:
    settings = sandbox(audit_path)
    async with client_for(settings, elicitation_callback=accept) as c:
        result = await c.call_tool(tool, args)
    assert result.is_error and field in text(result), text(result)
    assert "nothing was sent" in text(result).lower()


# ------------------------------------------------------------------ start_call's rules
async def test_a_caller_that_is_not_one_of_the_project_s_numbers_is_refused_naming_it(audit_path: Path) -> None:
    asked = Asked(accept)
    async with client_for(sandbox(audit_path), elicitation_callback=asked) as c:
        result = await c.call_tool(
            "signalwire_start_call", {"to_number": CALLEE, "from_number": "+1 202 555 0199", "url": BIN}
        )
    assert result.is_error and "+1 202-555-0199 is not one of this project's numbers" in text(result), text(result)
    assert asked.messages == []


@pytest.mark.parametrize(
    ("to", "rule"),
    [
        ("+1 900 555 0123", "block_premium"),
        ("+881 6 1234 5678", "block_premium"),
        ("+44 20 7946 0958", "denied_prefixes"),
    ],
    ids=["premium", "satellite", "denied"],
)
async def test_a_callee_under_the_number_rules_is_refused_before_anything_is_sent(
    to: str, rule: str, audit_path: Path
) -> None:
    settings = sandbox(audit_path, telco_mcp_denied_prefixes="+44")
    asked = Asked(accept)
    async with client_for(settings, elicitation_callback=asked) as c:
        result = await c.call_tool(
            "signalwire_start_call", {"to_number": to, "from_number": "+15550100100", "url": BIN}
        )
    assert result.is_error and f"rule {rule}" in text(result) and "Nothing was sent" in text(result), text(result)
    assert asked.messages == []


@pytest.mark.parametrize("field", ["url", "fallback_url", "status_callback"])
async def test_every_url_parameter_is_refused_on_a_host_not_allowed(field: str, audit_path: Path) -> None:
    asked = Asked(accept)
    args = {"to_number": CALLEE, "from_number": "+15550100100", "url": BIN} | {field: "https://evil.example/x"}
    async with client_for(sandbox(audit_path), elicitation_callback=asked) as c:
        result = await c.call_tool("signalwire_start_call", args)
        redirect = await c.call_tool(
            "signalwire_update_call", {"call_sid": UNKNOWN, "action": "redirect", "url": "https://evil.example/x"}
        )
    for refused in (result, redirect):
        assert refused.is_error and "rule allowed_routing_hosts" in text(refused), text(refused)
    assert f"{field} points at 'evil.example'" in text(result)
    assert asked.messages == []


async def test_an_allowed_routing_host_is_accepted(audit_path: Path) -> None:
    settings = sandbox(audit_path, telco_mcp_allowed_routing_hosts="hooks.example.com")
    async with client_for(settings, elicitation_callback=accept) as c:
        args = {"to_number": CALLEE, "from_number": await our_number(c), "url": "https://hooks.example.com/call.xml",
                "status_callback": "https://hooks.example.com/status"}  # fmt: skip
        result = await c.call_tool("signalwire_start_call", args)
    assert result.structured_content["status"] == "applied", text(result)


async def test_the_hourly_call_cap_is_shared_with_sipgate_s_call_start(audit_path: Path) -> None:
    settings = sandbox(audit_path, telco_mcp_calls_per_hour=1)
    async with client_for(settings, elicitation_callback=accept) as c:
        sipgate = await c.call_tool("sipgate_start_call", {"caller": "e0", "callee": "+49 30 12345678"})
        ours = await c.call_tool(
            "signalwire_start_call", {"to_number": CALLEE, "from_number": await our_number(c), "url": BIN}
        )
    assert sipgate.structured_content["status"] == "applied", text(sipgate)
    assert ours.is_error and "rule calls_per_hour" in text(ours), text(ours)


async def test_a_declined_question_and_a_dry_run_send_nothing(audit_path: Path) -> None:
    server_settings = sandbox(audit_path)
    async with client_for(server_settings, elicitation_callback=decline) as c:
        args = {"to_number": CALLEE, "from_number": await our_number(c), "url": BIN}
        declined = await c.call_tool("signalwire_start_call", args)
        dry = await c.call_tool("signalwire_start_call", args | {"dry_run": True})
        calls = (await c.call_tool("signalwire_list_calls", {"status": "queued"})).structured_content["items"]
    assert declined.structured_content["status"] == "declined"
    assert dry.structured_content["status"] == "dry_run"
    form = dry.structured_content["request"]["form"]
    assert form[:3] == [["To", "+12025550123"], ["From", args["from_number"]], ["Url", BIN]]
    assert calls == []


# ------------------------------------------------------------------ conferences and queues
async def test_a_participant_is_muted_held_and_removed_and_reads_back(audit_path: Path) -> None:
    asked = Asked(accept)
    async with client_for(sandbox(audit_path), elicitation_callback=asked) as c:
        conference = (await c.call_tool("signalwire_list_conferences", {"status": "in-progress"})).structured_content
        where = {"conference_sid": conference["items"][0]["sid"]}
        [first, second] = (await c.call_tool("signalwire_list_conference_participants", where)).structured_content[
            "items"
        ]
        one = where | {"call_sid": first["call_sid"]}
        muted = await c.call_tool("signalwire_update_conference_participant", one | {"action": "mute"})
        held = await c.call_tool("signalwire_update_conference_participant", one | {"action": "hold"})
        removed = await c.call_tool(
            "signalwire_remove_conference_participant", where | {"call_sid": second["call_sid"]}
        )
        after = (await c.call_tool("signalwire_list_conference_participants", where)).structured_content["items"]
        gone = await c.call_tool("signalwire_remove_conference_participant", where | {"call_sid": second["call_sid"]})
    for result in (muted, held, removed):
        assert result.structured_content["status"] == "applied", text(result)
    assert after == [first | {"muted": True, "hold": True}]
    assert asked.messages[0].startswith("Mute participant") and asked.messages[2].startswith("Remove participant")
    assert "hung up" in asked.messages[2]
    assert gone.is_error and "No participant" in text(gone) and "Nothing was sent" in text(gone)


async def test_queues_list_their_waiting_calls(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path), elicitation_callback=accept) as c:
        [queue] = (await c.call_tool("signalwire_list_queues", {})).structured_content["items"]
        members = (await c.call_tool("signalwire_list_queue_members", {"queue_sid": queue["sid"]})).structured_content
        hung = await c.call_tool("signalwire_update_call", {"call_sid": members["items"][0]["call_sid"],
                                                            "action": "hangup"})  # fmt: skip
        [after] = (await c.call_tool("signalwire_list_queues", {})).structured_content["items"]
        empty = (await c.call_tool("signalwire_list_queue_members", {"queue_sid": queue["sid"]})).structured_content
    assert queue["friendly_name"] == "Support" and queue["current_size"] == 1
    assert [m["position"] for m in members["items"]] == [1]
    assert hung.structured_content["status"] == "applied", text(hung)
    assert after["current_size"] == 0 and empty["items"] == []


# ------------------------------------------------------------------ the form body on the wire
async def test_the_form_body_is_sent_as_exactly_its_fields_in_order(audit_path: Path) -> None:
    from urllib.parse import urlencode

    from conftest import SW_PROJECT, FakeUpstream, response, signalwire_settings

    laml = f"{BASE}/Accounts/{SW_PROJECT}"
    fake = FakeUpstream()
    incoming = [{"phone_number": "+15550100100", "capabilities": {"voice": True}}]
    fake.route(f"GET {laml}/IncomingPhoneNumbers", response(200, {"incoming_phone_numbers": incoming}))
    fake.route(f"POST {laml}/Calls", response(200, {"sid": UNKNOWN, "status": "queued"}))
    url = "https://acme.signalwire.com/laml-bins/1?team=ops&who=on%20call"
    settings = signalwire_settings(audit_path, telco_mcp_toolsets="all", telco_mcp_allow_writes=True)
    async with client_for(settings, fake, elicitation_callback=accept) as c:
        result = await c.call_tool(
            "signalwire_start_call", {"to_number": CALLEE, "from_number": "+1 555 010 0100", "url": url}
        )
    assert result.structured_content is not None, text(result)
    assert result.structured_content["status"] == "applied", text(result)
    lookups = fake.sent("GET", f"{laml}/IncomingPhoneNumbers")  # asked, then read again once the person said yes
    assert lookups and all(r.url.params["PhoneNumber"] == "+15550100100" for r in lookups)
    [sent] = fake.sent("POST", f"{laml}/Calls")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.content == urlencode([("To", "+12025550123"), ("From", "+15550100100"), ("Url", url)]).encode()


async def test_the_start_time_window_is_sent_as_iso_8601_in_utc(audit_path: Path) -> None:
    """The format SignalWire's Compatibility SDK sends (docs/upstream-notes.md): `StartTime>=2026-11-01T07:50:00Z`."""
    from conftest import SW_PROJECT, FakeUpstream, response, signalwire_settings

    laml = f"{BASE}/Accounts/{SW_PROJECT}"
    fake = FakeUpstream()
    fake.route(f"GET {laml}/Calls", response(200, {"calls": [], "next_page_uri": None}))
    settings = signalwire_settings(audit_path, telco_mcp_toolsets="all")
    window = {"started_after": "2026-11-01T08:50:00+01:00", "started_before": "2026-11-01T09:00:00.750Z"}
    async with client_for(settings, fake) as c:
        listed = await c.call_tool("signalwire_list_calls", window)
    assert not listed.is_error, text(listed)
    [sent] = fake.sent("GET", f"{laml}/Calls")
    assert sent.url.params["StartTime>"] == "2026-11-01T07:50:00Z"
    assert sent.url.params["StartTime<"] == "2026-11-01T09:00:00Z"


def test_a_request_has_a_json_body_or_a_form_body_never_both() -> None:
    from telco_mcp.wire import PreparedRequest

    with pytest.raises(ValueError, match="not both"):
        PreparedRequest("POST", "/x", json={"a": 1}, form=(("a", "1"),))
    assert PreparedRequest("POST", "/x", form=(("b", "2"), ("a", "1"))).body == [["b", "2"], ["a", "1"]]
