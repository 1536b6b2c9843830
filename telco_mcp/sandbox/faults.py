"""Fault injection: make the simulated upstream slow, failing, or broken on purpose."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict

FaultKind = Literal["status", "latency", "drop", "malformed_json", "unexpected_shape"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "latency", "drop", "malformed_json", "unexpected_shape")


class SandboxConnectionDropped(Exception):
    """Raised by the app after a partial response, to simulate a connection lost mid-body.

    Over a real server (uvicorn) the client sees an incomplete response (``httpx2.RemoteProtocolError``);
    an in-process transport such as ``httpx2.ASGITransport`` sees this exception.
    """


@dataclass
class Fault:
    """One injected fault.

    It applies to provider requests whose method equals ``method`` (any if ``None``) and whose path
    starts with ``path_prefix`` (any if ``None``), for the next ``count`` matching requests
    (``None``: until the faults are cleared).

    * ``status``: answer ``status`` (with ``Retry-After: retry_after`` and JSON ``body`` if given)
      instead of handling the request. State is unchanged.
    * ``latency``: sleep ``latency_ms`` and then handle the request normally.
    * ``drop``: handle the request (state changes), then break the connection mid-body.
    * ``malformed_json``: handle the request, then answer 200 with a body that is not JSON.
    * ``unexpected_shape``: handle the request, then answer 200 with ``{"unexpected": true}``.
    """

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    kind: FaultKind
    method: str | None = None
    path_prefix: str | None = None
    count: int | None = 1
    status: int = 503
    retry_after: int | None = None
    body: Any = None
    latency_ms: int = 100

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1 or None")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FaultPlan:
    """What the gateway must do for one request."""

    latency_ms: int = 0
    fault: Fault | None = None


class FaultSet:
    """The active faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        # Keep a private copy: its ``count`` is decremented as requests consume it.
        active = dataclasses.replace(fault)
        self._faults.append(active)
        return active

    def clear(self) -> None:
        self._faults.clear()

    def active(self) -> list[Fault]:
        return [dataclasses.replace(f) for f in self._faults]

    def take(self, method: str, path: str) -> FaultPlan:
        """Consume the faults that apply to this request.

        Every matching ``latency`` fault adds its delay; the first matching fault of any other kind
        decides the outcome.
        """
        plan = FaultPlan()
        for fault in list(self._faults):
            if not fault.matches(method, path):
                continue
            if fault.kind == "latency":
                plan.latency_ms += fault.latency_ms
            elif plan.fault is None:
                plan.fault = fault
            else:
                continue
            self._consume(fault)
        return plan

    def _consume(self, fault: Fault) -> None:
        if fault.count is None:
            return
        fault.count -= 1
        if fault.count <= 0:
            self._faults.remove(fault)
