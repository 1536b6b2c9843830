"""`notifications/resources/updated` for 2025-era sessions that `resources/subscribe`d, and the relay
that sends every session its notifications.

2026-07-28 clients hear of changes on `subscriptions/listen` streams (the SDK's subscription bus,
published by `EventRelay`). Earlier sessions subscribe per URI instead: `MCPServer` has no handler
for that, so these are added to its low-level server (which then advertises `resources.subscribe`).
Only resources that change can be subscribed to; anything else is -32602.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from telco_mcp.errors import StateUnavailable

if TYPE_CHECKING:
    from telco_mcp.events.store import EventStore

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 1.0  # seconds one session may take to accept a resource-updated notification


class LegacySubscriptions:
    """Which sessions subscribed to which changing resource; notified after each change."""

    def __init__(self, uris: frozenset[str]) -> None:
        self.uris = uris
        self._sessions: dict[str, weakref.WeakSet[Any]] = {uri: weakref.WeakSet() for uri in uris}

    def install(self, server: MCPServer) -> None:
        lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)

    def subscribed(self, uri: str) -> int:
        return len(self._sessions.get(uri, ()))

    def _known(self, uri: str) -> str:
        if uri not in self.uris:
            raise MCPError(code=INVALID_PARAMS, message=f"{uri} does not change; subscribable: {', '.join(self.uris)}")
        return uri

    @staticmethod
    def _connection(ctx: Any) -> Any:
        """The client's connection: `ctx.session` is a per-request proxy; the connection outlives it and
        is held weakly here, so a closed one is forgotten without a word."""
        return ctx.session._connection  # pyright: ignore[reportPrivateUsage]

    async def _subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        self._sessions[self._known(str(params.uri))].add(self._connection(ctx))
        return EmptyResult()

    async def _unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        self._sessions[self._known(str(params.uri))].discard(self._connection(ctx))
        return EmptyResult()

    async def updated(self, uri: str) -> None:
        for connection in list(self._sessions.get(uri, ())):
            try:
                with anyio.fail_after(SEND_TIMEOUT):  # a client that stops reading must not hold up the others
                    await connection.send_resource_updated(uri)
            except Exception as exc:  # a closed or stuck session must not stop the others, nor the relay
                logger.debug("resource-updated notification not delivered (%r); dropping the subscription", exc)
                self._sessions[uri].discard(connection)


class EventRelay:
    """Tells this server's subscribed sessions that the events resource changed, whichever replica received
    the event: it follows the event store (in this process, or Redis pub/sub shared by every replica), so a
    session subscribed on one replica hears of a webhook another replica received.

    It runs for as long as the server's shared state is open (`start` in the lifespan, `stop` at its end).
    While the shared state is unreachable it says so once and tries again every `retry` seconds.
    """

    def __init__(self, events: EventStore, notify: Callable[[], Awaitable[None]], *, retry: float = 2.0) -> None:
        self.events = events
        self.notify = notify
        self.retry = retry
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow the store from now on; returns once subscribed (or the first attempt failed)."""
        following = anyio.Event()
        # A plain asyncio task, not a task group: under SSE the lifespan that starts it and the one that
        # stops it may run in different tasks, and a task group must be left by the task that entered it.
        self._task = asyncio.get_running_loop().create_task(self._run(following), name="telco-mcp-event-relay")
        await following.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Waits without awaiting the task itself: its CancelledError stays inside it, while a cancellation
            # of this caller (an SSE client leaving mid-shutdown) still propagates.
            await asyncio.wait({task})

    async def _run(self, following: anyio.Event) -> None:
        unreachable = False
        while True:
            try:
                async with self.events.subscribe() as stream:
                    following.set()
                    if unreachable:
                        logger.info("call events: the shared state is back; subscribers are notified again")
                        unreachable = False
                    async for _ in stream:
                        try:
                            await self.notify()
                        except Exception:  # one failed notification must not end the relay
                            logger.exception("resource-updated notification failed")
            except Exception as exc:  # StateUnavailable, or the connection dropped while following
                following.set()
                if not unreachable:
                    reason = exc if isinstance(exc, StateUnavailable) else type(exc).__name__
                    logger.warning("call events: not following the shared state (%s); retrying", reason)
                    unreachable = True
            await anyio.sleep(self.retry)
