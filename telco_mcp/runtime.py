"""Process-wide state shared by every tool call, and the provider clients the lifespan opens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    # Call events pushed by sipgate (see `telco_mcp.events`); `webhooks` receives them.
    events: EventStore = field(default_factory=MemoryEventStore)
    webhooks: WebhookReceiver | None = None
    webhook_url: str | None = None  # the receiver's full URL as sipgate reaches it (TELCO_MCP_PUBLIC_URL), if known

    def call_context(self, client: ProviderClient) -> CallContext:
        """What one tool call's operation hooks may use."""
        from telco_mcp.http import CallContext

        return CallContext(client, self.events, self.webhook_url)

    def is_exposed(self, op: Operation) -> bool:
        return op in self.exposed


@dataclass
class AppState:
    """What the server lifespan yields: one shared client per configured provider (one set per server)."""

    clients: dict[Provider, ProviderClient]
