"""`telco-mcp approvers enroll | list | remove`: the approvers' passkeys (TELCO_MCP_APPROVER_FACTOR=passkey).

`enroll` starts its own short-lived page at http://localhost:PORT/approvals/enroll (loopback only, IPv4 and
IPv6, a free port unless `--port`), prints that URL and waits for one enrolment (or `--timeout` seconds). It
does not reach the running server: the store is a file of the server's state directory, which the server reads
at each approval, so a passkey enrolled while it runs works at once, and nothing the server exposes can enrol.

What enrolling needs, checked before the passkey is stored:
    the approver PIN                 when TELCO_MCP_APPROVER_PIN is set
    an existing passkey              when one is enrolled (its assertion over this enrolment's challenge)
    a one-time code                  on a fresh install with neither: printed only in the terminal that ran
                                     the command (never in a file, a log or the page), typed into the page
A store that had passkeys and is now empty (`enrolled-once` is kept beside it) is not a fresh install: without
the PIN, enrolment is refused until the operator removes that marker on purpose. That is a guard against
accidents, not against a model running as the server's own user (it could remove the marker too).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import socket
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from telco_mcp.approval.passkeys import (
    PasskeyStore,
    RelyingParty,
    registration_options,
    request_options,
    verify_assertion,
    verify_registration,
)
from telco_mcp.approval.pin import ApproverPin
from telco_mcp.errors import ConfigError, ConfirmationError
from telco_mcp.settings import Settings

ENROLL_PATH = "/approvals/enroll"


def _enroll_challenge(registration: bytes) -> bytes:
    """What an existing passkey signs to confirm a new one: bound to this enrolment's registration challenge."""
    return hashlib.sha256(b"enroll-v1\0" + registration).digest()


class Enrolment:
    """One enrolment page: the proof it takes, its challenge, and whether it is done."""

    def __init__(self, store: PasskeyStore, pin: ApproverPin | None, port: int) -> None:
        self.store = store
        self.pin = pin
        self.port = port
        self.rp = RelyingParty.for_base(f"http://localhost:{port}")
        self.challenge = secrets.token_bytes(32)
        self.csrf = secrets.token_urlsafe(24)
        self.code: str | None = None
        self.done = threading.Event()
        existing = store.all()
        if existing:
            self.proof = "passkey"
        elif pin is not None:
            self.proof = "pin"
        elif store.ever_enrolled():
            marker = getattr(store, "marker", "the store's enrolled-once marker")
            raise ConfigError(
                "approvers enroll: passkeys were enrolled here before and the store is now empty, so this is not a "
                "fresh install: enrolling needs the approver PIN (TELCO_MCP_APPROVER_PIN). If you removed the "
                f"passkeys yourself, delete {marker} and run this again"
            )
        else:
            self.proof = "code"
            self.code = "-".join(secrets.token_hex(2) for _ in range(4))

    @property
    def url(self) -> str:
        return f"{self.rp.origin}{ENROLL_PATH}"

    def page(self, error: str | None = None, status: int = 200) -> Response:
        from telco_mcp.approval.page import _TEMPLATES, SECURITY_HEADERS, _when

        existing = self.store.all()
        create = registration_options(self.rp, self.challenge, existing)
        get = request_options(self.rp, _enroll_challenge(self.challenge), existing) if self.proof == "passkey" else ""
        html = _TEMPLATES.get_template("enroll.html").render(
            title="Enrol a passkey", passkey=True, when=_when, create=create, get=get, csrf=self.csrf,
            proof=self.proof, error=error,
        )  # fmt: skip
        return Response(html, status_code=status, media_type="text/html", headers=SECURITY_HEADERS)

    def check_proof(self, form: dict[str, str], source: str) -> None:
        if self.proof == "passkey":
            challenge = _enroll_challenge(self.challenge)
            verify_assertion(self.rp, challenge, form.get("credential", ""), self.store.all())
        elif self.proof == "pin":
            assert self.pin is not None
            if not self.pin.check(form.get("pin", ""), source):
                raise ConfirmationError("wrong PIN")
        elif not (self.code and hmac.compare_digest(form.get("code", "").strip().encode(), self.code.encode())):
            raise ConfirmationError("that is not the one-time code shown in the terminal")

    def app(self) -> Starlette:
        from telco_mcp.approval.page import SECURITY_HEADERS, _host_allowed, _Page, _same_origin

        hosts = [f"localhost:{self.port}", f"127.0.0.1:{self.port}", f"[::1]:{self.port}"]
        assets = _Page.__new__(_Page)

        async def show(request: Request) -> Response:
            if not _host_allowed(request, hosts):
                return Response("Invalid Host header", status_code=421, headers=SECURITY_HEADERS)
            if self.done.is_set():
                return Response("This enrolment is finished.", status_code=410, headers=SECURITY_HEADERS)
            return self.page()

        async def post(request: Request) -> Response:
            if not _host_allowed(request, hosts):
                return Response("Invalid Host header", status_code=421, headers=SECURITY_HEADERS)
            if self.done.is_set():
                return Response("This enrolment is finished.", status_code=410, headers=SECURITY_HEADERS)
            raw = await _Page._form(assets, request)
            form = {key: values[0] for key, values in raw.items()}
            if not _same_origin(request) or not hmac.compare_digest(form.get("csrf", ""), self.csrf):
                return Response("This form was not sent from the enrolment page.", 403, headers=SECURITY_HEADERS)
            try:
                self.check_proof(form, request.client.host if request.client else "")
                label = (form.get("label") or "passkey").strip()[:64] or "passkey"
                passkey = verify_registration(self.rp, self.challenge, form.get("registration", ""), label)
            except ConfirmationError as exc:
                return self.page(f"Not enrolled: {exc}.", 403)
            self.store.add(passkey)
            self.done.set()
            from telco_mcp.approval.page import _TEMPLATES

            html = _TEMPLATES.get_template("message.html").render(
                title="Passkey enrolled", passkey=False, heading="Passkey enrolled",
                text=f"“{label}” approves writes from now on. You can close this page.",
            )  # fmt: skip
            return Response(html, media_type="text/html", headers=SECURITY_HEADERS)

        async def script(request: Request) -> Response:
            return await _Page.script(assets, request)

        async def css(request: Request) -> Response:
            return await _Page.css(assets, request)

        return Starlette(
            routes=[
                Route(ENROLL_PATH, show, methods=["GET"]),
                Route(ENROLL_PATH, post, methods=["POST"]),
                Route("/approvals/static/passkey.js", script, methods=["GET"]),
                Route("/approvals/static/page.css", css, methods=["GET"]),
            ]
        )


