"""Read-only MCP resources: what this server is configured to do, never a secret.

`telco-mcp://configuration` is the effective configuration (mode, providers, scopes, confirmation,
guardrails, audit, limits) with every exposed tool and every hidden one with its reason: what an
operator asks first when a tool is missing. Secrets are reported only as "set" or "not set", and
URLs lose any user:password part. `telco-mcp://toolsets/{toolset}` is the same answer for one toolset
(its exposed and hidden tools); `completion/complete` offers the toolset names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mcp.server.mcpserver import Context

from telco_mcp import __version__
from telco_mcp.errors import StateUnavailable, TelcoError
from telco_mcp.safety.scopes import decide
from telco_mcp.settings import Settings, split_list
from telco_mcp.untrusted import UNTRUSTED_NOTE, fence, to_json

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from telco_mcp.runtime import Runtime

CONFIGURATION_URI = "telco-mcp://configuration"
TOOLSET_TEMPLATE = "telco-mcp://toolsets/{toolset}"
CALL_EVENTS_URI = "telco://sipgate/calls/events"
CALL_EVENTS_SHOWN = 100


def _url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _is_set(value: object) -> str:
    return "set" if value else "not set"


def configuration(settings: Settings, runtime: Runtime) -> dict[str, Any]:
    """The effective configuration as plain data, without secrets."""
    sandbox = runtime.sandbox is not None
    decisions = decide(settings)
    token_scopes = None if sandbox else settings.sipgate_token_scopes()
    return {
        "version": __version__,
        "mode": "sandbox (both providers simulated, nothing real is touched)" if sandbox else "live",
        "providers": {
            "signalwire": {
                "configured": sandbox or settings.signalwire_configured,
                "api": "embedded sandbox" if sandbox else _url(settings.signalwire_origin()),
                "api_token": "sandbox" if sandbox else _is_set(settings.signalwire_api_token),
            },
            "sipgate": {
                "configured": sandbox or settings.sipgate_configured,
                "api": "embedded sandbox" if sandbox else _url(settings.sipgate_base()),
                "auth": "sandbox" if sandbox else settings.sipgate_auth_mode,
                "oauth_token_scopes": sorted(token_scopes) if token_scopes is not None else None,
            },
        },
        "scopes": settings.scope_patterns,
        "writes_enabled": settings.writes_enabled,
        "confirmation": {
            "mode": settings.consent_mode,
            "approver_factor": settings.telco_mcp_approver_factor,
            "token_ttl_seconds": settings.telco_mcp_confirm_ttl,
            "token_key": "configured" if settings.telco_mcp_confirm_secret else "random per process",
            "four_eyes": settings.telco_mcp_four_eyes,
        },
        "shared_state": "redis (TELCO_MCP_STATE_URL)" if settings.telco_mcp_state_url else "in this process",
        "guardrails": {
            "block_premium": settings.telco_mcp_block_premium,
            "allowed_prefixes": split_list(settings.telco_mcp_allowed_prefixes),
            "denied_prefixes": split_list(settings.telco_mcp_denied_prefixes),
            "max_sms_segments": settings.telco_mcp_max_sms_segments,
            "sms_per_hour": settings.telco_mcp_sms_per_hour,
            "calls_per_hour": settings.telco_mcp_calls_per_hour,
            "allowed_routing_hosts": runtime.guardrails.routing_hosts,
            "allowed_gateway_hosts": split_list(settings.telco_mcp_allowed_gateway_hosts),
            "default_region": settings.telco_mcp_default_region,
        },
        "audit": {
            "log": str(settings.audit_path),
            "phone_numbers": "full" if settings.telco_mcp_audit_unmasked else "masked",
        },
        "upstream": {"timeout_seconds": settings.telco_mcp_timeout, "max_retries": settings.telco_mcp_max_retries},
        "http": {
            "bearer_token": _is_set(settings.telco_mcp_http_token),
            "allowed_hosts": split_list(settings.telco_mcp_allowed_hosts),
            "allowed_origins": split_list(settings.telco_mcp_allowed_origins),
            "oauth": _oauth(settings),
        },
        "tools": {
            "exposed": [
                {"name": d.operation.name, "effect": d.operation.effect, "scope": d.operation.scope}
                for d in decisions
                if d.exposed
            ],
            "hidden": [{"name": d.operation.name, "reason": d.reason} for d in decisions if not d.exposed],
        },
    }


def _oauth(settings: Settings) -> dict[str, Any] | None:
    """The OAuth resource-server settings, and who is reading this (their token's server scopes)."""
    if not settings.oauth_enabled:
        return None
    from telco_mcp.identity import current_caller

    caller = current_caller(settings)
    return {
        "issuer": settings.telco_mcp_oauth_issuer,
        "resource": settings.telco_mcp_oauth_resource,
        "approval_resource": settings.telco_mcp_oauth_approval_resource,  # approvers' tokens (docs/approvals.md)
        "jwks_url": settings.telco_mcp_oauth_jwks_url,
        "required_scopes": split_list(settings.telco_mcp_oauth_required_scopes),
        "scope_claim": settings.telco_mcp_oauth_scope_claim,
        "scope_map": settings.oauth_scope_map or None,
        "caller": None if caller is None else caller.audit() | {"scopes": list(caller.scopes)},
    }


async def call_events(runtime: Runtime) -> str:
    """The newest call events sipgate pushed, newest first, fenced as untrusted (callers write them)."""
    try:
        events = await runtime.events.recent(CALL_EVENTS_SHOWN)
    except StateUnavailable as exc:  # a read never fails for want of the shared state: it says so instead
        return f"[unavailable] {exc}"
    hidden = 0
    if runtime.settings.telco_mcp_sipgate_ownership != "account":  # `user` mode shows the user's calls' events only
        from telco_mcp.providers.sipgate.ownership import events_theirs

        client = runtime.open_clients.get("sipgate")
        if client is None:
            return "[refused] which sipgate calls are yours is unknown while the server is not serving (fail closed)"
        try:
            events, hidden = await events_theirs(runtime.call_context(client), events, "the call events resource")
        except TelcoError as exc:
            return f"[refused] {exc.message}"
    data: dict[str, Any] = {
        "events": [e.model_dump(mode="json", exclude_none=True) for e in events],
        "shown": len(events),
        "limit": CALL_EVENTS_SHOWN,
    }
    if hidden:
        data["hidden_not_yours"] = hidden
    return fence(to_json(data), "sipgate") + "\n" + UNTRUSTED_NOTE


def register(server: MCPServer, runtime: Runtime) -> None:
    settings = runtime.settings

    if "sipgate" in runtime.providers:

        async def read_call_events() -> str:
            return await call_events(runtime)

        server.resource(
            CALL_EVENTS_URI,
            name="sipgate-call-events",
            title="Recent sipgate call events",
            description=f"The newest {CALL_EVENTS_SHOWN} call events sipgate pushed (newCall, answer, hangup, dtmf), "
            "newest first. Subscribe (subscriptions/listen) to hear when it changes.",
            mime_type="text/plain",
        )(read_call_events)

    if "sipgate" in runtime.providers:
        _register_exports(server, runtime)

    def read_configuration() -> str:
        return json.dumps(configuration(settings, runtime), indent=1, ensure_ascii=False)

    server.resource(
        CONFIGURATION_URI,
        name="configuration",
        title="telco-mcp configuration",
        description="The effective configuration (mode, providers, scopes, confirmation, guardrails, audit) and "
        "which tools are exposed or hidden and why. No secrets.",
        mime_type="application/json",
    )(read_configuration)

    def read_toolset(toolset: str) -> str:
        from telco_mcp.catalogue import CATALOGUE
        from telco_mcp.safety.scopes import TOOLSETS

        if toolset not in TOOLSETS:
            raise ValueError(f"{toolset!r} is not a toolset ({', '.join(TOOLSETS)})")
        members = {op.name for op in CATALOGUE if op.toolset == toolset}
        tools = configuration(settings, runtime)["tools"]
        view = {kind: [t for t in tools[kind] if t["name"] in members] for kind in ("exposed", "hidden")}
        return json.dumps({"toolset": toolset, **view}, indent=1, ensure_ascii=False)

    server.resource(
        TOOLSET_TEMPLATE,
        name="toolset",
        title="telco-mcp toolset",
        description="One toolset's tools: which are exposed, and why each other one is hidden.",
        mime_type="application/json",
    )(read_toolset)


def _register_exports(server: MCPServer, runtime: Runtime) -> None:
    """`telco-mcp://exports/{export_id}`: a CSV `sipgate_export_history` made, for the caller who made it only.

    Served as a blob (bytes, `text/csv`): a file for a person or a program, written by callers and provider
    alike, so it is never handed to a model as text to read as instructions."""
    import anyio
    from mcp.server.mcpserver.exceptions import ResourceNotFoundError

    from telco_mcp.exports import EXPORT_TEMPLATE
    from telco_mcp.write.call import binding_key

    async def read_export(export_id: str, ctx: Context) -> bytes:
        owner = binding_key(ctx, runtime)
        data = await anyio.to_thread.run_sync(runtime.exports.get, export_id, owner)
        if data is None:  # unknown, expired or another caller's: the same answer, which tells nobody which
            raise ResourceNotFoundError(
                "no such export for you: exports are kept 10 minutes and only their maker may read them; "
                "call sipgate_export_history again"
            )
        return data

    server.resource(
        EXPORT_TEMPLATE,
        name="history-export",
        title="sipgate history export",
        description="A CSV sipgate_export_history made; readable for 10 minutes, by the caller who made it only.",
        mime_type="text/csv",
    )(read_export)
