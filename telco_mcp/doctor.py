"""`telco-mcp doctor`: check each configured provider with one cheap read, print what is exposed.

The reads go through the real server and its shared clients (an in-memory MCP client calls the
provider's cheapest read tool), so what works here works for an MCP client. No secret is printed.
"""

from __future__ import annotations

from collections.abc import Callable

from telco_mcp.settings import Settings

CHEAP_READS = {
    "signalwire": ("signalwire_get_sip_profile", "signalwire_list_sip_gateways", "signalwire_list_sip_credentials"),
    "sipgate": ("sipgate_get_account", "sipgate_list_calls", "sipgate_list_sms_senders", "sipgate_list_history"),
}


async def run_doctor(settings: Settings, out: Callable[[str], None]) -> int:
    from mcp import Client

    from telco_mcp.safety.scopes import decide
    from telco_mcp.server import build_server

    server = build_server(settings)
    runtime = server.telco_runtime  # type: ignore[attr-defined]
    exposed = {op.name for op in runtime.exposed}
    failures = 0
    mode = "SANDBOX (simulated providers)" if runtime.sandbox is not None else "live"
    out(f"mode: {mode}")
    async with Client(server) as client:
        for provider, candidates in CHEAP_READS.items():
            configured = runtime.sandbox is not None or getattr(settings, f"{provider}_configured")
            if not configured:
                out(f"{provider}: not configured")
                continue
            tool = next((name for name in candidates if name in exposed), None)
            if tool is None:
                out(f"{provider}: configured, but no read tool is granted to check it with")
                continue
            result = await client.call_tool(tool, {})
            if result.is_error:
                failures += 1
                text = " ".join(getattr(block, "text", "") for block in result.content)
                out(f"{provider}: FAILED ({tool}): {text}")
            else:
                auth = settings.sipgate_auth_mode if provider == "sipgate" and runtime.sandbox is None else None
                out(f"{provider}: OK ({tool}{', auth ' + auth if auth else ''})")
    out(f"granted scopes (TELCO_MCP_SCOPES): {', '.join(settings.scope_patterns)}")
    token_scopes = settings.sipgate_token_scopes()
    if token_scopes is not None:
        out(f"sipgate OAuth token scopes: {', '.join(sorted(token_scopes))}")
    out(f"writes: {'enabled (each confirmed by a human)' if settings.writes_enabled else 'disabled (read-only)'}")
    for decision in decide(settings):
        state = "exposed" if decision.exposed else f"hidden: {decision.reason}"
        out(f"  {decision.operation.name}: {state}")
    return 1 if failures else 0
