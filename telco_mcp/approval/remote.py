"""The authenticated approval API over HTTP, for a team: `/api/approvals` on the server's own port.

Served with OAuth only (`oauth.py`), as a resource of its own: `TELCO_MCP_OAUTH_APPROVAL_RESOURCE`.
Every request needs the approver's own access token *for that resource* (`aud`), validated like any
other (issuer, expiry, signature, `TELCO_MCP_OAUTH_REQUIRED_SCOPES`). A token issued for the MCP
resource is refused here, even one that names both: whatever can read the MCP client's token (the
client, an agent framework, a model that reads its token store) must not approve its own writes.
Refusals are 401 with `resource_metadata` pointing at this API's own Protected Resource Metadata
(RFC 9728: `/.well-known/oauth-protected-resource<path of the approval resource>`, served here), or
403 `insufficient_scope`, through the SDK's own middleware. The approver is the token's `sub`;
`telco-mcp approvals --url URL` is its client. Without the setting the API is not served (404 that
names it); four eyes needs it (`settings.py` stops startup without).

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
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from telco_mcp.approval.page import approval_json, decision_of
from telco_mcp.approval.service import ApprovalService, FourEyesRefused
from telco_mcp.approval.store import Approval
from telco_mcp.catalogue import BY_NAME
from telco_mcp.errors import ConfirmationError
from telco_mcp.identity import Caller, caller_of
from telco_mcp.oauth import JwtVerifier, auth_settings
from telco_mcp.safety.audit import Act
from telco_mcp.settings import Settings, split_list

logger = logging.getLogger(__name__)


class ApproverTokens(BearerAuthBackend):
    """Tokens for the approval resource only; a valid token for the MCP resource is refused with the reason."""

    def __init__(self, approvals: JwtVerifier, mcp: JwtVerifier) -> None:
        super().__init__(approvals, resource_server_url=AnyHttpUrl(approvals.resource))
        self.mcp = mcp
        self.resource = approvals.resource

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        found = await super().authenticate(conn)
        if found is not None:
            return found
        scheme, _, token = (conn.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() and await self.mcp.verify_token(token.strip()) is not None:
            logger.warning("approval API: refused an access token issued for the MCP resource")
            raise AuthenticationError(
                f"this token's audience is the MCP resource ({self.mcp.resource}); approvers need a token for "
                f"{self.resource}"
            )
        return None


def approval_metadata_path(settings: Settings) -> str | None:
    """Where the approval API's Protected Resource Metadata is served (RFC 9728 path form), if it is."""
    resource = settings.telco_mcp_oauth_approval_resource
    return urlsplit(str(build_resource_metadata_url(AnyHttpUrl(resource)))).path if resource else None


def approval_metadata_app(settings: Settings) -> ASGIApp:
    """The approval API's own Protected Resource Metadata document, as the SDK serves the MCP resource's."""
    assert settings.telco_mcp_oauth_approval_resource
    auth = auth_settings(settings)
    routes = create_protected_resource_routes(
        resource_url=AnyHttpUrl(settings.telco_mcp_oauth_approval_resource),
        authorization_servers=[auth.issuer_url],
        scopes_supported=auth.required_scopes,
        resource_name="telco-mcp approval API",
    )
    return Starlette(routes=routes)


def _not_configured(settings: Settings) -> ASGIApp:
    async def answer(request: Request) -> Response:
        return JSONResponse(
            {
                "error": "not_configured",
                "message": "this server's approval API needs its own resource, TELCO_MCP_OAUTH_APPROVAL_RESOURCE "
                "(approvers use tokens for it, never the MCP client's): ask the operator to set it",
            },
            status_code=404,
        )

    return Starlette(routes=[Route("/api/approvals{rest:path}", answer, methods=["GET", "POST"])])


def remote_api_app(service: ApprovalService, settings: Settings, verifier: JwtVerifier) -> ASGIApp:
    """The approval API; `verifier` is the MCP resource's (its issuer keys are shared, its audience is not)."""
    if not settings.telco_mcp_oauth_approval_resource:
        return _not_configured(settings)
    approver_tokens = verifier.for_resource(settings.telco_mcp_oauth_approval_resource, refuse=(verifier.resource,))

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
                    service.decide,
                    approval.id,
                    approve,
                    "approval-api",
                    grant_minutes=minutes,
                    approver=who,
                    act=Act(factor="token", source=request.client.host if request.client else None),
                )  # fmt: skip
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
    metadata = build_resource_metadata_url(AnyHttpUrl(approver_tokens.resource))
    guarded = RequireAuthMiddleware(api, split_list(settings.telco_mcp_oauth_required_scopes), metadata)

    def refused(conn: HTTPConnection, exc: Exception) -> Response:
        """401 for a token of the wrong audience, saying why, and where to find the right one."""
        reason = str(exc).replace('"', "'")
        challenge = f'Bearer error="invalid_token", error_description="{reason}", resource_metadata="{metadata}"'
        return JSONResponse(
            {"error": "invalid_token", "error_description": reason, "message": reason},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )

    return AuthenticationMiddleware(guarded, backend=ApproverTokens(approver_tokens, verifier), on_error=refused)
