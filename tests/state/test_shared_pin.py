"""The approver PIN's wrong attempts as replicas count them: 5 per source in 10 minutes in all, not per replica.

Each service gets its own Redis connection, as separate processes would (or, for the memory backend, one
process's count). The window's clock is injected, so its expiry is checked without waiting 10 minutes;
the production path (Redis's own `TIME`) is checked once too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from telco_mcp.approval.page import page_app
from telco_mcp.approval.pin import MAX_FAILURES, WINDOW, ApproverPin, MemoryPinAttempts, PinAttempts, hash_pin
from telco_mcp.approval.service import ApprovalService
from telco_mcp.errors import ConfirmationError
from telco_mcp.safety import keys
from telco_mcp.state.redis import RedisPinAttempts
from tests.approval.conftest import csrf_of
from tests.state.conftest import Clock, RedisServer
from tests.state.test_redis_state import race

pytestmark = pytest.mark.anyio

PIN = "418-2093-77"
HASHED = hash_pin(PIN)  # as `telco-mcp approvals hash-pin` makes it: one hash, every replica
ATTACKER, COLLEAGUE = "203.0.113.9", "198.51.100.7"
KEY = keys.derive(b"x" * 32, keys.PIN_SOURCES)  # what every replica derives from one TELCO_MCP_CONFIRM_SECRET


def replicas(kind: str, redis: RedisServer | None, clock: Callable[[], float], n: int = 2) -> list[ApprovalService]:
    """`n` approval services with the PIN, counting attempts in Redis (own connections) or one process's memory."""
    shared = MemoryPinAttempts(clock=clock)

    def attempts() -> PinAttempts:
        if kind == "redis":
            assert redis is not None
            return RedisPinAttempts(redis.client(), clock=clock)
        return shared

    return [
        ApprovalService(ttl=300, state_dir=Path("."), pin=ApproverPin(HASHED, attempts=attempts(), key=KEY))
        for _ in range(n)
    ]


def outcome(service: ApprovalService, attempt: str | None, source: str) -> str:
    try:
        service.check_pin(attempt, source=source)
    except ConfirmationError as exc:
        return str(exc)
    return "signed in"


