"""History exports in the state backend: kept 10 minutes, read by any replica, by the caller who made them only;
in Redis a record edited behind the servers' back is refused."""

from __future__ import annotations

import time

from telco_mcp.exports import EXPORT_TTL, ExportStore, MemoryExports
from telco_mcp.state.integrity import Seal
from telco_mcp.state.redis import RedisExports
from tests.state.conftest import Clock, RedisServer

ANNA, BEN = "https://id.example#anna", "https://id.example#ben"
CSV = b"id,created\r\n100001,2026-11-01T10:00:00Z\r\n"


def stores(kind: str, redis: RedisServer | None) -> list[ExportStore]:
    if kind == "redis":
        assert redis is not None
        seal = Seal.from_setting("a-confirm-secret-of-32-characters!!")
        return [RedisExports(redis.client(), seal), RedisExports(redis.client(), seal)]
    shared = MemoryExports()
    return [shared, shared]


def test_an_export_one_replica_keeps_the_other_serves_to_its_maker_only(
    kind: str, maybe_redis: RedisServer | None
) -> None:
    a, b = stores(kind, maybe_redis)
    a.put("x1", ANNA, CSV, EXPORT_TTL)
    assert b.get("x1", ANNA) == CSV
    assert b.get("x1", BEN) is None and b.get("x2", ANNA) is None


def test_in_memory_an_export_is_gone_after_ten_minutes() -> None:
    clock = Clock()
    store = MemoryExports(clock=clock)
    store.put("x1", ANNA, CSV, EXPORT_TTL)
    clock.now += EXPORT_TTL - 1
    assert store.get("x1", ANNA) == CSV
    clock.now += 1
    assert store.get("x1", ANNA) is None


def test_in_redis_an_export_expires_by_itself_and_an_edited_one_is_refused(redis_server: RedisServer) -> None:
    seal = Seal.from_setting("a-confirm-secret-of-32-characters!!")
    store, r = RedisExports(redis_server.client(), seal), redis_server.client()
    store.put("x1", ANNA, CSV, EXPORT_TTL)
    (key,) = list(r.scan_iter("telco-mcp:export:*"))  # type: ignore[attr-defined]
    assert EXPORT_TTL * 1000 - 60_000 < r.pttl(key) <= EXPORT_TTL * 1000  # type: ignore[attr-defined]
    mac = r.get(key).partition(b"|")[0]  # type: ignore[attr-defined]
    r.set(key, mac + b"|id,created\r\nforged,row\r\n", keepttl=True)  # type: ignore[attr-defined]
    assert store.get("x1", ANNA) is None and seal.refused["export"] == 1
    store.put("x2", ANNA, CSV, 0.3)
    time.sleep(0.5)
    assert store.get("x2", ANNA) is None
