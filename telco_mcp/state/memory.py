"""The in-process backend (the default): one server's approvals, used nonces and hourly windows."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from telco_mcp.approval.store import MemoryApprovalStore
from telco_mcp.state import SharedState

_HOUR = 3600.0


@dataclass
class MemoryNonces:
    clock: Callable[[], float] = time.time
    _used: dict[str, float] = field(default_factory=dict)  # nonce -> until
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mark_epoch(self) -> None:
        """Nothing to note: this memory begins and ends with the process."""

    def use_once(self, nonce: str, expiry: float, issued: float | None = None) -> bool:
        now = self.clock()
        with self._lock:
            self._used = {n: e for n, e in self._used.items() if e >= now}
            if nonce in self._used:
                return False
            self._used[nonce] = expiry
            return True


@dataclass
class MemoryCaps:
    clock: Callable[[], float] = time.monotonic
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _window(self, kind: str) -> deque[float]:
        sent = self._sent.setdefault(kind, deque())
        horizon = self.clock() - _HOUR
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self._window(kind))

    def take(self, kind: str, cap: int) -> bool:
        with self._lock:
            window = self._window(kind)
            if len(window) >= cap:
                return False
            window.append(self.clock())
            return True


def memory_state() -> SharedState:
    return SharedState(backend="memory", approvals=MemoryApprovalStore(), nonces=MemoryNonces(), caps=MemoryCaps())
