"""Files a tool made for its caller (a history export as CSV), kept briefly behind a resource link.

`sipgate_export_history` stores the CSV sipgate made and answers with the link
``telco-mcp://exports/{export_id}``; reading it (`resources/read`) gives the CSV back, on any replica,
to the caller who made it only: an export is bound to the same key approvals are bound to (the OAuth
caller, else the MCP session; `write.call.binding_key`), and a read by anyone else finds nothing. Each
export is kept `EXPORT_TTL` seconds and is at most `MAX_EXPORT_BYTES` long.

`ExportStore` is one of the shared-state Protocols (`telco_mcp.state`): this process (`MemoryExports`)
or Redis (`state/redis.py`), chosen by `open_state`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

EXPORT_TTL = 600.0
"""How long an export is kept: ten minutes."""

MAX_EXPORT_BYTES = 5 * 1024 * 1024
"""The largest export kept: 5 MiB (a larger one is refused with how to narrow it)."""

EXPORT_TEMPLATE = "telco-mcp://exports/{export_id}"
KEPT_IN_MEMORY = 64  # exports one process keeps at most (the oldest go first)


class ExportStore(Protocol):
    def put(self, export_id: str, owner: str, data: bytes, ttl: float) -> None:
        """Keep `data` for `ttl` seconds for `owner` (a caller key) under the new, random `export_id`."""
        ...

    def get(self, export_id: str, owner: str) -> bytes | None:
        """The export, if `owner` made it and it has not expired; else None (never another caller's)."""
        ...


@dataclass
class MemoryExports:
    clock: Callable[[], float] = time.monotonic
    _items: dict[tuple[str, str], tuple[bytes, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, export_id: str, owner: str, data: bytes, ttl: float) -> None:
        with self._lock:
            now = self.clock()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            while len(self._items) >= KEPT_IN_MEMORY:
                del self._items[next(iter(self._items))]
            self._items[(owner, export_id)] = (data, now + ttl)

    def get(self, export_id: str, owner: str) -> bytes | None:
        with self._lock:
            item = self._items.get((owner, export_id))
            return item[0] if item is not None and item[1] > self.clock() else None
