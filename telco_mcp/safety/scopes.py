"""Which tools are exposed, decided in a fixed order: configured providers, granted scopes, read-only.

A scope is `<provider>:<resource>:<action>` (for sipgate its own OAuth scope names, e.g.
`sipgate:rtcm:write`). `TELCO_MCP_SCOPES` grants patterns with `*` wildcards (`sipgate:*:read`,
`signalwire:*`, `*`). A sipgate OAuth token further narrows sipgate tools to the scopes it carries.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from telco_mcp.catalogue import CATALOGUE, Operation
from telco_mcp.settings import Settings

# sipgate umbrella scopes that also grant narrower ones
_SIPGATE_IMPLIED = {"sessions:write": ("sessions:sms:write", "sessions:calls:write")}


def scope_granted(scope: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(scope, p) or (p.endswith(":*") and scope.startswith(p[:-1])) for p in patterns)


def token_allows(scope: str, token_scopes: set[str] | None) -> bool:
    """Whether a sipgate OAuth token carries `scope` (`sipgate:rtcm:write` -> `rtcm:write`)."""
    if token_scopes is None:
        return True
    bare = scope.removeprefix("sipgate:")
    if "all" in token_scopes or bare in token_scopes:
        return True
    return any(bare in implied and umbrella in token_scopes for umbrella, implied in _SIPGATE_IMPLIED.items())


@dataclass(frozen=True)
class Exposure:
    operation: Operation
    exposed: bool
    reason: str  # why it is hidden, or "exposed"


def decide(settings: Settings) -> list[Exposure]:
    """Every catalogue operation with whether it is listed and why not."""
    sandbox = settings.use_sandbox
    configured = {
        "signalwire": sandbox or settings.signalwire_configured,
        "sipgate": sandbox or settings.sipgate_configured,
    }
    patterns = settings.scope_patterns
    token_scopes = None if sandbox else settings.sipgate_token_scopes()
    out: list[Exposure] = []
    for op in CATALOGUE:
        if not configured[op.provider]:
            reason = f"{op.provider} is not configured"
        elif not scope_granted(op.scope, patterns):
            reason = f"scope {op.scope} is not granted by TELCO_MCP_SCOPES"
        elif op.provider == "sipgate" and not token_allows(op.scope, token_scopes):
            reason = f"the sipgate OAuth token does not carry {op.scope.removeprefix('sipgate:')}"
        elif op.is_write and not settings.writes_enabled:
            reason = "read-only mode (enable writes with TELCO_MCP_ALLOW_WRITES=1 or --allow-writes)"
        else:
            reason = "exposed"
        out.append(Exposure(op, reason == "exposed", reason))
    return out


def exposed_operations(settings: Settings) -> list[Operation]:
    return [e.operation for e in decide(settings) if e.exposed]