def test_five_wrong_pins_over_two_replicas_lock_that_source_on_both_until_the_window_passes(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    clock = Clock()
    a, b = replicas(kind, maybe_redis, clock)
    wrong = [outcome((a, b)[i % 2], f"guess-{i}", ATTACKER) for i in range(MAX_FAILURES)]  # 3 on a, 2 on b
    assert wrong == ["wrong PIN"] * MAX_FAILURES
    clock.now += 60
    for replica in (a, b):  # locked on both, the right PIN included; an empty attempt is told so too
        assert outcome(replica, PIN, ATTACKER) == "too many wrong PINs: try again in 9 min"
        assert outcome(replica, None, ATTACKER).startswith("too many wrong PINs")
    assert outcome(b, PIN, COLLEAGUE) == "signed in"  # per source: the attacker cannot lock out everyone
    assert outcome(a, "nope", COLLEAGUE) == "wrong PIN"
    clock.now += WINDOW - 60 - 1  # one second before the first failure leaves the window
    assert outcome(a, PIN, ATTACKER).startswith("too many wrong PINs")
    clock.now += 1  # the window has passed
    assert outcome(b, PIN, ATTACKER) == "signed in"
    assert outcome(a, PIN, ATTACKER) == "signed in"  # a right PIN never counts against its source


def test_the_window_slides_one_failure_at_a_time(kind: str, maybe_redis: RedisServer | None) -> None:
    clock = Clock()
    start = clock.now
    a, b = replicas(kind, maybe_redis, clock)
    for i in range(MAX_FAILURES):
        assert outcome((a, b)[i % 2], "nope", ATTACKER) == "wrong PIN"
        clock.now += 100  # failures at 0, 100, ..., 400
    clock.now = start + WINDOW  # only the first one has left: one more try
    assert outcome(b, "nope", ATTACKER) == "wrong PIN"
    assert outcome(a, PIN, ATTACKER).startswith("too many wrong PINs")


def test_twenty_guesses_racing_over_three_replicas_get_exactly_five_checks(redis_server: RedisServer) -> None:
    services = replicas("redis", redis_server, Clock(), n=3)
    outcomes = race(20, lambda i: outcome(services[i % 3], f"guess-{i}", ATTACKER))
    assert outcomes.count("wrong PIN") == MAX_FAILURES
    assert sum(o.startswith("too many wrong PINs") for o in outcomes) == 20 - MAX_FAILURES


def test_on_redis_time_the_lock_holds_across_connections_and_only_a_hash_of_the_source_is_stored(
    redis_server: RedisServer,
) -> None:
    """Production: the window runs on Redis's clock (no clock injected)."""
    a, b = (
        ApprovalService(ttl=300, state_dir=Path("."), pin=ApproverPin(HASHED, attempts=RedisPinAttempts(r), key=KEY))
        for r in (redis_server.client(), redis_server.client())
    )
    for i in range(MAX_FAILURES):
        assert outcome((a, b)[i % 2], f"guess-{i}", ATTACKER) == "wrong PIN"
    assert outcome(b, PIN, ATTACKER) == "too many wrong PINs: try again in 10 min"
    assert a.pin is not None and WINDOW - 30 < a.pin.locked_for(ATTACKER) <= WINDOW
    dump = redis_server.dump()
    assert b"telco-mcp:pin:" in dump
    for secret in (ATTACKER.encode(), PIN.encode(), b"guess-"):
        assert secret not in dump
    r: Any = redis_server.client()
    key = next(iter(r.scan_iter("telco-mcp:pin:*")))
    # keyed: without TELCO_MCP_CONFIRM_SECRET nobody can tell which address a count belongs to (a plain hash of an
    # IPv4 address is undone by trying all 2**32 of them)
    assert key.decode() == "telco-mcp:pin:" + hmac.new(KEY, ATTACKER.encode(), hashlib.sha256).hexdigest()
    assert hashlib.sha256(ATTACKER.encode()).hexdigest().encode() not in dump
    assert 0 < r.pttl(key) <= WINDOW * 1000  # Redis forgets the window by itself


def test_with_redis_away_pin_sign_in_fails_closed_and_says_why(redis_server: RedisServer) -> None:
    (service,) = replicas("redis", redis_server, Clock(), n=1)
    redis_server.stop()
    try:
        refused = [outcome(service, PIN, COLLEAGUE), outcome(service, None, COLLEAGUE)]
    finally:
        redis_server.start()
    for message in refused:  # never "unlimited attempts": not even the right PIN is checked
        assert message.startswith("PIN sign-in is unavailable") and "TELCO_MCP_STATE_URL" in message
        assert str(redis_server.port) not in message
    assert outcome(service, PIN, COLLEAGUE) == "signed in"  # back: signing in works again


# ------------------------------------------------------------------ through the approval page of two replicas
async def _sign_in(app: Any, pin: str, source: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app, client=(source, 50000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://replica.test") as http:
        page = await http.get("/approvals/")
        return await http.post(
            "/approvals/signin",
            data={"csrf": csrf_of(page.text), "pin": pin, "next": "/approvals/"},
            headers={"Origin": "http://replica.test"},
        )


async def test_wrong_pins_on_two_replicas_pages_lock_the_sign_in_on_both(redis_server: RedisServer) -> None:
    apps = [page_app(s, allowed_hosts=["replica.test"]) for s in replicas("redis", redis_server, Clock())]
    for i in range(MAX_FAILURES):
        page = await _sign_in(apps[i % 2], f"guess-{i}", ATTACKER)
        assert page.status_code == 401 and "wrong PIN" in page.text
    locked = [await _sign_in(app, PIN, ATTACKER) for app in apps]
    other = await _sign_in(apps[0], PIN, COLLEAGUE)
    assert all(p.status_code == 401 and "too many wrong PINs" in p.text for p in locked)
    assert other.status_code == 303 and other.headers["location"] == "/approvals/"


async def test_an_ipv6_client_counts_as_its_64_so_rotating_addresses_gains_no_tries() -> None:
    """One host usually holds a whole /64: counting single IPv6 addresses would give it billions of tries."""
    (service,) = replicas("memory", None, Clock(), n=1)
    app = page_app(service, allowed_hosts=["replica.test"])
    for i in range(MAX_FAILURES):
        page = await _sign_in(app, f"guess-{i}", f"2001:db8:1:2::{i + 1:x}")  # a new address each time
        assert page.status_code == 401 and "wrong PIN" in page.text
    rotated = await _sign_in(app, PIN, "2001:db8:1:2:ffff::99")  # same /64, yet another address
    neighbour = await _sign_in(app, PIN, "2001:db8:1:3::1")  # the next /64: another site
    assert rotated.status_code == 401 and "too many wrong PINs" in rotated.text
    assert neighbour.status_code == 303


def test_the_terminal_is_counted_per_host_not_as_one_terminal_everywhere() -> None:
    from telco_mcp.approval.pin import pin_source, terminal_source

    assert terminal_source() not in ("terminal", "")
    assert terminal_source().startswith("terminal@")
    assert pin_source("::ffff:203.0.113.9") == pin_source("203.0.113.9") == "203.0.113.9"
