"""The admin surface under ``/_sandbox/``: JSON, no authentication, never recorded."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telco_mcp.sandbox.core import SandboxCore
from telco_mcp.sandbox.faults import Fault
from telco_mcp.sandbox.push import ANONYMOUS

ADMIN_PREFIX = "/_sandbox"
_NUMBER = re.compile(r"^\+?[0-9][0-9 ()/-]{2,30}$")
_KEYS = re.compile(r"^[0-9*#A-D]{0,64}$")
_FAULT = TypeAdapter(Fault)


async def _json(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=422)


async def _object(request: Request) -> dict[str, Any] | JSONResponse:
    """The JSON object body (empty body: ``{}``), or the 422 for anything else."""
    try:
        body = await _json(request)
    except ValueError:
        return _invalid("body must be a JSON object")
    body = {} if body is None else body
    return body if isinstance(body, dict) else _invalid("body must be a JSON object")


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
            Route(f"{p}/sipgate/ring", self.ring, methods=["POST"]),
            Route(f"{p}/sipgate/calls/{{call_id}}/answer", self.answer, methods=["POST"]),
            Route(f"{p}/sipgate/calls/{{call_id}}/end", self.end, methods=["POST"]),
            Route(f"{p}/sipgate/calls/{{call_id}}/dtmf", self.press, methods=["POST"]),
            Route(f"{p}/sipgate/webhooks", self.webhooks, methods=["GET"]),
            Route(f"{p}/sipgate/push-key", self.push_key, methods=["GET"]),
            Route(f"{p}/sipgate/sipgateio-booked", self.book_sipgateio, methods=["PUT"]),
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

    async def ring(self, request: Request) -> Response:
        """``{"from": "+49 30 ...", "to": optional}``: an inbound call rings now (its newCall is pushed).
        ``"from": "anonymous"``: the caller withholds the number (pushed as ``anonymous``)."""
        body = await _object(request)
        if isinstance(body, Response):
            return body
        caller, callee = body.get("from"), body.get("to")
        if not isinstance(caller, str) or not (_NUMBER.fullmatch(caller) or caller == ANONYMOUS) or (
                callee is not None and (not isinstance(callee, str) or not _NUMBER.fullmatch(callee))):  # fmt: skip
            return _invalid('body must be {"from": "<phone number>" or "anonymous", "to": "<phone number>" (optional)}')
        call, status = await self.sb.ring(caller, callee)
        return JSONResponse({"callId": call.call_id, "webhook_status": status}, status_code=201)

    async def answer(self, request: Request) -> Response:
        """``{"user": "w0"}`` (optional): the ringing call is answered by that user."""
        body = await _object(request)
        if isinstance(body, Response):
            return body
        user = body.get("user")
        answered = await self.sb.answer(request.path_params["call_id"], user if isinstance(user, str) else None)
        if answered is None:
            return JSONResponse({"error": "no such ringing call"}, status_code=404)
        call, status = answered
        return JSONResponse({"callId": call.call_id, "webhook_status": status})

    async def end(self, request: Request) -> Response:
        """``{"cause": "cancel"}``: a ringing call ends unanswered (cancel, noAnswer, busy)."""
        body = await _object(request)
        if isinstance(body, Response):
            return body
        cause = body.get("cause", "cancel")
        if cause not in ("cancel", "noAnswer", "busy", "congestion", "notFound"):
            return _invalid("cause must be cancel, noAnswer, busy, congestion or notFound")
        ended = await self.sb.end_ringing(request.path_params["call_id"], cause)
        if ended is None:
            return JSONResponse({"error": "no such ringing call"}, status_code=404)
        call, status = ended
        return JSONResponse({"callId": call.call_id, "webhook_status": status})

    async def press(self, request: Request) -> Response:
        """``{"digits": "123"}``: the caller presses these keys, then stops. An active ``<Gather>`` posts
        them as ``dtmf`` events (``""``: the caller pressed nothing until its timeout); without one
        nothing is posted (``dtmf_events`` is empty, ``unheard`` holds the keys)."""
        body = await _object(request)
        if isinstance(body, Response):
            return body
        keys = body.get("digits")
        if not isinstance(keys, str) or not _KEYS.fullmatch(keys):
            return _invalid('body must be {"digits": "<up to 64 of 0-9 * # A-D>"}')
        pressed = await self.sb.press(request.path_params["call_id"], keys)
        if pressed is None:
            return JSONResponse({"error": "no such ringing or running call"}, status_code=404)
        return JSONResponse(pressed)

    async def webhooks(self, request: Request) -> Response:
        """Every webhook the sandbox tried to post: event, callId and the receiver's status (no URLs)."""
        return JSONResponse(self.sb.push.deliveries)

    async def push_key(self, request: Request) -> Response:
        """The public key this sandbox signs its pushes with (PEM): `TELCO_MCP_WEBHOOK_PUBLIC_KEY` for a
        separately started server (docs/webhooks.md)."""
        from telco_mcp.sandbox.signing import public_pem

        return Response(public_pem(), media_type="application/x-pem-file")

    async def book_sipgateio(self, request: Request) -> Response:
        """``{"booked": false}``: the account lacks sipgate.io (its settings answer 403)."""
        body = await _object(request)
        if isinstance(body, Response):
            return body
        booked = body.get("booked")
        if not isinstance(booked, bool):
            return _invalid('body must be {"booked": true|false}')
        self.sb.state.sipgate.sipgateio_booked = booked
        return JSONResponse({"booked": booked})

    async def expire_access_token(self, request: Request) -> Response:
        return JSONResponse({"expired": self.sb.expire_sipgate_access_token()})


def mounted_admin(sandbox: Any, security: Any) -> Any:
    """The admin surface as `telco-mcp serve --transport http|sse` mounts it under ``/_sandbox/`` (the
    embedded sandbox, no credentials): the MCP endpoint's Host and Origin checks first (a web page in the
    user's browser must not ring calls or reset the sandbox: bad Host 421, foreign Origin 403, a POST that
    is not ``application/json`` 400), then the sandbox's own app, built at the first request as for the
    provider routes. Authentication is the access layer's entry rule (`transports.http_app`)."""
    from mcp.server.transport_security import TransportSecurityMiddleware
    from starlette.types import Receive, Scope, Send

    guard = TransportSecurityMiddleware(security)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = await guard.validate_request(Request(scope), is_post=scope.get("method") == "POST")
            if refused is not None:
                await refused(scope, receive, send)
                return
        await sandbox.app(scope, receive, send)

    return app
