"""Shared state in a real Redis: what two replicas must agree on, checked with two (or more) servers,
or stores with their own connections, against one `redis-server`.

Each store/server gets its own Redis connection, as separate processes would; concurrency comes from
threads (the stores' calls are synchronous), so a race is a real race between connections.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from mcp.client import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from telco_mcp.approval.store import Approval, Grant
from telco_mcp.errors import ConfigError, ConfirmationError, StateUnavailable
from telco_mcp.safety import keys
from telco_mcp.safety.confirm import ConfirmationTokens
from telco_mcp.server import build_server
from telco_mcp.settings import Settings
from telco_mcp.state.integrity import Seal
from telco_mcp.state.redis import RedisApprovalStore, RedisCaps, RedisNonces, redis_state
from tests.approval.conftest import client, writes
from tests.state.conftest import RedisServer

pytestmark = pytest.mark.anyio

SECRET = "state-test-confirm-secret-0123456789abcdef"
OLD_SECRET = "state-test-previous-secret-9876543210fedcba"
SMS = {"recipient": "+4915799912345", "message": "The trunk is down"}
SEAL = Seal.from_setting(SECRET)  # the MACs on shared records, as every replica with SECRET derives them


def approval(approval_id: str = "apr_test", *, expires_in: float = 300, body: Any = None) -> Approval:
    now = time.time()
    return Approval(
        id=approval_id, tool="sipgate_send_sms", digest="d1", client="c1|", client_label="c1", summary="Send",
        provider="sipgate", method="POST", url="https://x/v2/sessions/sms",
        body=body if body is not None else {"to": "+4915799912345", "tags": [], "n": 1.5},
        verdict=None, created=now, expires=now + expires_in, grant_target="call-1",
    )  # fmt: skip


def race(n: int, fn: Any) -> list[Any]:
    """Run `fn(i)` for i in range(n) on n threads released together; exceptions are returned, not raised."""
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def settings(audit: Path, redis: RedisServer | None, **overrides: Any) -> Settings:
    base: dict[str, Any] = {"_env_file": None, "telco_mcp_audit_log": audit, "telco_mcp_confirm_secret": SECRET}
    if redis is not None:
        base["telco_mcp_state_url"] = redis.url
    return Settings(**(base | overrides))


# ------------------------------------------------------------------ the stores, several connections
def test_an_approval_is_redeemed_once_however_many_replicas_race_for_it(redis_server: RedisServer) -> None:
    stores = [RedisApprovalStore(redis_server.client(), SEAL) for _ in range(3)]
    stores[0].add(approval())
    stores[1].decide("apr_test", True, "cli")
    outcomes = race(30, lambda i: stores[i % 3].redeem("apr_test", "sipgate_send_sms", "d1", "c1|"))
    won = [o for o in outcomes if isinstance(o, Approval)]
    assert len(won) == 1 and won[0].status == "approved"
    lost = [o for o in outcomes if isinstance(o, ConfirmationError)]
    assert len(lost) == 29 and all("already used" in str(e) for e in lost)
    assert stores[2].get("apr_test").status == "used"  # type: ignore[union-attr]


def test_an_approval_is_decided_once_and_never_redeemed_by_another_call(redis_server: RedisServer) -> None:
    a, b = RedisApprovalStore(redis_server.client(), SEAL), RedisApprovalStore(redis_server.client(), SEAL)
    shown = {"to": "+4915799912345", "tags": [], "nested": {"empty": {}}, "n": 1.5, "big": 12345678901234567}
    a.add(approval(body=shown))
    assert [p.id for p in b.pending()] == ["apr_test"]
    outcomes = race(10, lambda i: (a, b)[i % 2].decide("apr_test", i % 2 == 0, "approval-page"))
    assert sum(isinstance(o, Approval) for o in outcomes) == 1
    assert all("already decided" in str(o) for o in outcomes if not isinstance(o, Approval))
    assert b.pending() == []
    stored = b.get("apr_test")
    assert stored is not None and stored.body == shown  # exactly what the approver was shown, [] and {} intact
    foreign = (("other_tool", "d1", "c1|"), ("sipgate_send_sms", "d2", "c1|"), ("sipgate_send_sms", "d1", "c2|"))
    for tool, digest, who in foreign:
        with pytest.raises(ConfirmationError, match="does not belong to this call"):
            a.redeem("apr_test", tool, digest, who)


def test_pending_and_denied_are_not_used_up_and_expired_ones_are_refused(redis_server: RedisServer) -> None:
    store = RedisApprovalStore(redis_server.client(), SEAL)
    store.add(approval("apr_p"))
    assert store.redeem("apr_p", "sipgate_send_sms", "d1", "c1|").status == "pending"
    store.decide("apr_p", False, "cli")
    assert store.redeem("apr_p", "sipgate_send_sms", "d1", "c1|").status == "denied"
    store.add(approval("apr_x", expires_in=0.2))
    with pytest.raises(ConfirmationError, match="has expired"):
        time.sleep(0.3)
        store.decide("apr_x", True, "cli")


def test_a_form_body_reads_back_from_another_replica_with_the_digest_it_was_approved_under(
    redis_server: RedisServer,
) -> None:
    """A Compatibility API write's form fields (issue 27) survive the shared store in their order."""
    from dataclasses import replace

    from telco_mcp.approval.store import request_digest

    form = [("To", "+12025550123"), ("From", "+15550100100"), ("Url", "https://x.example/a")]
    digest = request_digest("POST", "https://x/Calls", None, form)
    a, b = RedisApprovalStore(redis_server.client(), SEAL), RedisApprovalStore(redis_server.client(), SEAL)
    a.add(replace(approval("apr_form"), body=None, form=form, request_digest=digest))
    read = b.get("apr_form")
    assert read is not None and [tuple(pair) for pair in read.form or []] == form
    assert request_digest(read.method, "https://x/Calls", read.body, read.form) == digest


