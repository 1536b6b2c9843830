"""The :class:`Sandbox`: seeded state + the Starlette app serving both providers and the admin surface."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from telco_mcp.sandbox.admin import AdminApi
from telco_mcp.sandbox.faults import Fault, FaultSet
from telco_mcp.sandbox.gateway import RecordedRequest, SandboxGateway
from telco_mcp.sandbox.seed import build_state, describe
from telco_mcp.sandbox.signalwire import SignalWireApi
from telco_mcp.sandbox.sipgate import SipgateApi
from telco_mcp.sandbox.state import JSONDict, SandboxState

logger = logging.getLogger(__name__)


class Sandbox:
    """A stateful, deterministic simulator of the SignalWire and sipgate REST APIs.

    ``sandbox.app`` is an ASGI app; point an ``httpx2`` client at it in-process
    (``httpx2.ASGITransport``) or serve it with uvicorn. ``clock`` returns Unix seconds and drives
    every "now" (token expiry, SMS scheduling, updated_at); seeded data uses a fixed reference time.
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
        self.app: Starlette = self._build_app()

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

    # ---- app

    def _build_app(self) -> Starlette:
        routes = [*AdminApi(self).routes(), *SignalWireApi(self).routes(), *SipgateApi(self).routes()]
        return Starlette(
            routes=routes,
            middleware=[Middleware(SandboxGateway, sandbox=self)],
            exception_handlers={HTTPException: _http_exception},
        )


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, in the shape of the provider the path belongs to."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/v2/"):
        return Response(status_code=status)  # sipgate errors carry no body
    message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
    return JSONResponse({"error": message}, status_code=status)


def create_app(sandbox: Sandbox | None = None) -> Starlette:
    """The ASGI app of ``sandbox`` (a fresh ``Sandbox()`` if omitted)."""
    return (sandbox or Sandbox()).app
