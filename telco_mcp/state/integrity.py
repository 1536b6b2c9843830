"""Integrity of what replicas share: approvals, grants, page sessions and launch codes in Redis carry a MAC.

Whoever can write to the shared Redis (another tenant of it, a model that can run `redis-cli` against a
loopback port) could otherwise approve a write (`HSET telco-mcp:approval:<id> status approved`), or plant a
PIN-level page session, a grant or a launch code. So every such record carries an HMAC-SHA256 computed
here, in Python (Redis never sees a key), over the fields that decide what the record allows (`FIELDS`,
the one list: whatever field holds a binding is named there), with the newest key of the ring derived
from `TELCO_MCP_CONFIRM_SECRET` (`safety/keys.py`). Every key of the ring verifies, so prepending a new
secret keeps the records in flight valid.

A transition (deciding an approval, redeeming it) stays one Lua script: Python reads the record and checks
its MAC, then hands the script the stored MAC as the expected one and the MAC of the new state; the script
applies the change only when the stored MAC is, byte for byte, the expected one, so nothing edited in
between slips through.

A record that fails the check is refused (as if it were not there), logged, counted (`Seal.refused`, by
kind) and reported to `Seal.on_refusal` (the server writes an `integrity` line to the audit log). Records
written before this check existed carry no MAC, and are refused the same way.

This is integrity, not freshness: a writer of Redis can still delete records, or put back an earlier
state of a record that it saw. Give the shared Redis its own ACL or database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import SecretStr

from telco_mcp.ops import metrics
from telco_mcp.safety import keys

logger = logging.getLogger(__name__)

Kind = Literal["approval", "grant", "session", "code", "passkey", "export"]

# What each kind's MAC covers, read from the record by these names (a missing field counts as empty). The
# approval's `data` is the approval as created: what the approver is shown (method, URL, body) included.
FIELDS: dict[Kind, tuple[str, ...]] = {
    "approval": ("id", "status", "tool", "digest", "client", "expires", "decided_by", "decided_at", "approver", "data"),
    "grant": ("id", "target", "client", "tools", "until", "decided_by", "approval"),
    "session": ("key", "csrf", "expires", "approval"),
    "code": ("key", "approval", "expires"),
    # an approver's passkey (issue 24): a writer of Redis must not enrol its own public key
    "passkey": ("key", "credential_id", "public_key", "label", "created"),
    "export": ("id", "owner", "sha256"),  # a history export (exports.py): whose it is, and its content's digest
}


def _text(value: Any) -> str:
    """One field as the MAC reads it: the stored string itself, or a fixed spelling of a Python value."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, frozenset | set | list | tuple):
        return ",".join(sorted(str(v) for v in value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


Refusal = Callable[[Kind, str, str], None]


class Seal:
    """MACs for shared records: the newest key of the ring signs, every key verifies."""

    def __init__(self, ring: list[bytes]) -> None:
        if not ring:
            raise ValueError("a state seal needs at least one key")
        self._ring = tuple(ring)
        self.refused: Counter[str] = Counter()  # records refused, by kind (read by tests; metrics later)
        self.on_refusal: Refusal | None = None  # e.g. the audit log (set by the server)
        self._lock = threading.Lock()

    @classmethod
    def from_setting(cls, value: SecretStr | str | None) -> Seal:
        return cls([keys.derive(secret, keys.STATE_INTEGRITY) for secret in keys.secrets_of(value)])

    @staticmethod
    def _message(kind: Kind, record: Mapping[str, Any]) -> bytes:
        return json.dumps([kind, *(_text(record.get(name)) for name in FIELDS[kind])]).encode()

    def mac(self, kind: Kind, record: Mapping[str, Any]) -> str:
        """The MAC of `record` (its `FIELDS[kind]`), with the newest key."""
        return hmac.new(self._ring[0], self._message(kind, record), hashlib.sha256).hexdigest()

    def valid(self, kind: Kind, record: Mapping[str, Any], mac: Any) -> bool:
        """Whether `mac` is the MAC of `record` under some key of the ring."""
        stored = _text(mac)
        if not stored:
            return False
        message = self._message(kind, record)
        return any(
            hmac.compare_digest(hmac.new(key, message, hashlib.sha256).hexdigest(), stored) for key in self._ring
        )

    def refuse(self, kind: Kind, ident: str, reason: str) -> None:
        """Count, log and report a record that failed its check (never its content)."""
        with self._lock:
            self.refused[kind] += 1
        metrics.integrity_refused(kind)
        logger.error(
            "shared state: refused %s %s: %s (edited outside telco-mcp, or written before this version)",
            kind,
            ident,
            reason,
        )
        if self.on_refusal is not None:
            try:
                self.on_refusal(kind, ident, reason)
            except OSError as exc:  # the audit log is away: the refusal stands, and was logged above
                logger.error("shared state: the refusal could not be recorded in the audit log: %s", exc)