def test_a_grant_given_on_one_replica_covers_the_call_on_another(redis_server: RedisServer) -> None:
    a, b = RedisApprovalStore(redis_server.client(), SEAL), RedisApprovalStore(redis_server.client(), SEAL)
    grant = Grant(
        id="grt_1", target="call-1", client="c1|", tools=frozenset({"sipgate_hold_call"}),
        until=time.time() + 60, decided_by="approval-page", approval="apr_test",
    )  # fmt: skip
    a.add_grant(grant)
    assert b.find_grant("sipgate_hold_call", "call-1", "c1|") == grant
    assert b.find_grant("sipgate_hangup_call", "call-1", "c1|") is None
    assert b.find_grant("sipgate_hold_call", "call-1", "c2|") is None
    assert b.find_grant("sipgate_hold_call", "call-2", "c1|") is None


def test_a_cap_of_five_counts_exactly_five_of_twenty_concurrent_writes(redis_server: RedisServer) -> None:
    caps = [RedisCaps(redis_server.client()) for _ in range(3)]
    outcomes = race(20, lambda i: caps[i % 3].take("sms", 5))
    assert outcomes.count(True) == 5 and outcomes.count(False) == 15
    assert [c.count("sms") for c in caps] == [5, 5, 5]
    assert caps[0].count("call") == 0  # each budget is its own window


def test_a_nonce_works_once_across_connections(redis_server: RedisServer) -> None:
    nonces = [RedisNonces(redis_server.client()) for _ in range(3)]
    outcomes = race(12, lambda i: nonces[i % 3].use_once("n-1", time.time() + 60))
    assert outcomes.count(True) == 1


def test_a_token_from_one_replica_is_accepted_once_by_any_other(redis_server: RedisServer) -> None:
    replicas = [ConfirmationTokens([SECRET.encode()], nonces=RedisNonces(redis_server.client())) for _ in range(3)]
    token, _ = replicas[0].issue("sipgate_send_sms", SMS)
    outcomes = race(9, lambda i: replicas[i % 3].redeem("sipgate_send_sms", SMS, token))
    assert outcomes.count(None) == 1
    assert all("already used" in str(o) for o in outcomes if o is not None)


