"""`ApprovalService`: the store, the PIN, the links and the listeners, in one place.

Links: without an approver PIN, the link handed to the local browser carries a short-lived,
single-use launch code; the first GET swaps it for an HttpOnly, SameSite=Strict cookie bound to that
one approval and redirects to a clean URL. The code never appears on a command line (any local user
can read those): the browser is handed a 0600 file in the 0700 state directory that redirects to
it, and the file is deleted once the code is used. With an approver PIN every link, the browser's
included, carries no secret and the approver signs in with the PIN: a model that runs commands as
the same user (a coding agent) could read a launch code out of that file, but not the PIN.

Launch codes, page sessions and the secrets typed on the page are kept in the state backend
(`sessions.py`): in this process, or in Redis shared by replicas, so each request of one person may
land on another replica.

Listeners (`listeners.py`), started on the first approval (nothing at startup):
- the page: under the HTTP transports it is mounted in the server's own app under `/approvals/`;
  otherwise (stdio) a loopback listener on `TELCO_MCP_APPROVAL_PORT` or an ephemeral port;
- the local API for `telco-mcp approvals`: a Unix socket, 0600 in a 0700 directory of the state
  directory, one per server process.

Files in the state directory: a process removes its socket (`<pid>.sock`) and its launch files
(`launch-<pid>-<approval>.html`) when it stops its listeners and when it exits (`atexit`; the CLI
turns SIGTERM into the same clean-up); at start it clears those a process left behind that can
no longer serve them (`clear_stale`: the owning process is gone, or a launch file's code expired).
"""

from __future__ import annotations

import atexit
import contextlib
import html
import logging
import os
import secrets
import string
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio

from telco_mcp.access import Network, is_loopback
from telco_mcp.approval.notify import post_webhook
from telco_mcp.approval.passkeys import FilePasskeyStore, PasskeyStore, RelyingParty, local_base, verify_assertion
from telco_mcp.approval.pin import ApproverPin, PinLocked
from telco_mcp.approval.sessions import MemoryPageState, PageState, SecretBox, Session, hashed
from telco_mcp.approval.sockets import remove_socket
from telco_mcp.approval.store import MAX_GRANT_MINUTES, Approval, ApprovalStore, DecidedBy, Grant, MemoryApprovalStore
from telco_mcp.errors import ConfirmationError, StateUnavailable, TelcoError
from telco_mcp.identity import Caller
from telco_mcp.ops import metrics
from telco_mcp.safety.audit import Act, AuditLog, Channel

logger = logging.getLogger(__name__)

MAX_PENDING_PER_CLIENT = 10
_SPENT = "spent:"  # a used launch code's key in the page state (beside the unused codes' bare hashes)
SECRET_MIN, SECRET_MAX = 12, 128
_ALPHABET = string.ascii_letters + string.digits  # no punctuation: every SIP phone's keypad and config takes it


