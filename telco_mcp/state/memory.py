"""The in-process backend (the default): one server's approvals, page sessions, used nonces, hourly
windows, call events, PIN attempts and per-caller toolsets.

Each lives next to the code that uses it; this module only puts them together.
"""

from __future__ import annotations

from telco_mcp.approval.pin import MemoryPinAttempts
from telco_mcp.approval.sessions import MemoryPageState
from telco_mcp.approval.store import MemoryApprovalStore
from telco_mcp.events.store import MemoryEventStore
from telco_mcp.exports import MemoryExports
from telco_mcp.runtime import MemoryEnabledToolsets
from telco_mcp.safety.confirm import MemoryNonces
from telco_mcp.safety.guardrails import MemoryCaps
from telco_mcp.state import SharedState


def memory_state(*, events_kept: int = 500) -> SharedState:
    return SharedState(
        backend="memory",
        approvals=MemoryApprovalStore(),
        page=MemoryPageState(),
        nonces=MemoryNonces(),
        caps=MemoryCaps(),
        events=MemoryEventStore(keep=events_kept),
        pins=MemoryPinAttempts(),
        toolsets=MemoryEnabledToolsets(),
        exports=MemoryExports(),
    )
