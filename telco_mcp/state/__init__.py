"""Shared state: what must be one truth across replicas, behind three small Protocols.

    ApprovalStore   pending approvals and grants, decided once and redeemed once (`approval/store.py`)
    NonceStore      the nonces of used confirmation tokens and answered elicitations: each works once
    CapCounter      the hourly caps' sliding windows: a check-and-count that is exact under concurrency

Two backends, chosen here and nowhere else (`open_state`):

    memory.py   in this process (the default): one server, state lost on restart
    redis.py    `TELCO_MCP_STATE_URL=redis://…`: every replica shares one Redis, and every
                redemption and every count is one atomic Lua script, so two replicas can never
                both redeem one approval and a cap of 5 sends exactly 5

Keys are configuration, not state (`keys.py`): every replica derives the same token and
request-state keys from `TELCO_MCP_CONFIRM_SECRET`; nothing secret is ever written to Redis.
If Redis cannot be reached, every operation raises `StateUnavailable`: writes are refused before
anything is sent (fail closed), reads never touch this state and keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the stores import this package's keys; their types are only annotations here
    from telco_mcp.approval.store import ApprovalStore
    from telco_mcp.settings import Settings


class NonceStore(Protocol):
    def mark_epoch(self) -> None:
        """Note when this store began remembering used nonces, unless it already knows (before issuing)."""
        ...

    def use_once(self, nonce: str, expiry: float, issued: float | None = None) -> bool:
        """Record `nonce` as used until `expiry` (Unix seconds); False if it already was.

        `issued`: when the confirmation was handed out. A shared store that lost its data since (a Redis
        restarted without persistence) cannot know which nonces were used, so it raises
        `ConfirmationError` for anything issued before it was reset, rather than accept a replay.
        """
        ...


class CapCounter(Protocol):
    """Sliding one-hour windows, one per budget (`sms`, `call`)."""

    def count(self, kind: str) -> int:
        """Writes counted in the last hour."""
        ...

    def take(self, kind: str, cap: int) -> bool:
        """Count one write if fewer than `cap` were counted in the last hour; False (nothing counted) if not."""
        ...


@dataclass(frozen=True)
class SharedState:
    backend: str  # "memory" or "redis", for `telco-mcp doctor` and the server's status resource
    approvals: ApprovalStore
    nonces: NonceStore
    caps: CapCounter


def open_state(settings: Settings) -> SharedState:
    """The one place that picks the backend: Redis when `TELCO_MCP_STATE_URL` is set, else memory."""
    if settings.telco_mcp_state_url:
        from telco_mcp.state.redis import redis_state

        return redis_state(settings.telco_mcp_state_url.get_secret_value())
    from telco_mcp.state.memory import memory_state

    return memory_state()
