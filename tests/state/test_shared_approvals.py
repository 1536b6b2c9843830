"""Approvals as replicas share them: one approval per intent however many replicas are asked at once, and
the approval page's launch codes, sessions and typed passwords in the state backend, so a person's next
request (and the model's retry) may land on any replica.

Each store or service gets its own Redis connection, as separate processes would; races are threads
released together (the stores' calls are synchronous) or anyio tasks over the SDK's in-memory client.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from telco_mcp.approval.page import page_app
from telco_mcp.approval.service import MAX_PENDING_PER_CLIENT, ApprovalService
from telco_mcp.approval.sessions import MemoryPageState, PageState, SecretBox, Session, hashed
from telco_mcp.approval.store import Approval, MemoryApprovalStore, TooManyPending, new_id
from telco_mcp.errors import ConfirmationError, StateUnavailable
from telco_mcp.safety import keys
from telco_mcp.server import build_server
from telco_mcp.state.redis import RedisApprovalStore, RedisPageState
from tests.approval.conftest import Browser, client, follow, writes
from tests.state.conftest import RedisServer, approve_typing
from tests.state.test_redis_state import OLD_SECRET, SEAL, SECRET, race, settings

pytestmark = pytest.mark.anyio

TYPED = "Tr0ub4dor-and-3"
CREATE = {"username": "anna-desk", "caller_id": "Anna"}


def intent(digest: str = "d1", client_key: str = "c1|") -> Approval:
    """A fresh approval (new id) for one write, as each replica would build it for the same request."""
    now = time.time()
    return Approval(
        id=new_id(), tool="sipgate_send_sms", digest=digest, client=client_key, client_label="c1", summary="Send",
        provider="sipgate", method="POST", url="https://x/v2/sessions/sms", body={"n": 1}, verdict=None,
        created=now, expires=now + 300,
    )  # fmt: skip


def services(kind: str, redis: RedisServer | None, n: int = 2) -> list[ApprovalService]:
    """`n` services as `n` replicas would have them: their own connection to one Redis, or one process's store."""
    if kind == "redis":
        assert redis is not None
        return [
            ApprovalService(ttl=300, state_dir=Path("."), store=RedisApprovalStore(redis.client(), SEAL))
            for _ in range(n)
        ]
    shared = MemoryApprovalStore()
    return [ApprovalService(ttl=300, state_dir=Path("."), store=shared) for _ in range(n)]


# ------------------------------------------------------------------ one approval per intent
def test_concurrent_opens_of_one_write_open_exactly_one_approval(kind: str, maybe_redis: RedisServer | None) -> None:
    replicas = services(kind, maybe_redis)
    outcomes = race(40, lambda i: replicas[i % 2].create(intent()))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len({approval.id for approval, _ in outcomes}) == 1
    assert sum(new for _, new in outcomes) == 1
    assert [a.id for a in replicas[1].store.pending()] == [outcomes[0][0].id]


