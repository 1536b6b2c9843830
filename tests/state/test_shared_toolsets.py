"""Per-caller dynamic toolsets in the state backend: kept 24 h after the person last enabled one, read by
every replica, never more than a replica may offer; on stdio (no callers) still this process's own.

The HTTP flow across two OAuth replicas is in tests/oauth/test_oauth_replicas.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from telco_mcp.catalogue import BY_NAME
from telco_mcp.runtime import ENABLED_FOR, EnabledToolsets, MemoryEnabledToolsets
from telco_mcp.server import build_server
from telco_mcp.state.redis import RedisEnabledToolsets
from tests.approval.conftest import client
from tests.state.conftest import Clock, RedisServer
from tests.state.test_redis_state import settings

pytestmark = pytest.mark.anyio

ANNA, BEN = "https://id.example#anna", "https://id.example#ben"


def stores(kind: str, redis: RedisServer | None) -> list[EnabledToolsets]:
    """Two replicas' view: own Redis connections, or one process's memory."""
    if kind == "redis":
        assert redis is not None
        return [RedisEnabledToolsets(redis.client()), RedisEnabledToolsets(redis.client())]
    shared = MemoryEnabledToolsets()
    return [shared, shared]


def test_what_one_replica_enables_for_a_person_the_other_reads_for_that_person_only(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    a, b = stores(kind, maybe_redis)
    a.enable(ANNA, ["sipgate_list_history"])
    b.enable(ANNA, ["sipgate_list_calls", "sipgate_list_history"])
    assert a.enabled(ANNA) == b.enabled(ANNA) == {"sipgate_list_history", "sipgate_list_calls"}
    assert a.enabled(BEN) == frozenset()


def test_in_redis_a_persons_choice_lives_24_hours_after_they_last_enabled_one(redis_server: RedisServer) -> None:
    store, r = RedisEnabledToolsets(redis_server.client()), redis_server.client()
    store.enable(ANNA, ["sipgate_list_history"])
    (key,) = list(r.scan_iter("telco-mcp:toolsets:*"))  # type: ignore[attr-defined]
    r.pexpire(key, 5000)  # type: ignore[attr-defined]  # as if 24 h had nearly passed
    store.enable(ANNA, [])  # enabling again (even nothing new) starts the 24 h again
    assert ENABLED_FOR * 1000 - 60_000 < r.pttl(key) <= ENABLED_FOR * 1000  # type: ignore[attr-defined]
    short = RedisEnabledToolsets(redis_server.client(), ttl=0.3)
    short.enable(BEN, ["sipgate_list_history"])
    time.sleep(0.5)
    assert short.enabled(BEN) == frozenset()  # Redis forgets it by itself


def test_in_memory_a_persons_choice_lives_24_hours_after_they_last_enabled_one() -> None:
    clock = Clock()
    store = MemoryEnabledToolsets(clock=clock)
    store.enable(ANNA, ["sipgate_list_history"])
    clock.now += ENABLED_FOR - 60
    store.enable(ANNA, ["sipgate_list_calls"])
    clock.now += ENABLED_FOR - 1
    assert store.enabled(ANNA) == {"sipgate_list_history", "sipgate_list_calls"}
    clock.now += 1
    assert store.enabled(ANNA) == frozenset()


def test_a_stored_tool_this_replica_may_not_offer_is_never_exposed(audit_path: Path, redis_server: RedisServer) -> None:
    """Redis only names tools: a read-only replica does not expose a write tool another replica stored."""
    cfg = settings(
        audit_path, redis_server, telco_mcp_dynamic_toolsets=True, telco_mcp_allow_writes=False,
        telco_mcp_toolsets="sipgate:account",
    )  # fmt: skip
    runtime: Any = build_server(cfg).telco_runtime  # type: ignore[attr-defined]
    RedisEnabledToolsets(redis_server.client()).enable(ANNA, ["sipgate_send_sms", "sipgate_list_history"])
    assert BY_NAME["sipgate_send_sms"] not in runtime.available
    assert not runtime.is_exposed(BY_NAME["sipgate_send_sms"], ANNA)
    assert runtime.is_exposed(BY_NAME["sipgate_list_history"], ANNA)
    assert not runtime.is_exposed(BY_NAME["sipgate_list_history"], BEN)
    assert not runtime.is_exposed(BY_NAME["sipgate_list_history"])  # no caller: only what everyone has


async def test_on_stdio_an_enabled_toolset_stays_with_the_process(audit_path: Path, redis_server: RedisServer) -> None:
    cfg = settings(audit_path, redis_server, telco_mcp_dynamic_toolsets=True, telco_mcp_toolsets="sipgate:account")
    one, other = build_server(cfg), build_server(cfg)
    async with client(one) as c1, client(other) as c2:
        enabled = await c1.call_tool("telco_enable_toolset", {"toolset": "sipgate:history"})
        mine = {t.name for t in (await c1.list_tools()).tools}
        theirs = {t.name for t in (await c2.list_tools()).tools}
    assert not enabled.is_error
    assert "sipgate_list_history" in mine and "sipgate_list_history" not in theirs
    r: Any = redis_server.client()
    assert not list(r.scan_iter("telco-mcp:toolsets:*"))


class _RecordingToolsets(MemoryEnabledToolsets):
    """The state backend, noting which thread each read and write ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def enabled(self, caller_key: str) -> frozenset[str]:
        import threading

        self.threads.append(threading.get_ident())
        return super().enabled(caller_key)

    def enable(self, caller_key: str, tools: Any) -> None:
        import threading

        self.threads.append(threading.get_ident())
        super().enable(caller_key, tools)


async def test_the_shared_state_is_read_off_the_event_loop(tmp_path: Path) -> None:
    """A Redis that stalls (2 s socket timeout) must stall the request that reads it, not every session of the
    replica: each tools/list and call-time read of a person's toolsets runs in a worker thread."""
    import threading

    server = build_server(settings(tmp_path / "audit.jsonl", None, telco_mcp_dynamic_toolsets=True))
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    recording = _RecordingToolsets()
    runtime.toolsets = recording
    recording.enable(ANNA, ["sipgate_list_blocked_numbers"])
    recording.threads.clear()
    loop_thread = threading.get_ident()
    assert await runtime.read_enabled(ANNA) == frozenset({"sipgate_list_blocked_numbers"})
    assert await runtime.read_enabled(ANNA, or_default=True) == frozenset({"sipgate_list_blocked_numbers"})
    assert recording.threads and loop_thread not in recording.threads
    assert await runtime.read_enabled(None) == frozenset()  # no caller (stdio): nothing to read