def _loopback_sockets(port: int) -> list[socket.socket]:
    """The port on 127.0.0.1 and on ::1 (links say localhost, which a browser may try on either)."""
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    v4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        v4.bind(("127.0.0.1", port))
    except OSError as exc:
        v4.close()
        raise ConfigError(f"approvers enroll: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    v4.listen(16)
    out = [v4]
    port = v4.getsockname()[1]
    if socket.has_ipv6:
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            v6.bind(("::1", port))
            v6.listen(16)
            out.append(v6)
        except OSError:
            v6.close()
    return out


def store_for(settings: Settings) -> PasskeyStore:
    """Where the server reads passkeys: the shared state's (Redis, under MACs) with TELCO_MCP_STATE_URL, else the
    state directory's file."""
    from telco_mcp.server import passkey_store

    if settings.telco_mcp_state_url:
        from telco_mcp.state import open_state

        shared = open_state(settings).passkeys
        if shared is not None:
            return shared
    return passkey_store(settings)


def enroll(settings: Settings, port: int, timeout: float, out: Any = sys.stdout) -> int:
    import anyio
    import uvicorn

    pin = settings.telco_mcp_approver_pin
    approver_pin = ApproverPin(pin.get_secret_value()) if pin is not None else None
    sockets = _loopback_sockets(port)
    port = sockets[0].getsockname()[1]
    enrolment = Enrolment(store_for(settings), approver_pin, port)
    config = uvicorn.Config(
        enrolment.app(), log_config=None, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
    )
    server = uvicorn.Server(config)
    print(f"Open {enrolment.url} in your browser to enrol a passkey (waiting {int(timeout)} s).", file=out)
    if enrolment.code is not None:  # only here: never in a file, a log or the page
        print(f"One-time code (fresh install, no PIN, no passkey yet): {enrolment.code}", file=out)
    elif enrolment.proof == "pin":
        print("The page asks for the approver PIN.", file=out)
    else:
        print("The page asks one of the passkeys already enrolled to confirm the new one.", file=out)
    out.flush()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, sockets)
            with anyio.move_on_after(timeout):
                await anyio.to_thread.run_sync(enrolment.done.wait)
            server.should_exit = True

    try:
        anyio.run(main)
    finally:
        for sock in sockets:
            sock.close()
    if not enrolment.done.is_set():
        print("telco-mcp approvers: no passkey was enrolled (timed out)", file=sys.stderr)
        return 1
    print(f"Enrolled. {len(enrolment.store.all())} passkey(s) approve writes here.", file=out)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = store_for(settings)
    if args.action == "enroll":
        return enroll(settings, args.port, args.timeout)
    if args.action == "list":
        keys = store.all()
        for p in keys:
            when = datetime.fromtimestamp(p.created, UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(f"{p.credential_id}  {p.label}  (enrolled {when})")
        if not keys:
            print(f"no passkey is enrolled ({getattr(store, 'path', 'in the shared state')})")
        return 0
    if not args.id:
        raise ConfigError("approvers remove: give the passkey's id or name (see `telco-mcp approvers list`)")
    if not store.remove(args.id):
        print(f"telco-mcp approvers: no passkey {args.id!r} is enrolled", file=sys.stderr)
        return 1
    print(f"removed {args.id}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "approvers",
        help="enrol, list or remove the approvers' passkeys (TELCO_MCP_APPROVER_FACTOR=passkey)",
        description="Enrol, list or remove the passkeys that approve writes on this machine's approval page.",
    )
    parser.add_argument("action", choices=["enroll", "list", "remove"], help="what to do")
    parser.add_argument("id", nargs="?", help="with remove: the passkey's id or name")
    parser.add_argument("--port", type=int, default=0, help="with enroll: the loopback port of the enrolment page")
    parser.add_argument("--timeout", type=float, default=300, help="with enroll: seconds to wait for the browser")
    return parser
