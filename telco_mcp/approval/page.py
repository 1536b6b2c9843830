"""The approval page and the local approvals API, served by the server process itself.

Page (`/approvals/...`, Starlette, plain HTML forms, no third-party assets; JavaScript only for passkeys and
to show times in the reader's time zone, the page reads right without it):
    GET  /approvals/                    sign in with the approver PIN, then every pending approval
    GET  /approvals/a/{id}?code=...     a launch link: the page, its single-use code riding in the form;
                                        once used, the link still shows the decision, read only
    GET  /approvals/a/{id}              exactly what will be sent, with Approve and Deny; once decided
                                        (or expired), the decision as the heading and no form
    POST /approvals/a/{id}/decide       approve (optionally with a grant) or deny, then back to the GET
                                        (a reload shows the decision; a second press changes nothing)
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
import hashlib
import html
import json
import math
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import anyio
import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from telco_mcp.approval.passkeys import (
    RelyingParty,
    approval_challenge,
    bulk_challenge,
    request_options,
    verify_assertion,
)
from telco_mcp.approval.pin import pin_source, terminal_source
from telco_mcp.approval.service import (
    SECRET_MAX,
    SECRET_MIN,
    ApprovalService,
    asked_by,
    check_typed_secret,
    generate_secret,
)
from telco_mcp.approval.sessions import Session, hashed
from telco_mcp.approval.store import MAX_GRANT_MINUTES, Approval
from telco_mcp.errors import ConfirmationError, StateUnavailable
from telco_mcp.safety.audit import Act, Factor

# Where a sign-in may lead: the pending list or one approval's page, nothing else (no other host, scheme,
# backslash, dot segment or encoded slash; an approval id is url-safe base64).
_NEXT = re.compile(r"/approvals/(a/apr_[A-Za-z0-9_-]{1,64})?")
_ID = re.compile(r"apr_[A-Za-z0-9_-]{1,64}")
_MAX_SHOWN = 200  # approvals a bulk decision's result page lists at most
SESSION_COOKIE = "telco_mcp_approval"
PRE_CSRF_COOKIE = "telco_mcp_signin"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; "
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


def _until(timestamp: float, now: float) -> str:
    """How long until `timestamp`, as the page says it (static/time.js says the same in the browser)."""
    minutes = math.ceil((timestamp - now) / 60)
    if minutes <= 0:
        return "expired"
    return "in 1 minute" if minutes == 1 else f"in {minutes} minutes"


def _clock(timestamp: float, now: float, *, until: bool = False) -> Markup:
    """A time as the page shows it: UTC (and how long until it) as written here, which the page's script
    (static/time.js) rewrites to the reader's own time zone; without JavaScript this text stands."""
    iso = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = f'<time datetime="{iso}" data-local-time>{_when(timestamp)}</time>'
    if until:
        out += f' (<span data-until="{iso}">{_until(timestamp, now)}</span>)'
    return Markup(out)  # a timestamp's digits and fixed words only: nothing from a request


# How a decision reached the approval, for the page that shows it later.
_BY = {
    "approval-page": "on the approval page",
    "cli": "in a terminal (telco-mcp approvals)",
    "approval-api": "through the approval API",
    "client": "in the MCP client, which declined to open the link",
}


@dataclass(frozen=True)
class Outcome:
    """What became of an approval that no longer waits: the page's heading, and what it means now."""

    heading: str
    next: str
    verb: str = ""  # "Approved" or "Denied" when a person (or their client) decided it
    by: str = ""  # how, in words (`_BY`), with the approver when the API names one
    usable: bool = False  # approved and not yet used: `next` goes on with the approval's expiry
    expired: bool = False  # it expired unused: the page says when


