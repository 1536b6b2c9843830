"""The audit log: one JSON line per write attempt, written before and after the request.

For every attempt that reaches the provider an `intent` line is appended and flushed to disk
before the request is sent (so a crash mid-write still leaves a record), and exactly one `attempt`
line records the outcome: `applied`, `declined`, `refused`, `failed` or `unknown`. A call that sent
nothing but is worth a record leaves one `attempt` line too: `dry_run`, `previewed` (a token preview)
or `pending` (an approval opened for a person). `confirmed_by` names the consent channel and
`approval` the approval a write used. With OAuth every line names the authenticated `caller` (`sub`
and a display name where the token has one), and a write approved through the authenticated approval
API names its `approver` as well (a decision line names both); a write tool called beyond the
caller's own scopes leaves a `refused` line (without its arguments, which were never validated).
A sipgate push refused for its signature leaves a `webhook` line (source and reason, never the body).
Phone numbers are masked keeping the country code, the service prefix and the last four digits
(`+49 900 ***4567`) unless configured otherwise. Nothing secret is written: arguments are the
tool's own (credentials never are), and tokens are left out.

Approver acts are on record too (docs/approvals.md): `sign_in` (PIN or launch code, each outcome), `lockout`,
and every `decision` with its channel and factor; a shared record refused for a bad MAC is an
`integrity` line. Source addresses and page sessions are written only as references (`ref`: an HMAC
keyed from TELCO_MCP_CONFIRM_SECRET), never raw.

One record is one line, whatever the text in it: line and paragraph separators (U+2028, U+2029),
C0/C1 controls, bidirectional and other invisible format characters from SMS text or provider
answers are written as JSON escapes (`\u2028`), never raw, so no reader splits, reorders or hides
part of a record. A log that cannot be written raises `AuditLogUnwritable`, which says which path
failed, why, and what to fix.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import SecretStr

from telco_mcp.events.receiver import redact_webhook_secrets
from telco_mcp.phone import mask
from telco_mcp.routing import redact_userinfo
from telco_mcp.safety import keys

logger = logging.getLogger(__name__)

# dry_run: previewed with dry_run=true; previewed: a token preview was handed out; pending: an approval
# was opened for a human to decide. None of these sent anything.
Outcome = Literal["applied", "declined", "refused", "failed", "unknown", "dry_run", "previewed", "pending"]
ConfirmedBy = Literal["elicitation", "approval-page", "approval-api", "cli", "token", "off", "none"]
# Approver acts (sign-ins, lockouts, decisions): where a person acted, and what let them. `os-user`: the
# terminal's Unix socket without an approver PIN (only denying is allowed that way).
Channel = Literal["approval-page", "approval-api", "cli", "client"]
Factor = Literal["pin", "launch-code", "token", "os-user", "passkey"]


@dataclass(frozen=True)
class Act:
    """How a person acted on an approval, for the audit log. `source` (a client address, the terminal) and
    `session_key` (the page session's key in the state: the hash of its cookie) are written only as
    references (`AuditLog.ref`), never as they are."""

    factor: Factor | None = None
    source: str | None = None
    session_key: str | None = None
    bulk: bool = False


_NUMBER = re.compile(r"\+[1-9][0-9]{5,14}")


def mask_numbers(value: Any) -> Any:
    if isinstance(value, str):
        return _NUMBER.sub(lambda m: mask(m.group(0)), value)
    if isinstance(value, dict):
        return {k: mask_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_numbers(v) for v in value]
    return value


# Unicode categories never written raw: controls, format characters (bidi, zero-width), line and
# paragraph separators, surrogates, private use and unassigned code points.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # as a UTF-16 surrogate pair, the only way JSON spells it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def escape_invisible(line: str) -> str:
    """`line` (JSON text) with every invisible or line-breaking character as a JSON escape.

    Valid because json.dumps writes such characters only inside strings, where an escape means the same.
    """
    if line.isascii() and "\x7f" not in line:  # json.dumps escaped the other ASCII controls already
        return line
    return "".join(
        _json_escape(c) if c >= "\x7f" and unicodedata.category(c) in _ESCAPED_CATEGORIES else c for c in line
    )


class AuditLogUnwritable(ToolError, OSError):
    """The audit log could not be written: which path, why in plain words, what to fix.

    An `OSError` (callers that guard the write catch it as one), and a `ToolError`, so that where it is
    not caught the client still reads this message instead of a generic "error executing tool".
    """

    def __init__(self, path: Path, exc: OSError) -> None:
        reason = _reason(path, exc)
        OSError.__init__(self, exc.errno or errno.EIO, reason, str(path))
        self.message = (
            f"The audit log {path} could not be written: {reason}. Nothing was sent. "
            "Fix TELCO_MCP_AUDIT_LOG (or the file system) and try again."
        )

    def __str__(self) -> str:
        return self.message


def _reason(path: Path, exc: OSError) -> str:
    failed = Path(exc.filename) if exc.filename else path
    if exc.errno == errno.EISDIR:
        return f"{failed} is a directory, not a file"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), failed)
        return f"{blocker} is a file, so it cannot hold the log's folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied on {failed} (check the owner and mode of the file and its folder)"
    if exc.errno == errno.EROFS:
        return f"{failed} is on a read-only file system"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk (or the quota) is full"
    return f"{exc.strerror or type(exc).__name__} ({failed})"


class AuditLog:
    def __init__(self, path: Path, *, mask_phone_numbers: bool = True, secret: SecretStr | str | None = None) -> None:
        self.path = path
        self.mask = mask_phone_numbers
        self._lock = threading.Lock()
        # References (`ref`) are keyed from the newest TELCO_MCP_CONFIRM_SECRET: the same on every replica. Without
        # the setting (one process), from a key of this process's own.
        ring = keys.secrets_of(secret)
        self._ref_key = keys.derive(ring[0], keys.AUDIT_REFERENCES) if ring else secrets.token_bytes(32)

    def ref(self, value: str) -> str:
        """What the log writes in place of a value that must never appear raw (a client address, a page session):
        a keyed HMAC, the same for the same value (so one source's acts can be followed), useless without the key."""
        return "h:" + hmac.new(self._ref_key, value.encode(), hashlib.sha256).hexdigest()[:24]

    def _write(self, record: dict[str, Any]) -> None:
        line = escape_invisible(json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")))
        line = redact_webhook_secrets(line)  # a receiver URL's path secret is a credential (sipgate_set_webhooks)
        line = redact_userinfo(line) or line  # so is a URL's user:password@ (the tools refuse them before this)
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except AuditLogUnwritable:
                raise
            except OSError as exc:
                raise AuditLogUnwritable(self.path, exc) from exc

    def _args(self, arguments: dict[str, Any]) -> dict[str, Any]:
        clean = {k: v for k, v in arguments.items() if k not in ("confirm_token", "approval_id") and v is not None}
        return mask_numbers(clean) if self.mask else clean

    def intent(
        self,
        *,
        attempt: str,
        tool: str,
        arguments: dict[str, Any],
        confirmed_by: ConfirmedBy,
        request: dict[str, Any],
        approval: str | None = None,
        grant: str | None = None,
        caller: dict[str, str] | None = None,
        approver: dict[str, str] | None = None,
    ) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "intent",
            "attempt": attempt,
            "tool": tool,
            "caller": caller,
            "arguments": self._args(arguments),
            "confirmed_by": confirmed_by,
            "approver": approver,
            "approval": approval,
            "grant": grant,
            "request": mask_numbers(request) if self.mask else request,
        }
        self._write({k: v for k, v in record.items() if v is not None})

    def attempt(
        self,
        *,
        attempt: str,
        tool: str,
        arguments: dict[str, Any],
        confirmed_by: ConfirmedBy,
        outcome: Outcome,
        status: int | None = None,
        provider_id: str | None = None,
        detail: str | None = None,
        sandbox: bool = False,
        approval: str | None = None,
        grant: str | None = None,
        caller: dict[str, str] | None = None,
        approver: dict[str, str] | None = None,
    ) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "attempt",
            "attempt": attempt,
            "tool": tool,
            "caller": caller,
            "arguments": self._args(arguments),
            "confirmed_by": confirmed_by,
            "approver": approver,
            "approval": approval,
            "grant": grant,
            "outcome": outcome,
            "status": status,
            "provider_id": provider_id,
            "detail": mask_numbers(detail) if self.mask and detail else detail,
        }
        if sandbox:
            record["sandbox"] = True
        self._write({k: v for k, v in record.items() if v is not None})

    def decision(
        self,
        *,
        approval: str,
        tool: str,
        status: str,
        decided_by: str,
        approver: dict[str, str] | None = None,
        caller: dict[str, str] | None = None,
        grant: dict[str, Any] | None = None,
        sandbox: bool = False,
        act: Act | None = None,
    ) -> None:
        """A person's decision on an approval (and the grant given with it): its channel (`decided_by`, and
        `channel`), the factor that let them, where from and in which page session (references), one of a bulk
        decision or not."""
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "decision",
            "approval": approval,
            "tool": tool,
            "caller": caller,
            "status": status,
            "decided_by": decided_by,
            "approver": approver,
            "grant": grant,
            "sandbox": True if sandbox else None,
        }
        record["channel"] = decided_by
        if act is not None:
            record |= self._act(act)
        self._write({k: v for k, v in record.items() if v is not None})

    def _act(self, act: Act) -> dict[str, Any]:
        return {
            "factor": act.factor,
            "source": self.ref(act.source) if act.source is not None else None,
            "session": self.ref(act.session_key) if act.session_key is not None else None,
            "bulk": True if act.bulk else None,
        }

    def sign_in(
        self, *, channel: Channel, act: Act, outcome: str, approval: str | None = None, detail: str | None = None
    ) -> None:
        """A sign-in (a PIN on the page or the terminal, a launch code): `ok`, or why not (`wrong_pin`, `locked`,
        `unavailable`, `no_pin`, `refused`)."""
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "sign_in",
            "channel": channel,
            "outcome": outcome,
            "approval": approval,
            "detail": detail,
        } | self._act(act)
        self._write({k: v for k, v in record.items() if v is not None})

    def lockout(self, *, channel: Channel, source: str, seconds: float) -> None:
        """Too many wrong PINs: `source` (a reference) may not sign in for `seconds`."""
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "lockout",
            "channel": channel,
            "factor": "pin",
            "source": self.ref(source),
            "seconds": round(seconds),
        }
        self._write(record)

    def integrity(self, kind: str, ident: str, reason: str) -> None:
        """A shared record refused because its MAC failed (`state/integrity.py`). A session's or code's store key
        is written as a reference, never as it is."""
        record = {
            "time": datetime.now(UTC).isoformat(),
            "event": "integrity",
            "kind": kind,
            "record": ident if kind in ("approval", "grant") else self.ref(ident),
            "outcome": "refused",
            "reason": reason,
        }
        self._write(record)

    def webhook_refused(self, *, source: str, status: int, detail: str) -> None:
        """A sipgate push the receiver refused (a signature that does not hold); never its body."""
        self._write({"time": datetime.now(UTC).isoformat(), "event": "webhook", "outcome": "refused",
                     "status": status, "source": source, "detail": detail})  # fmt: skip

    def unwritable(self, exc: OSError) -> None:
        """Say on stderr that the log could not be written (the caller decides what that stops)."""
        logger.error("audit log %s is not writable: %s", self.path, exc.strerror or exc)


def new_attempt_id() -> str:
    return uuid.uuid4().hex[:16]
