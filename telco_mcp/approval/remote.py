"""The authenticated approval API over HTTP, for a team: `/api/approvals` on the server's own port.

Served with OAuth only (`oauth.py`): every request needs the approver's own access token, validated
like any other (issuer, audience, expiry, signature, `TELCO_MCP_OAUTH_REQUIRED_SCOPES`), and answers
401 with `resource_metadata` or 403 `insufficient_scope` through the SDK's own middleware. The
approver is the token's `sub`; `telco-mcp approvals --url URL` is its client.

    GET  /api/approvals                 pending approvals of tools the approver may use themselves
    GET  /api/approvals/{id}            one of them
    POST /api/approvals/{id}/decide     {"approve": true|false, "grant_minutes": n?}

An approver decides only writes whose scope their own token grants (you approve only what you could
do). Under `TELCO_MCP_FOUR_EYES` the approver must be another person than the caller: approving one's
own write is refused (403 `four_eyes`); denying it is allowed. Every decision goes to the audit log
with both people.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from telco_mcp.approval.page import approval_json, decision_of
from telco_mcp.approval.service import ApprovalService, FourEyesRefused
from telco_mcp.approval.store import Approval
from telco_mcp.catalogue import BY_NAME
from telco_mcp.errors import ConfirmationError
from telco_mcp.identity import Caller, caller_of
from telco_mcp.settings import Settings, split_list


def remote_api_app(service: ApprovalService, settings: Settings, verifier: TokenVerifier) -> ASGIApp:
    def approver(request: Request) -> Caller | None:
        user = request.scope.get("user")
        return caller_of(user.access_token, settings) if isinstance(user, AuthenticatedUser) else None

    def may_decide(who: Caller, approval: Approval) -> bool:
        op = BY_NAME.get(approval.tool)
        return op is not None and who.may(op.scope)

    def as_json(who: Caller, approval: Approval) -> dict[str, Any]:
        return approval_json(approval) | {"yours": approval.client == who.key}

    async def listing(request: Request) -> Response:
        who = approver(request)
        if who is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        waiting = await anyio.to_thread.run_sync(service.store.pending)  # the state may be Redis: off the loop
        pending = [as_json(who, a) for a in waiting if may_decide(who, a)]
        return JSONResponse({"approver": who.audit(), "approvals": pending})

    async def find(request: Request, who: Caller) -> Approval | None:
        approval = await anyio.to_thread.run_sync(service.store.get, request.path_params["approval_id"])
        return approval if approval is not None and may_decide(who, approval) else None

    async def show(request: Request) -> Response:
        who = approver(request)
        if who is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        approval = await find(request, who)
        if approval is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(as_json(who, approval))

    async def decide(request: Request) -> Response:
        who = approver(request)
        if who is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        decision = decision_of(await request.body())
        if decision is None:
            return JSONResponse(
                {"error": "bad_request", "message": 'send {"approve": true|false, "grant_minutes": n?}'},
                status_code=400,
            )
        approve, minutes = decision
        approval = await anyio.to_thread.run_sync(service.store.get, request.path_params["approval_id"])
        if approval is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if not may_decide(who, approval):
            op = BY_NAME.get(approval.tool)
            return JSONResponse(
                {
                    "error": "insufficient_scope",
                    "message": f"your access token does not grant {op.scope if op else approval.tool}, so you "
                    "cannot decide this write",
                },
                status_code=403,
            )
        try:
            decided = await anyio.to_thread.run_sync(
                functools.partial(
                    service.decide, approval.id, approve, "approval-api", grant_minutes=minutes, approver=who
                )
            )
        except FourEyesRefused as exc:
            return JSONResponse({"error": "four_eyes", "message": str(exc)}, status_code=403)
        except ConfirmationError as exc:
            return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)
        return JSONResponse(as_json(who, decided))

    api = Starlette(
        routes=[
            Route("/api/approvals", listing, methods=["GET"]),
            Route("/api/approvals/{approval_id}", show, methods=["GET"]),
            Route("/api/approvals/{approval_id}/decide", decide, methods=["POST"]),
        ]
    )
    resource = AnyHttpUrl(settings.telco_mcp_oauth_resource or "")
    guarded = RequireAuthMiddleware(
        api, split_list(settings.telco_mcp_oauth_required_scopes), build_resource_metadata_url(resource)
    )
    return AuthenticationMiddleware(guarded, backend=BearerAuthBackend(verifier, resource_server_url=resource))
