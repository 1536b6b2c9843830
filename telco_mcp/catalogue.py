"""The operation catalogue: every tool the server can offer, declared once, as data.

Each provider declares its operations in `providers/<name>/operations.py` (an `Operation` each, see
`operation.py`). Registration, MCP annotations, `tool_manifests/`, the tool table in docs/tools.md, the safety
layer and the tests all read `CATALOGUE`.
"""

from __future__ import annotations

from telco_mcp.operation import Operation
from telco_mcp.providers.signalwire.compatibility import OPERATIONS as SIGNALWIRE_COMPATIBILITY
from telco_mcp.providers.signalwire.operations import OPERATIONS as SIGNALWIRE
from telco_mcp.providers.sipgate.operations import OPERATIONS as SIPGATE
from telco_mcp.providers.sipgate.operations_round2 import OPERATIONS as SIPGATE_ROUND2
from telco_mcp.providers.sipgate.ownership import with_ownership


def _collect(*groups: tuple[Operation, ...]) -> tuple[Operation, ...]:
    ops = tuple(op for group in groups for op in group)
    names = [op.name for op in ops]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate tool names: {sorted(duplicates)}")
    return ops


CATALOGUE: tuple[Operation, ...] = _collect(
    SIGNALWIRE, SIGNALWIRE_COMPATIBILITY, with_ownership(SIPGATE + SIPGATE_ROUND2)
)
BY_NAME: dict[str, Operation] = {op.name: op for op in CATALOGUE}
