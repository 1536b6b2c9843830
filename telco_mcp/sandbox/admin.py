"""The admin surface under ``/_sandbox/``: JSON, no authentication, never recorded."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.faults import Fault

ADMIN_PREFIX = "/_sandbox"
_FAULT = TypeAdapter(Fault)


async def _json(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=422)


class AdminApi:
    def __init__(self, sandbox: SandboxCore) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        p = ADMIN_PREFIX
        return [
            Route(f"{p}/summary", self.summary, methods=["GET"]),
            Route(f"{p}/reset", self.reset, methods=["POST"]),
            Route(f"{p}/requests", self.list_requests, methods=["GET"]),
            Route(f"{p}/requests", self.clear_requests, methods=["DELETE"]),
            Route(f"{p}/faults", self.list_faults, methods=["GET"]),
            Route(f"{p}/faults", self.add_fault, methods=["POST"]),
            Route(f"{p}/faults", self.clear_faults, methods=["DELETE"]),
            Route(f"{p}/latency", self.set_latency, methods=["PUT"]),
            Route(f"{p}/outbox", self.outbox, methods=["GET"]),
            Route(f"{p}/calls/{{call_id}}/events", self.call_events, methods=["GET"]),
            Route(f"{p}/sipgate/expire-access-token", self.expire_access_token, methods=["POST"]),
        ]

    async def summary(self, request: Request) -> Response:
        return JSONResponse(self.sb.summary())

    async def reset(self, request: Request) -> Response:
        self.sb.reset()
        return JSONResponse({"reset": True, "seed": self.sb.seed})

    async def list_requests(self, request: Request) -> Response:
        return JSONResponse([record.to_dict() for record in self.sb.requests])

    async def clear_requests(self, request: Request) -> Response:
        self.sb.requests.clear()
        return Response(status_code=204)

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse([fault.to_dict() for fault in self.sb.faults.active()])

    async def add_fault(self, request: Request) -> Response:
        try:
            fault = _FAULT.validate_python(await _json(request))
        except ValueError as exc:  # JSONDecodeError and pydantic's ValidationError are ValueErrors
            message = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
            return _invalid(message)
        active = self.sb.add_fault(fault)
        return JSONResponse(active.to_dict(), status_code=201)

    async def clear_faults(self, request: Request) -> Response:
        self.sb.clear_faults()
        return Response(status_code=204)

    async def set_latency(self, request: Request) -> Response:
        try:
            body = await _json(request)
        except ValueError:
            return _invalid("body must be JSON")
        ms = body.get("ms") if isinstance(body, dict) else None
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            return _invalid('body must be {"ms": <non-negative integer>}')
        self.sb.latency_ms = ms
        return JSONResponse({"ms": ms})

    async def outbox(self, request: Request) -> Response:
        return JSONResponse(self.sb.outbox)

    async def call_events(self, request: Request) -> Response:
        found = self.sb.call_events(request.path_params["call_id"])
        if found is None:
            return JSONResponse({"error": "Not Found"}, status_code=404)
        return JSONResponse(found)

    async def expire_access_token(self, request: Request) -> Response:
        return JSONResponse({"expired": self.sb.expire_sipgate_access_token()})
