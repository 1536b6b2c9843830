"""Call events through Redis (TELCO_MCP_STATE_URL): an event one replica received reaches every other.

Two servers share one real `redis-server`. sipgate's webhook reaches replica A (as a load balancer
would send it); a `sipgate_wait_for_call_event` waiting on replica B returns it, and B's events resource
and a call's history show it, numbered the same on both.
"""

from __future__ import annotations

import gc
import importlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from telco_mcp.events.model import CallEvent
from telco_mcp.events.store import SEEN_FOR
from telco_mcp.resources import CALL_EVENTS_URI
from telco_mcp.server import build_server
from telco_mcp.settings import Settings
from telco_mcp.state.redis import EVENT_SEEN

from .conftest import RedisServer

pytestmark = pytest.mark.anyio
root: Any = importlib.import_module("conftest")  # tests/conftest.py (this directory's is `state.conftest`)
SECRET = "k" * 48
WAIT = "sipgate_wait_for_call_event"


def replica(audit: Path, redis: RedisServer, **overrides: Any) -> Any:
    values = {"_env_file": None, "telco_mcp_audit_log": audit, "telco_mcp_state_url": redis.url,
              "telco_mcp_confirm_secret": SECRET, "telco_mcp_webhook_secret": "w" * 40}  # fmt: skip
    return build_server(Settings(**(values | overrides)))


@asynccontextmanager
async def webhook(server: Any) -> AsyncIterator[httpx2.AsyncClient]:
    receiver = server.telco_runtime.webhooks
    transport = httpx2.ASGITransport(app=receiver.app, client=("127.0.0.1", 40000))
    signed = root.SandboxSigned()  # a sandbox-mode replica trusts the sandbox's key
    async with httpx2.AsyncClient(transport=transport, base_url="http://mcp.example.test", auth=signed) as client:
        yield client


def new_call(call_id: str) -> dict[str, Any]:
    return {"event": "newCall", "direction": "in", "from": "49301234567", "to": "492111234567", "callId": call_id,
            "user[]": ["Anna Schneider"]}  # fmt: skip


async def test_an_event_received_by_one_replica_reaches_a_waiter_on_another(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server)
    b = replica(tmp_path / "b.jsonl", redis_server)
    waited: dict[str, Any] = {}
    answer: Any = None
    async with Client(b) as on_b, webhook(a) as to_a:

        async def wait() -> None:
            waited["result"] = await on_b.call_tool(WAIT, {"number": "+49 30 1234567", "timeout_seconds": 20})

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                await anyio.sleep(0.5)  # the waiter on B has subscribed (its lookback would also find it)
                answer = await to_a.post(a.telco_runtime.webhooks.path, data=new_call("REPL1"))
        resource = (await on_b.read_resource(CALL_EVENTS_URI)).contents[0].text  # type: ignore[union-attr]
    assert answer is not None and answer.status_code == 200, answer
    result = waited["result"]
    assert not result.is_error and result.structured_content["status"] == "event", result.content
    event = result.structured_content["event"]
    assert (event["event"], event["call_id"]) == ("newCall", "REPL1")
    inside = json.loads(resource.split('">\n', 1)[1].split("\n</untrusted-data>", 1)[0])
    assert [e["call_id"] for e in inside["events"]] == ["REPL1"]  # B's resource shows what A received
    assert inside["events"][0]["sequence"] == event["sequence"]


async def test_replicas_number_events_as_one_and_keep_only_the_newest(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server, telco_mcp_call_events_kept=10)
    b = replica(tmp_path / "b.jsonl", redis_server, telco_mcp_call_events_kept=10)
    async with webhook(a) as to_a, webhook(b) as to_b:
        for index in range(12):
            target, server = (to_a, a) if index % 2 == 0 else (to_b, b)
            await target.post(server.telco_runtime.webhooks.path, data=new_call(f"C{index}"))
        with anyio.fail_after(5):
            while len(await b.telco_runtime.events.recent(20)) < 10:
                await anyio.sleep(0.05)
        seen_by_a = await a.telco_runtime.events.recent(20)
        seen_by_b = await b.telco_runtime.events.recent(20)
        history = await a.telco_runtime.events.for_call("C3")
        gone = await b.telco_runtime.events.for_call("C1")
    newest_first = [f"C{i}" for i in range(11, 1, -1)]  # the 10 kept of 12, whichever replica received them
    assert [e.call_id for e in seen_by_a] == newest_first == [e.call_id for e in seen_by_b]
    assert [e.sequence for e in seen_by_b] == list(range(12, 2, -1))  # one numbering across replicas
    assert [e.call_id for e in history] == ["C3"] and isinstance(history[0], CallEvent) and gone == []