def generate_secret() -> str:
    """A strong password (24 letters and digits, about 143 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(24))


def check_typed_secret(secret: str, repeated: str) -> None:
    """Raise `ConfirmationError` unless a typed password is usable; the message never contains it."""
    if secret != repeated:
        raise ConfirmationError("the two passwords differ")
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise ConfirmationError(f"a password needs {SECRET_MIN} to {SECRET_MAX} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in secret):
        raise ConfirmationError("a password cannot contain spaces or control characters")


class FourEyesRefused(ConfirmationError):
    """An approval under TELCO_MCP_FOUR_EYES that this approver may not give (no identity, or their own)."""


@dataclass
class ApprovalService:
    ttl: int
    state_dir: Path
    pin: ApproverPin | None = None
    # TELCO_MCP_APPROVER_FACTOR: what a person proves with each approval on the page (none: a launch code)
    factor: str = "none"
    socket_group: int | None = None  # TELCO_MCP_APPROVAL_SOCKET_GROUP: the terminal socket's group (then 0660)
    passkeys: PasskeyStore = field(default_factory=lambda: FilePasskeyStore(Path("/nonexistent")))
    webhook: str | None = None
    page_port: int = 0
    grantable_tools: frozenset[str] = frozenset()
    store: ApprovalStore = field(default_factory=MemoryApprovalStore)
    clock: Callable[[], float] = time.time
    mounted_base: str | None = None  # set by the HTTP transports: the page is served by the server itself
    # TELCO_MCP_TRUSTED_PROXIES: the page's own listener (stdio) applies X-Forwarded-* only from these
    proxies: tuple[Network, ...] = ()
    # Launch codes, sessions and sealed secrets (sessions.py): shared by replicas when the state is.
    page: PageState = field(default_factory=MemoryPageState)
    # Seals a secret typed (or generated) on the page until its write is sent: never in plain text in the state
    # or the audit log, taken once.
    box: SecretBox = field(default_factory=lambda: SecretBox.from_setting(None), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _start_lock: threading.Lock = field(default_factory=threading.Lock)
    audit: AuditLog | None = None  # decisions and grants are recorded there
    serve: Callable[[ApprovalService], Listeners] | None = None  # starts the listeners (see listeners.py)
    _listeners: Listeners | None = None
    _opened_here: dict[str, float] = field(default_factory=dict)  # id -> expiry, until decided or expired
    _launched: set[Path] = field(default_factory=set)  # launch files this process wrote: removed when it exits

    def __post_init__(self) -> None:
        metrics.count_pending_with(self.count_pending)

    # ---------------------------------------------------------------- approvals
    def create(self, approval: Approval) -> tuple[Approval, bool]:
        """Open an approval, or return the one still pending for the same tool, arguments and client.

        Asking again never opens a second approval (nor another browser tab) for the same write, and
        one client may keep at most `MAX_PENDING_PER_CLIENT` approvals waiting: a model cannot wear
        the person down with a flood of requests.
        """
        self.start()  # a page that cannot be served is an error now, not a dead link later
        opened, new = self.store.open(approval, MAX_PENDING_PER_CLIENT)  # one atomic step, across replicas too
        self.sweep_expired()
        if new:
            logger.info("approval %s pending: %s (%s)", opened.id, opened.tool, opened.client_label)
            metrics.approval_opened(opened.tool)
            with self._lock:
                self._opened_here[opened.id] = opened.expires
        return opened, new

    def sweep_expired(self) -> None:
        """Count, once, each approval this process opened that expired undecided (telco_mcp_approvals_expired:
        summed over replicas, every expiry is counted by the replica that opened it)."""
        now = self.clock()
        with self._lock:
            due = [i for i, expires in self._opened_here.items() if expires <= now]
            for approval_id in due:
                del self._opened_here[approval_id]
        for approval_id in due:
            try:
                current = self.store.get(approval_id)
            except StateUnavailable:
                continue
            if current is None or current.status == "pending":
                metrics.approval_expired()

    def count_pending(self) -> int:
        """Pending approvals in the store (shared by replicas: every replica reports the same count)."""
        self.sweep_expired()
        return len(self.store.pending())

    def decide(
        self,
        approval_id: str,
        approve: bool,
        by: DecidedBy,
        grant_minutes: int | None = None,
        approver: Caller | None = None,
        *,
        secret: str | None = None,
        act: Act | None = None,
    ) -> Approval:
        """Record a person's decision (and any grant with it). `approver` is the authenticated person who
        decided, when the decision came through the authenticated approval API.

        Under four eyes (`Approval.four_eyes`) only an authenticated person other than the caller may
        approve; anyone who can reach the approval may deny it. An approval whose write sets a secret is
        approved only with that secret, which only the approval page takes (a terminal or an API would put
        it in a shell history or a log). `act` says how the person acted (factor, source, session), for the
        audit log's decision line.
        """
        current = self.store.get(approval_id)
        if approve and current is not None and current.secret_field and not secret:
            raise ConfirmationError(
                f"approval {approval_id} sets a {current.secret_field}: approve it on the approval page, where the "
                f"{current.secret_field} is typed or generated"
            )
        if approve and current is not None and current.four_eyes:
            if approver is None:
                raise FourEyesRefused(
                    f"approval {approval_id} needs a second person (TELCO_MCP_FOUR_EYES): approve it through the "
                    "authenticated approval API, `telco-mcp approvals approve <id> --url <server>`, with your own "
                    "access token"
                )
            if current.client == approver.key:
                raise FourEyesRefused(
                    f"approval {approval_id} needs a second person (TELCO_MCP_FOUR_EYES): you asked for this write "
                    "yourself, so someone else must approve it"
                )
        sealed = (
            approve
            and current is not None
            and current.status == "pending"  # a second submit of a decided approval keeps the first secret
            and current.secret_field is not None
            and secret is not None
        )
        if sealed:
            # Kept before the decision is recorded: an approval is never "approved" without its secret (a
            # failure here leaves it pending). Sealed, bound to this approval, gone when it expires: any
            # replica's retry takes it once.
            assert current is not None and secret is not None
            self.page.put_secret(current.id, self.box.seal(current.id, secret), current.expires)
        try:
            decided = self.store.decide(approval_id, approve, by, approver.audit() if approver is not None else None)
        except BaseException:
            if sealed:
                with contextlib.suppress(StateUnavailable):
                    self.page.take_secret(approval_id)  # not decided: the secret must not outlive the attempt
            raise
        if sealed and decided.status != "approved":  # decided otherwise meanwhile (another person denied it)
            with contextlib.suppress(StateUnavailable):
                self.page.take_secret(approval_id)
        grant: Grant | None = None
        if approve and grant_minutes and decided.grant_target:
            minutes = max(1, min(MAX_GRANT_MINUTES, grant_minutes))
            grant = Grant(
                id="grt_" + secrets.token_urlsafe(9),
                target=decided.grant_target,
                client=decided.client,
                tools=self.grantable_tools,
                until=self.clock() + 60 * minutes,
                decided_by=by,
                approval=decided.id,
            )
            self.store.add_grant(grant)
        if self.audit is not None:
            self.audit.decision(
                approval=decided.id,
                tool=decided.tool,
                status=decided.status,
                decided_by=by,
                approver=decided.approver,
                caller=decided.caller,
                grant=None
                if grant is None
                else {"id": grant.id, "call": grant.target, "tools": sorted(grant.tools), "until": grant.until},
                sandbox=decided.sandbox,
                act=act,
            )
        who = f" ({approver.label})" if approver is not None else ""
        logger.info("approval %s %s by %s%s", approval_id, decided.status, by, who)
        metrics.approval_decided(by, decided.status)
        launch = self._launch_file(decided.id)
        launch.unlink(missing_ok=True)  # decided (denied too): its launch code has nothing left to open
        with self._lock:
            self._opened_here.pop(decided.id, None)
            self._launched.discard(launch)
        return decided

    async def session_closed(self, client: str) -> None:
        """The MCP session bound to `client` closed: its pending approvals expire (nobody could redeem them, so
        nobody is asked to decide them). Its grants die with it: the key is never issued again."""
        try:
            expired = await anyio.to_thread.run_sync(self.store.expire_client, client)
        except StateUnavailable as exc:
            logger.warning("pending approvals of a closed session stay until they expire: %s", exc)
            return
        for approval_id in expired:
            logger.info("approval %s expired: the MCP session that asked for it closed", approval_id)

    def take_secret(self, approval_id: str) -> str | None:
        """The secret given with an approval, once (the write that uses it is about to be sent); None when it
        is gone (expired, taken, unreadable, or the shared state cannot be reached): the write is not sent."""
        try:
            sealed = self.page.take_secret(approval_id)
        except StateUnavailable:
            return None
        return self.box.open(approval_id, sealed) if sealed is not None else None

    def announce(self, approval: Approval) -> None:
        """Post the webhook notice off the tool call's path; once the receiver took it (2xx), the approval
        names the webhook among the channels that reached a person."""
        if self.webhook:
            self.run_soon(self._post_notice(self.webhook, approval))

    async def _post_notice(self, url: str, approval: Approval) -> None:
        if await post_webhook(url, self.notice(approval)):
            try:
                await anyio.to_thread.run_sync(self.store.add_channel, approval.id, "webhook")
            except TelcoError as exc:
                logger.warning("could not record the approval webhook's delivery: %s", exc.message)

    def notice(self, approval: Approval) -> dict[str, Any]:
        """The webhook's JSON: what is asked and where to decide it. The link carries no secret."""
        return {
            "type": "telco-mcp.approval.pending",
            "approval_id": approval.id,
            "tool": approval.tool,
            "summary": approval.summary,
            "client": approval.client_label,
            "asked_by": asked_by(approval),
            "expires_at": approval.expires,
            "url": self.page_url(approval.id),
            "sign_in": self.proof,  # what the person proves there: "approver PIN" or "passkey"
            "sandbox": approval.sandbox,
        }

    def grant_covers(self) -> list[tuple[str, str]]:
        """The tools a grant covers on its call, as (name, title): what every grant holds (`Grant.tools`) and
        what the page says next to its checkbox, from the one list (`grantable_tools`)."""
        from telco_mcp.catalogue import CATALOGUE

        titles = {op.name: op.title for op in CATALOGUE}
        return [(name, titles.get(name, name)) for name in sorted(self.grantable_tools)]

    # ---------------------------------------------------------------- links and sessions
    @property
    def base_url(self) -> str:
        # `localhost`, not 127.0.0.1: passkeys need a host name (an IP is no RP ID), and the loopback listener
        # holds the port on both 127.0.0.1 and ::1, so no other process can answer for localhost on the other.
        if self.mounted_base:
            return local_base(self.mounted_base)
        self.start()
        port = self._listeners.page_port if self._listeners is not None else self.page_port
        return f"http://localhost:{port}"

    @property
    def local_page(self) -> bool:
        """Whether the page is served on this machine's loopback (so a local browser can reach it)."""
        if not self.mounted_base:
            return True
        return is_loopback(urlsplit(self.mounted_base).hostname or "")

    @property
    def signs_in(self) -> bool:
        """Whether a person can act on the page without a launch code: with the PIN or a passkey."""
        return self.pin is not None or self.factor == "passkey"

    @property
    def proof(self) -> str:
        """What the person proves on the page, in words."""
        return "passkey" if self.factor == "passkey" else "approver PIN"

    def page_url(self, approval_id: str) -> str:
        return f"{self.base_url}/approvals/a/{approval_id}"

    def list_url(self) -> str:
        return f"{self.base_url}/approvals/"

    def browser_link(self, approval: Approval) -> str:
        """What the local browser is handed: never a secret on a command line.

        With a PIN, the clean page URL (the approver signs in). Without, a `file://` URL of a 0600
        file that redirects to the page with a fresh single-use launch code.
        """
        if self.signs_in:
            return self.page_url(approval.id)
        code = secrets.token_urlsafe(24)
        self.page.put_code(hashed(code), approval.id, min(approval.expires, self.clock() + self.ttl))
        target = html.escape(f"{self.page_url(approval.id)}?code={code}", quote=True)
        launch = self._launch_file(approval.id)
        with self._lock:
            self._launched.add(launch)
        _remove_at_exit(self)
        fd = os.open(launch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="0;url={target}"><title>telco-mcp approval</title></head>'
                f'<body><p><a href="{target}">Open the approval page</a></p></body></html>\n'
            )
        return launch.as_uri()

    def _launch_file(self, approval_id: str) -> Path:
        folder = self.state_dir / "approvals"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        return folder / f"launch-{os.getpid()}-{approval_id}.html"

    def code_opens(self, approval_id: str, code: str, source: str = "") -> bool:
        """Whether `code` is the unused launch code of this approval (it stays valid until it is taken); a code
        that is not is on record as a refused sign-in."""
        if code and self.page.peek_code(hashed(code)) == approval_id:
            return True
        self._signed_in("approval-page", Act(factor="launch-code", source=source), "refused", approval_id)
        return False

    def take_code(self, approval_id: str, code: str, source: str = "") -> bool:
        """Use this approval's launch code for the decision POST it came with: once, on every replica. The used
        code still shows its approval's page, read only (`code_shows`), until the store forgets the approval."""
        if not code or self.page.take_code(hashed(code)) != approval_id:
            self._signed_in("approval-page", Act(factor="launch-code", source=source), "refused", approval_id)
            return False
        self.page.put_code(_SPENT + hashed(code), approval_id, self.clock() + self.ttl + 3600)
        self._launch_file(approval_id).unlink(missing_ok=True)  # the used code is gone from this disk too
        return True

    def code_shows(self, approval_id: str, code: str) -> bool:
        """Whether `code` is this approval's used launch code: its link, reloaded or reopened, shows what was
        decided (and can decide nothing: the code is gone)."""
        return bool(code) and self.page.peek_code(_SPENT + hashed(code)) == approval_id

    def redeem_code(self, approval_id: str, code: str, source: str = "") -> str | None:
        """Swap a launch code for a session bound to its approval; None when it is not valid (once, on every
        replica: the code is taken from the state atomically). Either way a sign-in line is audited."""
        if self.page.take_code(hashed(code)) != approval_id:
            self._signed_in("approval-page", Act(factor="launch-code", source=source), "refused", approval_id)
            return None
        launch = self._launch_file(approval_id)
        launch.unlink(missing_ok=True)  # the used code is gone from this disk too
        with self._lock:
            self._launched.discard(launch)
        sid = self.new_session(approval_id)
        act = Act(factor="launch-code", source=source, session_key=hashed(sid))
        self._signed_in("approval-page", act, "ok", approval_id, strict=True)
        return sid

    def passkey_sign_in(self, rp: RelyingParty, challenge: bytes, credential: str, source: str) -> str:
        """The page's passkey sign-in (TELCO_MCP_APPROVER_FACTOR=passkey): a session to list and show approvals,
        or `ConfirmationError`; every outcome audited. Approving still takes an assertion per approval."""
        act = Act(factor="passkey", source=source)
        try:
            verify_assertion(rp, challenge, credential, self.passkeys.all())
        except ConfirmationError:
            self._signed_in("approval-page", act, "refused")
            raise
        sid = self.new_session(None)
        self._signed_in("approval-page", replace(act, session_key=hashed(sid)), "ok", strict=True)
        return sid

    def sign_in(self, attempt: str | None, source: str) -> str:
        """The page's PIN sign-in: a new PIN-level session, or `ConfirmationError`; every outcome audited."""
        self.check_pin(attempt, source, channel="approval-page", record_success=False)
        sid = self.new_session(None)
        self._signed_in("approval-page", Act(factor="pin", source=source, session_key=hashed(sid)), "ok", strict=True)
        return sid

    def _signed_in(
        self, channel: Channel, act: Act, outcome: str, approval: str | None = None, *, strict: bool = False
    ) -> None:
        """Audit a sign-in. A success that cannot be recorded is refused (`strict`); a failure stays a failure."""
        if self.audit is None:
            return
        try:
            self.audit.sign_in(channel=channel, act=act, outcome=outcome, approval=approval)
        except OSError as exc:
            self.audit.unwritable(exc)
            if strict:
                raise ConfirmationError("the audit log cannot be written, so nobody can sign in now") from None

    def new_session(self, approval_id: str | None) -> str:
        """A new page session; the state keeps it under the cookie's hash, never the cookie itself."""
        sid = secrets.token_urlsafe(32)
        expires = self.clock() + max(self.ttl, 900)
        self.page.put_session(
            hashed(sid), Session(csrf=secrets.token_urlsafe(24), expires=expires, approval=approval_id)
        )
        return sid

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self.page.session(hashed(sid))
        if session is None or session.expires <= self.clock():
            return None
        return session

    def may_act(self, session: Session | None, approval_id: str) -> bool:
        return session is not None and (session.approval is None or session.approval == approval_id)

    def check_pin(
        self,
        attempt: str | None,
        source: str = "",
        *,
        channel: Channel = "approval-page",
        record_success: bool = True,
    ) -> None:
        """Raise `ConfirmationError` unless the PIN is configured and `attempt` (from `source`) is right.

        Every outcome is a sign-in line in the audit log (a success only with `record_success`: the page
        records its own, with the session it opens), and the wrong PIN that locks `source` a lockout line.
        """
        act = Act(factor="pin", source=source)
        if self.pin is None:
            self._signed_in(channel, act, "no_pin")
            raise ConfirmationError(
                "this server has no approver PIN (TELCO_MCP_APPROVER_PIN), so it cannot be used here"
            )
        try:
            if not attempt:  # nothing typed (or no header): not an attempt, but a locked source is told so
                wait = self.pin.locked_for(source)
                raise PinLocked(wait) if wait > 0 else ConfirmationError("wrong PIN")
            if not self.pin.check(attempt, source):  # counted across replicas when the state is shared
                self._wrong_pin(channel, act, source)
                raise ConfirmationError("wrong PIN")
        except PinLocked:
            self._signed_in(channel, act, "locked")
            raise
        except StateUnavailable:
            self._signed_in(channel, act, "unavailable")
            raise ConfirmationError(
                "PIN sign-in is unavailable: the shared state (TELCO_MCP_STATE_URL) that counts wrong PINs across "
                "replicas cannot be reached, so no PIN is checked until it is back"
            ) from None
        if record_success:
            self._signed_in(channel, act, "ok", strict=True)

    def _wrong_pin(self, channel: Channel, act: Act, source: str) -> None:
        """A wrong PIN on record, and the lockout it caused, if it did."""
        self._signed_in(channel, act, "wrong_pin")
        if self.audit is None or self.pin is None:
            return
        try:
            wait = self.pin.locked_for(source)
        except StateUnavailable:
            return
        if wait > 0:
            try:
                self.audit.lockout(channel=channel, source=source, seconds=wait)
            except OSError as exc:
                self.audit.unwritable(exc)

    # ---------------------------------------------------------------- listeners
    @property
    def socket_path(self) -> Path:
        return self.state_dir / "approvals" / f"{os.getpid()}.sock"

    def start(self) -> None:
        """Start the listeners once (the page unless the server mounts it, and the CLI's socket).

        Raises `ConfirmationError` when the page cannot listen (e.g. TELCO_MCP_APPROVAL_PORT in use);
        listeners whose thread has died are started again.
        """
        with self._start_lock:
            if self.serve is None or (self._listeners is not None and self._listeners.alive()):
                return
            listeners = self.serve(self)
            try:
                listeners.start()
            except OSError as exc:
                raise ConfirmationError(
                    f"the approval page cannot listen on 127.0.0.1:{self.page_port} ({exc.strerror}): free the port "
                    "or change TELCO_MCP_APPROVAL_PORT. Nothing was sent"
                ) from None
            self._listeners = listeners
            _remove_at_exit(self)  # its socket file

    def stop_when_idle(self) -> None:
        """Stop the listeners unless an approval still waits for a decision (or the shared state cannot say)."""
        try:
            waiting = bool(self.store.pending())
        except TelcoError:
            waiting = False
        if not waiting:
            self.stop()

    def stop(self) -> None:
        with self._lock:
            listeners, self._listeners = self._listeners, None
        if listeners is not None:
            listeners.stop()
        self.remove_files()  # nothing waits for a decision any more (or the process is going)

    def remove_files(self) -> None:
        """Remove this process's files from the state directory: its CLI socket and the launch files it wrote."""
        launched, self._launched = self._launched, set()  # no lock: this also runs at exit, whatever threads hold
        for path in launched:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        remove_socket(self.socket_path)

    def clear_stale(self) -> list[Path]:
        """Remove the sockets and launch files that processes left behind (killed, crashed) and that can no longer
        serve anyone: a socket whose process is gone, a launch file whose process is gone or whose code expired
        (a launch code lives as long as its approval at most). A live process's files stay. Returns the removed."""
        folder = self.state_dir / "approvals"
        if not folder.is_dir():
            return []
        removed: list[Path] = []
        now = time.time()
        for path in folder.iterdir():
            name = path.name
            try:
                if name.endswith(".sock") and name[:-5].isdigit():
                    stale = not _alive(int(name[:-5]))
                elif name.startswith("launch-") and name.endswith(".html"):
                    owner = name[len("launch-") :].split("-", 1)[0]
                    expired = path.stat().st_mtime + self.ttl <= now
                    stale = expired or not owner.isdigit() or not _alive(int(owner))
                else:
                    continue
                if stale:
                    if name.endswith(".sock"):
                        remove_socket(path)
                    else:
                        path.unlink()
                    removed.append(path)
            except OSError:  # gone meanwhile (its owner exited), or not ours to remove
                continue
        if removed:
            logger.info("removed %d file(s) left in %s by processes that are gone", len(removed), folder)
        return removed

    def run_soon(self, coro: Any) -> None:
        """Run a coroutine (a webhook POST) on the listeners' loop, off the tool call's path."""
        self.start()
        if self._listeners is None:
            coro.close()
            return
        self._listeners.submit(coro)


