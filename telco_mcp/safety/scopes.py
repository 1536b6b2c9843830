"""Which tools are exposed, decided in a fixed order: configured providers, enabled toolsets, granted
scopes, read-only.

A toolset is a scope's `<provider>:<resource>` part (`sipgate:rtcm`, `signalwire:sip_gateways`), so
one vocabulary serves both. `TELCO_MCP_TOOLSETS` lists the enabled ones: `default` (the everyday
tools the catalogue marks so), `all`, or toolset names; an unknown name stops startup.

A scope is `<provider>:<resource>:<action>` (for sipgate its own OAuth scope names, e.g.
`sipgate:rtcm:write`). `TELCO_MCP_SCOPES` grants patterns with `*` wildcards (`sipgate:*:read`,
`signalwire:*`, `*`). A sipgate OAuth token further narrows sipgate tools to the scopes it carries.

Every pattern must grant at least one scope the catalogue declares: a typo such as
`sipgate:rtcm:raed` would otherwise hide tools without a word, so it stops startup naming the entry
and the part that is unknown. The known providers, resources and actions are read from the
catalogue itself, so a new tool's scope needs no second list.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from telco_mcp.catalogue import CATALOGUE, Operation
from telco_mcp.errors import ConfigError
from telco_mcp.settings import Settings

# sipgate umbrella scopes that also grant narrower ones
_SIPGATE_IMPLIED = {
    "sessions:write": ("sessions:sms:write", "sessions:calls:write"),
    "phonelines:read": ("phonelines:forwardings:read",),  # the spec accepts either on GET .../forwardings
    "settings:read": ("settings:sipgateio:read",),  # the spec accepts either on /settings/sipgateio
    "settings:write": ("settings:sipgateio:write",),
}


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


def _split_scope(scope: str) -> tuple[str, str, str]:
    """`provider:resource:action`; sipgate resources may contain colons (`sessions:sms`)."""
    provider, _, rest = scope.partition(":")
    resource, _, action = rest.rpartition(":")
    return provider, resource, action


def _known(patterns: str, values: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(v, patterns) for v in values)


def scope_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` (one TELCO_MCP_SCOPES entry) grants nothing the catalogue declares, or None if it grants some."""
    declared = {op.scope for op in CATALOGUE}
    if any(scope_granted(scope, [pattern]) for scope in declared):
        return None
    parts = [_split_scope(scope) for scope in declared]
    providers = {p for p, _, _ in parts}
    provider, *rest = pattern.split(":")
    if not _known(provider, providers):
        return f"{pattern!r}: unknown provider {provider!r} (known: {', '.join(sorted(providers))})"
    actions = {a for _, _, a in parts}
    if len(rest) >= 2 and not _known(rest[-1], actions):
        return f"{pattern!r}: unknown action {rest[-1]!r} (known: {', '.join(sorted(actions))})"
    resources = {r for p, r, _ in parts if fnmatch.fnmatchcase(p, provider)}
    if len(rest) >= 2 and not _known(":".join(rest[:-1]), resources):
        return (
            f"{pattern!r}: unknown resource {':'.join(rest[:-1])!r} for {provider} "
            f"(known: {', '.join(sorted(resources))})"
        )
    if len(rest) == 1 and _known(rest[0], resources):
        return f"{pattern!r} grants no tool: add the action, e.g. {pattern}:read or {pattern}:*"
    return (
        f"{pattern!r} grants no tool: scopes are provider:resource:action, e.g. sipgate:rtcm:read or sipgate:*:read "
        "(`telco-mcp tools` lists every tool's scope)"
    )


TOOLSETS: tuple[str, ...] = tuple(dict.fromkeys(op.toolset for op in CATALOGUE))


def check_toolsets(names: list[str]) -> None:
    """Raise `ConfigError` naming every TELCO_MCP_TOOLSETS entry that is not a toolset."""
    unknown = [n for n in names if n not in ("default", "all") and n not in TOOLSETS]
    if unknown:
        raise ConfigError(
            "Invalid configuration:\n  - "
            + "\n  - ".join(f"TELCO_MCP_TOOLSETS: {n!r} is not a toolset (default, all, {', '.join(TOOLSETS)})"
                            for n in unknown)
        )  # fmt: skip


def toolset_enabled(op: Operation, names: list[str]) -> bool:
    return "all" in names or op.toolset in names or ("default" in names and op.default)


def check_scope_patterns(patterns: list[str]) -> None:
    """Raise `ConfigError` naming every TELCO_MCP_SCOPES entry that grants nothing."""
    problems = [p for p in map(scope_pattern_problem, patterns) if p]
    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(f"TELCO_MCP_SCOPES: {p}" for p in problems))


@dataclass(frozen=True)
class Exposure:
    operation: Operation
    exposed: bool
    reason: str  # why it is hidden, or "exposed"


def decide(settings: Settings) -> list[Exposure]:
    """Every catalogue operation with whether it is listed and why not.

    Raises `ConfigError` when a TELCO_MCP_SCOPES entry grants no declared scope (a typo).
    """
    check_scope_patterns(settings.scope_patterns)
    toolsets = settings.toolsets
    check_toolsets(toolsets)
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
        elif not toolset_enabled(op, toolsets):
            reason = f"toolset {op.toolset} is not enabled (TELCO_MCP_TOOLSETS)"
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
