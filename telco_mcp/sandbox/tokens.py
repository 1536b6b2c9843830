"""JWT-shaped, unsigned sipgate access tokens.

The sandbox never verifies a signature: a token is valid because the sandbox issued it and still
holds it in its set of valid tokens (see :class:`telco_mcp.sandbox.state.SipgateState`). The shape
(``base64url(header).base64url(payload).sig``) is only there so clients that peek at the claims
(``exp``, ``scope``) behave as they would against sipgate.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

_HEADER: dict[str, str] = {"alg": "none", "typ": "JWT", "kid": "sandbox"}
_SIGNATURE = "c2FuZGJveC11bnNpZ25lZA"  # base64url("sandbox-unsigned"), never checked
ISSUER = "https://login.sipgate.com/auth/realms/third-party"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_access_token(*, scopes: tuple[str, ...], iat: int, exp: int, jti: str, client_id: str) -> str:
    """Build an access token whose payload carries ``scope`` (space separated) and ``exp``."""
    payload: dict[str, Any] = {
        "exp": exp,
        "iat": iat,
        "jti": jti,
        "iss": ISSUER,
        "aud": "account",
        "sub": "w0",
        "typ": "Bearer",
        "azp": client_id,
        "scope": " ".join(scopes),
        "featureScope": "CLASSIC_PBX",
    }
    header = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{header}.{body}.{_SIGNATURE}"


def decode_claims(token: str) -> dict[str, Any] | None:
    """Return the payload of a JWT-shaped token, or ``None`` if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None