def outcome(approval: Approval, now: float) -> Outcome | None:
    """The decision (or the expiry) of an approval, as its page shows it; None while it waits for a person.

    The page knows an approval was used by the assistant's retry, not what the provider answered (that is in
    the assistant's answer and the audit log): it says no more than it knows.
    """
    where = f"{approval.provider} (sandbox)" if approval.sandbox else approval.provider
    by = _BY.get(approval.decided_by or "", "")
    if approval.decided_by == "approval-api" and approval.approver:
        by += f" by {approval.approver.get('name') or approval.approver.get('sub')}"
    if approval.status == "pending":
        if not approval.expired(now):
            return None
        return Outcome(
            "Expired, nothing was sent",
            "Nobody decided it in time (or the assistant's session ended). If the write is still wanted, your "
            "assistant has to ask again.",
            expired=True,
        )
    if approval.status == "denied":
        return Outcome("Denied", "Nothing was sent. Your assistant is told you said no.", "Denied", by)
    if approval.status == "used":
        return Outcome(
            "Approved — used by your assistant",
            f"Your assistant used this approval to send the write to {where}, once; what {approval.provider} "
            "answered is in your assistant's reply and in the audit log.",
            "Approved",
            by,
        )
    if approval.expired(now):
        return Outcome(
            "Approved, but it expired unused",
            "Your assistant did not send it in time, so nothing was sent. If the write is still wanted, your "
            "assistant has to ask again.",
            "Approved",
            by,
            expired=True,
        )
    return Outcome(
        f"Approved — your assistant can send it to {where}",
        "Tell your assistant to go ahead: it can send this once, until",
        "Approved",
        by,
        usable=True,
    )


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


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("telco_mcp.approval", "templates"),
    autoescape=True,  # every value is escaped unless a template says otherwise (none does)
)