async def test_a_closed_sessions_pending_approvals_expire_on_every_replica(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    """`ApprovalService.session_closed` (a closed MCP session): its pending approvals expire in the shared state,
    an approved one and another session's stay as they were, and the same write asked again opens a new one."""
    a, b = services(kind, maybe_redis)
    waiting, _ = a.create(intent("d1"))
    approved, _ = a.create(intent("d2"))
    a.decide(approved.id, True, "cli")
    other, _ = a.create(intent("d1", client_key="c2|"))
    await a.session_closed("c1|")
    assert [x.id for x in b.store.pending()] == [other.id]
    with pytest.raises(ConfirmationError, match="has expired"):
        b.decide(waiting.id, True, "cli")
    assert b.store.redeem(approved.id, "sipgate_send_sms", "d2", "c1|").status == "approved"
    again, new = b.create(intent("d1"))
    assert new and again.id != waiting.id


def test_concurrent_opens_of_many_writes_keep_the_per_client_limit(kind: str, maybe_redis: RedisServer | None) -> None:
    replicas = services(kind, maybe_redis)
    asks = [intent(digest=f"d{i}") for i in range(MAX_PENDING_PER_CLIENT + 6)]
    outcomes = race(len(asks), lambda i: replicas[i % 2].create(asks[i]))
    opened = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(opened) == MAX_PENDING_PER_CLIENT and all(new for _, new in opened)
    assert len(refused) == 6 and all(isinstance(e, TooManyPending) and "still waiting" in str(e) for e in refused)
    other = replicas[0].create(intent(client_key="c2|"))  # the limit is per client
    assert other[1] is True


def test_a_decided_or_expired_approval_is_not_reused_and_frees_its_place(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    a, b = services(kind, maybe_redis)
    first, _ = a.create(intent())
    b.decide(first.id, False, "cli")
    second, new = b.create(intent())
    assert new and second.id != first.id  # asked again after a denial: a new approval
    short = dataclasses.replace(intent(digest="soon"), expires=time.time() + 0.3)
    a.create(short)
    time.sleep(0.4)
    again, new = b.create(intent(digest="soon"))
    assert new and again.id != short.id
    for i in range(MAX_PENDING_PER_CLIENT - 2):  # second and `again` wait; the denied and expired ones do not count
        a.create(intent(digest=f"x{i}"))
    with pytest.raises(TooManyPending):
        b.create(intent(digest="one too many"))


async def test_two_replicas_asked_for_one_write_at_once_answer_with_one_approval(
    audit_path: Path, redis_server: RedisServer, browser: Browser
) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="approval")
    a, b = build_server(cfg), build_server(cfg)
    sms = {"recipient": "+4915799912345", "message": "The trunk is down"}
    answers: list[Any] = []
    async with client(a) as ca, client(b) as cb:

        async def ask(c: Any) -> None:
            answers.append((await c.call_tool("sipgate_send_sms", sms)).structured_content)

        async with anyio.create_task_group() as tasks:
            for i in range(8):
                tasks.start_soon(ask, (ca, cb)[i % 2])
    assert {x["status"] for x in answers} == {"approval_pending"}
    assert len({x["approval_id"] for x in answers}) == 1
    assert browser.opened() == 1  # one approval: one page opened, not one per replica or per ask
    assert writes(a) == writes(b) == []


# ------------------------------------------------------------------ launch codes, sessions, secrets
def page_states(kind: str, redis: RedisServer | None) -> list[PageState]:
    if kind == "redis":
        assert redis is not None
        return [RedisPageState(redis.client(), SEAL) for _ in range(3)]
    shared = MemoryPageState()
    return [shared] * 3


def test_a_launch_code_is_taken_once_whichever_replica_races_for_it(kind: str, maybe_redis: RedisServer | None) -> None:
    states = page_states(kind, maybe_redis)
    states[0].put_code(hashed("code-1"), "apr_1", time.time() + 60)
    taken = race(30, lambda i: states[i % 3].take_code(hashed("code-1")))
    assert taken.count("apr_1") == 1 and taken.count(None) == 29
    states[0].put_code(hashed("code-2"), "apr_2", time.time() + 0.2)
    time.sleep(0.3)
    assert states[1].take_code(hashed("code-2")) is None  # expired


def test_a_session_opened_on_one_replica_is_known_on_another_until_it_expires(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    states = page_states(kind, maybe_redis)
    session = Session(csrf="csrf-1", expires=time.time() + 0.5, approval="apr_1")
    states[0].put_session(hashed("cookie"), session)
    assert states[2].session(hashed("cookie")) == session
    assert states[2].session(hashed("another cookie")) is None
    time.sleep(0.6)
    assert states[1].session(hashed("cookie")) is None


def test_a_sealed_secret_is_taken_once_and_expires(kind: str, maybe_redis: RedisServer | None) -> None:
    states = page_states(kind, maybe_redis)
    states[0].put_secret("apr_1", b"sealed", time.time() + 60)
    taken = race(20, lambda i: states[i % 3].take_secret("apr_1"))
    assert taken.count(b"sealed") == 1 and taken.count(None) == 19
    states[0].put_secret("apr_2", b"sealed", time.time() + 0.2)
    time.sleep(0.3)
    assert states[1].take_secret("apr_2") is None


def test_the_secret_box_opens_only_for_its_approval_and_follows_the_rotation() -> None:
    old = SecretBox.from_setting(OLD_SECRET)
    rotated = SecretBox.from_setting(f"{SECRET},{OLD_SECRET}")
    other = SecretBox.from_setting(SECRET)
    sealed = old.seal("apr_1", TYPED)
    assert TYPED.encode() not in sealed
    assert rotated.open("apr_1", sealed) == TYPED  # sealed before the rotation, opened after it
    assert rotated.open("apr_2", sealed) is None  # moved to another approval: does not open
    assert other.open("apr_1", sealed) is None  # the old secret was dropped
    assert old.seal("apr_1", TYPED) != sealed  # a fresh nonce each time
    assert SecretBox.from_setting(None).open("apr_1", sealed) is None  # a process's own random key
    assert SECRET not in repr(rotated) and "ring" not in repr(rotated)


# ------------------------------------------------------------------ the page across replicas, in process
async def _page(http: httpx2.AsyncClient, url: str) -> httpx2.Response:
    page = await http.get(url)
    assert page.status_code == 200, page.text
    return page


async def test_launch_on_one_replica_approve_on_another_retry_on_a_third_sends_the_typed_password(
    audit_path: Path, redis_server: RedisServer, browser: Browser
) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_confirm="approval", telco_mcp_toolsets="all")
    a, b, c = build_server(cfg), build_server(cfg), build_server(cfg)
    services_ = [s.telco_runtime.approvals for s in (a, b, c)]  # type: ignore[attr-defined]
    async with client(a) as ca, client(c) as cc:
        pending = (await ca.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        assert pending is not None and pending["status"] == "approval_pending"
        launch = browser.links()[0]  # on replica a's page
        assert launch.startswith(services_[0].base_url)
        b_base = services_[1].base_url  # replica b serves its own page (another port, another process's memory)
        assert b_base != services_[0].base_url
        async with httpx2.AsyncClient(follow_redirects=True, timeout=10) as http:
            opened = await follow(http, launch)  # a shows the page; the code rides in its form
            assert opened.status_code == 200 and "Approve this write?" in opened.text
            code = launch.rsplit("code=", 1)[1]
            on_b = await _page(http, f"{b_base}/approvals/a/{pending['approval_id']}?code={code}")  # b knows the code
            decided = await approve_typing(http, b_base, pending["approval_id"], on_b.text, TYPED)
            assert decided.status_code == 200 and "Approved" in decided.text, decided.text
            replay = await http.get(launch)  # the launch code worked once, on every replica: now it shows the decision
            assert replay.status_code == 200 and "<h1>Approved — " in replay.text and 'name="code"' not in replay.text
        dump = redis_server.dump()
        applied = await cc.call_tool(
            "signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]}
        )
        again = await ca.call_tool("signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]})
    assert applied.structured_content is not None and applied.structured_content["status"] == "applied", applied
    created = applied.structured_content["result"]
    passwords = c.telco_runtime.sandbox.state.signalwire.sip_passwords  # type: ignore[attr-defined]
    assert passwords[created["id"]] == TYPED  # the third replica sent exactly what was typed on the second
    assert again.is_error and "already used" in again.content[0].text  # type: ignore[union-attr]
    assert writes(a) == writes(b) == [] and writes(c) == [("POST", "/api/fabric/resources/sip_endpoints")]
    # What Redis held while the password waited: a sealed value, no session, no PIN, no key.
    assert b"telco-mcp:page:secret:" + pending["approval_id"].encode() in dump
    assert b"telco-mcp:page:session:" not in dump  # a launch code is no session: it rode in the form
    assert TYPED.encode() not in dump
    for cookie in http.cookies.values():
        assert cookie.encode() not in dump
    derived = keys.derive(SECRET.encode(), keys.APPROVAL_SECRETS)
    for material in (SECRET.encode(), derived, derived.hex().encode()):
        assert material not in dump
    assert not [k for k in _redis_keys(redis_server) if b"page:secret:" in k]  # taken: gone from Redis too
    assert TYPED not in audit_path.read_text()


async def test_a_sealed_password_another_secret_cannot_open_is_refused_and_nothing_is_sent(
    audit_path: Path, redis_server: RedisServer, browser: Browser
) -> None:
    """A replica configured with another TELCO_MCP_CONFIRM_SECRET cannot open the password: it sends nothing
    and says how to go on (ask again), never the password."""
    a = build_server(settings(audit_path, redis_server, telco_mcp_confirm="approval", telco_mcp_toolsets="all"))
    stray = build_server(
        settings(
            audit_path, redis_server, telco_mcp_confirm="approval", telco_mcp_toolsets="all",
            telco_mcp_confirm_secret=OLD_SECRET,
        )
    )  # fmt: skip
    async with client(a) as ca, client(stray) as cs:
        pending = (await ca.call_tool("signalwire_create_sip_credential", CREATE)).structured_content
        assert pending is not None
        a.telco_runtime.approvals.decide(pending["approval_id"], True, "approval-page", secret=TYPED)  # type: ignore[attr-defined]
        refused = await cs.call_tool(
            "signalwire_create_sip_credential", CREATE | {"approval_id": pending["approval_id"]}
        )
    text = refused.content[0].text  # type: ignore[union-attr]
    assert refused.is_error and "Nothing was sent" in text and "without approval_id" in text
    # the operator can tell what to fix: the stray replica's keys do not verify the approval's MAC (nor open the
    # password sealed with it)
    assert "another TELCO_MCP_CONFIRM_SECRET" in text
    assert TYPED not in text
    assert writes(a) == writes(stray) == []


async def test_with_redis_away_a_launch_link_is_refused_clearly_and_no_password_is_handed_out(
    redis_server: RedisServer,
) -> None:
    service = ApprovalService(
        ttl=300, state_dir=Path("."), store=RedisApprovalStore(redis_server.client(), SEAL),
        page=RedisPageState(redis_server.client(), SEAL),
    )  # fmt: skip
    service.page.put_code(hashed("code"), "apr_1", time.time() + 60)
    app = page_app(service, allowed_hosts=["replica.test"])
    redis_server.stop()
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://replica.test") as http:
            page = await http.get("/approvals/a/apr_1?code=code")
        assert service.take_secret("apr_1") is None  # the write is then not sent (and says so)
    finally:
        redis_server.start()
    assert page.status_code == 503 and "cannot be reached" in page.text and "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"


def _redis_keys(redis: RedisServer) -> list[bytes]:
    r: Any = redis.client()
    return list(r.scan_iter("*"))


class _PageStateThatCannotKeepSecrets(MemoryPageState):
    """The page state as it is while Redis fails between two requests: it cannot keep a secret."""

    def put_secret(self, approval_id: str, sealed: bytes, expires: float) -> None:
        raise StateUnavailable("the shared state (TELCO_MCP_STATE_URL) cannot be reached")


def test_an_approval_is_never_recorded_approved_without_its_secret() -> None:
    """The secret is kept first and the decision recorded second: when the secret cannot be kept, the approval
    stays pending (recorded approved, the model's retry would use it up and send nothing)."""
    now = time.time()
    pending = Approval(
        id="apr_secret", tool="signalwire_create_sip_credential", digest="d", client="c|", client_label="c",
        summary="Create", provider="signalwire", method="POST", url="https://x/api/fabric/resources/sip_endpoints",
        body={"username": "anna"}, verdict=None, created=now, expires=now + 300, secret_field="password",
    )  # fmt: skip
    failing = ApprovalService(ttl=300, state_dir=Path("."), page=_PageStateThatCannotKeepSecrets())
    failing.store.add(pending)
    with pytest.raises(StateUnavailable):
        failing.decide("apr_secret", True, "approval-page", secret="Tr0ub4dor-and-3")
    kept = failing.store.get("apr_secret")
    assert kept is not None and kept.status == "pending"

    working = ApprovalService(ttl=300, state_dir=Path("."), store=failing.store)  # the state is back
    decided = working.decide("apr_secret", True, "approval-page", secret="Tr0ub4dor-and-3")
    assert decided.status == "approved" and working.take_secret("apr_secret") == "Tr0ub4dor-and-3"
