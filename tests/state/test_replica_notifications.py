"""Resource-updated notifications across replicas: a session subscribed to the call events resource on
replica B hears of a webhook replica A received (both share one real `redis-server`), in both protocol
eras, and again after Redis restarts."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from telco_mcp.resources import CALL_EVENTS_URI

from .conftest import RedisServer
from .test_redis_events import new_call, replica, webhook

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker


async def test_a_subscriber_on_one_replica_hears_of_an_event_another_received(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server)
    b = replica(tmp_path / "b.jsonl", redis_server)
    async with (
        Client(a),  # A is serving (its lifespan is open), as a replica behind a load balancer would be
        Client(b) as on_b,
        on_b.listen(resource_subscriptions=[CALL_EVENTS_URI]) as subscription,
        webhook(a) as to_a,
    ):
        answer = await to_a.post(a.telco_runtime.webhooks.path, data=new_call("NOTE1"))
        with anyio.fail_after(10):
            heard = await subscription.__anext__()
    assert answer.status_code == 200
    assert heard == ResourceUpdated(uri=CALL_EVENTS_URI)


async def test_a_2025_era_subscriber_on_another_replica_is_notified_also_after_redis_restarts(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a = replica(tmp_path / "a.jsonl", redis_server)
    b = replica(tmp_path / "b.jsonl", redis_server)
    heard: list[str] = []

    async def handler(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    async def until_heard(count: int) -> None:
        with anyio.fail_after(15):
            while len(heard) < count:
                await anyio.sleep(0.05)

    async with Client(a), Client(b, mode="legacy", message_handler=handler) as on_b, webhook(a) as to_a:
        warnings.simplefilter("ignore", MCPDeprecationWarning)  # resources/subscribe is the 2025-era way
        await on_b.subscribe_resource(CALL_EVENTS_URI)
        await to_a.post(a.telco_runtime.webhooks.path, data=new_call("NOTE2"))
        await until_heard(1)

        redis_server.stop()
        lost = await to_a.post(a.telco_runtime.webhooks.path, data=new_call("NOTE3"))
        redis_server.start()
        await anyio.sleep(3)  # the relays follow Redis again (they retry every 2 s)
        await to_a.post(a.telco_runtime.webhooks.path, data=new_call("NOTE4"))
        await until_heard(2)
    assert lost.status_code == 200, "sipgate still gets its answer while the event cannot be kept"
    assert heard == [CALL_EVENTS_URI, CALL_EVENTS_URI], "none for the event Redis could not keep"