def test_rotation_newest_secret_signs_every_listed_one_verifies() -> None:
    old = ConfirmationTokens([OLD_SECRET.encode()])
    rotated = ConfirmationTokens([SECRET.encode(), OLD_SECRET.encode()])
    retired = ConfirmationTokens([SECRET.encode()])
    in_flight, _ = old.issue("sipgate_send_sms", SMS)
    rotated.redeem("sipgate_send_sms", SMS, in_flight)  # a token signed before the rotation still works
    fresh, _ = rotated.issue("sipgate_send_sms", SMS)
    retired.redeem("sipgate_send_sms", SMS, fresh)  # ... and the new secret signs
    with pytest.raises(ConfirmationError, match="does not match"):
        retired.redeem("sipgate_send_sms", SMS, old.issue("sipgate_send_sms", SMS)[0])


def test_redis_down_is_a_clear_refusal_that_names_no_address(redis_server: RedisServer) -> None:
    state = redis_state(redis_server.url, seal=SEAL)
    redis_server.stop()
    for attempt in (
        lambda: state.caps.take("sms", 5),
        lambda: state.nonces.use_once("n", time.time() + 60),
        lambda: state.approvals.redeem("apr_test", "t", "d", "c"),
        lambda: state.approvals.add(approval()),
    ):
        with pytest.raises(StateUnavailable) as caught:
            attempt()
        assert "TELCO_MCP_STATE_URL" in str(caught.value) and "Nothing was sent".lower() in str(caught.value).lower()
        assert str(redis_server.port) not in str(caught.value)
    redis_server.start()  # back on the same port: the same clients work again
    assert state.caps.take("sms", 5) is True


# ------------------------------------------------------------------ startup rules and settings
def test_a_state_url_without_the_shared_secret_refuses_to_start(audit_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_server(settings(audit_path, None, telco_mcp_confirm_secret=None, telco_mcp_state_url="redis://h:1/0"))
    assert "TELCO_MCP_CONFIRM_SECRET is required" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"telco_mcp_confirm_secret": "short"}, "entry 1 is 5 characters"),
        ({"telco_mcp_confirm_secret": f"{SECRET},tiny"}, "entry 2 is 4 characters"),
        ({"telco_mcp_confirm_secret": f"{SECRET},{SECRET}"}, "the same secret twice"),
        ({"telco_mcp_confirm_secret": " , "}, "set but empty"),
        ({"telco_mcp_state_url": "http://user:hunter2-pass@redis:6379"}, "redis://, rediss:// or unix://"),
    ],
)
def test_bad_state_settings_are_named_without_echoing_them(
    audit_path: Path, overrides: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(audit_path, None, **overrides).check()
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value) and "short" not in str(caught.value)


def test_the_cli_refuses_to_serve_a_state_url_without_the_secret(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TELCO_MCP_STATE_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "telco-mcp"), "serve", "--transport", "http", "--port", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "TELCO_MCP_CONFIRM_SECRET is required" in done.stderr
    assert done.stdout == ""


# ------------------------------------------------------------------ two servers, one Redis
async def test_telco_mcp_state_url_shares_the_hourly_cap_between_replicas(
    audit_path: Path, redis_server: RedisServer
) -> None:
    """If TELCO_MCP_STATE_URL were ignored, each replica would have its own budget of one."""
    cfg = settings(
        audit_path, redis_server, telco_mcp_sms_per_hour=1,
        telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True,
    )  # fmt: skip
    a, b = build_server(cfg), build_server(cfg)
    async with client(a) as ca, client(b) as cb:
        first = await ca.call_tool("sipgate_send_sms", SMS)
        second = await cb.call_tool("sipgate_send_sms", SMS)
    assert first.structured_content["status"] == "applied"  # type: ignore[index]
    assert second.is_error and "sms_per_hour" in second.content[0].text  # type: ignore[union-attr]
    assert writes(a) == [("POST", "/v2/sessions/sms")] and writes(b) == []


