"""The :class:`Sandbox`: the simulator's core plus the Starlette app serving both providers and the admin surface."""

from __future__ import annotations

import functools

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from telco_mcp.sandbox.core import SandboxCore


class Sandbox(SandboxCore):
    """A stateful, deterministic simulator of the SignalWire and sipgate REST APIs.

    ``sandbox.app`` is an ASGI app; point an ``httpx2`` client at it in-process
    (``httpx2.ASGITransport``) or serve it with uvicorn. ``clock`` returns Unix seconds and drives
    every "now" (token expiry, SMS scheduling, updated_at); seeded data uses a fixed reference time.
    """

    # ---- app

    @functools.cached_property
    def app(self) -> Starlette:
        """The ASGI app, built on first use: `telco-mcp serve` answers tools/list before any request reaches it."""
        # The route modules (pydantic request models, regexes) load here, off the server's startup path.
        from telco_mcp.sandbox.admin import AdminApi
        from telco_mcp.sandbox.compatibility import CompatibilityApi
        from telco_mcp.sandbox.gateway import SandboxGateway
        from telco_mcp.sandbox.signalwire import SignalWireApi
        from telco_mcp.sandbox.sipgate import SipgateApi

        routes = [*AdminApi(self).routes(), *SignalWireApi(self).routes(), *SipgateApi(self).routes()]
        routes += CompatibilityApi(self).routes()
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
