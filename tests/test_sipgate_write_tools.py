"""The sipgate writes of issue 13: block and unblock a number (incoming blacklist), update and delete a
history entry.

Each is checked for its declaration (outside the default set), its exact upstream request (FakeUpstream),
the question the human confirms, that a declined question or a dry run sends nothing, its errors, and end
to end against the sandbox with a read-back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FakeUpstream, accept, body_of, client_for, decline, make_settings, response, sipgate_settings
from conftest import text_of as text

from telco_mcp.catalogue import CATALOGUE

pytestmark = pytest.mark.anyio

# tool -> (scope, effect, idempotent)
WRITES = {
    "sipgate_block_number": ("sipgate:blacklist:write", "write", False),
    "sipgate_unblock_number": ("sipgate:blacklist:write", "destructive", False),
    "sipgate_update_history_entry": ("sipgate:history:write", "write", True),
    "sipgate_delete_history_entry": ("sipgate:history:write", "destructive", False),
}
ENTRY = {
    "id": "h1", "type": "CALL", "direction": "INCOMING", "incoming": True, "source": "+4930123456",
    "sourceAlias": "Ada", "target": "+4921100000000", "created": "2026-05-04T09:30:00Z",
    "archived": False, "starred": False, "read": False, "note": "old",
}  # fmt: skip
BLACKLIST = {"items": [{"phoneNumber": "+4990012345", "isBlock": True}, {"phoneNumber": "+4930123456"}]}


def every_toolset(audit: Path, **overrides: Any) -> Any:
    return sipgate_settings(audit, **({"telco_mcp_toolsets": "all", "telco_mcp_allow_writes": True} | overrides))


def sandbox(audit: Path) -> Any:
    return make_settings(audit, telco_mcp_sandbox=True, telco_mcp_allow_writes=True, telco_mcp_toolsets="all")


def serve(fake: FakeUpstream, entry: dict[str, Any] | None = None) -> FakeUpstream:
    fake.route("GET /v2/blacklist/incoming", response(200, BLACKLIST))
    fake.route("POST /v2/blacklist/incoming", response(201, {"phoneNumber": "+4990012", "isBlock": True}))
    fake.route("DELETE /v2/blacklist/incoming/+4990012345", response(204))  # the path as decoded
    fake.route("GET /v2/history/h1", response(200, entry or ENTRY))
    fake.route("PUT /v2/history/h1", response(204))
    fake.route("DELETE /v2/history/h1", response(204))
    return fake


def writes(fake: FakeUpstream) -> list[tuple[str, str]]:
    return [(r.method, r.url.raw_path.decode()) for r in fake.requests if r.method != "GET"]


CALLS: dict[str, dict[str, Any]] = {
    "sipgate_block_number": {"phone_number": "0900 12", "prefix": True},
    "sipgate_unblock_number": {"phone_number": "+49 900 12345"},
    "sipgate_update_history_entry": {"entry_id": "h1", "archived": True, "note": "spam"},
    "sipgate_delete_history_entry": {"entry_id": "h1"},
}


# ------------------------------------------------------------------ declaration and exposure
def test_each_write_is_declared_truthfully_outside_the_default_set() -> None:
    ops = {op.name: op for op in CATALOGUE if op.name in WRITES}
    assert set(ops) == set(WRITES)
    for name, op in ops.items():
        assert (op.scope, op.effect, op.idempotent, op.default) == (*WRITES[name], False), name
    assert {ops[n].toolset for n in ops} == {"sipgate:blacklist", "sipgate:history"}


async def test_the_default_exposure_stays_the_23_tools(audit_path: Path) -> None:
    settings = make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_allow_writes=True)
    async with client_for(settings) as c:
        default = {t.name for t in (await c.list_tools()).tools}
    async with client_for(sandbox(audit_path)) as c:
        everything = {t.name: t for t in (await c.list_tools()).tools}
    # 22 before issue 16, plus the read-only sipgate_wait_for_call_event
    assert len(default) == 23 and not default & set(WRITES)
    assert set(WRITES) <= set(everything)
    for name in ("sipgate_unblock_number", "sipgate_delete_history_entry"):
        annotations = everything[name].annotations
        assert annotations is not None and annotations.destructive_hint is True, name


# ------------------------------------------------------------------ exact requests and questions
async def test_block_sends_the_normalised_prefix_and_names_it(fake: FakeUpstream, audit_path: Path) -> None:
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return await accept(context, params)

    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=answer) as c:
        result = await c.call_tool("sipgate_block_number", CALLS["sipgate_block_number"])
    assert result.structured_content["status"] == "applied", text(result)
    [post] = fake.sent("POST")
    assert (post.url.path, body_of(post)) == ("/v2/blacklist/incoming", {"phoneNumber": "+4990012", "isBlock": True})
    assert "Block incoming calls from every number starting with +4990012" in asked[0]
    assert result.structured_content["result"] == {"phone_number": "+4990012", "prefix": True}


@pytest.mark.parametrize(
    ("args", "sent"),
    [({"phone_number": "030 123456"}, "+4930123456"), ({"phone_number": "+1 202 555 0123"}, "+12025550123")],
)
async def test_block_a_whole_number_is_checked_as_a_possible_number(
    args: dict[str, Any], sent: str, fake: FakeUpstream, audit_path: Path
) -> None:
    fake.route("POST /v2/blacklist/incoming", response(200, {"phoneNumber": sent}))
    async with client_for(every_toolset(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_block_number", args)
    assert result.structured_content["status"] == "applied", text(result)
    assert body_of(fake.sent("POST")[0]) == {"phoneNumber": sent, "isBlock": False}


@pytest.mark.parametrize(
    "args",
    [{"phone_number": "1"}, {"phone_number": "+1 202"}, {"phone_number": "hello"},
     {"phone_number": "42", "prefix": True}, {"phone_number": "+999 1", "prefix": True},
     {"phone_number": "+49 30 1234567890123456", "prefix": True}],
)  # fmt: skip
async def test_block_refuses_what_is_no_number_or_prefix_before_any_request(
    args: dict[str, Any], fake: FakeUpstream, audit_path: Path
) -> None:
    async with client_for(every_toolset(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_block_number", args)
    assert result.is_error and fake.requests == []


async def test_unblock_reads_the_entry_names_what_is_lost_and_deletes_it_as_listed(
    fake: FakeUpstream, audit_path: Path
) -> None:
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return await accept(context, params)

    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=answer) as c:
        result = await c.call_tool("sipgate_unblock_number", CALLS["sipgate_unblock_number"])
    assert result.structured_content["status"] == "applied", text(result)
    assert writes(fake) == [("DELETE", "/v2/blacklist/incoming/%2B4990012345")]
    assert "Remove the blacklist prefix entry +4990012345" in asked[0]
    assert "every number starting with +4990012345 ring again" in asked[0]
    assert result.structured_content["result"] == {"phone_number": "+4990012345", "prefix": True, "unblocked": True}


async def test_unblocking_a_number_not_on_the_list_sends_nothing(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_unblock_number", {"phone_number": "+49 89 1234567"})
    assert result.is_error and "+49 89 1234567 is not on the incoming blacklist" in text(result)
    assert writes(fake) == []


async def test_update_sends_the_whole_entry_state_and_shows_old_to_new(fake: FakeUpstream, audit_path: Path) -> None:
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return await accept(context, params)

    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=answer) as c:
        result = await c.call_tool("sipgate_update_history_entry", CALLS["sipgate_update_history_entry"])
    assert result.structured_content["status"] == "applied", text(result)
    [put] = fake.sent("PUT")
    # A PUT resets every flag left out to false: the unchanged ones are sent as they are.
    assert body_of(put) == {"archived": True, "starred": False, "read": False, "note": "spam"}
    question = asked[0]
    assert (
        'Update history entry h1 ("CALL", "INCOMING", from +49 30 123456 ("Ada"), "2026-05-04T09:30:00Z")' in question
    )
    assert 'archived no → yes; note "old" → "spam"' in question
    assert result.structured_content["result"]["id"] == "h1"  # read back after the change


async def test_an_update_keeps_a_starred_entry_starred(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(every_toolset(audit_path), serve(fake, ENTRY | {"starred": True}),
                          elicitation_callback=accept) as c:  # fmt: skip
        await c.call_tool("sipgate_update_history_entry", {"entry_id": "h1", "read": True})
    assert body_of(fake.sent("PUT")[0]) == {"archived": False, "starred": True, "read": True, "note": "old"}


async def test_an_update_must_change_something(fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(every_toolset(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_update_history_entry", {"entry_id": "h1"})
    assert result.is_error and fake.requests == []


async def test_delete_names_the_entry_and_sends_one_delete(fake: FakeUpstream, audit_path: Path) -> None:
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return await accept(context, params)

    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=answer) as c:
        result = await c.call_tool("sipgate_delete_history_entry", CALLS["sipgate_delete_history_entry"])
    assert result.structured_content["status"] == "applied", text(result)
    assert writes(fake) == [("DELETE", "/v2/history/h1")]
    assert ('Permanently delete history entry h1 ("CALL", "INCOMING", from +49 30 123456 ("Ada"), '
            '"2026-05-04T09:30:00Z")') in asked[0]  # fmt: skip
    assert result.structured_content["result"] == {"id": "h1", "deleted": True}


@pytest.mark.parametrize("tool", ["sipgate_update_history_entry", "sipgate_delete_history_entry"])
async def test_an_unknown_history_entry_is_not_found_before_anything_is_sent(
    tool: str, fake: FakeUpstream, audit_path: Path
) -> None:
    fake.route("GET /v2/history/h9", response(404))
    async with client_for(every_toolset(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool(tool, CALLS[tool] | {"entry_id": "h9"})
    assert result.is_error and "No sipgate history entry h9" in text(result)
    assert writes(fake) == []


async def test_an_entry_gone_by_the_time_of_the_delete_is_reported_not_found(
    fake: FakeUpstream, audit_path: Path
) -> None:
    serve(fake).route("DELETE /v2/history/h1", response(404))
    async with client_for(every_toolset(audit_path), fake, elicitation_callback=accept) as c:
        result = await c.call_tool("sipgate_delete_history_entry", {"entry_id": "h1"})
    assert result.is_error and "No sipgate history entry h1" in text(result)


@pytest.mark.parametrize("tool", sorted(CALLS))
async def test_a_declined_question_sends_nothing(tool: str, fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=decline) as c:
        result = await c.call_tool(tool, CALLS[tool])
    assert result.structured_content["status"] == "declined", text(result)
    assert writes(fake) == []


@pytest.mark.parametrize("tool", sorted(CALLS))
async def test_a_dry_run_sends_nothing(tool: str, fake: FakeUpstream, audit_path: Path) -> None:
    async with client_for(every_toolset(audit_path), serve(fake), elicitation_callback=accept) as c:
        result = await c.call_tool(tool, CALLS[tool] | {"dry_run": True})
    assert result.structured_content["status"] == "dry_run", text(result)
    assert writes(fake) == []


# ------------------------------------------------------------------ against the sandbox
async def test_block_and_unblock_read_back_from_the_sandbox(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path), elicitation_callback=accept) as c:
        blocked = await c.call_tool("sipgate_block_number", {"phone_number": "+49 89 1234567"})
        prefix = await c.call_tool("sipgate_block_number", {"phone_number": "+44 70", "prefix": True})
        again = await c.call_tool("sipgate_block_number", {"phone_number": "089 1234567"})
        listed = (await c.call_tool("sipgate_list_blocked_numbers", {})).structured_content["items"]
        unblocked = await c.call_tool("sipgate_unblock_number", {"phone_number": "+49137"})
        after = (await c.call_tool("sipgate_list_blocked_numbers", {})).structured_content["items"]
        missing = await c.call_tool("sipgate_unblock_number", {"phone_number": "+49137"})
    assert blocked.structured_content["status"] == "applied", text(blocked)
    assert prefix.structured_content["status"] == "applied", text(prefix)
    assert again.is_error and "is already on the incoming blacklist" in text(again), text(again)  # sipgate's 409
    assert {"phone_number": "+49891234567", "prefix": False} in listed
    assert {"phone_number": "+4470", "prefix": True} in listed
    assert unblocked.structured_content["result"] == {"phone_number": "+49137", "prefix": True, "unblocked": True}
    assert "+49137" not in [e["phone_number"] for e in after] and len(after) == len(listed) - 1
    assert missing.is_error and "not on the incoming blacklist" in text(missing)


async def test_history_updates_read_back_and_a_deleted_entry_is_gone(audit_path: Path) -> None:
    async with client_for(sandbox(audit_path), elicitation_callback=accept) as c:
        first, second = (await c.call_tool("sipgate_list_history", {"limit": 2})).structured_content["items"]
        updated = await c.call_tool(
            "sipgate_update_history_entry", {"entry_id": first["id"], "archived": True, "starred": True, "note": "spam"}
        )
        archived = (await c.call_tool("sipgate_list_history", {"archived": True, "limit": 100})).structured_content
        deleted = await c.call_tool("sipgate_delete_history_entry", {"entry_id": second["id"]})
        remaining = (await c.call_tool("sipgate_list_history", {"limit": 100})).structured_content["items"]
        gone = await c.call_tool("sipgate_delete_history_entry", {"entry_id": second["id"]})
    assert updated.structured_content["status"] == "applied", text(updated)
    entry = updated.structured_content["result"]
    assert (entry["archived"], entry["starred"], entry["note"], entry["read"]) == (True, True, "spam", first["read"])
    assert first["id"] in [e["id"] for e in archived["items"]]
    assert deleted.structured_content["result"] == {"id": second["id"], "deleted": True}
    assert second["id"] not in [e["id"] for e in remaining]
    assert gone.is_error and f"No sipgate history entry {second['id']}" in text(gone)