def asked_by(approval: Approval) -> str:
    """Who asked for a write, in words: the signed-in person (OAuth, verified), and what the MCP client says it
    is (its clientInfo: any program can claim any name, so the page says it is a claim)."""
    claim = approval.client_info
    if claim is None and approval.caller is None and approval.client_label != "an unnamed MCP client":
        claim = approval.client_label  # a record from before `client_info`: its label is the claim
    said = f"the client says it is {claim}" if claim else "the client did not say what it is"
    if approval.caller is None:
        return said
    person = Caller(subject=approval.caller.get("sub", ""), issuer=None, name=approval.caller.get("name"), scopes=())
    return f"{person.label} (signed in); {said}"


def _alive(pid: int) -> bool:
    """Whether a process `pid` exists (on Windows, where signal 0 is not a probe, always assumed)."""
    if pid <= 0:
        return False
    if sys.platform == "win32" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


_WITH_FILES: weakref.WeakValueDictionary[int, ApprovalService] = weakref.WeakValueDictionary()


def _remove_at_exit(service: ApprovalService) -> None:
    """Have this service's files removed when the interpreter exits (held weakly: a service can still go)."""
    _WITH_FILES[id(service)] = service


@atexit.register
def _remove_files_at_exit() -> None:
    for service in list(_WITH_FILES.values()):
        service.remove_files()


def stop_every_service() -> None:
    """Stop the listeners of every service of this process that started them, pending approvals or not.

    A server keeps its listeners while an approval waits (a person may still decide it), until the process
    exits: one server per process in production. Whatever builds many servers in one process (a test run, an
    application embedding them) calls this when it is done with them: each listener thread runs its own
    event loop, and idle ones still wake ten times a second.
    """
    for service in list(_WITH_FILES.values()):
        service.stop()


class Listeners(Protocol):
    """What serves the page and the CLI's socket for a service (`listeners.ThreadListeners`)."""

    page_port: int

    def start(self) -> None: ...
    def alive(self) -> bool: ...
    def stop(self) -> None: ...
    def submit(self, coro: Any) -> None: ...
