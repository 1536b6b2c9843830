"""Process-wide state shared by every tool call, and the provider clients the lifespan opens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import anyio
from mcp.server.auth.provider import TokenVerifier

from telco_mcp.approval.service import ApprovalService
from telco_mcp.errors import StateUnavailable
from telco_mcp.events.store import EventStore, MemoryEventStore
from telco_mcp.exports import ExportStore, MemoryExports
from telco_mcp.operation import Operation
from telco_mcp.safety.audit import AuditLog
from telco_mcp.safety.confirm import ConfirmationTokens
from telco_mcp.safety.guardrails import Guardrails
from telco_mcp.settings import Settings
from telco_mcp.wire import Provider

if TYPE_CHECKING:
    from telco_mcp.events.receiver import WebhookReceiver
    from telco_mcp.sandbox import Sandbox
    from telco_mcp.upstream import CallContext, ProviderClient

logger = logging.getLogger(__name__)

ENABLED_FOR = 24 * 3600  # seconds a person's enabled toolsets are kept after they last enabled one


class EnabledToolsets(Protocol):
    """The tools each OAuth caller enabled (by `Caller.key`), kept `ttl` seconds after the last `enable`."""

    def enabled(self, caller_key: str) -> frozenset[str]:
        """The names of the tools `caller_key` enabled (empty once expired). Raises `StateUnavailable`."""
        ...

    def enable(self, caller_key: str, tools: Iterable[str]) -> None:
        """Add `tools` to the caller's set and keep the whole set `ttl` seconds from now."""
        ...


class MemoryEnabledToolsets:
    """This process's per-caller choices (one server)."""

    def __init__(self, ttl: float = ENABLED_FOR, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._sets: dict[str, tuple[frozenset[str], float]] = {}
        self._lock = threading.Lock()

    def enabled(self, caller_key: str) -> frozenset[str]:
        with self._lock:
            names, until = self._sets.get(caller_key, (frozenset(), 0.0))
            return names if until > self._clock() else frozenset()

    def enable(self, caller_key: str, tools: Iterable[str]) -> None:
        with self._lock:
            now = self._clock()
            self._sets = {k: v for k, v in self._sets.items() if v[1] > now}  # forget the expired
            names, _ = self._sets.get(caller_key, (frozenset(), 0.0))
            self._sets[caller_key] = (names | frozenset(tools), now + self.ttl)


@dataclass
class Runtime:
    """Built once by `build_server`: settings, the exposed operations and the safety machinery."""

    settings: Settings
    exposed: list[Operation]
    tokens: ConfirmationTokens
    guardrails: Guardrails
    audit: AuditLog
    approvals: ApprovalService
    sandbox: Sandbox | None = None
    providers: tuple[Provider, ...] = field(default=())

    available: list[Operation] = field(default_factory=list)  # what dynamic toolsets may enable (else: exposed)
    token_verifier: TokenVerifier | None = None  # OAuth access tokens, on the HTTP transports (oauth.py)
    # Call events pushed by sipgate (see `telco_mcp.events`); `webhooks` receives them.
    events: EventStore = field(default_factory=MemoryEventStore)
    webhooks: WebhookReceiver | None = None
    webhook_url: str | None = None  # the receiver's full URL as sipgate reaches it (TELCO_MCP_PUBLIC_URL), if known
    exports: ExportStore = field(default_factory=MemoryExports)  # files made for one caller (exports.py)

    # Operating the HTTP service (`ops/`): SIGTERM sets `draining` (readiness 503, no new sessions; calls in flight
    # go on); `state_ping` answers or raises `StateUnavailable` (the readiness probe's check).
    draining: bool = False
    state_ping: Callable[[], None] = field(default=lambda: None)
    # Called when a tools/list is answered: the derived sipgate ownership is looked up once the server is up.
    tools_listed: Callable[[], None] = field(default=lambda: None)
    # The shared provider clients while the server's lifespan holds them open (server.py): what a resource, which
    # gets no request context, calls through (the call events resource's sipgate ownership check).
    open_clients: dict[Provider, ProviderClient] = field(default_factory=dict)

    def call_context(self, client: ProviderClient, owner: Callable[[], str] | None = None) -> CallContext:
        """What one tool call's operation hooks may use; `owner()` is the caller's binding key (exports.py)."""
        from telco_mcp.upstream import CallContext

        hooks = CallContext(client, self.events, self.webhook_url, self.settings.telco_mcp_fax_dir)
        hooks.exports, hooks.owner = self.exports, owner
        hooks.sipgate_ownership = self.settings.telco_mcp_sipgate_ownership
        return hooks

    # Dynamic toolsets on HTTP with OAuth: what each caller (`Caller.key`) enabled, on top of `exposed`, in the
    # state backend (toolsets.py): this process, or Redis shared by every replica.
    toolsets: EnabledToolsets = field(default_factory=MemoryEnabledToolsets)

    def enabled_for(self, caller_key: str | None) -> frozenset[str]:
        """The tools this caller enabled (dynamic toolsets over HTTP with OAuth; nothing on stdio or without
        dynamic toolsets). Raises `StateUnavailable` when the shared state cannot be read."""
        if caller_key is None or not self.settings.telco_mcp_dynamic_toolsets:
            return frozenset()
        try:
            return self.toolsets.enabled(caller_key)
        except StateUnavailable:
            raise StateUnavailable(
                "the shared state (TELCO_MCP_STATE_URL) that keeps the toolsets you enabled for every replica "
                "cannot be reached, so this tool, which only an enabled toolset offers, is refused for now. Nothing "
                "was sent; the default tools keep working"
            ) from None

    async def read_enabled(self, caller_key: str | None, *, or_default: bool = False) -> frozenset[str]:
        """`enabled_for` (or `enabled_or_default`) off the event loop: a slow shared state stalls this request,
        not every session of the server. Nothing to read without a caller or dynamic toolsets."""
        if caller_key is None or not self.settings.telco_mcp_dynamic_toolsets:
            return frozenset()
        return await anyio.to_thread.run_sync(self.enabled_or_default if or_default else self.enabled_for, caller_key)

    def enabled_or_default(self, caller_key: str | None) -> frozenset[str]:
        """`enabled_for`, or nothing (the default set) when the shared state cannot be read, said in the log."""
        try:
            return self.enabled_for(caller_key)
        except StateUnavailable:
            logger.warning(
                "the shared state (TELCO_MCP_STATE_URL) cannot be reached: listing the default tools, without the "
                "toolsets the caller enabled"
            )
            return frozenset()

    def is_exposed(self, op: Operation, caller_key: str | None = None, enabled: frozenset[str] | None = None) -> bool:
        """Listed and callable: for everyone, or (dynamic toolsets over HTTP) for this caller.

        A tool the caller enabled counts only if this server may offer it at all (`available`: providers,
        scopes, read-only mode), so what the shared state holds never widens anything. `enabled` is what
        `enabled_for` answered for this request; without it the state is read only for a tool that is not
        exposed to everyone (and `StateUnavailable` raised when it cannot be).
        """
        if op in self.exposed:
            return True
        if caller_key is None or op not in self.available:
            return False
        return op.name in (self.enabled_for(caller_key) if enabled is None else enabled)


@dataclass
class AppState:
    """What the server lifespan yields: one shared client per configured provider (one set per server)."""

    clients: dict[Provider, ProviderClient]