async def test_telco_mcp_confirm_secret_lets_another_replica_redeem_a_token_once(
    audit_path: Path, redis_server: RedisServer
) -> None:
    """A token issued by replica A is good on B (same secret) and then nowhere (its nonce is in Redis)."""
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="token")
    a, b = build_server(cfg), build_server(cfg)
    async with client(a) as ca, client(b) as cb:
        preview = await ca.call_tool("sipgate_send_sms", SMS)
        token = preview.structured_content["confirm_token"]  # type: ignore[index]
        on_b = await cb.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
        again_on_a = await ca.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
    assert on_b.structured_content["status"] == "applied"  # type: ignore[index]
    assert again_on_a.is_error and "already used" in again_on_a.content[0].text  # type: ignore[union-attr]
    assert writes(a) == [] and writes(b) == [("POST", "/v2/sessions/sms")]


async def test_an_approval_opened_on_one_replica_is_decided_and_redeemed_on_others(
    audit_path: Path, redis_server: RedisServer
) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="approval")
    a, b, c = build_server(cfg), build_server(cfg), build_server(cfg)
    async with client(a) as ca, client(c) as cc:
        pending = (await ca.call_tool("sipgate_send_sms", SMS)).structured_content
        assert pending is not None and pending["status"] == "approval_pending"
        b.telco_runtime.approvals.decide(pending["approval_id"], True, "cli")  # type: ignore[attr-defined]
        sent = await cc.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
        replay = await ca.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
    assert sent.structured_content["status"] == "applied"  # type: ignore[index]
    assert replay.is_error and "already used" in replay.content[0].text  # type: ignore[union-attr]
    assert writes(a) == [] and writes(c) == [("POST", "/v2/sessions/sms")]


