"""ASGI middleware in front of the simulated providers: latency, auth, faults and the request log.

Order for a provider request:

1. the global latency (``Sandbox.latency_ms``) is applied;
2. credentials are checked; a failure answers 401 at once (no fault is consumed);
3. matching faults are consumed: ``latency`` faults add delay, the first other fault decides;
4. the request is handled (or not, for ``status`` faults) and recorded with the status finally sent.

Admin requests (``/_sandbox/...``) and unknown prefixes pass straight through, unrecorded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telco_mcp.sandbox.auth import AuthContext, auth_scheme, authenticate_signalwire, authenticate_sipgate
from telco_mcp.sandbox.core import Provider, RecordedRequest, SandboxCore
from telco_mcp.sandbox.faults import Fault, SandboxConnectionDropped

logger = logging.getLogger(__name__)

SIPGATE_TOKEN_PATH = "/login/third-party/protocol/openid-connect/token"
AUTH_STATE_KEY = "sandbox_auth"
MALFORMED_JSON_BODY = b'{"data": [{"id": "truncated'


@dataclass
class _Captured:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list[tuple[bytes, bytes]])
    body: bytes = b""


def classify(path: str) -> Provider | None:
    if path.startswith("/api/"):
        return "signalwire"
    if path == "/v2" or path.startswith("/v2/"):
        return "sipgate"
    if path == SIPGATE_TOKEN_PATH:
        return "sipgate-oauth"
    return None


def auth_context(scope: Scope) -> AuthContext | None:
    """The credential the gateway accepted for this request (``None`` on unauthenticated routes)."""
    state: dict[str, Any] = scope.get("state") or {}
    context = state.get(AUTH_STATE_KEY)
    return context if isinstance(context, AuthContext) else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    return receive


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _form_or_none(body: bytes, content_type: str | None) -> list[tuple[str, str]] | None:
    """A form body's fields in the order sent (SignalWire's Compatibility API writes)."""
    if not (content_type or "").startswith("application/x-www-form-urlencoded"):
        return None
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def _unauthorized(provider: Provider) -> Response:
    if provider == "signalwire":
        return JSONResponse(
            {"error": "Unauthorized"}, status_code=401, headers={"WWW-Authenticate": 'Basic realm="SignalWire"'}
        )
    return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="*", Bearer'})


def _fault_response(fault: Fault) -> Response:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.body is None:
        return Response(status_code=fault.status, headers=headers)
    return JSONResponse(fault.body, status_code=fault.status, headers=headers)


class SandboxGateway:
    def __init__(self, app: ASGIApp, sandbox: SandboxCore) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = classify(scope["path"]) if scope["type"] == "http" else None
        if provider is None:
            await self.app(scope, receive, send)
            return

        sb = self.sandbox
        body = await _read_body(receive)
        receive = _replay(body)
        headers = Headers(scope=scope)
        authorization = headers.get("authorization")
        method: str = scope["method"]
        path: str = scope["path"]
        record = RecordedRequest(
            method=method,
            path=path,
            query=parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True),
            headers={key: value for key, value in headers.items() if key != "authorization"},
            auth_scheme=auth_scheme(authorization),
            # The OAuth form carries client secrets and refresh tokens: never keep it.
            json=None if provider == "sipgate-oauth" else _json_or_none(body),
            form=_form_or_none(body, headers.get("content-type")) if provider == "signalwire" else None,
            status=0,
            provider=provider,
            timestamp=sb.clock(),
            client=scope["client"][0] if scope.get("client") else None,
            scheme=scope.get("scheme", "http"),
        )

        if sb.latency_ms > 0:
            await anyio.sleep(sb.latency_ms / 1000)

        context: AuthContext | None = None
        if provider == "signalwire":
            context = authenticate_signalwire(authorization)
        elif provider == "sipgate":
            context = authenticate_sipgate(authorization, sb.state.sipgate, sb.clock())
        if provider != "sipgate-oauth" and context is None:
            await self._respond(record, _unauthorized(provider), scope, receive, send)
            return
        scope = {**scope, "state": {**(scope.get("state") or {}), AUTH_STATE_KEY: context}}

        plan = sb.faults.take(method, path)
        if plan.latency_ms > 0:
            await anyio.sleep(plan.latency_ms / 1000)
        fault = plan.fault
        if fault is None:
            await self._handle(record, scope, receive, send)
            return

        record.fault = fault.kind
        logger.info("sandbox fault %s on %s %s", fault.kind, method, path)
        if fault.kind == "status":
            await self._respond(record, _fault_response(fault), scope, receive, send)
            return

        captured = await self._capture(scope, receive)
        record.handled_status = captured.status
        if fault.kind == "drop":
            await self._drop(record, captured, send)
        elif fault.kind == "malformed_json":
            bad = Response(MALFORMED_JSON_BODY, status_code=200, media_type="application/json")
            await self._respond(record, bad, scope, receive, send)
        else:  # unexpected_shape
            await self._respond(record, JSONResponse({"unexpected": True}), scope, receive, send)

    def _log(self, record: RecordedRequest, status: int) -> None:
        record.status = status
        self.sandbox.requests.append(record)
        excess = len(self.sandbox.requests) - self.sandbox.max_logged_requests
        if excess > 0:  # keep memory flat in a long-running embedded sandbox
            del self.sandbox.requests[: max(excess, self.sandbox.max_logged_requests // 10)]

    async def _respond(
        self, record: RecordedRequest, response: Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self._log(record, response.status_code)
        await response(scope, receive, send)

    async def _handle(self, record: RecordedRequest, scope: Scope, receive: Receive, send: Send) -> None:
        # The record is appended as soon as the status is known, i.e. before the client can have
        # read the body, so a client never observes a response that is not yet in the log.
        logged = False

        async def send_and_log(message: Message) -> None:
            nonlocal logged
            if message["type"] == "http.response.start" and not logged:
                logged = True
                self._log(record, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_and_log)
        finally:
            if not logged:
                self._log(record, 500)

    async def _capture(self, scope: Scope, receive: Receive) -> _Captured:
        captured = _Captured()

        async def collect(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = int(message["status"])
                captured.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured.body += message.get("body", b"")

        await self.app(scope, receive, collect)
        return captured

    async def _drop(self, record: RecordedRequest, captured: _Captured, send: Send) -> None:
        record.dropped = True
        self._log(record, 200)
        partial = captured.body[: max(1, len(captured.body) // 2)] if captured.body else b'{"data": ['
        announced = len(partial) + 1024
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(announced).encode())],
            }
        )
        await send({"type": "http.response.body", "body": partial, "more_body": True})
        raise SandboxConnectionDropped(f"connection dropped after {len(partial)} of {announced} bytes")
