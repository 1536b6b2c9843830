"""The approver PIN: kept only as a slow hash, with failed attempts rate-limited.

`TELCO_MCP_APPROVER_PIN` holds either the PIN itself (hashed at startup) or a hash made by
`telco-mcp approvals hash-pin` (`scrypt$...`). The hash form keeps the PIN itself out of the
server's environment, which any process of the same user (a coding agent's model among them) can
read; a short PIN can still be found from its hash by brute force, so use a long one.

Wrong attempts are counted per source (a client address, or the terminal), `MAX_FAILURES` in a
sliding `WINDOW`, in the state backend (`PinAttempts`): in this process (`MemoryPinAttempts`, here),
or in Redis shared by every replica (`state/redis.py`), so N replicas behind a load balancer give a
guesser the same 5 attempts as one. Each attempt is counted *before* the PIN is checked, in one
atomic check-and-count, and uncounted when it was right: concurrent guesses on several replicas
cannot slip past the limit. A locked source is refused even the right PIN; other sources are not
affected (one attacker cannot lock out everyone). A source is the client address the listener's
`access.ForwardedHeaders` decided (X-Forwarded-For only from `TELCO_MCP_TRUSTED_PROXIES`), so a
made-up header gains no tries. The state sees only an HMAC of a source, keyed from
`TELCO_MCP_CONFIRM_SECRET` (`safety/keys.py`), never the PIN: whoever reads the state cannot test
which addresses tried. When the shared state cannot be reached, `check` raises `StateUnavailable`: sign-in
fails closed instead of allowing unlimited attempts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from telco_mcp.errors import ConfigError, ConfirmationError, StateUnavailable

logger = logging.getLogger(__name__)

_N, _R, _P = 2**14, 8, 1
MIN_LENGTH = 6  # a passphrase is better: the hash slows guessing, it does not make a short PIN safe
MAX_FAILURES = 5  # per window
WINDOW = 600.0  # seconds
MAX_SOURCES = 1000  # in memory: the sources remembered at most (the oldest is forgotten first)


class PinLocked(ConfirmationError):
    """Too many wrong PINs from one source: it may try again in `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"too many wrong PINs: try again in {max(1, math.ceil(seconds / 60))} min")
        self.seconds = seconds


class PinAttempts(Protocol):
    """PIN attempts per source (an HMAC of a client address), in a sliding window of `window` seconds."""

    def take(self, source: str, attempt: str, limit: int, window: float) -> float:
        """Count `attempt` (a fresh random id) for `source`, in one atomic step, unless `limit` attempts are
        counted within the last `window` seconds: 0.0 when counted, else the seconds until `source` may try
        again (nothing counted)."""
        ...

    def forget(self, source: str, attempt: str) -> None:
        """Uncount an attempt that was right: only wrong PINs lock a source."""
        ...

    def locked_for(self, source: str, limit: int, window: float) -> float:
        """Seconds until `source` may try again (0.0 when it may), counting nothing."""
        ...


class MemoryPinAttempts:
    """This process's count (one server): a deque of (time, attempt) per source, at most `MAX_SOURCES`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: dict[str, deque[tuple[float, str]]] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def _window(self, source: str, window: float, now: float) -> deque[tuple[float, str]]:
        seen = self._seen.get(source, deque())
        while seen and seen[0][0] <= now - window:
            seen.popleft()
        return seen

    def take(self, source: str, attempt: str, limit: int, window: float) -> float:
        with self._lock:
            now = self._clock()
            seen = self._window(source, window, now)
            if len(seen) >= limit:
                return seen[0][0] + window - now
            seen.append((now, attempt))
            self._seen[source] = seen
            if len(self._seen) > MAX_SOURCES:  # bounded: forget the oldest sources
                self._seen.pop(next(iter(self._seen)))
            return 0.0

    def forget(self, source: str, attempt: str) -> None:
        with self._lock:
            seen = self._seen.get(source)
            if seen is not None:
                self._seen[source] = deque(entry for entry in seen if entry[1] != attempt)

    def locked_for(self, source: str, limit: int, window: float) -> float:
        with self._lock:
            now = self._clock()
            seen = self._window(source, window, now)
            return seen[0][0] + window - now if len(seen) >= limit else 0.0


def pin_source(address: str) -> str:
    """Whose wrong PINs count together: an IPv4 address, an IPv6 client's /64 (one host usually holds a whole
    /64, so counting single addresses would give it billions of tries), or this host's terminal."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client it names
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def terminal_source() -> str:
    """The terminal's PIN attempts reach this process over a local socket: counted per host, so one host's
    wrong guesses do not lock `telco-mcp approvals` on every replica."""
    return f"terminal@{socket.gethostname()}"


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str, *, strict: bool = False) -> bytes:
    """`_b64` undone; `strict`: ValueError for any character outside base64url (else they are dropped)."""
    if strict and not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_MAX_MEMORY = 32 * 1024 * 1024  # what hashlib.scrypt allows by default (128 * n * r bytes)


def pin_problem(configured: str) -> str | None:
    """What is wrong with a `TELCO_MCP_APPROVER_PIN` value, naming the setting and never echoing the value:
    a PIN shorter than `MIN_LENGTH`, or a `scrypt$...` value that is not a hash `hash_pin` makes (its parts,
    cost parameters, base64url salt and 32-byte digest). None when the server can use it."""
    if not configured.startswith("scrypt$"):
        if len(configured) < MIN_LENGTH:
            return f"TELCO_MCP_APPROVER_PIN must have at least {MIN_LENGTH} characters"
        return None
    parts = configured.split("$")
    why = None
    if len(parts) != 6:
        why = f"it has {len(parts)} parts separated by $, a hash has 6"
    elif not all(part.isdigit() for part in parts[1:4]):
        why = "its cost parameters (n, r, p) are not all numbers"
    else:
        n, r, p = (int(part) for part in parts[1:4])
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r > _MAX_MEMORY:
            why = "its cost parameters (n, r, p) are not ones scrypt accepts"
        else:
            try:
                salt, digest = _unb64(parts[4], strict=True), _unb64(parts[5], strict=True)
            except ValueError:
                why = "its salt or digest is not base64url"
            else:
                if len(salt) < 8 or len(digest) != 32:
                    why = "its salt or digest has the wrong length"
    if why is None:
        return None
    return (
        f"TELCO_MCP_APPROVER_PIN looks like a hash (scrypt$...) but is malformed: {why}. Make one with "
        "`telco-mcp approvals hash-pin` and copy it whole (in a shell, quote it: each $ must stay)"
    )


class ApproverPin:
    def __init__(self, configured: str, *, attempts: PinAttempts | None = None, key: bytes | None = None) -> None:
        """`key` keys the HMAC a source is kept under: the same on every replica (derived from
        TELCO_MCP_CONFIRM_SECRET); without one a random key of this process (memory state only)."""
        self._source_key = key or secrets.token_bytes(32)
        problem = pin_problem(configured)
        if problem is not None:
            raise ConfigError(problem)
        if configured.startswith("scrypt$"):
            _, n, r, p, salt, digest = configured.split("$")
            self._params = (int(n), int(r), int(p))
            self._salt, self._digest = _unb64(salt), _unb64(digest)
        else:
            self._params = (_N, _R, _P)
            self._salt = secrets.token_bytes(16)
            self._digest = hashlib.scrypt(configured.encode(), salt=self._salt, n=_N, r=_R, p=_P, dklen=32)
        self.attempts: PinAttempts = attempts if attempts is not None else MemoryPinAttempts()

    def _source(self, source: str) -> str:
        """What the state keeps in place of a source (a client address): its HMAC-SHA256."""
        return hmac.new(self._source_key, source.encode(), hashlib.sha256).hexdigest()

    def locked_for(self, source: str = "") -> float:
        """Seconds until `source` (a client address, or the terminal) may try again (0 when it may).
        Raises `StateUnavailable` when the shared count cannot be read."""
        return self.attempts.locked_for(self._source(source), MAX_FAILURES, WINDOW)

    def check(self, attempt: str, source: str = "") -> bool:
        """True for the right PIN, False for a wrong one, which counts against `source`.

        Raises `PinLocked` when `source` had `MAX_FAILURES` attempts counted in the last `WINDOW` (the right
        PIN included: it is not even checked), and `StateUnavailable` when the shared count cannot be
        reached (fail closed: no PIN is checked that could not be counted). Other sources are not affected.
        """
        key, counted = self._source(source), secrets.token_hex(8)
        wait = self.attempts.take(key, counted, MAX_FAILURES, WINDOW)
        if wait > 0:
            raise PinLocked(wait)
        n, r, p = self._params
        digest = hashlib.scrypt(attempt.encode(), salt=self._salt, n=n, r=r, p=p, dklen=32)
        if hmac.compare_digest(digest, self._digest):
            try:
                self.attempts.forget(key, counted)
            except StateUnavailable:  # the right PIN stays right; the attempt just stays counted
                logger.warning("a right PIN could not be uncounted: the shared state cannot be reached")
            return True
        return False
