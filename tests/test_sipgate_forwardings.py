"""`sipgate_set_forwardings`: replacing a phoneline's forwardings is destructive, shows old -> new, and every
number calls are forwarded to passes the number rules (forwarding to a premium-rate number is a classic
toll-fraud path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FakeUpstream, accept, body_of, client_for, decline, make_settings, response, sipgate_settings
from conftest import text_of as text

from telco_mcp.catalogue import CATALOGUE

pytestmark = pytest.mark.anyio

TOOL = "sipgate_set_forwardings"
PATH = "/v2/w0/phonelines/p0/forwardings"
NOW = {"items": [{"destination": "+4915228895456", "alias": "Mobil Anna", "timeout": 20, "active": True}]}


def settings(audit: Path, **overrides: Any) -> Any:
    return sipgate_settings(audit, **({"telco_mcp_toolsets": "all", "telco_mcp_allow_writes": True} | overrides))


def serve(fake: FakeUpstream, after: dict[str, Any] | None = None) -> FakeUpstream:
    fake.route("GET /v2/authorization/userinfo", response(200, {"sub": "w0", "domain": "sipgate.de"}))
    # Asked in one round and answered in the next (2026-07-28), the call reads the line twice before the PUT.
    fake.route(f"GET {PATH}", [response(200, NOW), response(200, NOW), response(200, after or {"items": []})])
    fake.route(f"PUT {PATH}", response(204))
    return fake


class Asked:
    def __init__(self, answer: Any = accept) -> None:
        self.messages: list[str] = []
        self.answer = answer

    async def __call__(self, context: Any, params: Any) -> Any:
        self.messages.append(params.message)
        return await self.answer(context, params)


def test_it_is_a_destructive_replace_outside_the_default_set() -> None:
    op = next(op for op in CATALOGUE if op.name == TOOL)
    assert (op.scope, op.effect, op.idempotent, op.default) == (
        "sipgate:phonelines:forwardings:write", "destructive", True, False,
    )  # fmt: skip
    assert op.toolset == "sipgate:phonelines:forwardings"


async def test_the_question_shows_old_to_new_and_the_whole_list_is_put(fake: FakeUpstream, audit_path: Path) -> None:
    after = {"items": [{"destination": "+4930123456", "timeout": 0, "active": True}]}
    asked = Asked()
    async with client_for(settings(audit_path), serve(fake, after), elicitation_callback=asked) as c:
        result = await c.call_tool(
            TOOL, {"phoneline_id": "p0", "forwardings": [{"destination": "030 123456"}, {"destination": "v0",
                                                                                          "timeout": 30}]}
        )  # fmt: skip
    assert result.structured_content["status"] == "applied", text(result)
    [put] = fake.sent("PUT")
    assert body_of(put) == {
        "forwardings": [
            {"destination": "+4930123456", "timeout": 0, "active": True},
            {"destination": "v0", "timeout": 30, "active": True},
        ]
    }
    assert len(asked.messages) == 1, asked.messages
    [question] = asked.messages
    assert 'Replace all forwardings of phoneline p0: +49 1522 8895456 ("Mobil Anna") after 20 s' in question
    assert '→ +49 30 123456 at once; "v0" after 30 s' in question
    # the result is the list as sipgate holds it afterwards (read back)
    assert result.structured_content["result"]["items"] == after["items"]


async def test_an_empty_list_says_calls_are_no_longer_forwarded(fake: FakeUpstream, audit_path: Path) -> None:
    asked = Asked()
    async with client_for(settings(audit_path), serve(fake), elicitation_callback=asked) as c:
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": []})
    assert result.structured_content["status"] == "applied", text(result)
    assert body_of(fake.sent("PUT")[0]) == {"forwardings": []}
    assert "→ none (calls to this line are no longer forwarded)" in asked.messages[0]


@pytest.mark.parametrize(
    ("overrides", "target", "rule"),
    [
        ({}, "+49 900 1234567", "block_premium"),
        ({"telco_mcp_denied_prefixes": "+44"}, "+44 20 7946 0958", "denied_prefixes"),
        ({"telco_mcp_allowed_prefixes": "+4930"}, "+49 89 1234567", "allowed_prefixes"),
    ],
)
async def test_every_forwarding_number_passes_the_number_rules(
    overrides: dict[str, Any], target: str, rule: str, fake: FakeUpstream, audit_path: Path
) -> None:
    asked = Asked()
    targets = [{"destination": "+49 30 123456"}, {"destination": target, "timeout": 10}]
    async with client_for(settings(audit_path, **overrides), serve(fake), elicitation_callback=asked) as c:
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": targets})
    assert result.is_error and rule in text(result), text(result)
    assert fake.sent("PUT") == [] and asked.messages == []  # refused before anyone is asked


async def test_an_extension_is_no_number_and_needs_no_number_rule(fake: FakeUpstream, audit_path: Path) -> None:
    strict = settings(audit_path, telco_mcp_allowed_prefixes="+4930")
    async with client_for(strict, serve(fake), elicitation_callback=accept) as c:
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": [{"destination": "p1"}]})
    assert result.structured_content["status"] == "applied", text(result)


@pytest.mark.parametrize(
    ("forwardings", "field"),
    [
        ([{"destination": "somewhere"}], "destination"),
        ([{"destination": "+49 30 123456", "timeout": 601}], "timeout"),
        ([{"destination": "p1"}] * 4, "forwardings"),
        ([{"destination": "p1", "delay": 3}], "delay"),
    ],
)
async def test_bad_forwardings_name_the_field_and_send_nothing(
    forwardings: list[dict[str, Any]], field: str, fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(settings(audit_path), serve(fake), elicitation_callback=accept) as c:
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": forwardings})
    assert result.is_error and field in text(result), text(result)
    assert fake.requests == []


async def test_a_declined_question_sends_nothing(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(settings(audit_path), serve(fake), elicitation_callback=decline) as c:
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": []})
    assert result.structured_content["status"] == "declined"
    assert fake.sent("PUT") == []


async def test_set_then_read_back_against_the_sandbox(audit_path: Path) -> None:
    sandbox = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")
    async with client_for(sandbox, elicitation_callback=accept) as c:
        before = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p0"})
        targets = [{"destination": "+49 30 123456", "timeout": 15}, {"destination": "v0", "active": False}]
        result = await c.call_tool(TOOL, {"phoneline_id": "p0", "forwardings": targets})
        after = await c.call_tool("sipgate_get_forwardings", {"phoneline_id": "p0"})
        other = await c.call_tool(TOOL, {"phoneline_id": "p9", "forwardings": []})
    assert result.structured_content["status"] == "applied", text(result)
    assert before.structured_content["items"] != after.structured_content["items"]
    first, second = after.structured_content["items"]
    assert first == {"destination": "+4930123456", "timeout": 15, "active": True}
    assert (second["destination"], second["timeout"], second["active"]) == ("v0", 0, False)
    assert second["alias"].startswith("Mailbox ")  # sipgate names an extension target by its alias
    assert result.structured_content["result"]["items"] == after.structured_content["items"]
    assert other.is_error  # another user's or an unknown phoneline: refused by sipgate, nothing changed
