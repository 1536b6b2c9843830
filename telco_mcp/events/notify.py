"""`notifications/resources/updated` for 2025-era sessions that `resources/subscribe`d.

2026-07-28 clients hear of changes on `subscriptions/listen` streams (the SDK's subscription bus,
published by the receiver). Earlier sessions subscribe per URI instead: `MCPServer` has no handler
for that, so these are added to its low-level server (which then advertises `resources.subscribe`).
Only resources that change can be subscribed to; anything else is -32602.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

logger = logging.getLogger(__name__)


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
                await connection.send_resource_updated(uri)
            except Exception as exc:  # a closed session must not stop the others, nor the receiver
                logger.debug("resource-updated notification not delivered (%s); dropping the subscription", exc)
                self._sessions[uri].discard(connection)
