"""The :class:`Sandbox`: the simulator's core plus the Starlette app serving both providers and the admin surface."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from telco_mcp.sandbox.admin import AdminApi
from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.gateway import SandboxGateway
from telco_mcp.sandbox.signalwire import SignalWireApi
from telco_mcp.sandbox.sipgate import SipgateApi


class Sandbox(SandboxCore):
    """A stateful, deterministic simulator of the SignalWire and sipgate REST APIs.

    ``sandbox.app`` is an ASGI app; point an ``httpx2`` client at it in-process
    (``httpx2.ASGITransport``) or serve it with uvicorn. ``clock`` returns Unix seconds and drives
    every "now" (token expiry, SMS scheduling, updated_at); seeded data uses a fixed reference time.
    """

    def __init__(
        self, seed: int = 0, *, clock: Callable[[], float] = time.time, max_logged_requests: int = 2000
    ) -> None:
        super().__init__(seed, clock=clock, max_logged_requests=max_logged_requests)
        self.app: Starlette = self._build_app()

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
