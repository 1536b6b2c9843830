"""Pending approvals and grants, behind one small interface.

An `Approval` is bound to the tool, a digest of the canonical arguments, who asked (with OAuth: the
authenticated caller, whatever client they use; without: the MCP session, `identity.session_key`) and an
expiry; a closed session's pending approvals expire (`expire_client`). It is decided once
(approved or denied, by the page, the CLI or the authenticated approval API) and redeemed once: the
model's retry with the same tool, arguments and client sends the write exactly once.

A `Grant` lets the same caller (session) repeat low-risk, idempotent call-control actions (hold, mute, DTMF)
on one call for a few minutes without a page per action; it is given on the approval page or in
the CLI, and recorded like an approval.

Opening one is "open or reuse", one atomic step in every store: asking again for the same tool,
arguments and client (from this replica or another, at the same instant) returns the approval still
pending for it, and a client may keep at most a few waiting.

This module's store is in memory: pending approvals and grants do not survive a restart. The Redis
store (`state/redis.py`) answers the same calls for replicas.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from telco_mcp.errors import ConfirmationError
from telco_mcp.safety.confirm import canonical

Status = Literal["pending", "approved", "denied", "used"]
# client: the user declined the link in their MCP client; approval-api: an authenticated person over HTTP
DecidedBy = Literal["approval-page", "approval-api", "cli", "client"]
# How the link reached a person: opened in the local browser, shown by the MCP client (URL-mode elicitation),
# or posted to the team's approval webhook (recorded when the receiver answered 2xx).
LinkChannel = Literal["browser", "url-elicitation", "webhook"]
MAX_GRANT_MINUTES = 60


def arguments_digest(tool: str, arguments: dict[str, Any]) -> str:
    return hashlib.sha256(f"{tool}\n{canonical(arguments)}".encode()).hexdigest()


def request_digest(method: str, url: str, body: Any, form: list[tuple[str, str]] | None = None) -> str:
    """A digest of an upstream request as the approver saw it (method, URL, JSON body or form fields, in order)."""
    fields = [[name, value] for name, value in form] if form is not None else None
    return hashlib.sha256(canonical({"m": method, "u": url, "b": body, "f": fields}).encode()).hexdigest()


def intent_key(tool: str, digest: str, client: str) -> str:
    """One write asked for by one client: at most one approval is pending for it at a time."""
    return hashlib.sha256(f"{tool}\n{digest}\n{client}".encode()).hexdigest()


class TooManyPending(ConfirmationError):
    """A client already has the most approvals waiting that it may (`ApprovalStore.open`)."""

    def __init__(self, waiting: int) -> None:
        super().__init__(
            f"{waiting} approvals of this client are still waiting for a person: ask them to decide those first "
            "(or let them expire). Nothing was sent"
        )
        self.waiting = waiting


def new_id() -> str:
    return "apr_" + secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Approval:
    id: str
    tool: str
    digest: str  # of the canonical arguments
    client: str  # who asked: client identity (and caller), compared on redemption
    client_label: str  # the same, for people
    summary: str
    provider: str
    method: str
    url: str
    body: Any
    verdict: str | None  # the guardrails' word, None when the write passes them
    created: float
    expires: float
    effect: str = "write"
    form: list[tuple[str, str]] | None = None  # a form body's fields (name, value) in the order sent, as shown
    request_digest: str | None = None  # of the request shown to the approver: what is sent must match
    grant_target: str | None = None  # the call a grant would cover, for grantable tools
    secret_field: str | None = None  # a secret the approver types (or has generated) here, e.g. "password"
    status: Status = "pending"
    decided_by: DecidedBy | None = None
    decided_at: float | None = None
    sandbox: bool = False
    caller: dict[str, str] | None = None  # the authenticated person who asked (OAuth): sub and name
    four_eyes: bool = False  # only a different authenticated person may approve it (TELCO_MCP_FOUR_EYES)
    approver: dict[str, str] | None = None  # the authenticated person who decided it, when one did
    channels: tuple[LinkChannel, ...] = ()  # how the link reached a person, in the order it did (named on every retry)
    client_info: str | None = None  # what the MCP client says it is (clientInfo name and version): unverified

    def expired(self, now: float) -> bool:
        return now >= self.expires


@dataclass(frozen=True)
class Grant:
    id: str
    target: str  # the call id
    client: str
    tools: frozenset[str]
    until: float
    decided_by: DecidedBy
    approval: str  # the approval it was given with


class ApprovalStore(Protocol):
    """Where approvals live. One process now; shared state (Redis) implements the same calls."""

    def add(self, approval: Approval) -> None: ...
    def open(self, approval: Approval, max_pending: int) -> tuple[Approval, bool]:
        """Atomically: the approval still pending for the same tool, digest and client (and False), or
        `approval` added (and True); raises `TooManyPending` when the client has `max_pending` waiting."""
        ...

    def get(self, approval_id: str) -> Approval | None: ...
    def pending(self) -> list[Approval]: ...
    def decide(
        self, approval_id: str, approve: bool, by: DecidedBy, approver: dict[str, str] | None = None
    ) -> Approval: ...
    def redeem(self, approval_id: str, tool: str, digest: str, client: str) -> Approval: ...
    def expire_client(self, client: str) -> list[str]:
        """Expire every approval still pending for `client` now (its session closed); their ids."""
        ...

    def add_channel(self, approval_id: str, channel: LinkChannel) -> None:
        """Record that the approval's link reached a person through `channel` (once; unknown ids are ignored)."""
        ...

    def add_grant(self, grant: Grant) -> None: ...
    def find_grant(self, tool: str, target: str, client: str) -> Grant | None: ...


