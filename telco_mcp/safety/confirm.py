"""Confirmation tokens for clients that cannot elicit.

The first call of a write returns a preview and a token; the write happens only when the same tool
is called again with identical arguments plus that token, by the same caller. A token is
`v1.<expiry>.<nonce>.<mac>`: an HMAC-SHA256 over the tool name, the canonical JSON of the arguments,
the expiry, a nonce, (with OAuth) the authenticated caller, so another person cannot redeem it, and
the summary the user confirmed, so a token fails once the state it showed has changed. It expires
after a few minutes, works once, and fails for changed arguments, another tool, or a forged or
replayed token.

The MAC key derives from `TELCO_MCP_CONFIRM_SECRET` (`telco_mcp.safety.keys`): the newest secret
signs, every listed one verifies, so replicas sharing the setting accept each other's tokens and a
secret can be rotated without refusing the tokens in flight. Used nonces live in a `NonceStore`
(in memory, or Redis for replicas), so a token works once across every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from telco_mcp.errors import ConfirmationError
from telco_mcp.safety.keys import TOKENS, derive

_VERSION = "v1"
# `v1.<expiry: Unix seconds>.<nonce: token_urlsafe(12)>.<mac: hex SHA-256>`, ASCII only. Anything else
# (a huge or negative expiry, non-ASCII digits, a non-hex MAC) is malformed before any arithmetic.
_TOKEN = re.compile(r"v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{1,64})\.([0-9a-f]{64})", re.ASCII)
_MALFORMED = (
    "confirm_token is malformed: it is not a token this server issues. Nothing was sent. Call the tool without it "
    "to get a new preview"
)


def canonical(arguments: dict[str, Any]) -> str:
    """Arguments as canonical JSON (sorted keys, no whitespace), without the gate's own fields."""
    clean = {
        k: v for k, v in arguments.items() if k not in ("confirm_token", "approval_id", "dry_run") and v is not None
    }
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class NonceStore(Protocol):
    """Used nonces: in this process (`MemoryNonces`), or shared by replicas (`telco_mcp.state.redis`)."""

    def mark_epoch(self) -> None:
        """Note when this store began remembering used nonces, unless it already knows (before issuing)."""
        ...

    def use_once(self, nonce: str, expiry: float, issued: float | None = None) -> bool:
        """Record `nonce` as used until `expiry` (Unix seconds); False if it already was.

        `issued`: when the confirmation was handed out. A shared store that lost its data since (a Redis
        restarted without persistence) cannot know which nonces were used, so it raises
        `ConfirmationError` for anything issued before it was reset, rather than accept a replay.
        """
        ...


@dataclass
class MemoryNonces:
    clock: Callable[[], float] = time.time
    _used: dict[str, float] = field(default_factory=dict)  # nonce -> until
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mark_epoch(self) -> None:
        """Nothing to note: this memory begins and ends with the process."""

    def use_once(self, nonce: str, expiry: float, issued: float | None = None) -> bool:
        now = self.clock()
        with self._lock:
            self._used = {n: e for n, e in self._used.items() if e >= now}
            if nonce in self._used:
                return False
            self._used[nonce] = expiry
            return True


class ConfirmationTokens:
    """`secret`: one secret or several, newest first (default: a random key for this process only)."""

    def __init__(
        self,
        secret: bytes | Sequence[bytes] | None = None,
        *,
        ttl: int = 300,
        clock: Any = time.time,
        nonces: NonceStore | None = None,
    ) -> None:
        ring = [secret] if isinstance(secret, bytes) else list(secret or [])
        self._keys = [derive(s, TOKENS) for s in ring] or [secrets.token_bytes(32)]
        self.ttl = ttl
        self._clock = clock
        self._nonces: NonceStore = nonces if nonces is not None else MemoryNonces(clock=clock)

    def _mac(
        self, tool: str, args: str, expiry: int, nonce: str, caller: str, shown: str, key: bytes | None = None
    ) -> str:
        # One JSON array: no part (a summary, a caller's `sub`) can shift text into the next one.
        parts = json.dumps([_VERSION, tool, args, expiry, nonce, caller, shown], ensure_ascii=False)
        return hmac.new(key or self._keys[0], parts.encode(), hashlib.sha256).hexdigest()

    def mark_epoch(self) -> None:
        """Before handing out a confirmation: make sure the nonce store knows since when it remembers."""
        self._nonces.mark_epoch()

    def issue(self, tool: str, arguments: dict[str, Any], caller: str = "", shown: str = "") -> tuple[str, int]:
        """A token for this tool, these arguments and this caller (`Caller.key`; "" without OAuth).

        `shown`: what the user is asked to confirm (the write's summary, which shows the state it changes:
        a call's parties, a number's routing). The token holds only for as long as that is still what the
        write would say."""
        self.mark_epoch()
        expiry = int(self._clock()) + self.ttl
        nonce = secrets.token_urlsafe(12)
        mac = self._mac(tool, canonical(arguments), expiry, nonce, caller, shown)
        return f"{_VERSION}.{expiry}.{nonce}.{mac}", expiry

    def redeem(self, tool: str, arguments: dict[str, Any], token: str, caller: str = "", shown: str = "") -> None:
        """Accept `token` for exactly this tool, these arguments, this caller and what the user was shown, once,
        or raise `ConfirmationError`."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ConfirmationError(_MALFORMED)
        expiry_text, nonce, mac = match.groups()
        expiry = int(expiry_text)
        args = canonical(arguments)
        if not any(
            hmac.compare_digest(self._mac(tool, args, expiry, nonce, caller, shown, key), mac) for key in self._keys
        ):
            raise ConfirmationError(
                "confirm_token does not match: it was issued for another tool, other arguments or another "
                "caller, or not by this server, or what the user confirmed is no longer true (the state the "
                "preview showed, e.g. a call's parties or a number's routing, changed since). Nothing was sent. "
                "Call the tool without confirm_token for a new preview and ask the user again."
            )
        now = self._clock()
        if expiry > now + self.ttl:  # signed with this key, yet beyond any lifetime this server gives
            raise ConfirmationError(
                "confirm_token expires later than any token this server issues. Nothing was sent. Call the tool "
                "without it for a new preview and ask the user again."
            )
        if now > expiry:
            raise ConfirmationError(
                "confirm_token has expired. Nothing was sent. Call the tool without it for a new preview and ask "
                "the user again."
            )
        if not self.use_once(nonce, expiry, issued=expiry - self.ttl):
            raise ConfirmationError(
                "confirm_token was already used: each confirmation allows one write. Nothing was sent again."
            )

    def use_once(self, nonce: str, expiry: float | None = None, *, issued: float | None = None) -> bool:
        """Record `nonce` as used until `expiry` (default: one lifetime); False if it already was.

        Raises `StateUnavailable` when the shared state cannot be reached, and `ConfirmationError` for a
        confirmation `issued` before the shared state was reset: then nothing may be sent.
        """
        return self._nonces.use_once(nonce, expiry if expiry is not None else self._clock() + self.ttl, issued)
