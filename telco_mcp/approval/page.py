"""The approval page and the local approvals API, served by the server process itself.

Page (`/approvals/...`, Starlette, plain HTML forms, no JavaScript, no third-party assets):
    GET  /approvals/                    sign in with the approver PIN, then every pending approval
    GET  /approvals/a/{id}?code=...     a launch link: swaps the single-use code for a cookie bound
                                        to this one approval, then refreshes to the clean URL
    GET  /approvals/a/{id}              exactly what will be sent, with Approve and Deny
    POST /approvals/a/{id}/decide       approve (optionally with a grant) or deny
    POST /approvals/bulk                approve the selected approvals, or deny everything pending
    POST /approvals/signin              the PIN
    GET  /approvals/static/page.css

Every response is `Cache-Control: no-store` with a strict Content-Security-Policy; every POST needs
the session's CSRF token, and a browser's Origin (or Sec-Fetch-Site) must be this page's own.

API (`/api/approvals...`, JSON, only on the server's Unix socket, for `telco-mcp approvals`):
    GET  /api/approvals, GET /api/approvals/{id}, POST /api/approvals/{id}/decide
The approver PIN, when configured, is required in the `X-Approver-PIN` header.
"""

from __future__ import annotations

import functools
import html
import json
import re
import secrets
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from telco_mcp.approval.pin import pin_source, terminal_source
from telco_mcp.approval.service import (
    SECRET_MAX,
    SECRET_MIN,
    ApprovalService,
    check_typed_secret,
    generate_secret,
)
from telco_mcp.approval.sessions import Session, hashed
from telco_mcp.approval.store import MAX_GRANT_MINUTES, Approval
from telco_mcp.errors import ConfirmationError, StateUnavailable
from telco_mcp.safety.audit import Act

# Where a sign-in may lead: the pending list or one approval's page, nothing else (no other host, scheme,
# backslash, dot segment or encoded slash; an approval id is url-safe base64).
_NEXT = re.compile(r"/approvals/(a/apr_[A-Za-z0-9_-]{1,64})?")
SESSION_COOKIE = "telco_mcp_approval"
PRE_CSRF_COOKIE = "telco_mcp_signin"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
GRANT_CHOICES = (5, 15, 30, MAX_GRANT_MINUTES)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")


def _host_allowed(request: Request, allowed: list[str]) -> bool:
    host = request.headers.get("host", "")
    for pattern in allowed:
        if pattern.endswith(":*"):
            if host.rsplit(":", 1)[0] == pattern[:-2] or host == pattern[:-2]:
                return True
        elif host == pattern:
            return True
    return False


