"""The approver PIN: kept only as a slow hash, with failed attempts rate-limited.

`TELCO_MCP_APPROVER_PIN` holds either the PIN itself (hashed at startup) or a hash made by
`telco-mcp approvals hash-pin` (`scrypt$...`). The hash form keeps the PIN itself out of the
server's environment, which any process of the same user (a coding agent's model among them) can
read; a short PIN can still be found from its hash by brute force, so use a long one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from telco_mcp.errors import ConfigError

_N, _R, _P = 2**14, 8, 1
MIN_LENGTH = 6  # a passphrase is better: the hash slows guessing, it does not make a short PIN safe
MAX_FAILURES = 5  # per window
WINDOW = 600.0  # seconds


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ApproverPin:
    def __init__(self, configured: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        if configured.startswith("scrypt$"):
            try:
                _, n, r, p, salt, digest = configured.split("$")
                self._params = (int(n), int(r), int(p))
                self._salt, self._digest = _unb64(salt), _unb64(digest)
            except ValueError:
                raise ConfigError(
                    "TELCO_MCP_APPROVER_PIN looks like a hash but is malformed; make one with "
                    "`telco-mcp approvals hash-pin`"
                ) from None
        else:
            if len(configured) < MIN_LENGTH:
                raise ConfigError(f"TELCO_MCP_APPROVER_PIN must have at least {MIN_LENGTH} characters")
            self._params = (_N, _R, _P)
            self._salt = secrets.token_bytes(16)
            self._digest = hashlib.scrypt(configured.encode(), salt=self._salt, n=_N, r=_R, p=_P, dklen=32)
        self._failures: dict[str, deque[float]] = {}  # per source: one attacker cannot lock out everyone
        self._clock = clock
        self._lock = threading.Lock()

    def locked_for(self, source: str = "") -> float:
        """Seconds until `source` (a client address, or the terminal) may try again (0 when it may)."""
        with self._lock:
            now = self._clock()
            failures = self._failures.get(source, deque())
            while failures and failures[0] <= now - WINDOW:
                failures.popleft()
            if len(failures) < MAX_FAILURES:
                return 0.0
            return failures[0] + WINDOW - now

    def check(self, attempt: str, source: str = "") -> bool:
        """True for the right PIN. Every wrong one counts against `source`, which is then refused even the
        right PIN for a while; other sources are not affected."""
        if self.locked_for(source) > 0:
            return False
        n, r, p = self._params
        digest = hashlib.scrypt(attempt.encode(), salt=self._salt, n=n, r=r, p=p, dklen=32)
        if hmac.compare_digest(digest, self._digest):
            return True
        with self._lock:
            self._failures.setdefault(source, deque()).append(self._clock())
            if len(self._failures) > 1000:  # bounded: forget the oldest sources
                self._failures.pop(next(iter(self._failures)))
        return False
