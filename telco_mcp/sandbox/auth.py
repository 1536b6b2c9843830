"""Credential checks for both providers.

SignalWire: HTTP Basic ``project_id:api_token``.
sipgate: HTTP Basic ``token_id:token`` (personal access token), HTTP Basic ``username:password``,
or ``Bearer <access token>`` issued by the sandbox's OAuth token endpoint. Basic credentials carry
every scope; a bearer token carries the scopes in its ``scope`` claim.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from telco_mcp.sandbox.credentials import (
    SIGNALWIRE_API_TOKEN,
    SIGNALWIRE_PROJECT_ID,
    SIPGATE_PASSWORD,
    SIPGATE_TOKEN,
    SIPGATE_TOKEN_ID,
    SIPGATE_USERNAME,
)
from telco_mcp.sandbox.state import SipgateState

Principal = Literal["signalwire-project", "sipgate-pat", "sipgate-user", "sipgate-oauth"]


@dataclass(frozen=True)
class AuthContext:
    scheme: str
    principal: Principal
    scopes: frozenset[str] | None = None  # None: every scope

    def allows(self, accepted: Iterable[str]) -> bool:
        """True if the credential holds ``all`` or any one of the ``accepted`` scopes."""
        if self.scopes is None or "all" in self.scopes:
            return True
        return any(scope in self.scopes for scope in accepted)


def auth_scheme(header: str | None) -> str | None:
    """The scheme of an ``Authorization`` header, normalised (``Basic``, ``Bearer``, ...)."""
    if not header or not header.strip():
        return None
    scheme = header.strip().split(" ", 1)[0]
    return scheme.capitalize()


def _credentials(header: str | None, scheme: str) -> str | None:
    if header is None:
        return None
    parts = header.strip().split(" ", 1)
    if len(parts) != 2 or parts[0].lower() != scheme.lower():
        return None
    return parts[1].strip()


def basic_pair(header: str | None) -> tuple[str, str] | None:
    """Decode HTTP Basic credentials into ``(user, password)``."""
    encoded = _credentials(header, "Basic")
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def authenticate_signalwire(header: str | None) -> AuthContext | None:
    pair = basic_pair(header)
    if pair and _same(pair[0], SIGNALWIRE_PROJECT_ID) and _same(pair[1], SIGNALWIRE_API_TOKEN):
        return AuthContext(scheme="Basic", principal="signalwire-project")
    return None


def authenticate_sipgate(header: str | None, state: SipgateState, now: float) -> AuthContext | None:
    pair = basic_pair(header)
    if pair is not None:
        user, password = pair
        if _same(user, SIPGATE_TOKEN_ID) and _same(password, SIPGATE_TOKEN):
            return AuthContext(scheme="Basic", principal="sipgate-pat")
        if _same(user, SIPGATE_USERNAME) and _same(password, SIPGATE_PASSWORD):
            return AuthContext(scheme="Basic", principal="sipgate-user")
        return None
    token = _credentials(header, "Bearer")
    if token is None:
        return None
    issued = state.access_tokens.get(token)
    if issued is None or issued.exp <= now:
        return None
    return AuthContext(scheme="Bearer", principal="sipgate-oauth", scopes=frozenset(issued.scopes))
