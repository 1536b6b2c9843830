"""Process-wide state shared by every tool call, and the provider clients the lifespan opens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcp.server.auth.provider import TokenVerifier

from telco_mcp.approval.service import ApprovalService
from telco_mcp.events.store import EventStore, MemoryEventStore
from telco_mcp.operation import Operation
from telco_mcp.safety.audit import AuditLog
from telco_mcp.safety.confirm import ConfirmationTokens
from telco_mcp.safety.guardrails import Guardrails
from telco_mcp.settings import Settings
from telco_mcp.wire import Provider

if TYPE_CHECKING:
    from telco_mcp.events.receiver import WebhookReceiver
    from telco_mcp.http import CallContext, ProviderClient
    from telco_mcp.sandbox import Sandbox


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

    def call_context(self, client: ProviderClient) -> CallContext:
        """What one tool call's operation hooks may use."""
        from telco_mcp.http import CallContext

        return CallContext(client, self.events, self.webhook_url)

    # Dynamic toolsets on HTTP with OAuth: what each caller (`Caller.key`) enabled, on top of `exposed`.
    enabled_by: dict[str, set[str]] = field(default_factory=dict)

    def is_exposed(self, op: Operation, caller_key: str | None = None) -> bool:
        """Listed and callable: for everyone, or (dynamic toolsets over HTTP) for this caller."""
        return op in self.exposed or (caller_key is not None and op.name in self.enabled_by.get(caller_key, ()))


@dataclass
class AppState:
    """What the server lifespan yields: one shared client per configured provider (one set per server)."""

    clients: dict[Provider, ProviderClient]
