"""The sandbox's state and controls: what the provider simulators, the gateway and the admin API share.

The parts of the sandbox build on `SandboxCore`; `app.Sandbox` adds the Starlette app on top, so
every import inside the package points downward.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from telco_mcp.sandbox.faults import Fault, FaultSet
from telco_mcp.sandbox.seed import build_state, describe
from telco_mcp.sandbox.state import JSONDict, SandboxState

logger = logging.getLogger(__name__)

Provider = Literal["signalwire", "sipgate", "sipgate-oauth"]


@dataclass
class RecordedRequest:
    """One provider request as the sandbox saw it. The ``Authorization`` value is never stored."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    auth_scheme: str | None
    json: Any
    status: int
    provider: Provider
    dropped: bool = False
    fault: str | None = None
    handled_status: int | None = None  # what the handler answered, when a fault replaced it
    timestamp: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["query"] = [list(pair) for pair in self.query]
        return data


class SandboxCore:
    """The simulator's state and controls, without the app that serves them (see `app.Sandbox`).

    ``clock`` returns Unix seconds and drives every "now" (token expiry, SMS scheduling,
    updated_at); seeded data uses a fixed reference time.
    """

    def __init__(
        self, seed: int = 0, *, clock: Callable[[], float] = time.time, max_logged_requests: int = 2000
    ) -> None:
        self.seed = seed
        self.clock = clock
        self._state: SandboxState | None = None  # seeded on first use: keeps it off the server's startup
        self.requests: list[RecordedRequest] = []  # the newest `max_logged_requests`, oldest first
        self.max_logged_requests = max_logged_requests
        self.faults = FaultSet()
        self.latency_ms = 0

    # ---- state

    @property
    def state(self) -> SandboxState:
        """The simulated accounts, seeded (deterministically from `seed`) the first time they are read."""
        if self._state is None:
            self._state = build_state(self.seed)
        return self._state

    def reset(self) -> None:
        """Back to the seeded state; clears faults, latency and the request log."""
        self._state = build_state(self.seed)
        self.requests.clear()
        self.faults.clear()
        self.latency_ms = 0
        logger.info("sandbox reset (seed=%s)", self.seed)

    @property
    def outbox(self) -> list[JSONDict]:
        """Every SMS accepted by ``POST /v2/sessions/sms`` since the last reset."""
        return self.state.sipgate.outbox

    def summary(self) -> dict[str, Any]:
        return {"seed": self.seed, **describe(self.state)}

    def call_events(self, call_id: str) -> JSONDict | None:
        """Events (created, hold, muted, recording, transfer, dtmf, announcement, hangup) of a call.

        Any id the call ever had works, including ids replaced by a blind transfer.
        """
        call = self.state.sipgate.call_index.get(call_id)
        if call is None:
            return None
        return {
            "callId": call_id,
            "currentCallId": call.call_id,
            "previousCallIds": list(call.previous_call_ids),
            "ended": call.ended,
            "sessionId": call.session_id,
            "events": list(call.events),
        }

    # ---- faults and tokens

    def add_fault(self, fault: Fault) -> Fault:
        logger.info("sandbox fault added: %s", fault)
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def expire_sipgate_access_token(self) -> int:
        """Invalidate every sipgate access token (the next bearer request gets 401); returns how many."""
        sipgate = self.state.sipgate
        expired = len(sipgate.access_tokens)
        sipgate.access_tokens.clear()
        sipgate.current_access_token = None
        return expired
