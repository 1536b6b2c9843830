"""`telco-mcp doctor`: check each configured provider with one cheap read (and, with OAuth, that the
issuer's signing keys can be fetched), print what is exposed.

The reads go through the real server and its shared clients (an in-memory MCP client calls the
provider's cheapest read tool), so what works here works for an MCP client. No secret is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from telco_mcp.settings import SIPGATE_DEFAULT_BASE_URL, Settings

CHEAP_READS = {
    "signalwire": ("signalwire_get_sip_profile", "signalwire_list_sip_gateways", "signalwire_list_sip_credentials"),
    "sipgate": ("sipgate_get_account", "sipgate_list_calls", "sipgate_list_sms_senders", "sipgate_list_history"),
}


UNREACHABLE = ("[upstream_unavailable] Could not connect", "[upstream_timeout]")


def _shown(url: str) -> str:
    """`url` without any user:password part."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def unreachable_hint(provider: str, settings: Settings) -> str:
    """Which URL could not be reached and what to check, for one provider."""
    if provider == "signalwire":
        url = settings.signalwire_origin()
        setting = (
            "SIGNALWIRE_BASE_URL"
            if settings.signalwire_base_url
            else "SIGNALWIRE_SPACE (the NAME in NAME.signalwire.com)"
        )
    else:
        url = settings.sipgate_base()
        setting = (
            "SIPGATE_BASE_URL" if settings.sipgate_base_url else f"the network route to {SIPGATE_DEFAULT_BASE_URL}"
        )
    return (
        f"could not reach {_shown(url)}. Check {setting}, that this machine resolves and reaches that host "
        "(DNS, firewall, proxy: proxy variables are not used), and that the service there is up"
    )


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
                if text.startswith(UNREACHABLE):
                    category, _, detail = text.partition(" ")
                    detail = detail.replace("; try again later", "").replace(" Nothing was sent.", "")
                    text = f"{category} {unreachable_hint(provider, settings)} ({detail.strip()})"
                out(f"{provider}: FAILED ({tool}): {text}")
            else:
                auth = settings.sipgate_auth_mode if provider == "sipgate" and runtime.sandbox is None else None
                out(f"{provider}: OK ({tool}{', auth ' + auth if auth else ''})")
    if runtime.token_verifier is not None:
        failures += await _check_oauth(runtime.token_verifier, settings, out)

    if runtime.webhooks is not None and "sipgate" in runtime.providers:
        failures += await webhook_report(settings, runtime.webhooks.path, out)
    out(f"granted scopes (TELCO_MCP_SCOPES): {', '.join(settings.scope_patterns)}")
    token_scopes = settings.sipgate_token_scopes()
    if token_scopes is not None:
        out(f"sipgate OAuth token scopes: {', '.join(sorted(token_scopes))}")
    out(f"writes: {'enabled (each confirmed by a human)' if settings.writes_enabled else 'disabled (read-only)'}")
    for decision in decide(settings):
        state = "exposed" if decision.exposed else f"hidden: {decision.reason}"
        out(f"  {decision.operation.name}: {state}")
    return 1 if failures else 0


async def _check_oauth(verifier: Any, settings: Settings, out: Callable[[str], None]) -> int:
    """Fetch the issuer's JWKS once, as the HTTP transports will: 1 on failure, else 0."""
    import jwt

    try:
        kids = await verifier.signing_key_ids()
    except jwt.PyJWTError as exc:
        out(
            f"oauth: FAILED: the signing keys at {_shown(settings.telco_mcp_oauth_jwks_url or '')} could not be read "
            f"({type(exc).__name__}: {exc}). Check TELCO_MCP_OAUTH_JWKS_URL and that the issuer is up"
        )
        return 1
    out(
        f"oauth: OK ({len(kids)} signing key{'s' if len(kids) != 1 else ''} from "
        f"{_shown(settings.telco_mcp_oauth_jwks_url or '')}; tokens from {settings.telco_mcp_oauth_issuer} "
        f"for {settings.telco_mcp_oauth_resource}; approvers' tokens for "
        f"{settings.telco_mcp_oauth_approval_resource or 'nothing (no approval API)'}; "
        f"four eyes: {settings.telco_mcp_four_eyes})"
    )
    return 0


