"""Live call events from sipgate's push API (sipgate.io webhooks).

- `model`: one event (`CallEvent`) read from sipgate's form-encoded webhook, and the filter a waiter uses.
- `store`: the `EventStore` protocol (publish, recent, subscribe) and the bounded in-memory store.
  A shared store (Redis, for several replicas) implements the same protocol.
- `receiver`: the ASGI app behind `/webhooks/sipgate/<secret>`: secret path, source allowlist,
  X-Forwarded-For from configured proxies only, size limits, sipgate's signature (`signature`); it
  answers `newCall` at once (asking sipgate for the answer and hangup follow-ups) and records the
  event afterwards, once however often it is delivered.
- `signature`: `X-Sipgate-Signature` checked against sipgate's vendored key (`sipgate_push.pub`), the
  sandbox's, or `TELCO_MCP_WEBHOOK_PUBLIC_KEY`'s (docs/webhooks.md).
"""

from telco_mcp.events.model import EVENT_TYPES, CallEvent, EventFilter, event_from_form
from telco_mcp.events.store import EventStore, MemoryEventStore

__all__ = ["EVENT_TYPES", "CallEvent", "EventFilter", "EventStore", "MemoryEventStore", "event_from_form"]
