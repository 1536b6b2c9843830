"""Where call events go: the `EventStore` protocol and the bounded in-memory store.

The receiver publishes; the resource reads `recent`; `sipgate_wait_for_call_event` and the
resource-updated notifier `subscribe`. A store shared by several replicas (Redis, with the team
deployment's `TELCO_MCP_STATE_URL`) implements the same four methods, so that an event received by
one replica reaches a waiter on another; nothing else changes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from telco_mcp.events.model import CallEvent, delivery_key

logger = logging.getLogger(__name__)

SUBSCRIBER_BUFFER = 256
SEEN_FOR = 86400  # seconds a delivered event is remembered as such (a call's pushes come within it)


class EventStore(Protocol):
    async def publish(self, event: CallEvent) -> CallEvent | None:
        """Record `event` and hand it to every subscriber; returns it with its `sequence` set. An event
        delivered again (the same `delivery_key` within `SEEN_FOR` seconds) is not recorded: None."""
        ...

    async def recent(self, limit: int) -> list[CallEvent]:
        """The newest `limit` events, newest first."""
        ...

    async def for_call(self, call_id: str) -> list[CallEvent]:
        """The kept events of one call (by `callId` or `origCallId`), oldest first."""
        ...

    def subscribe(self) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[CallEvent]]:
        """`async with store.subscribe() as events:` every event published from now on, in order."""
        ...


class MemoryEventStore:
    """The newest `keep` events of this process. A subscriber that falls `SUBSCRIBER_BUFFER` events
    behind loses the overflow (logged), never the publisher's time: the receiver must not block."""

    def __init__(self, keep: int = 500, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._events: deque[CallEvent] = deque(maxlen=keep)
        self._sequence = 0
        self._seen: OrderedDict[str, float] = OrderedDict()  # delivery key -> when it expires, oldest first
        self._seen_max = 4 * keep  # bounded however many calls come within SEEN_FOR
        self._clock = clock
        self._subscribers: set[MemoryObjectSendStream[CallEvent]] = set()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open now (waiters and notifiers)."""
        return len(self._subscribers)

    def _first_delivery(self, key: str | None) -> bool:
        if key is None:
            return True
        now = self._clock()
        while self._seen and (next(iter(self._seen.values())) <= now or len(self._seen) >= self._seen_max):
            self._seen.popitem(last=False)
        if self._seen.get(key, 0.0) > now:
            return False
        self._seen.pop(key, None)  # an expired mark goes to the end, in expiry order
        self._seen[key] = now + SEEN_FOR
        return True

    async def publish(self, event: CallEvent) -> CallEvent | None:
        if not self._first_delivery(delivery_key(event)):
            return None
        self._sequence += 1
        event = event.model_copy(update={"sequence": self._sequence})
        self._events.append(event)
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                logger.warning("a call-event subscriber is %d events behind; event %d dropped for it",
                               SUBSCRIBER_BUFFER, event.sequence)  # fmt: skip
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.discard(send)
        return event

    async def recent(self, limit: int) -> list[CallEvent]:
        return list(reversed(self._events))[:limit]

    async def for_call(self, call_id: str) -> list[CallEvent]:
        return [e for e in self._events if call_id in (e.call_id, e.orig_call_id)]

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[MemoryObjectReceiveStream[CallEvent]]:
        send, receive = anyio.create_memory_object_stream[CallEvent](SUBSCRIBER_BUFFER)
        self._subscribers.add(send)
        try:
            with receive:
                yield receive
        finally:
            self._subscribers.discard(send)
            send.close()
