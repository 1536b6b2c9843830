"""What the approval page remembers between two requests, which may land on two replicas.

    launch codes    one approval each: its page shows while the code is unused, and the approval POST
                    that carries it (in the form, never a cookie) takes it, once; a used code is kept
                    as `spent:<hash>`, so its link still shows the decision (read only)
    sessions        the page's cookie -> its CSRF token, the one approval it may see (None: signed
                    in with the PIN or a passkey), its expiry; a session lists and shows, never approves
    secrets         a password typed or generated on the page, held sealed until the approved write
                    takes it, once

All three live in the state backend behind `PageState`: in this process (`MemoryPageState`, here), or
in Redis for replicas (`state/redis.py`), so a person who opened the launch link on one replica
approves on the next, and the model's retry on a third sends the password that was typed.

What a reader of the state learns is not enough to act: codes and sessions are stored under the
SHA-256 of their value (`hashed`), never the value a browser presents; the PIN is never stored; a
secret is sealed with AES-256-GCM (`SecretBox`, the `cryptography` library) under a key derived from
`TELCO_MCP_CONFIRM_SECRET`, bound to its approval's id, expires with the approval and is taken once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from telco_mcp.safety import keys

logger = logging.getLogger(__name__)

_NONCE = 12  # bytes, AES-GCM's standard nonce


def hashed(value: str) -> str:
    """What the state stores in place of a launch code or session cookie (both 32+ random bytes)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: float
    approval: str | None  # None: signed in with the PIN, may act on every approval


class PageState(Protocol):
    """Launch codes, sessions and sealed secrets, each with an absolute expiry (`clock` time)."""

    def put_code(self, key: str, approval_id: str, expires: float) -> None: ...
    def take_code(self, key: str) -> str | None:
        """The approval a code opens, once: a second take (from any replica) gets None."""
        ...

    def peek_code(self, key: str) -> str | None:
        """The approval a code opens, leaving it in place (the page shows it; the approval POST takes it)."""
        ...

    def put_session(self, key: str, session: Session) -> None: ...
    def session(self, key: str) -> Session | None: ...
    def put_secret(self, approval_id: str, sealed: bytes, expires: float) -> None: ...
    def take_secret(self, approval_id: str) -> bytes | None:
        """The sealed secret of an approval, once."""
        ...


@dataclass
class MemoryPageState:
    clock: Callable[[], float] = time.time
    _codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    _sessions: dict[str, Session] = field(default_factory=dict)
    _secrets: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _sweep(self, now: float) -> None:
        self._codes = {k: v for k, v in self._codes.items() if v[1] > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        self._secrets = {k: v for k, v in self._secrets.items() if v[1] > now}

    def put_code(self, key: str, approval_id: str, expires: float) -> None:
        with self._lock:
            self._sweep(self.clock())
            self._codes[key] = (approval_id, expires)

    def take_code(self, key: str) -> str | None:
        with self._lock:
            entry = self._codes.pop(key, None)
        return entry[0] if entry is not None and entry[1] > self.clock() else None

    def peek_code(self, key: str) -> str | None:
        with self._lock:
            entry = self._codes.get(key)
        return entry[0] if entry is not None and entry[1] > self.clock() else None

    def put_session(self, key: str, session: Session) -> None:
        with self._lock:
            self._sweep(self.clock())
            self._sessions[key] = session

    def session(self, key: str) -> Session | None:
        with self._lock:
            found = self._sessions.get(key)
        return found if found is not None and found.expires > self.clock() else None

    def put_secret(self, approval_id: str, sealed: bytes, expires: float) -> None:
        with self._lock:
            self._sweep(self.clock())
            self._secrets[approval_id] = (sealed, expires)

    def take_secret(self, approval_id: str) -> bytes | None:
        with self._lock:
            entry = self._secrets.pop(approval_id, None)
        return entry[0] if entry is not None and entry[1] > self.clock() else None


@dataclass(frozen=True)
class SecretBox:
    """AES-256-GCM with the keys derived from `TELCO_MCP_CONFIRM_SECRET` (newest seals, every one opens).

    The approval's id is the associated data: a sealed secret moved to another approval does not open.
    Without the setting (one process, memory state) the key is random and never leaves the process.
    """

    ring: tuple[bytes, ...] = field(repr=False)

    @classmethod
    def from_setting(cls, value: SecretStr | str | None) -> SecretBox:
        derived = tuple(keys.derive(s, keys.APPROVAL_SECRETS) for s in keys.secrets_of(value))
        return cls(derived or (AESGCM.generate_key(bit_length=256),))

    def seal(self, approval_id: str, secret: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self.ring[0]).encrypt(nonce, secret.encode(), approval_id.encode())

    def open(self, approval_id: str, sealed: bytes) -> str | None:
        """The secret, or None when no key of the ring opens it (rotated away, or not sealed for this approval)."""
        for key in self.ring:
            try:
                return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], approval_id.encode()).decode()
            except (InvalidTag, ValueError):
                continue
        logger.warning("a secret given on the approval page for %s could not be opened with any key", approval_id)
        return None