async def webhook_report(settings: Settings, path: str, out: Callable[[str], None]) -> int:
    """The webhook URL to configure, whether the public URL reaches a receiver with this secret, and
    what sipgate is configured with (or that the sipgate.io feature is not booked). Returns failures."""
    failures = 0
    public = settings.telco_mcp_public_url
    if public:
        url = public.rstrip("/") + path
        out(f"sipgate webhooks: set {url} as the incoming and outgoing push URL (sipgate_set_webhooks, or the "
            "sipgate console: Webhooks > URLs)")  # fmt: skip
        reached, why = await probe_receiver(url)
        if reached:
            out("  TELCO_MCP_PUBLIC_URL reaches this server's webhook receiver")
        else:
            failures += 1
            out(f"  TELCO_MCP_PUBLIC_URL does NOT reach this server's webhook receiver: {why}")
    else:
        where = f"http://{settings.telco_mcp_webhook_host}:{settings.telco_mcp_webhook_port or '<port>'}"
        out(f"sipgate webhooks: served at {path} (HTTP transports: on the server's own address; stdio: on {where})")
        out("  TELCO_MCP_PUBLIC_URL is not set: sipgate posts from the internet, so set it to the public base URL "
            "that reaches this server (e.g. https://mcp.example.com) to get the full URL and check it")  # fmt: skip
    failures += await _sipgateio_settings(settings, path, out, sandbox=settings.use_sandbox)
    return failures


async def probe_receiver(url: str) -> tuple[bool, str]:
    """A GET to the receiver URL: a telco-mcp receiver holding this secret answers 405 with its marker."""
    import httpx2

    from telco_mcp.events.receiver import PROBE_HEADER

    try:
        async with httpx2.AsyncClient(timeout=5.0, trust_env=False, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx2.HTTPError as exc:
        return False, f"could not connect ({type(exc).__name__}); is the server running, and does the URL route to it?"
    if response.status_code == 405 and response.headers.get(PROBE_HEADER) == "ready":
        return True, ""
    if response.status_code == 404:
        return False, "a server answered 404: not this server, or one with another webhook secret"
    return False, f"a server answered {response.status_code} instead of this receiver"


async def _sipgateio_settings(settings: Settings, path: str, out: Callable[[str], None], *, sandbox: bool) -> int:
    from mcp import Client

    from telco_mcp.safety.scopes import decide
    from telco_mcp.server import build_server

    check = settings.model_copy(
        update={"telco_mcp_toolsets": "sipgate:settings:sipgateio", "telco_mcp_dynamic_toolsets": False}
    )
    exposure = {d.operation.name: d for d in decide(check)}.get("sipgate_get_webhooks")
    if exposure is None or not exposure.exposed:
        out(f"  sipgate push URLs: not checked ({exposure.reason if exposure else 'no tool'})")
        return 0
    async with Client(build_server(check)) as client:
        result = await client.call_tool("sipgate_get_webhooks", {})
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        if "[permission]" in text.split(" sipgate refused", 1)[0]:
            out(
                "  sipgate push URLs: FAILED: 403, sipgate.io feature not booked (or the credentials lack "
                "settings:sipgateio:read): book sipgate.io in sipgate's feature store, then run doctor again"
            )
        else:
            out(f"  sipgate push URLs: FAILED: {text}")
        return 1
    data = result.structured_content or {}
    for direction in ("incoming", "outgoing"):
        configured = data.get(f"{direction}_url")
        if not configured:
            state = "not set: sipgate sends no " + direction + " call events"
        elif configured.endswith("/webhooks/sipgate/***") and (sandbox or _same_receiver(configured, settings)):
            state = "this server" if sandbox else "this server's public URL (its secret is hidden: set the URL above)"
        else:
            state = f"another receiver ({_shown(configured).split('?')[0]})"
        out(f"  sipgate {direction} push URL: {state}")
    return 0


def _same_receiver(configured: str, settings: Settings) -> bool:
    public = settings.telco_mcp_public_url
    return public is not None and configured.startswith(public.rstrip("/") + "/")
