"""Shared state: what must be one truth across replicas, behind eight small Protocols.

    ApprovalStore   pending approvals and grants, opened once per intent, decided once and redeemed once
                    (`approval/store.py`)
    PageState       the approval page's launch codes (single use), sessions and sealed secrets
                    (`approval/sessions.py`): a person's next request may land on another replica
    NonceStore      the nonces of used confirmation tokens and answered elicitations: each works once
                    (`safety/confirm.py`)
    CapCounter      the hourly caps' sliding windows: a check-and-count that is exact under concurrency
                    (`safety/guardrails.py`)
    EventStore      the call events sipgate pushed, and their subscribers (`events/store.py`): an event
                    one replica received reaches a waiter on any other
    PinAttempts     the approver PIN's attempts per source, a sliding window (`approval/pin.py`): 5 wrong
                    PINs lock a source on every replica, not 5 per replica
    ExportStore     files a tool made for its caller (a history export), behind a resource link for 10 minutes
                    (`exports.py`): readable on any replica, by that caller only
    EnabledToolsets the toolsets each OAuth caller enabled (`runtime.py`; `telco_enable_toolset`): listed and
                    callable on whichever replica the person's next request reaches, for 24 h after they
                    last enabled one

Each Protocol, and its in-process implementation, lives next to the code that uses it.

Two backends, chosen here and nowhere else (`open_state`):

    memory.py   in this process (the default): one server, state lost on restart
    redis.py    `TELCO_MCP_STATE_URL=redis://…`: every replica shares one Redis, and every
                redemption and every count is one atomic Lua script, so two replicas can never
                both redeem one approval and a cap of 5 sends exactly 5

Keys are configuration, not state (`safety/keys.py`): every replica derives the same token and
request-state keys (and the key that seals a password typed on the approval page) from
`TELCO_MCP_CONFIRM_SECRET`; no key, PIN, session cookie or plain password is ever written to Redis.
In Redis, approvals, grants, page sessions and launch codes carry a MAC computed by the replicas
(`integrity.py`): a record edited in Redis, or written before that check existed, is refused.
If Redis cannot be reached, every operation raises `StateUnavailable`: writes are refused before
anything is sent (fail closed), reads never touch this state and keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from telco_mcp.approval.passkeys import PasskeyStore
from telco_mcp.approval.pin import PinAttempts
from telco_mcp.approval.sessions import PageState
from telco_mcp.approval.store import ApprovalStore
from telco_mcp.events.store import EventStore
from telco_mcp.exports import ExportStore
from telco_mcp.runtime import EnabledToolsets
from telco_mcp.safety.confirm import NonceStore
from telco_mcp.safety.guardrails import CapCounter
from telco_mcp.settings import Settings
from telco_mcp.state.integrity import Seal


@dataclass(frozen=True)
class SharedState:
    backend: str  # "memory" or "redis", for `telco-mcp doctor` and the server's status resource
    approvals: ApprovalStore
    page: PageState
    nonces: NonceStore
    caps: CapCounter
    events: EventStore
    pins: PinAttempts
    toolsets: EnabledToolsets
    exports: ExportStore  # files made for one caller, kept 10 minutes (exports.py)
    # Redis only: the MACs on shared records, and the count of records refused (state/integrity.py)
    seal: Seal | None = None
    # the approvers' passkeys when replicas share them (Redis, under MACs); None: the state directory's file
    passkeys: PasskeyStore | None = None
    ping: Callable[[], None] = field(default=lambda: None)  # answers, or raises StateUnavailable (readiness)


def open_state(settings: Settings) -> SharedState:
    """The one place that picks the backend: Redis when `TELCO_MCP_STATE_URL` is set, else memory."""
    if settings.telco_mcp_state_url:
        from telco_mcp.state.redis import redis_state

        return redis_state(
            settings.telco_mcp_state_url.get_secret_value(),
            seal=Seal.from_setting(settings.telco_mcp_confirm_secret),
            events_kept=settings.telco_mcp_call_events_kept,
        )
    from telco_mcp.state.memory import memory_state

    return memory_state(events_kept=settings.telco_mcp_call_events_kept)