async def test_with_redis_down_the_call_still_gets_its_answer_and_the_lost_event_is_logged(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server)
    redis_server.stop()
    async with webhook(a) as to_a, Client(a) as client:
        answer = await to_a.post(a.telco_runtime.webhooks.path, data=new_call("DOWN1"))
        resource = (await client.read_resource(CALL_EVENTS_URI)).contents[0].text  # type: ignore[union-attr]
        calls = await client.call_tool("sipgate_list_calls", {})
    assert answer.status_code == 200 and "<Response" in answer.text  # sipgate's call is never held up
    assert resource.startswith("[unavailable]")  # said, not raised
    assert not calls.is_error and calls.structured_content["calls"]  # the running calls, without pushed info
    assert "call event newCall of call DOWN1 not recorded" in caplog.text
    assert redis_server.url not in caplog.text


async def test_an_event_delivered_twice_to_two_replicas_is_recorded_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server)
    b = replica(tmp_path / "b.jsonl", redis_server)
    hangup = {"event": "hangup", "callId": "TWICE1", "cause": "normalClearing"}
    async with webhook(a) as to_a, webhook(b) as to_b:
        answers = [await to_a.post(a.telco_runtime.webhooks.path, data=new_call("TWICE1"))]
        answers.append(await to_b.post(b.telco_runtime.webhooks.path, data=new_call("TWICE1")))  # a redelivery
        answers.append(await to_b.post(b.telco_runtime.webhooks.path, data=hangup))

        async def deliver(server: Any) -> None:  # ten deliveries of one event at once: one wins the SET NX
            await server.telco_runtime.events.publish(CallEvent.model_validate(
                {"event": "answer", "call_id": "TWICE1", "received_at": "2026-12-07T02:00:00Z"}))  # fmt: skip

        async with anyio.create_task_group() as group:
            for index in range(10):
                group.start_soon(deliver, a if index % 2 else b)
        kept = await a.telco_runtime.events.recent(20)
    assert [r.status_code for r in answers] == [200, 200, 200] and answers[0].text == answers[1].text
    assert sorted(e.event for e in kept) == ["answer", "hangup", "newCall"]
    assert sorted(e.sequence for e in kept) == [1, 2, 3], "a duplicate takes no number either"
    import redis

    ttl = redis.Redis.from_url(redis_server.url).ttl(EVENT_SEEN + "newCall:TWICE1")
    assert 0 < ttl <= SEEN_FOR, "the mark expires: Redis does not keep every call's keys for ever"


async def test_a_paused_redis_costs_sipgate_list_calls_its_pushed_info_not_its_answer(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis stopped mid-run (SIGSTOP: connections open, nothing answers): the call-event lookup is given a short
    deadline, then the calls come as sipgate lists them with a note saying why `pushed` is missing."""
    import signal

    a = replica(tmp_path / "a.jsonl", redis_server)
    assert redis_server.process is not None
    async with webhook(a) as to_a, Client(a) as client:
        call_id = (await client.call_tool("sipgate_list_calls", {})).structured_content["calls"][0]["call_id"]
        await to_a.post(a.telco_runtime.webhooks.path, data=new_call(call_id))
        before = (await client.call_tool("sipgate_list_calls", {})).structured_content
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            paused = await client.call_tool("sipgate_list_calls", {})
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        after = (await client.call_tool("sipgate_list_calls", {})).structured_content
    assert before["calls"][0]["pushed"]["users"] == ["Anna Schneider"] and "note" not in before
    data = paused.structured_content
    assert not paused.is_error and [c["call_id"] for c in data["calls"]] == [c["call_id"] for c in before["calls"]]
    assert all("pushed" not in c for c in data["calls"])
    # the deadline, not the Redis client's own 2 s socket timeout ("cannot be reached"), ended the wait
    assert "the shared state did not answer within 200 ms" in data["note"], data
    assert "Pushed call information" in paused.content[0].text  # type: ignore[union-attr]
    assert after["calls"][0]["pushed"]["users"] == ["Anna Schneider"] and "note" not in after


async def test_a_closed_session_leaves_no_subscriber_and_no_connection_behind_in_redis(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """The call-event relay subscribes while a session is open. Its read used to be abandoned on close and ran on
    beside `close()` in another thread: it reconnected and subscribed again on a connection nobody closed."""
    r: Any = redis_server.client()
    r.client_setname("the-test")
    server = replica(tmp_path / "a.jsonl", redis_server)
    for _ in range(5):
        async with Client(server) as c:
            await c.list_tools()
            await anyio.sleep(0.3)  # the relay's read is in flight when the session closes
    with anyio.fail_after(5):
        while subscribed := [c for c in r.client_list() if c["name"] == "telco-mcp" and c.get("sub") != "0"]:
            await anyio.sleep(0.1)
    assert not subscribed
    gc.collect()  # a connection nobody closed would be closed here, as a ResourceWarning (an error in this suite)
    named = [c for c in r.client_list() if c["name"] == "telco-mcp"]
    assert len(named) <= 1, named  # the pool's one connection (each use here is sequential), no leaked reader's