def _same_origin(request: Request, public: str | None = None) -> bool:
    """A browser's POST must come from this page: its fetch metadata and its Origin must say so.

    A client without either (a script, `curl`) still needs the session cookie and its CSRF token.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site == "same-origin"):
        return True
    if public:  # behind a TLS proxy the page's own origin is the public one
        parts = urlsplit(public)
        if origin == f"{parts.scheme}://{parts.netloc}":
            return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class _Page:
    def __init__(self, service: ApprovalService, allowed_hosts: list[str]) -> None:
        self.service = service
        self.allowed_hosts = allowed_hosts

    # ---------------------------------------------------------------- plumbing
    def _respond(self, body: str, status: int = 200, *, title: str = "Approvals", head: str = "") -> HTMLResponse:
        page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
{head}<title>{_e(title)} · telco-mcp</title>
<link rel="stylesheet" href="/approvals/static/page.css">
</head>
<body>
<header><p class="brand">telco-mcp <span>approvals</span></p></header>
<main>
{body}
</main>
<footer><p>Only a person can approve here: the assistant that asked cannot see this page.</p></footer>
</body>
</html>"""
        return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)

    def _message(self, heading: str, text: str, status: int = 200) -> HTMLResponse:
        return self._respond(f'<h1>{_e(heading)}</h1>\n<p class="lead">{_e(text)}</p>', status, title=heading)

    async def _session(self, request: Request) -> Session | None:
        return await anyio.to_thread.run_sync(self.service.session, request.cookies.get(SESSION_COOKIE))

    async def _state(self, fn: Any, *args: Any) -> Any:
        """A read of the approval state (maybe Redis) off the event loop the MCP sessions share."""
        return await anyio.to_thread.run_sync(fn, *args)

    def _guard(self, request: Request) -> Response | None:
        if not _host_allowed(request, self.allowed_hosts):
            return Response("Invalid Host header", status_code=421, headers=SECURITY_HEADERS)
        return None

    async def _form(self, request: Request) -> dict[str, list[str]]:
        """The posted form (urlencoded), read up to 16 KiB whatever Content-Length says; else empty."""
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return {}
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 16_384:
                return {}
        out: dict[str, list[str]] = {}
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            out.setdefault(key, []).append(value)
        return out

    @staticmethod
    def _source(request: Request) -> str:
        """Where a request came from, as wrong PINs are counted (the audit log writes it only as a reference)."""
        return pin_source(request.client.host if request.client else "")

    def _act(self, request: Request, session: Session, *, bulk: bool = False) -> Act:
        """How this person acts here: with the factor their session was opened with, from where, in which session."""
        sid = request.cookies.get(SESSION_COOKIE) or ""
        factor = "launch-code" if session.approval is not None else "pin"
        return Act(factor=factor, source=self._source(request), session_key=hashed(sid), bulk=bulk)

    def _secure(self, request: Request) -> bool:
        """Cookies are `Secure` wherever the page is reached over https (directly or behind a TLS proxy)."""
        return request.url.scheme == "https" or (self.service.mounted_base or "").startswith("https://")

    def _post_refused(self, request: Request, session: Session | None, form: dict[str, list[str]]) -> Response | None:
        if not _same_origin(request, self.service.mounted_base):
            return self._message("Refused", "This form was not sent from the approval page.", 403)
        if session is None or form.get("csrf", [""])[0] != session.csrf:
            return self._message("Refused", "This form has expired. Open the approval page again.", 403)
        return None

    # ---------------------------------------------------------------- routes
    async def css(self, request: Request) -> Response:
        text = resources.files("telco_mcp.approval").joinpath("page.css").read_text(encoding="utf-8")
        return Response(text, media_type="text/css", headers=SECURITY_HEADERS)

    async def index(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        session = await self._session(request)
        if session is None or session.approval is not None:
            return self._signin_page(request, next_path="/approvals/")
        pending = await self._state(self.service.store.pending)
        if not pending:
            body = '<h1>Nothing to approve</h1>\n<p class="lead">No write is waiting for a decision.</p>'
            return self._respond(body)
        rows = "\n".join(
            f"""<li class="card">
<input type="checkbox" name="id" value="{_e(a.id)}" id="pick-{_e(a.id)}">
<label for="pick-{_e(a.id)}"><span class="summary">{_e(a.summary)}</span>
<span class="meta">{_e(a.tool)} · asked by {_e(a.client_label)} · expires {_when(a.expires)}</span></label>
<a href="/approvals/a/{_e(a.id)}">Details</a>
</li>"""
            for a in pending
        )
        body = f"""<h1>Pending approvals</h1>
<p class="lead">{len(pending)} write{"s" if len(pending) != 1 else ""} waiting for a decision.</p>
<form method="post" action="/approvals/bulk">
<input type="hidden" name="csrf" value="{_e(session.csrf)}">
<ul class="list">
{rows}
</ul>
<div class="actions">
<button type="submit" name="action" value="approve" class="approve">Approve selected</button>
<button type="submit" name="action" value="deny_all" class="deny">Deny everything pending</button>
</div>
</form>"""
        return self._respond(body, title="Pending approvals")

    def _signin_page(self, request: Request, *, next_path: str, error: str | None = None) -> Response:
        if self.service.pin is None:
            return self._message(
                "Sign-in is not available",
                "This link carries no sign-in. Open the link your assistant's server opened in your browser, "
                "or run `telco-mcp approvals` in a terminal. (An operator can set TELCO_MCP_APPROVER_PIN to "
                "allow signing in here.)",
                401,
            )
        pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
        problem = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
        body = f"""<h1>Sign in to approve</h1>
<p class="lead">Enter the approver PIN to see and decide pending writes.</p>
{problem}
<form method="post" action="/approvals/signin" class="signin">
<input type="hidden" name="csrf" value="{_e(pre)}">
<input type="hidden" name="next" value="{_e(next_path)}">
<label for="pin">Approver PIN</label>
<input type="password" id="pin" name="pin" autocomplete="current-password" required>
<button type="submit" class="approve">Sign in</button>
</form>"""
        response = self._respond(body, 401, title="Sign in")
        response.set_cookie(
            PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/approvals/", secure=self._secure(request)
        )
        return response

    async def signin(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        form = await self._form(request)
        next_path = form.get("next", ["/approvals/"])[0]
        if not _NEXT.fullmatch(next_path):  # only where the page itself sends a sign-in: never off the page
            next_path = "/approvals/"
        pre = request.cookies.get(PRE_CSRF_COOKIE)
        if not _same_origin(request, self.service.mounted_base) or not pre or form.get("csrf", [""])[0] != pre:
            return self._message("Refused", "This form was not sent from the approval page.", 403)
        try:
            # scrypt, the shared count of wrong PINs, the new session and its audit line: off the event loop the
            # MCP sessions share
            sid = await anyio.to_thread.run_sync(self.service.sign_in, form.get("pin", [""])[0], self._source(request))
        except ConfirmationError as exc:
            return self._signin_page(request, next_path=next_path, error=f"Not signed in: {exc}.")
        response = RedirectResponse(next_path, status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            path="/approvals/",
            secure=self._secure(request),
        )
        response.delete_cookie(PRE_CSRF_COOKIE, path="/approvals/")
        return response

    async def detail(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        approval_id = request.path_params["approval_id"]
        code = request.query_params.get("code")
        if code is not None:
            sid = await anyio.to_thread.run_sync(self.service.redeem_code, approval_id, code, self._source(request))
            if sid is None:
                return self._message(
                    "This link has been used",
                    "Launch links work once. Sign in with the approver PIN or use `telco-mcp approvals`.",
                    403,
                )
            # Not a redirect: a browser that arrives from the launch file (or any other site) would not send a
            # SameSite=Strict cookie along the redirect chain. This page's own refresh is a same-site
            # navigation, which does.
            clean = f"/approvals/a/{_e(approval_id)}"
            response = self._respond(
                f'<h1>Opening the approval</h1>\n<p class="lead"><a href="{clean}">Continue to the approval</a></p>',
                title="Opening the approval",
                head=f'<meta http-equiv="refresh" content="0;url={clean}">',
            )
            response.set_cookie(
                SESSION_COOKIE, sid, httponly=True, samesite="strict", path="/approvals/", secure=self._secure(request)
            )
            return response
        session = await self._session(request)
        if not self.service.may_act(session, approval_id):
            return self._signin_page(request, next_path=f"/approvals/a/{approval_id}")
        assert session is not None
        approval = await self._state(self.service.store.get, approval_id)
        if approval is None:
            return self._message("Unknown approval", "No such approval is known to this server.", 404)
        return self._respond(self._detail_body(approval, session), title="Approve this write?")

    def _detail_body(self, approval: Approval, session: Session) -> str:
        now = self.service.clock()
        verdict = (
            f'<p class="warning" role="alert">The guardrails would refuse this now: {_e(approval.verdict)}</p>'
            if approval.verdict
            else '<p class="ok">The guardrails allow it.</p>'
        )
        body = json.dumps(approval.body, indent=2, ensure_ascii=False) if approval.body is not None else "(no body)"
        if approval.form is not None:  # a form body (application/x-www-form-urlencoded): its fields, in order
            body = "\n".join(f"{name} = {value}" for name, value in approval.form) or "(no fields)"
        four_eyes = (
            "\n<dt>Approver</dt><dd>another authenticated person, through the approval API "
            "(<code>telco-mcp approvals --url</code>): four eyes</dd>"
            if approval.four_eyes
            else ""
        )
        facts = f"""<dl class="facts">
<dt>Provider</dt><dd>{_e(approval.provider)}{" (sandbox: simulated)" if approval.sandbox else ""}</dd>
<dt>Request</dt><dd><code>{_e(approval.method)} {_e(approval.url)}</code></dd>
<dt>Body</dt><dd><pre>{_e(body)}</pre></dd>
<dt>Tool</dt><dd><code>{_e(approval.tool)}</code> ({_e(approval.effect)})</dd>
<dt>Asked by</dt><dd>{_e(approval.client_label)}</dd>{four_eyes}
<dt>Expires</dt><dd>{_when(approval.expires)}</dd>
</dl>"""
        head = f'<h1>Approve this write?</h1>\n<p class="summary lead">{_e(approval.summary)}</p>\n{verdict}'
        if approval.status != "pending" or approval.expired(now):
            state = "expired" if approval.status == "pending" else approval.status
            return f'{head}\n<p class="decided">This approval is {_e(state)}.</p>\n{facts}'
        grant = ""
        if approval.grant_target:
            options = "".join(f'<option value="{m}">{m} minutes</option>' for m in GRANT_CHOICES)
            grant = f"""<fieldset class="grant">
<legend>Live call</legend>
<input type="checkbox" id="grant" name="grant" value="1">
<label for="grant">Also allow {self._grant_covers()} on call {_e(approval.grant_target)} without asking, for</label>
<label for="grant_minutes" class="visually-hidden">Minutes</label>
<select id="grant_minutes" name="grant_minutes">{options}</select>
</fieldset>"""
        return f"""{head}
{facts}
<form method="post" action="/approvals/a/{_e(approval.id)}/decide">
<input type="hidden" name="csrf" value="{_e(session.csrf)}">
{grant}{self._secret_fields(approval)}
<div class="actions">
<button type="submit" name="decision" value="approve" class="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="deny">Deny</button>
</div>
</form>"""

    @staticmethod
    def _secret_fields(approval: Approval) -> str:
        """The secret this write sets (a SIP password): generated here by default, or typed by the approver."""
        if not approval.secret_field:
            return ""
        name = _e(approval.secret_field)
        return f"""<fieldset class="secret">
<legend>The new {name}</legend>
<p class="hint">Only you see it: the assistant never does. It is kept only encrypted until the write is sent,
and never logged.</p>
<div class="choice"><input type="radio" id="secret_generate" name="secret_mode" value="generate" checked>
<label for="secret_generate">Generate a strong {name} (shown to you once, after you approve)</label></div>
<div class="choice"><input type="radio" id="secret_typed" name="secret_mode" value="typed">
<label for="secret_typed">Use the {name} I type here</label></div>
<label for="secret">{name.capitalize()} ({SECRET_MIN} to {SECRET_MAX} characters)</label>
<input type="password" id="secret" name="secret" autocomplete="new-password" maxlength="{SECRET_MAX}">
<label for="secret_repeat">Repeat it</label>
<input type="password" id="secret_repeat" name="secret_repeat" autocomplete="new-password" maxlength="{SECRET_MAX}">
</fieldset>"""

    @staticmethod
    def _secret_from(approval: Approval, form: dict[str, list[str]]) -> tuple[str | None, bool]:
        """The secret an approval is approved with, and whether it was generated; raises for a bad typed one."""
        if not approval.secret_field:
            return None, False
        if form.get("secret_mode", ["generate"])[0] == "typed":
            check_typed_secret(form.get("secret", [""])[0], form.get("secret_repeat", [""])[0])
            return form["secret"][0], False
        return generate_secret(), True

    async def decide(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        approval_id = request.path_params["approval_id"]
        session = await self._session(request)
        form = await self._form(request)
        if (refused := self._post_refused(request, session, form)) is not None:
            return refused
        if not self.service.may_act(session, approval_id):
            return self._message("Refused", "You are not signed in for this approval.", 403)
        assert session is not None
        decision = form.get("decision", [""])[0]
        if decision not in ("approve", "deny"):
            return self._message("Nothing decided", "Choose Approve or Deny.", 400)
        minutes = None
        if decision == "approve" and form.get("grant"):
            try:
                minutes = int(form.get("grant_minutes", ["0"])[0])
            except ValueError:
                minutes = None
        approval = await self._state(self.service.store.get, approval_id)
        secret, generated = None, False
        if decision == "approve" and approval is not None:
            try:
                secret, generated = self._secret_from(approval, form)
            except ConfirmationError as exc:
                return self._message("Not approved", f"Nothing was decided: {exc}. Go back and try again.", 400)
        try:
            decided = await anyio.to_thread.run_sync(
                functools.partial(
                    self.service.decide,
                    approval_id, decision == "approve", "approval-page", grant_minutes=minutes, secret=secret,
                    act=self._act(request, session),
                )
            )  # fmt: skip
        except ConfirmationError as exc:
            return self._message("Not decided", f"{exc}.", 409)
        if decided.status == "approved":
            covers = self._grant_covers(markup=False)
            extra = f" For {minutes} minutes, {covers} on this call need no new approval." if minutes else ""
            if generated and secret and decided.secret_field:
                return self._shown_once(decided.secret_field, secret)
            return self._message("Approved", f"Tell your assistant to go ahead: it can now send this once.{extra}")
        return self._message("Denied", "Nothing will be sent. Your assistant will be told you said no.")

    def _grant_covers(self, *, markup: bool = True) -> str:
        """The tools a grant covers, named as the model calls them: exactly what the grant holds."""
        code = (lambda name: f"<code>{_e(name)}</code>") if markup else (lambda name: name)
        wrap = _e if markup else (lambda text: text)
        named = [f"{code(name)} ({wrap(title.lower())})" for name, title in self.service.grant_covers()]
        return ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else "".join(named)

    def _shown_once(self, field: str, secret: str) -> HTMLResponse:
        body = f"""<h1>Approved</h1>
<p class="lead">Tell your assistant to go ahead: it can now send this once.</p>
<p>The new {_e(field)}, shown this once (copy it into the phone or PBX now; it is kept only encrypted until the
write is sent, and the assistant never sees it):</p>
<p class="shown-secret"><code id="secret_value">{_e(secret)}</code></p>"""
        return self._respond(body, title="Approved")

    async def bulk(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        session = await self._session(request)
        form = await self._form(request)
        if (refused := self._post_refused(request, session, form)) is not None:
            return refused
        assert session is not None
        if session.approval is not None:
            return self._message("Refused", "Sign in with the approver PIN to decide several approvals.", 403)
        action = form.get("action", [""])[0]
        if action == "deny_all":
            ids, approve = [a.id for a in await self._state(self.service.store.pending)], False
        elif action == "approve":
            ids, approve = form.get("id", []), True
        else:
            return self._message("Nothing decided", "Choose an action.", 400)
        done = 0
        act = self._act(request, session, bulk=True)
        for approval_id in ids:
            try:
                await anyio.to_thread.run_sync(
                    functools.partial(self.service.decide, approval_id, approve, "approval-page", act=act)
                )
                done += 1
            except ConfirmationError:
                continue
        verb = "approved" if approve else "denied"
        return self._message(f"{done} {verb}", f"{done} pending write{'s' if done != 1 else ''} {verb}.")


def page_app(service: ApprovalService, *, allowed_hosts: list[str]) -> Starlette:
    page = _Page(service, allowed_hosts)

    async def unavailable(request: Request, exc: Exception) -> Response:
        """The shared state (sessions, codes, approvals) is away: say so, decide nothing."""
        return page._message("Not available right now", f"{exc}.", 503)

    return Starlette(
        exception_handlers={StateUnavailable: unavailable},
        routes=[
            Route("/approvals/", page.index, methods=["GET"]),
            Route("/approvals/static/page.css", page.css, methods=["GET"]),
            Route("/approvals/signin", page.signin, methods=["POST"]),
            Route("/approvals/bulk", page.bulk, methods=["POST"]),
            Route("/approvals/a/{approval_id}", page.detail, methods=["GET"]),
            Route("/approvals/a/{approval_id}/decide", page.decide, methods=["POST"]),
        ],
    )


# ------------------------------------------------------------------ the CLI's API (Unix socket only)
def approval_json(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "tool": approval.tool,
        "summary": approval.summary,
        "provider": approval.provider,
        "method": approval.method,
        "url": approval.url,
        "body": approval.body,
        "form": [list(pair) for pair in approval.form] if approval.form is not None else None,
        "verdict": approval.verdict,
        "client": approval.client_label,
        "status": approval.status,
        "expires_at": approval.expires,
        "grant_target": approval.grant_target,
        "sandbox": approval.sandbox,
        "caller": approval.caller,
        "four_eyes": approval.four_eyes,
        "approver": approval.approver,
    }


def decision_of(body: bytes) -> tuple[bool, int | None] | None:
    """`{"approve": bool, "grant_minutes": int?}` as (approve, minutes); None when malformed."""
    try:
        payload = json.loads(body or b"{}")
        approve = payload["approve"]
        minutes = payload.get("grant_minutes")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(approve, bool) or not (minutes is None or isinstance(minutes, int)):
        return None
    return approve, minutes


def api_app(service: ApprovalService) -> Starlette:
    def authorized(request: Request, *, approving: bool = False) -> JSONResponse | None:
        if service.pin is None:
            if not approving:
                return None
            # Without a PIN anyone running as this user could approve, a coding agent's model included.
            return JSONResponse(
                {
                    "error": "pin",
                    "message": "approving from a terminal needs an approver PIN: set TELCO_MCP_APPROVER_PIN on the "
                    "server (its hash from `telco-mcp approvals hash-pin`), or approve on the approval page",
                },
                status_code=403,
            )
        try:
            service.check_pin(request.headers.get("x-approver-pin"), source=terminal_source(), channel="cli")
        except ConfirmationError as exc:
            return JSONResponse({"error": "pin", "message": str(exc)}, status_code=401)
        return None

    async def listing(request: Request) -> Response:
        if (refused := authorized(request)) is not None:
            return refused
        return JSONResponse({"pid": _pid(), "approvals": [approval_json(a) for a in service.store.pending()]})

    async def show(request: Request) -> Response:
        if (refused := authorized(request)) is not None:
            return refused
        approval = service.store.get(request.path_params["approval_id"])
        if approval is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(approval_json(approval))

    async def decide(request: Request) -> Response:
        decision = decision_of(await request.body())
        if decision is None:
            return JSONResponse({"error": "bad_request"}, status_code=400)
        approve, minutes = decision
        if (refused := authorized(request, approving=approve)) is not None:
            return refused
        approval_id = request.path_params["approval_id"]
        if service.store.get(approval_id) is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        try:
            act = Act(factor="pin" if service.pin is not None else "os-user", source=terminal_source())
            decided = service.decide(approval_id, approve, "cli", grant_minutes=minutes, act=act)
        except ConfirmationError as exc:
            return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)
        return JSONResponse(approval_json(decided))

    return Starlette(
        routes=[
            Route("/api/approvals", listing, methods=["GET"]),
            Route("/api/approvals/{approval_id}", show, methods=["GET"]),
            Route("/api/approvals/{approval_id}/decide", decide, methods=["POST"]),
        ]
    )


def _pid() -> int:
    import os

    return os.getpid()
