"""The configuration reference in `docs/configuration.md`, generated from `Settings` (`telco-mcp manifest`
writes it, `--check` fails on drift, as for the tool table in docs/tools.md).

Each row is one field of `Settings`: its environment variable, its default (never a secret's: a secret has
none to show), its description and constraints as declared, and when it matters. "When it matters" is the
field's own `json_schema_extra={"matters": "..."}` where a field declares it (so a new setting can carry it
in `settings.py`), else the entry in `MATTERS` below. A field with neither still renders (its cell says so),
and `tests/test_config_reference.py` fails until it has one.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from telco_mcp.settings import Settings

START = "<!-- START GENERATED SETTINGS (telco-mcp manifest) -->"
END = "<!-- END GENERATED SETTINGS -->"
DOC = Path("docs") / "configuration.md"
MISSING = "(not yet described: add `matters`)"

_PROVIDER = "using the real provider (not the sandbox)"
_SIPGATE_OAUTH = "sipgate with an OAuth2 token instead of a personal access token"
_SIPGATE_PASSWORD = "sipgate with Basic auth on your own account"
_HTTP = "serving over HTTP (`--transport http` or `sse`, `make serve`)"
_OAUTH = "a team shares one HTTP server, each person with their own identity"
_WEBHOOKS = "sipgate posts call events to this server (live call events)"
_CAPS = "writes are on: a limit that stops a runaway model"

MATTERS: dict[str, str] = {
    "signalwire_space": _PROVIDER + ": SignalWire",
    "signalwire_project_id": _PROVIDER + ": SignalWire",
    "signalwire_api_token": _PROVIDER + ": SignalWire",
    "signalwire_base_url": "pointing SignalWire at a mock or at `telco-mcp sandbox`",
    "sipgate_token_id": _PROVIDER + ": sipgate with a personal access token",
    "sipgate_token": _PROVIDER + ": sipgate with a personal access token",
    "sipgate_access_token": _SIPGATE_OAUTH,
    "sipgate_refresh_token": _SIPGATE_OAUTH + ", refreshed on 401",
    "sipgate_client_id": _SIPGATE_OAUTH + ", refreshed on 401",
    "sipgate_client_secret": _SIPGATE_OAUTH + ", refreshed on 401",
    "sipgate_username": _SIPGATE_PASSWORD,
    "sipgate_password": _SIPGATE_PASSWORD,
    "sipgate_base_url": "pointing sipgate at a mock or at `telco-mcp sandbox`",
    "sipgate_token_url": "a sipgate OAuth token endpoint other than the base URL's own",
    "telco_mcp_sandbox": "credentials are set but you want the sandbox, or no credentials and no sandbox",
    "telco_mcp_allow_writes": "real credentials: writes are off until this is 1",
    "telco_mcp_scopes": "narrowing what the model may do (read-only scopes, one provider)",
    "telco_mcp_dynamic_toolsets": "a client with a small tool budget that should enable toolsets on demand",
    "telco_mcp_toolsets": "you need tools outside the default toolsets (numbers, forwardings, blacklist, …)",
    "telco_mcp_confirm": "writes are on: who is asked, and how",
    "telco_mcp_confirm_off_acknowledged": "TELCO_MCP_CONFIRM=off",
    "telco_mcp_confirm_secret": "several replicas (required with TELCO_MCP_STATE_URL), or tokens that stay valid "
    "across a restart",
    "telco_mcp_state_url": "several replicas behind a load balancer",
    "telco_mcp_confirm_ttl": "approvers need more (or less) than 5 minutes",
    "telco_mcp_approver_pin": "approving from a terminal or through webhook notices, or where the model could "
    "open a launch link itself (Claude Code)",
    "telco_mcp_approval_port": "stdio, and a firewall or browser profile that needs a fixed approval-page port",
    "telco_mcp_approval_webhook": "approvers are told in a team chat or pager",
    "telco_mcp_public_url": "behind a proxy or on another host: links and webhook URLs that leave the machine",
    "telco_mcp_webhook_host": _WEBHOOKS + ", under stdio",
    "telco_mcp_webhook_port": _WEBHOOKS + ", under stdio",
    "telco_mcp_webhook_secret": _WEBHOOKS + ", from containers or several replicas",
    "telco_mcp_webhook_allowed_networks": _WEBHOOKS + ": only sipgate's networks may post",
    "telco_mcp_webhook_trusted_proxies": "an old configuration (rename it TELCO_MCP_TRUSTED_PROXIES)",
    "telco_mcp_webhook_max_bytes": _WEBHOOKS + ": larger events than usual",
    "telco_mcp_call_events_kept": _WEBHOOKS + ": busy accounts",
    "telco_mcp_audit_log": "the audit log must live somewhere else (a mounted volume, a log shipper)",
    "telco_mcp_audit_unmasked": "an audit that must show full phone numbers",
    "telco_mcp_block_premium": "you really need to call premium-rate numbers (off is rarely right)",
    "telco_mcp_allowed_prefixes": "writes are on: only some countries or ranges may be called or texted",
    "telco_mcp_denied_prefixes": "writes are on: some countries or ranges may never be called or texted",
    "telco_mcp_allowed_routing_hosts": "numbers' routing URLs or sipgate push URLs are changed by the model",
    "telco_mcp_max_sms_segments": _CAPS,
    "telco_mcp_sms_per_hour": _CAPS,
    "telco_mcp_calls_per_hour": _CAPS,
    "telco_mcp_default_region": "people type national numbers of a country other than Germany",
    "telco_mcp_http_token": _HTTP + " beyond loopback, without OAuth",
    "telco_mcp_oauth_issuer": _OAUTH,
    "telco_mcp_oauth_resource": _OAUTH,
    "telco_mcp_oauth_jwks_url": _OAUTH,
    "telco_mcp_oauth_jwks_min_refresh": _OAUTH + ": an issuer that rotates keys",
    "telco_mcp_oauth_required_scopes": _OAUTH + ": every caller needs a scope",
    "telco_mcp_oauth_scope_claim": _OAUTH + ": an issuer that puts roles elsewhere (Keycloak, groups)",
    "telco_mcp_oauth_scope_map": _OAUTH + ": the issuer's scopes or roles are not telco-mcp scopes",
    "telco_mcp_approver_token": "`telco-mcp approvals --url` against a team server",
    "telco_mcp_four_eyes": _OAUTH + ": a second person approves",
    "telco_mcp_allowed_gateway_hosts": "SIP gateways are created or re-pointed by the model",
    "telco_mcp_allowed_hosts": _HTTP + " on a name or address other than loopback",
    "telco_mcp_allowed_origins": _HTTP + " to a browser-based client",
    "telco_mcp_log_level": "debugging (DEBUG) or quiet logs (WARNING)",
    "telco_mcp_timeout": "a slow network or upstream",
    "telco_mcp_max_retries": "a flaky network (reads only: writes are never retried)",
    "telco_mcp_trusted_proxies": "behind a reverse proxy (client addresses and https)",
    "telco_mcp_oauth_approval_resource": "OAuth: approvers use the approval API (four eyes needs it)",
    "telco_mcp_metrics_token": _HTTP + ", scraped by a Prometheus that is not on the same host",
    "telco_mcp_log_format": "shipping logs to a collector that reads JSON",
    "telco_mcp_shutdown_drain": _HTTP + " behind a balancer that polls /readyz",
    "telco_mcp_shutdown_grace": _HTTP + ", stopped while calls are in flight",
    "telco_mcp_webhook_signature": "sipgate pushes (turn off only for a test rig that cannot sign)",
    "telco_mcp_webhook_public_key": "sipgate rotates its key, or a separately started `telco-mcp sandbox` signs",
    "telco_mcp_fax_dir": "faxes are sent (sipgate_send_fax reads PDFs from this directory only)",
    "telco_mcp_fax_per_hour": "faxes are sent: a ceiling on how many per hour",
    "telco_mcp_sipgate_ownership": "a sipgate team account whose token reaches colleagues' devices, numbers, calls",
}


def is_secret(info: FieldInfo) -> bool:
    return SecretStr in (info.annotation, *typing.get_args(info.annotation))


def matters(name: str, info: FieldInfo) -> str | None:
    extra = info.json_schema_extra
    declared = extra.get("matters") if isinstance(extra, dict) else None
    if isinstance(declared, str) and declared.strip():
        return declared
    return MATTERS.get(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if value == "":
        return "empty"
    return f"`{value}`"


def default(info: FieldInfo) -> str:
    if is_secret(info):
        return "none (secret)"
    if info.default is None:
        return "unset"
    return _value(info.default)


def _choices(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return [c for arg in typing.get_args(annotation) for c in _choices(arg)]
    return []


def meaning(info: FieldInfo) -> str:
    text = (info.description or "").strip()
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    limits = [f"{sign} {getattr(m, key)}" for m in info.metadata for key, sign in signs.items() if hasattr(m, key)]
    choices = _choices(info.annotation)
    if choices:
        text += " One of " + ", ".join(f"`{c}`" for c in choices) + "."
    if limits:
        text += " " + ", ".join(limits) + "."
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(cls: type[BaseSettings] = Settings) -> str:
    rows = [
        "| variable | default | meaning | matters when |",
        "|---|---|---|---|",
    ]
    for name, info in cls.model_fields.items():
        cells = [f"`{name.upper()}`", default(info), meaning(info), matters(name, info) or MISSING]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def with_reference(doc: str) -> str:
    start, end = doc.find(START), doc.find(END)
    if start == -1 or end == -1:
        raise ValueError(f"{DOC} lacks the generated-settings markers")
    return doc[: start + len(START)] + "\n" + render() + "\n" + doc[end:]
