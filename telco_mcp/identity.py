"""Who is calling: the authenticated person behind a request, and what they may do.

With OAuth on the HTTP transports (`oauth.py`) every request carries a validated access token; its
`sub` (and a display name where the token has one: `name`, `preferred_username` or `email`) is the
caller. The caller is named in every audit line and on the approval page, and pending approvals and
confirmation tokens are bound to them (`Caller.key`), so one person's approval or token cannot
complete another person's call.

What a caller may do is the token's scopes (or the claim `TELCO_MCP_OAUTH_SCOPE_CLAIM` names),
mapped to the server's own `<provider>:<resource>:<action>` scopes by `TELCO_MCP_OAUTH_SCOPE_MAP`
(without a map, token scopes are taken as server scope patterns as they are), and always within
what the server itself exposes (`TELCO_MCP_SCOPES`, toolsets, read-only): each person lists and
calls only the tools both allow.

Without OAuth (stdio, the static bearer token) there is no authenticated caller: `current_caller()`
is None and nothing here narrows anything. Approvals and grants are then bound to what the transport
can tell apart (`session_key`), never to the client's self-declared name alone.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.types.version import is_version_at_least

from telco_mcp.safety.scopes import scope_granted
from telco_mcp.settings import Settings


@dataclass(frozen=True)
class Caller:
    subject: str
    issuer: str | None
    name: str | None
    scopes: tuple[str, ...]  # server scope patterns this person is granted

    @property
    def key(self) -> str:
        """What approvals and tokens are bound to: `sub` is unique per issuer."""
        return f"{self.issuer or ''}#{self.subject}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.subject})" if self.name and self.name != self.subject else self.subject

    def audit(self) -> dict[str, str]:
        out = {"sub": self.subject}
        if self.name:
            out["name"] = self.name
        return out

    def may(self, scope: str) -> bool:
        return scope_granted(scope, list(self.scopes))


def server_scopes(token_scopes: list[str], scope_map: dict[str, list[str]]) -> tuple[str, ...]:
    """The server scope patterns `token_scopes` grant: through the map when one is set, else as they are."""
    if not scope_map:
        return tuple(dict.fromkeys(token_scopes))
    return tuple(dict.fromkeys(p for s in token_scopes for p in scope_map.get(s, ())))


def display_name(claims: dict[str, Any]) -> str | None:
    for claim in ("name", "preferred_username", "email"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:120]
    return None


def caller_of(token: AccessToken, settings: Settings) -> Caller | None:
    if not token.subject:
        return None
    claims = token.claims or {}
    issuer = claims.get("iss")
    return Caller(
        subject=token.subject,
        issuer=issuer if isinstance(issuer, str) else None,
        name=display_name(claims),
        scopes=server_scopes(list(token.scopes), settings.oauth_scope_map),
    )


def current_caller(settings: Settings) -> Caller | None:
    """The authenticated caller of the request being served, or None (no OAuth, stdio, in-memory)."""
    if not settings.oauth_enabled:
        return None
    token = get_access_token()
    return caller_of(token, settings) if token is not None else None


# What a stdio server (and an in-memory one) is bound to: this process, never again after it ends (with shared
# state, another process on the same machine is another principal).
PROCESS = "process:" + secrets.token_hex(16)
_BOUND = "telco_mcp.binding"  # a handshake connection's key, kept in its `Connection.state`


def session_key(ctx: Any, client: str, on_close: Callable[[str], Awaitable[None]] | None = None) -> str:
    """What approvals and grants are bound to without OAuth: the MCP session that asked.

    - 2025-11-25 era (a handshake): the session, for as long as it lives: the `Mcp-Session-Id` of streamable
      HTTP, the stream of the SSE transport, the stdio process (its one connection). `on_close(key)` runs once
      when the session closes (a DELETE, the idle timeout, a closed stream), so its pending approvals expire;
      a closed session's key is never issued again.
    - 2026-07-28 era (sessionless): over HTTP every holder of the bearer token is one principal (use OAuth to
      tell people apart); over stdio (or in memory) the process.

    `client` (the declared name and version) is appended: it separates clients of one principal but, being
    self-declared, never joins two of them.
    """
    connection = ctx.session._connection  # pyright: ignore[reportPrivateUsage]  # per session; ctx.session is per request
    if is_version_at_least(connection.protocol_version or "", "2026-07-28"):
        principal = "bearer-token" if ctx.request_context.request is not None else PROCESS
        return f"{principal}|{client}"
    key = connection.state.get(_BOUND)
    if key is None:  # no await until it is stored: concurrent calls of one session share one key
        sid = connection.session_id or secrets.token_urlsafe(32)  # SSE, stdio, in memory: the connection itself
        key = connection.state[_BOUND] = f"session:{hashlib.sha256(sid.encode()).hexdigest()[:32]}|{client}"
        if on_close is not None:
            connection.exit_stack.push_async_callback(on_close, key)
    return key