@dataclass
class MemoryApprovalStore:
    clock: Callable[[], float] = time.time
    _items: dict[str, Approval] = field(default_factory=dict)
    _grants: list[Grant] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, approval: Approval) -> None:
        with self._lock:
            self._forget_old()
            self._items[approval.id] = approval

    def open(self, approval: Approval, max_pending: int) -> tuple[Approval, bool]:
        now = self.clock()
        with self._lock:  # the look and the add are one step: two threads never open two for one intent
            waiting = [
                a for a in self._items.values() if a.client == approval.client and a.status == "pending"
                and not a.expired(now)
            ]  # fmt: skip
            same = next((a for a in waiting if a.tool == approval.tool and a.digest == approval.digest), None)
            if same is not None:
                return same, False
            if len(waiting) >= max_pending:
                raise TooManyPending(len(waiting))
            self._forget_old()
            self._items[approval.id] = approval
            return approval, True

    def get(self, approval_id: str) -> Approval | None:
        with self._lock:
            return self._items.get(approval_id)

    def pending(self) -> list[Approval]:
        now = self.clock()
        with self._lock:
            return sorted(
                (a for a in self._items.values() if a.status == "pending" and not a.expired(now)),
                key=lambda a: a.created,
            )

    def decide(
        self, approval_id: str, approve: bool, by: DecidedBy, approver: dict[str, str] | None = None
    ) -> Approval:
        """Approve or deny a pending approval, once; raises `ConfirmationError` otherwise."""
        now = self.clock()
        with self._lock:
            approval = self._items.get(approval_id)
            if approval is None:
                raise ConfirmationError(f"no approval {approval_id} is known to this server")
            if approval.status != "pending":
                raise ConfirmationError(f"approval {approval_id} was already decided ({approval.status})")
            if approval.expired(now):
                raise ConfirmationError(f"approval {approval_id} has expired")
            decided = replace(
                approval,
                status="approved" if approve else "denied",
                decided_by=by,
                decided_at=now,
                approver=approver,
            )
            self._items[approval_id] = decided
            return decided

    def redeem(self, approval_id: str, tool: str, digest: str, client: str) -> Approval:
        """Use an approved approval for exactly this call, once. Pending, denied or foreign ones raise."""
        now = self.clock()
        with self._lock:
            approval = self._items.get(approval_id)
            if approval is None or approval.tool != tool or approval.digest != digest or approval.client != client:
                raise ConfirmationError(
                    f"approval_id {approval_id!r} does not belong to this call: it was issued for another tool, "
                    "other arguments or another client, or not by this server. Nothing was sent. Call the tool "
                    "without approval_id to ask for a new approval."
                )
            if approval.status == "used":
                raise ConfirmationError(
                    f"approval {approval_id} was already used: each approval allows one write. Nothing was sent again."
                )
            if approval.status == "approved" and approval.expired(now):
                raise ConfirmationError(
                    f"approval {approval_id} has expired. Nothing was sent. Call the tool without approval_id to "
                    "ask again."
                )
            if approval.status != "approved":
                return approval  # pending or denied: the caller says so, nothing is used up
            used = replace(approval, status="used")
            self._items[approval_id] = used
            return approval

    def expire_client(self, client: str) -> list[str]:
        now = self.clock()
        with self._lock:
            mine = (a for a in self._items.values() if a.client == client and a.status == "pending")
            gone = [a for a in mine if not a.expired(now)]
            for approval in gone:
                self._items[approval.id] = replace(approval, expires=now)
            return [a.id for a in gone]

    def add_channel(self, approval_id: str, channel: LinkChannel) -> None:
        with self._lock:
            approval = self._items.get(approval_id)
            if approval is not None and channel not in approval.channels:
                self._items[approval_id] = replace(approval, channels=(*approval.channels, channel))

    def add_grant(self, grant: Grant) -> None:
        with self._lock:
            self._grants.append(grant)

    def find_grant(self, tool: str, target: str, client: str) -> Grant | None:
        now = self.clock()
        with self._lock:
            self._grants = [g for g in self._grants if g.until > now]
            return next(
                (g for g in self._grants if g.target == target and g.client == client and tool in g.tools), None
            )

    def _forget_old(self) -> None:
        """Drop approvals an hour past their expiry, so the store stays bounded."""
        horizon = self.clock() - 3600
        for key in [k for k, a in self._items.items() if a.expires < horizon]:
            del self._items[key]
