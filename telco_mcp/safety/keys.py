"""Keys are configuration: everything secret derives from `TELCO_MCP_CONFIRM_SECRET`.

The setting is one secret, or a comma-separated list for rotation, newest first: the newest signs,
every one verifies. Each purpose gets its own key through HKDF-SHA256 (`cryptography`, which the
SDK already depends on), so the confirmation tokens' HMAC key, the SDK's request-state keys and the
key that seals a password typed on the approval page (`approval/sessions.py`), the key of the
HMACs wrong PINs are counted under (`approval/pin.py`, newest secret only), the MACs on shared
records (`state/integrity.py`) and the audit log's references (`safety/audit.py`) are never the same
bytes, and an operator still sets one value on every replica. No replica draws a key of its own when
the secret is set, and no key is ever written to the shared state.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

MIN_SECRET_LENGTH = 32
TOKENS = b"telco-mcp confirmation tokens v1"
REQUEST_STATE = b"telco-mcp request state v1"
APPROVAL_SECRETS = b"telco-mcp approval page secrets v1"
PIN_SOURCES = b"telco-mcp approver PIN sources v1"  # the HMAC a PIN attempt's source is counted under
STATE_INTEGRITY = b"telco-mcp shared state integrity v1"  # MACs on shared records (state/integrity.py)
AUDIT_REFERENCES = b"telco-mcp audit references v1"  # sources and sessions in the audit log (safety/audit.py)


def secrets_of(value: SecretStr | str | None) -> list[bytes]:
    """The configured secrets, newest first (blanks dropped)."""
    if value is None:
        return []
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    return [part.strip().encode() for part in text.split(",") if part.strip()]


def derive(secret: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, the same on every replica that has the same secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def problems(value: SecretStr | None) -> list[str]:
    """What is wrong with TELCO_MCP_CONFIRM_SECRET, never echoing it."""
    if value is None:
        return []
    parts = secrets_of(value)
    if not parts:
        return ["TELCO_MCP_CONFIRM_SECRET is set but empty"]
    out = [
        f"TELCO_MCP_CONFIRM_SECRET entry {i + 1} is {len(p)} characters: use at least {MIN_SECRET_LENGTH} random "
        "characters (e.g. `openssl rand -base64 48`)"
        for i, p in enumerate(parts)
        if len(p) < MIN_SECRET_LENGTH
    ]
    if len(set(parts)) != len(parts):
        out.append("TELCO_MCP_CONFIRM_SECRET lists the same secret twice")
    return out