class _Page:
    """The page's routes. A session (cookie) lets a person list and read approvals, never decide one: each
    approval POST carries its own proof (`_proof`), so a cookie another loopback port received approves nothing."""

    def __init__(self, service: ApprovalService, allowed_hosts: list[str]) -> None:
        self.service = service
        self.allowed_hosts = allowed_hosts

    # ---------------------------------------------------------------- plumbing
    @property
    def proof(self) -> str:
        """What each approval on this page needs: a passkey assertion, the PIN typed for it, or a launch code."""
        if self.service.factor == "passkey":
            return "passkey"
        return "pin" if self.service.pin is not None else "code"

    def _render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("title", "Approvals")
        values.setdefault("passkey", self.proof == "passkey")
        clock = functools.partial(_clock, now=self.service.clock())
        page = _TEMPLATES.get_template(template).render(when=_when, clock=clock, asker=asked_by, **values)
        return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)

    def _message(self, heading: str, text: str, status: int = 200) -> HTMLResponse:
        return self._render("message.html", status, title=heading, heading=heading, text=text, passkey=False)

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

    def _act(self, request: Request, session: Session | None, *, bulk: bool = False) -> Act:
        """How this person acts here: with this page's proof (an approval POST carries its own), from where, in
        which session (none: a launch code's page)."""
        sid = request.cookies.get(SESSION_COOKIE) or ""
        factor: Factor = {"passkey": "passkey", "pin": "pin"}.get(self.proof, "launch-code")  # type: ignore[assignment]
        key = hashed(sid) if session is not None and sid else None
        return Act(factor=factor, source=self._source(request), session_key=key, bulk=bulk)

    def _secure(self, request: Request) -> bool:
        """Cookies are `Secure` wherever the page is reached over https (directly or behind a TLS proxy)."""
        return request.url.scheme == "https" or (self.service.mounted_base or "").startswith("https://")

    def _rp(self) -> RelyingParty:
        return RelyingParty.for_base(self.service.base_url)

    async def _passkeys(self) -> list[Any]:
        return await self._state(self.service.passkeys.all)

    # ---------------------------------------------------------------- routes
    async def css(self, request: Request) -> Response:
        text = resources.files("telco_mcp.approval").joinpath("page.css").read_text(encoding="utf-8")
        return Response(text, media_type="text/css", headers=SECURITY_HEADERS)

    async def script(self, request: Request) -> Response:
        """One of the page's own scripts (the routes name each: passkey.js, time.js)."""
        name = request.url.path.rsplit("/", 1)[1]
        text = resources.files("telco_mcp.approval").joinpath("static", name).read_text(encoding="utf-8")
        return Response(text, media_type="text/javascript", headers=SECURITY_HEADERS)

    async def index(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        session = await self._session(request)
        if session is None or session.approval is not None:
            return await self._signin_page(request, next_path="/approvals/")
        pending = await self._state(self.service.store.pending)
        just, verdict = await self._just_decided(request)
        return self._render(
            "list.html", title=verdict or "Pending approvals", pending=pending, csrf=session.csrf, proof=self.proof,
            code="", local_time=bool(pending), just=just, verdict=verdict,
        )  # fmt: skip

    async def _just_decided(self, request: Request) -> tuple[list[tuple[Approval, Outcome | None]], str]:
        """After a bulk decision (`?decided=ID&decided=…`): what became of each of those approvals, as the store
        says now, and a count of each verdict ("2 approved, 1 denied"); nothing when the list was not asked for."""
        if "decided" not in request.query_params:
            return [], ""
        ids = [i for i in request.query_params.getlist("decided") if _ID.fullmatch(i)][:_MAX_SHOWN]
        found = [await self._state(self.service.store.get, i) for i in dict.fromkeys(ids)]
        now = self.service.clock()
        just = [(a, outcome(a, now)) for a in found if a is not None]
        counts = Counter(o.verb.lower() for _, o in just if o is not None and o.verb)
        verdict = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items())) or "Nothing was decided"
        return just, verdict

    async def _signin_page(self, request: Request, *, next_path: str, error: str | None = None) -> Response:
        if not self.service.signs_in:
            return self._message(
                "Sign-in is not available",
                "This link carries no sign-in. Open the link your assistant's server opened in your browser, "
                "or run `telco-mcp approvals` in a terminal. (An operator can set TELCO_MCP_APPROVER_PIN, or "
                "TELCO_MCP_APPROVER_FACTOR=passkey, to allow signing in here.)",
                401,
            )
        pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
        options = ""
        if self.proof == "passkey":
            options = request_options(self._rp(), _signin_challenge(pre), await self._passkeys())
        response = self._render(
            "signin.html", 401, title="Sign in", csrf=pre, next_path=next_path, error=error, options=options
        )
        response.set_cookie(
            PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/approvals/", secure=self._secure(request)
        )
        return response

    async def signin(self, request: Request) -> Response:
        """A session to list and read approvals (PIN or passkey): never to decide one."""
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
            if self.proof == "passkey":
                credential, challenge = form.get("credential", [""])[0], _signin_challenge(pre)
                sid = await self._state(
                    self.service.passkey_sign_in, self._rp(), challenge, credential, self._source(request)
                )
            else:
                # scrypt, the shared count of wrong PINs, the new session and its audit line: off the event loop
                # the MCP sessions share
                sid = await anyio.to_thread.run_sync(
                    self.service.sign_in, form.get("pin", [""])[0], self._source(request)
                )
        except ConfirmationError as exc:
            return await self._signin_page(request, next_path=next_path, error=f"Not signed in: {exc}.")
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
        session = None
        used_link = False
        if code is not None and self.proof == "code":
            # The launch code opens this one approval's page and rides in its form until the decision POST,
            # where it is used once: it is never swapped for a cookie. Used, it still shows what was decided.
            used_link = await self._state(self.service.code_shows, approval_id, code)
            if not used_link and not await self._state(
                self.service.code_opens, approval_id, code, self._source(request)
            ):
                return self._used_link()
        else:
            code = None
            session = await self._session(request)
            if not self.service.may_act(session, approval_id):
                return await self._signin_page(request, next_path=f"/approvals/a/{approval_id}")
        approval = await self._state(self.service.store.get, approval_id)
        if approval is None:
            return self._message("Unknown approval", "No such approval is known to this server.", 404)
        if used_link and outcome(approval, self.service.clock()) is None:
            return self._used_link()  # its decision POST failed after taking the code: it can decide nothing now
        return await self._show(approval, csrf=session.csrf if session is not None else "", code=code or "")

    def _used_link(self) -> Response:
        return self._message(
            "This link has been used",
            "This launch link no longer opens its approval. Use `telco-mcp approvals` to see what is pending.",
            403,
        )

    async def _show(
        self, approval: Approval, *, csrf: str, code: str, status: int = 200, shown_secret: str | None = None
    ) -> Response:
        """An approval's page: while it waits, what will be sent and the form to decide it; once it no longer
        waits, the decision (or the expiry) as the heading, how and when it was made, and what was asked."""
        done = outcome(approval, self.service.clock())
        options = ""
        if self.proof == "passkey" and done is None:
            options = request_options(self._rp(), approval_challenge(approval), await self._passkeys())
        body = json.dumps(approval.body, indent=2, ensure_ascii=False) if approval.body is not None else "(no body)"
        if approval.form is not None:  # a form body (application/x-www-form-urlencoded): its fields, in order
            body = "\n".join(f"{name} = {value}" for name, value in approval.form) or "(no fields)"
        grant = None
        if done is not None and done.verb == "Approved" and approval.grant_target:  # given with this approval
            grant = await self._state(
                self.service.store.find_grant, approval.tool, approval.grant_target, approval.client
            )
            grant = grant if grant is not None and grant.approval == approval.id else None
        return self._render(
            "detail.html",
            status,
            title=done.heading if done is not None else "Approve this write?",
            a=approval,
            outcome=done,
            grant=grant,
            shown_secret=shown_secret,
            body=body,
            csrf=csrf,
            code=code,
            proof=self.proof,
            options=options,
            covers=Markup(self._grant_covers()),
            grant_choices=GRANT_CHOICES,
            secret_min=SECRET_MIN,
            secret_max=SECRET_MAX,
            local_time=True,
        )

    async def _may_see(self, request: Request, approval_id: str, code: str) -> bool:
        """Whether this request may read an approval's page: its session may, or it carries the used launch code."""
        if self.service.may_act(await self._session(request), approval_id):
            return True
        return self.proof == "code" and await self._state(self.service.code_shows, approval_id, code)

    async def _post_allowed(
        self, request: Request, form: dict[str, list[str]], approval_id: str | None
    ) -> tuple[Session | None, Response | None]:
        """A POST from this page: its origin, and the session's CSRF token or (one approval) its launch code."""
        if not _same_origin(request, self.service.mounted_base):
            return None, self._message("Refused", "This form was not sent from the approval page.", 403)
        session = await self._session(request)
        csrf_ok = session is not None and form.get("csrf", [""])[0] == session.csrf
        if csrf_ok and (approval_id is None or self.service.may_act(session, approval_id)):
            return session, None
        code = form.get("code", [""])[0]
        if (
            approval_id is not None
            and code
            and self.proof == "code"
            and await self._state(self.service.code_opens, approval_id, code, self._source(request))
        ):
            return None, None
        return None, self._message("Refused", "This form has expired. Open the approval page again.", 403)

    async def _proof(self, request: Request, form: dict[str, list[str]], approvals: list[Approval]) -> str | None:
        """Check the proof this POST carries for exactly these approvals; a message saying why not, else None.

        passkey  an assertion whose challenge names these approvals and what the page showed of them
        pin      the PIN typed for this approval (or this bulk approval), counted per source as at sign-in
        code     the launch code of this one approval, taken now: it approves once
        """
        try:
            if self.proof == "passkey":
                challenge = (
                    approval_challenge(approvals[0]) if len(approvals) == 1 and not form.get("id") else
                    bulk_challenge(approvals)
                )  # fmt: skip
                credential = form.get("credential", [""])[0]
                await self._state(verify_assertion, self._rp(), challenge, credential, await self._passkeys())
            elif self.proof == "pin":  # counted per source as at sign-in; the decision line records the factor
                await anyio.to_thread.run_sync(
                    functools.partial(
                        self.service.check_pin, form.get("pin", [""])[0], self._source(request), record_success=False
                    )
                )
            else:
                if len(approvals) != 1 or not await self._state(
                    self.service.take_code, approvals[0].id, form.get("code", [""])[0], self._source(request)
                ):
                    raise ConfirmationError("approving here needs the launch link your assistant's server opened")
        except ConfirmationError as exc:
            return str(exc)
        return None

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
        form = await self._form(request)
        code = form.get("code", [""])[0] if self.proof == "code" else ""
        current = await self._state(self.service.store.get, approval_id)
        if (
            current is not None
            and outcome(current, self.service.clock()) is not None
            and _same_origin(request, self.service.mounted_base)
            and await self._may_see(request, approval_id, code)
        ):  # a reload of the page a decision answered, or a second press: nothing changes, the page says what did
            return await self._decided(request, current, code, 409)
        session, refused = await self._post_allowed(request, form, approval_id)
        if refused is not None:
            return refused
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
        if decision == "approve":  # deny needs no factor: it cannot cause a write
            if approval is None:
                return self._message("Unknown approval", "No such approval is known to this server.", 404)
            try:
                secret, generated = self._secret_from(approval, form)
            except ConfirmationError as exc:
                return self._message("Not approved", f"Nothing was decided: {exc}. Go back and try again.", 400)
            if (problem := await self._proof(request, form, [approval])) is not None:
                return self._message("Not approved", f"Nothing was decided: {problem}.", 403)
        try:
            decided = await anyio.to_thread.run_sync(
                functools.partial(
                    self.service.decide,
                    approval_id, decision == "approve", "approval-page", grant_minutes=minutes, secret=secret,
                    act=self._act(request, session),
                )
            )  # fmt: skip
        except ConfirmationError as exc:
            now = await self._state(self.service.store.get, approval_id)
            if now is not None and outcome(now, self.service.clock()) is not None:  # decided elsewhere, or expired
                return await self._decided(request, now, code, 409)
            return self._message("Nothing was decided", f"{exc}.", 409)
        if code and session is None and decided.status == "denied":  # a deny used the launch code too
            await self._state(self.service.take_code, approval_id, code, self._source(request))
        if generated and secret and decided.secret_field:  # shown this once: a reload shows the decision only
            return await self._decided(request, decided, code, 200, shown_secret=secret)
        # POST-redirect-GET: a reload, or the link reopened later, shows the decision, never the form again
        target = f"/approvals/a/{approval_id}" + (f"?code={quote(code, safe='')}" if code and session is None else "")
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    async def _decided(
        self, request: Request, approval: Approval, code: str, status: int, shown_secret: str | None = None
    ) -> Response:
        session = await self._session(request)
        return await self._show(
            approval, csrf=session.csrf if session is not None else "", code=code, status=status,
            shown_secret=shown_secret,
        )  # fmt: skip

    def _grant_covers(self, *, markup: bool = True) -> str:
        """The tools a grant covers, named as the model calls them: exactly what the grant holds."""
        code = (lambda name: f"<code>{_e(name)}</code>") if markup else (lambda name: name)
        wrap = _e if markup else (lambda text: text)
        named = [f"{code(name)} ({wrap(title.lower())})" for name, title in self.service.grant_covers()]
        return ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else "".join(named)

    async def _selected(self, form: dict[str, list[str]]) -> list[Approval]:
        found = [await self._state(self.service.store.get, i) for i in dict.fromkeys(form.get("id", []))]
        return [a for a in found if a is not None]

    async def bulk_options(self, request: Request) -> Response:
        """The passkey request options over exactly the approvals ticked (the page's script asks, same-origin)."""
        if (refused := self._guard(request)) is not None:
            return refused
        form = await self._form(request)
        session, refused = await self._post_allowed(request, form, None)
        if refused is not None or session is None or session.approval is not None or self.proof != "passkey":
            return JSONResponse({"error": "refused"}, status_code=403, headers=SECURITY_HEADERS)
        chosen = await self._selected(form)
        if not chosen:
            return Response("Tick the approvals to approve first.", status_code=400, headers=SECURITY_HEADERS)
        options = request_options(self._rp(), bulk_challenge(chosen), await self._passkeys())
        return Response(options, media_type="application/json", headers=SECURITY_HEADERS)

    async def bulk(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        form = await self._form(request)
        session, refused = await self._post_allowed(request, form, None)
        if refused is not None:
            return refused
        if session is None or session.approval is not None:
            return self._message("Refused", "Sign in to decide several approvals.", 403)
        action = form.get("action", [""])[0]
        if action == "deny_all":
            ids, approve = [a.id for a in await self._state(self.service.store.pending)], False
        elif action == "approve":
            chosen = await self._selected(form)
            if not chosen:
                return self._message("Nothing decided", "Tick the approvals to approve.", 400)
            if (problem := await self._proof(request, form, chosen)) is not None:
                return self._message("Not approved", f"Nothing was decided: {problem}.", 403)
            ids, approve = [a.id for a in chosen], True
        else:
            return self._message("Nothing decided", "Choose an action.", 400)
        decided: list[str] = []
        act = self._act(request, session, bulk=True)
        for approval_id in ids:
            try:
                await anyio.to_thread.run_sync(
                    functools.partial(self.service.decide, approval_id, approve, "approval-page", act=act)
                )
                decided.append(approval_id)
            except ConfirmationError:
                continue
        # POST-redirect-GET: a reload shows what became of these approvals (read from the store, not from the
        # URL), and never decides anything again
        query = urlencode([("decided", approval_id) for approval_id in decided[:_MAX_SHOWN]] or [("decided", "")])
        return RedirectResponse(f"/approvals/?{query}", status_code=303, headers=SECURITY_HEADERS)


def _signin_challenge(pre: str) -> bytes:
    """A sign-in assertion's challenge: bound to this visitor's pre-sign-in cookie, so it signs in only there."""
    return hashlib.sha256(b"signin-v1\0" + pre.encode()).digest()


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
            Route("/approvals/static/passkey.js", page.script, methods=["GET"]),
            Route("/approvals/static/time.js", page.script, methods=["GET"]),
            Route("/approvals/signin", page.signin, methods=["POST"]),
            Route("/approvals/bulk", page.bulk, methods=["POST"]),
            Route("/approvals/bulk/options", page.bulk_options, methods=["POST"]),
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
        "asked_by": asked_by(approval),
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
        approval_id = request.path_params["approval_id"]
        if approve and service.factor == "passkey":  # a terminal cannot make a passkey assertion
            url = service.page_url(approval_id)
            return JSONResponse(
                {
                    "error": "passkey",
                    "message": f"approving needs your passkey (TELCO_MCP_APPROVER_FACTOR=passkey): open {url}",
                    "url": url,
                },
                status_code=403,
            )
        if (refused := authorized(request, approving=approve)) is not None:
            return refused
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