async def _unused(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    raise AssertionError("answered by hand")


@pytest.mark.parametrize("shared_secret", [True, False])
async def test_an_elicitation_round_started_on_one_replica_is_answered_on_another(
    audit_path: Path, redis_server: RedisServer, shared_secret: bool
) -> None:
    """2026-07-28: the SDK seals request_state with keys derived from TELCO_MCP_CONFIRM_SECRET, so the retry
    may land on any replica; the answer's nonce is in Redis, so a replayed retry sends nothing again."""
    a = build_server(settings(audit_path, redis_server))
    other = SECRET if shared_secret else OLD_SECRET
    b = build_server(settings(audit_path, redis_server, telco_mcp_confirm_secret=other))
    yes: InputResponses = {"telco_mcp:confirm": ElicitResult(action="accept", content={"confirm": True})}
    async with client(a, elicitation_callback=_unused) as ca, client(b, elicitation_callback=_unused) as cb:
        first = await ca.session.call_tool("sipgate_send_sms", SMS, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        if not shared_secret:
            with pytest.raises(MCPError):  # another key ring cannot unseal it
                await cb.session.call_tool(
                    "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state,
                    allow_input_required=True,
                )  # fmt: skip
            assert writes(b) == []
            return
        answered = await cb.session.call_tool(
            "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state, allow_input_required=True
        )
        replayed = await ca.session.call_tool(
            "sipgate_send_sms", SMS, input_responses=yes, request_state=first.request_state, allow_input_required=True
        )
    assert isinstance(answered, CallToolResult) and answered.structured_content["status"] == "applied"  # type: ignore[index]
    assert isinstance(replayed, CallToolResult) and replayed.is_error
    assert "already used" in replayed.content[0].text  # type: ignore[union-attr]
    assert writes(a) == [] and writes(b) == [("POST", "/v2/sessions/sms")]


async def test_no_key_material_is_stored_in_redis(audit_path: Path, redis_server: RedisServer) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="token", telco_mcp_sms_per_hour=5)
    server = build_server(cfg)
    async with client(server) as c:
        token = (await c.call_tool("sipgate_send_sms", SMS)).structured_content["confirm_token"]  # type: ignore[index]
        await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
        server.telco_runtime.approvals.store.add(approval())  # type: ignore[attr-defined]
    dump = redis_server.dump()
    assert b"telco-mcp:nonce:" in dump and b"telco-mcp:cap:sms" in dump and b"telco-mcp:approval:" in dump
    derived = [keys.derive(SECRET.encode(), purpose) for purpose in (keys.TOKENS, keys.REQUEST_STATE)]
    for material in (SECRET.encode(), *derived, *(d.hex().encode() for d in derived)):
        assert material not in dump
    assert token.rsplit(".", 1)[1].encode() not in dump  # not even a token's MAC


async def test_with_redis_down_writes_are_refused_and_reads_keep_working(
    audit_path: Path, redis_server: RedisServer
) -> None:
    """Redis goes away mid-run and comes back empty (no persistence): nothing is sent while it is away,
    and a token handed out before it lost its memory of used tokens is refused rather than trusted."""
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="token", telco_mcp_sms_per_hour=5)
    server = build_server(cfg)
    async with client(server) as c:
        token = (await c.call_tool("sipgate_send_sms", SMS)).structured_content["confirm_token"]  # type: ignore[index]
        sent = await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
        other = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        redis_server.stop()
        write = await c.call_tool(
            "sipgate_send_sms", SMS | {"message": "second", "confirm_token": other["confirm_token"]}
        )  # type: ignore[index]
        read = await c.call_tool("sipgate_list_calls", {})
        preview = await c.call_tool("sipgate_send_sms", SMS)
        time.sleep(2.1)  # tokens carry whole seconds: let the reset fall clearly after both were issued
        redis_server.start()  # back, and empty
        replayed = await c.call_tool("sipgate_send_sms", SMS | {"confirm_token": token})
        stale = await c.call_tool(
            "sipgate_send_sms", SMS | {"message": "second", "confirm_token": other["confirm_token"]}
        )  # type: ignore[index]
        fresh = (await c.call_tool("sipgate_send_sms", SMS | {"message": "third"})).structured_content
        later = await c.call_tool(
            "sipgate_send_sms", SMS | {"message": "third", "confirm_token": fresh["confirm_token"]}
        )  # type: ignore[index]
    assert sent.structured_content["status"] == "applied"  # type: ignore[index]
    assert write.is_error and "cannot be reached" in write.content[0].text  # type: ignore[union-attr]
    assert "Nothing was sent" in write.content[0].text  # type: ignore[union-attr]
    assert not read.is_error and read.structured_content is not None
    assert preview.is_error and "cannot be reached" in preview.content[0].text  # type: ignore[union-attr]
    for refused in (replayed, stale):
        assert refused.is_error and "was reset" in refused.content[0].text  # type: ignore[union-attr]
    assert later.structured_content["status"] == "applied"  # type: ignore[index]
    assert (
        writes(server) == [("POST", "/v2/sessions/sms")] * 2
    )  # the first token once, the fresh one once: nothing twice, nothing while Redis was away


async def test_a_replica_that_starts_while_redis_is_away_serves_reads_and_refuses_writes(audit_path: Path) -> None:
    from tests.state.conftest import free_port

    cfg = settings(
        audit_path, None, telco_mcp_state_url=f"redis://127.0.0.1:{free_port()}/0", telco_mcp_confirm="token"
    )
    server = build_server(cfg)  # starts anyway: Redis may come later, and reads never need it
    async with client(server) as c:
        read = await c.call_tool("sipgate_list_calls", {})
        write = await c.call_tool("sipgate_send_sms", SMS)
    assert not read.is_error
    assert write.is_error and "cannot be reached" in write.content[0].text  # type: ignore[union-attr]
    assert writes(server) == []
