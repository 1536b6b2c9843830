"""Integrity of what replicas share, against a real `redis-server`: a record edited in Redis is refused.

Each attack is what the review did with `redis-cli` (run here as the real binary, or as redis-py writing
the same bytes): approve a pending write with `HSET ... status approved`, plant a PIN-level page session,
edit a grant or a launch code. The write is not applied, and the refusal is on record: the error log,
an `integrity` line in the audit log, and the seal's count. Records written before the upgrade carry
no MAC and are refused; a record MACed with the old key still verifies after a new one is prepended.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from telco_mcp.approval.page import SESSION_COOKIE, page_app
from telco_mcp.approval.service import ApprovalService
from telco_mcp.approval.sessions import Session, hashed
from telco_mcp.approval.store import Grant
from telco_mcp.errors import ConfirmationError
from telco_mcp.server import build_server
from telco_mcp.state.integrity import Seal
from telco_mcp.state.redis import RedisApprovalStore, RedisPageState
from tests.approval.conftest import client, writes
from tests.state.conftest import RedisServer
from tests.state.test_redis_state import OLD_SECRET, SECRET, SMS, approval, settings

pytestmark = pytest.mark.anyio

PIN = "integrity-pin-314159"


def redis_cli(redis: RedisServer, *args: str) -> None:
    """The attacker's tool itself when installed; else the same command through redis-py."""
    cli = shutil.which("redis-cli")
    if cli is not None:
        done = subprocess.run([cli, "-p", str(redis.port), *args], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0 and "ERR" not in done.stdout, done.stdout + done.stderr
    else:
        redis.client().execute_command(*args)  # type: ignore[attr-defined]


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def integrity_lines(path: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in audit_lines(path) if r["event"] == "integrity" and r["kind"] == kind]


def seal_of(server: Any) -> Seal:
    seal = server.telco_runtime.approvals.store.seal
    assert isinstance(seal, Seal)
    return seal


# ------------------------------------------------------------------ approvals
@pytest.mark.parametrize("edit", ["status", "status-and-decider", "client"])
async def test_an_approval_approved_in_redis_is_refused_and_nothing_is_sent(
    audit_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture, edit: str
) -> None:
    server = build_server(settings(audit_path, redis_server, telco_mcp_confirm="approval"))
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        assert pending is not None and pending["status"] == "approval_pending"
        approval_id = pending["approval_id"]
        key = f"telco-mcp:approval:{approval_id}"
        if edit == "status":
            redis_cli(redis_server, "HSET", key, "status", "approved")
        elif edit == "status-and-decider":
            redis_cli(redis_server, "HSET", key, "status", "approved", "decided_by", "approval-page")
        else:  # a legitimately approved approval moved to another client
            server.telco_runtime.approvals.decide(approval_id, True, "cli")  # type: ignore[attr-defined]
            redis_cli(redis_server, "HSET", key, "client", "someone-else|")
        with caplog.at_level(logging.ERROR, logger="telco_mcp.state.integrity"):
            retried = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": approval_id})
        assert server.telco_runtime.approvals.store.get(approval_id) is None  # type: ignore[attr-defined]
    assert writes(server) == []  # the write was NOT applied
    text = retried.content[0].text  # type: ignore[union-attr]
    assert retried.is_error and "failed its integrity check" in text and "Nothing was sent" in text, text
    lines = integrity_lines(audit_path, "approval")  # each read of it is refused (and recorded)
    assert lines and all(line["record"] == approval_id and line["outcome"] == "refused" for line in lines)
    assert all("MAC" in line["reason"] for line in lines)
    assert any("refused approval " + approval_id in r.getMessage() for r in caplog.records)
    assert seal_of(server).refused["approval"] >= 1
    assert all(r.get("outcome") != "applied" for r in audit_lines(audit_path))


def test_an_edited_approval_is_neither_listed_nor_decided(audit_path: Path, redis_server: RedisServer) -> None:
    seal = Seal.from_setting(SECRET)
    store = RedisApprovalStore(redis_server.client(), seal)
    store.add(approval("apr_shown"))
    store.add(approval("apr_edited"))
    # What the approver is shown is covered too: a body changed in the record as created is refused.
    r: Any = redis_server.client()
    data = json.loads(r.hget("telco-mcp:approval:apr_edited", "data"))
    r.hset("telco-mcp:approval:apr_edited", "data", json.dumps(data | {"body": {"message": "harmless"}}))
    assert [a.id for a in store.pending()] == ["apr_shown"]
    with pytest.raises(ConfirmationError, match="failed its integrity check"):
        store.decide("apr_edited", True, "cli")
    assert seal.refused["approval"] == 2
    assert store.decide("apr_shown", True, "cli").status == "approved"  # the others work as before


def test_an_approval_written_before_the_upgrade_has_no_mac_and_is_refused(redis_server: RedisServer) -> None:
    seal = Seal.from_setting(SECRET)
    store = RedisApprovalStore(redis_server.client(), seal)
    store.add(approval("apr_old"))
    r: Any = redis_server.client()
    r.hdel("telco-mcp:approval:apr_old", "mac")  # as the previous version wrote it
    r.hset("telco-mcp:approval:apr_old", "status", "approved")
    assert store.get("apr_old") is None and store.pending() == []
    with pytest.raises(ConfirmationError, match="failed its integrity check"):
        store.redeem("apr_old", "sipgate_send_sms", "d1", "c1|")
    assert seal.refused["approval"] == 3


def test_an_intent_that_names_a_refused_record_opens_nothing(redis_server: RedisServer) -> None:
    """Asking again for a write finds the approval pending for it: one planted (no MAC) is refused, not reused."""
    seal = Seal.from_setting(SECRET)
    store = RedisApprovalStore(redis_server.client(), seal)
    first, new = store.open(approval("apr_real"), 10)
    assert new and first.id == "apr_real"
    r: Any = redis_server.client()
    r.hdel("telco-mcp:approval:apr_real", "mac")
    with pytest.raises(ConfirmationError, match="failed its integrity check"):
        store.open(approval("apr_again"), 10)
    assert r.exists("telco-mcp:approval:apr_again") == 0 and seal.refused["approval"] >= 1


# ------------------------------------------------------------------ page sessions and launch codes
async def _try_planted_sessions(service: ApprovalService, redis_server: RedisServer, approval_id: str) -> None:
    app = page_app(service, allowed_hosts=["replica.test"])
    for label, mac in (("no-mac", None), ("made-up-mac", "ab" * 32)):
        sid = f"planted-session-{label}"
        record: dict[str, Any] = {"csrf": "known-csrf", "expires": time.time() + 600, "approval": None}
        if mac is not None:
            record["mac"] = mac
        redis_cli(redis_server, "SET", f"telco-mcp:page:session:{hashed(sid)}", json.dumps(record), "EX", "600")
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://replica.test") as http:
            http.cookies.set(SESSION_COOKIE, sid)
            listing = await http.get("/approvals/")
            decided = await http.post(
                f"/approvals/a/{approval_id}/decide",
                data={"csrf": "known-csrf", "decision": "approve"},
                headers={"Origin": "http://replica.test"},
            )
        assert listing.status_code == 401 and "Sign in to see approvals" in listing.text
        assert approval_id not in listing.text
        assert decided.status_code == 403


async def test_a_planted_pin_level_session_is_refused(audit_path: Path, redis_server: RedisServer) -> None:
    server = build_server(settings(audit_path, redis_server, telco_mcp_confirm="approval", telco_mcp_approver_pin=PIN))
    service = server.telco_runtime.approvals  # type: ignore[attr-defined]
    # (all inside the MCP session: the server's Redis connections are used while it is open)
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        assert pending is not None
        await _try_planted_sessions(service, redis_server, pending["approval_id"])
        assert service.store.get(pending["approval_id"]).status == "pending"
    lines = integrity_lines(audit_path, "session")
    assert len(lines) >= 2 and {line["reason"] for line in lines} >= {"no MAC", "the MAC does not match"}
    log = audit_path.read_text()
    for sid in ("planted-session-no-mac", "planted-session-made-up-mac"):  # as references, never raw (nor hashed)
        assert sid not in log and hashed(sid) not in log
    assert all(line["record"].startswith("h:") for line in lines)
    assert seal_of(server).refused["session"] >= 2


def test_launch_codes_planted_or_edited_are_refused(redis_server: RedisServer) -> None:
    seal = Seal.from_setting(SECRET)
    page = RedisPageState(redis_server.client(), seal)
    later = time.time() + 60
    redis_cli(redis_server, "SET", f"telco-mcp:page:code:{hashed('planted')}", "apr_1", "EX", "60")  # as before
    assert page.take_code(hashed("planted")) is None
    page.put_code(hashed("real"), "apr_1", later)
    r: Any = redis_server.client()
    stored = json.loads(r.get(f"telco-mcp:page:code:{hashed('real')}"))
    r.set(f"telco-mcp:page:code:{hashed('real')}", json.dumps(stored | {"approval": "apr_2"}))  # re-pointed
    assert page.take_code(hashed("real")) is None
    page.put_code(hashed("moved"), "apr_1", later)
    r.rename(f"telco-mcp:page:code:{hashed('moved')}", f"telco-mcp:page:code:{hashed('guessable')}")
    assert page.take_code(hashed("guessable")) is None  # bound to the key it was stored under
    assert seal.refused["code"] == 3
    page.put_code(hashed("fine"), "apr_1", later)
    assert page.take_code(hashed("fine")) == "apr_1"


# ------------------------------------------------------------------ grants
def test_grants_edited_or_planted_are_refused(redis_server: RedisServer) -> None:
    seal = Seal.from_setting(SECRET)
    store = RedisApprovalStore(redis_server.client(), seal)
    grant = Grant(
        id="grt_1", target="call-1", client="c1|", tools=frozenset({"sipgate_hold_call"}),
        until=time.time() + 600, decided_by="approval-page", approval="apr_1",
    )  # fmt: skip
    store.add_grant(grant)
    assert store.find_grant("sipgate_hold_call", "call-1", "c1|") == grant
    r: Any = redis_server.client()
    key = next(iter(r.scan_iter("telco-mcp:grants:*")))
    (member,) = r.zrange(key, 0, -1)
    data = json.loads(member)
    widened = data | {"tools": ["sipgate_hangup_call", "sipgate_hold_call"]}  # more tools, under the old MAC
    r.zrem(key, member)
    r.zadd(key, {json.dumps(widened): grant.until})
    assert store.find_grant("sipgate_hangup_call", "call-1", "c1|") is None
    assert store.find_grant("sipgate_hold_call", "call-1", "c1|") is None
    planted = {k: v for k, v in data.items() if k != "mac"} | {"id": "grt_2", "tools": ["sipgate_hangup_call"]}
    r.zadd(key, {json.dumps(planted): grant.until})  # a grant as the previous version wrote it: no MAC
    assert store.find_grant("sipgate_hangup_call", "call-1", "c1|") is None
    assert seal.refused["grant"] >= 3


# ------------------------------------------------------------------ key rotation
def test_records_maced_with_the_old_key_verify_after_a_new_key_is_prepended(redis_server: RedisServer) -> None:
    old = Seal.from_setting(OLD_SECRET)
    rotated = Seal.from_setting(f"{SECRET},{OLD_SECRET}")
    retired = Seal.from_setting(SECRET)
    before = RedisApprovalStore(redis_server.client(), old)
    before_page = RedisPageState(redis_server.client(), old)
    grant = Grant(
        id="grt_1", target="call-1", client="c1|", tools=frozenset({"sipgate_hold_call"}),
        until=time.time() + 600, decided_by="cli", approval="apr_test",
    )  # fmt: skip
    before.add(approval())
    before.add_grant(grant)
    session = Session(csrf="c", expires=time.time() + 600, approval=None)
    before_page.put_session("s-key", session)
    before_page.put_code("c-key", "apr_test", time.time() + 60)

    after, after_page = (
        RedisApprovalStore(redis_server.client(), rotated),
        RedisPageState(redis_server.client(), rotated),
    )
    assert after.get("apr_test") is not None
    assert after.find_grant("sipgate_hold_call", "call-1", "c1|") == grant
    assert after_page.session("s-key") == session
    assert after.decide("apr_test", True, "cli").status == "approved"  # a transition on an old-key record
    # the transition wrote its new state with the newest key: the retired-old-key ring still reads it
    assert RedisApprovalStore(redis_server.client(), retired).get("apr_test") is not None
    assert after.redeem("apr_test", "sipgate_send_sms", "d1", "c1|").status == "approved"
    assert after_page.take_code("c-key") == "apr_test"
    assert rotated.refused == {}

    # once the old secret is dropped, what only it signed is refused
    dropped, dropped_page = (
        RedisApprovalStore(redis_server.client(), retired),
        RedisPageState(redis_server.client(), retired),
    )
    assert dropped.find_grant("sipgate_hold_call", "call-1", "c1|") is None
    assert dropped_page.session("s-key") is None
    assert retired.refused == {"grant": 1, "session": 1}


def test_the_seal_covers_every_field_it_names() -> None:
    seal = Seal.from_setting(SECRET)
    record = {"id": "apr_1", "status": "pending", "tool": "t", "digest": "d", "client": "c", "expires": "1.0",
              "decided_by": "", "decided_at": "", "approver": "", "data": "{}"}  # fmt: skip
    mac = seal.mac("approval", record)
    assert seal.valid("approval", record, mac)
    for name in record:
        assert not seal.valid("approval", record | {name: record[name] + "x"}, mac), name
    assert not seal.valid("approval", record, "")
    assert dataclasses.is_dataclass(Grant)
