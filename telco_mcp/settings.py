"""Configuration: environment variables and an optional `.env` file, declared once.

Secrets are `SecretStr` and are only ever read inside the auth layer. Nothing secret is taken from
the command line. `Settings.problems()` names every missing or malformed setting at startup.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, AliasPath, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from telco_mcp.errors import ConfigError

SIPGATE_DEFAULT_BASE_URL = "https://api.sipgate.com/v2"
SIPGATE_TOKEN_PATH = "/login/third-party/protocol/openid-connect/token"

SipgateAuthMode = Literal["token", "oauth", "password"]

logger = logging.getLogger(__name__)


def _default_state_dir() -> Path:
    import os

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "telco-mcp"


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/telco-mcp` (`Settings.state_dir`), for what runs before settings load or when they fail."""
    return _default_state_dir()


class Settings(BaseSettings):
    """Every setting, with its environment variable (the field name in upper case)."""

    # An empty variable is unset: an MCP Bundle host passes "" for every optional field left blank.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True, env_ignore_empty=True
    )

    # --- SignalWire --- (identifiers are repr=False too: a swapped id and secret must not be printed)
    signalwire_space: str | None = Field(None, description="Space name: the NAME in NAME.signalwire.com.")
    signalwire_project_id: str | None = Field(None, repr=False, description="Project ID (a UUID).")
    signalwire_api_token: SecretStr | None = Field(None, description="API token (secret).")
    signalwire_base_url: str | None = Field(None, description="Override the API origin (a mock or the sandbox).")

    # --- sipgate: exactly one of three ways to authenticate ---
    sipgate_token_id: str | None = Field(None, repr=False, description="Personal access token id, e.g. token-ABC123.")
    sipgate_token: SecretStr | None = Field(None, description="Personal access token (secret).")
    sipgate_access_token: SecretStr | None = Field(None, description="OAuth2 access token (secret).")
    sipgate_refresh_token: SecretStr | None = Field(None, description="OAuth2 refresh token (secret), for refresh.")
    sipgate_client_id: str | None = Field(None, repr=False, description="OAuth2 client id, for refresh.")
    sipgate_client_secret: SecretStr | None = Field(None, description="OAuth2 client secret, for refresh.")
    sipgate_username: str | None = Field(
        None, repr=False, description="Account e-mail, for Basic auth on your own account."
    )
    sipgate_password: SecretStr | None = Field(None, description="Account password (secret).")
    sipgate_base_url: str | None = Field(None, description=f"Override the API base URL ({SIPGATE_DEFAULT_BASE_URL}).")
    sipgate_token_url: str | None = Field(None, description="Override the OAuth2 token endpoint.")

    # --- server behaviour ---
    telco_mcp_sandbox: bool | None = Field(
        None, description="1: serve both providers from the sandbox; 0: never (default: only without credentials)."
    )
    telco_mcp_allow_writes: bool | None = Field(
        None, description="Register write tools (default: off, except in the sandbox)."
    )
    telco_mcp_scopes: str = Field("*", description="Granted scopes, comma separated; wildcards like sipgate:*:read.")
    telco_mcp_dynamic_toolsets: bool = Field(
        False, description="Start with the selected toolsets plus two tools to list and enable others (stdio)."
    )
    telco_mcp_toolsets: str = Field(
        "default", description="Toolsets to list, comma separated: default, all, or names like sipgate:rtcm."
    )
    telco_mcp_confirm: Literal["auto", "elicit", "approval", "token", "off"] = Field(
        "auto", description="How a human confirms writes."
    )
    telco_mcp_confirm_off_acknowledged: bool = Field(
        False, description="Must be set together with TELCO_MCP_CONFIRM=off."
    )
    telco_mcp_confirm_secret: SecretStr | None = Field(
        None,
        description="Secret the token and request-state keys derive from; comma-separated for rotation, newest "
        "first (default: random per process; required with TELCO_MCP_STATE_URL).",
    )
    telco_mcp_state_url: SecretStr | None = Field(
        None, description="redis://… shared by every replica: approvals, used tokens, hourly caps (default: memory)."
    )
    telco_mcp_confirm_ttl: int = Field(
        300, ge=30, le=3600, description="Lifetime of confirmation tokens and pending approvals, in seconds."
    )
    telco_mcp_approver_pin: SecretStr | None = Field(
        None, description="PIN (or `telco-mcp approvals hash-pin` hash) for approving without a launch link."
    )
    telco_mcp_approval_port: int = Field(0, ge=0, le=65535, description="Loopback port of the approval page (stdio).")
    telco_mcp_approval_webhook: str | None = Field(None, description="POST a notice of each pending approval here.")
    telco_mcp_public_url: str | None = Field(
        None, description="This server's public base URL (links in notices; the webhook URL doctor checks)."
    )
    telco_mcp_webhook_host: str = Field(
        "127.0.0.1", description="Address of the sipgate webhook receiver under stdio (HTTP: the server's own)."
    )
    telco_mcp_webhook_port: int = Field(
        0, ge=0, le=65535, description="Port of the sipgate webhook receiver under stdio (0: any free port)."
    )
    telco_mcp_webhook_secret: SecretStr | None = Field(
        None, description="Path secret of /webhooks/sipgate/<secret> (default: random per process)."
    )
    telco_mcp_webhook_allowed_networks: str = Field(
        "", description="Only these source networks (CIDR, comma separated) may post webhooks (default: any)."
    )
    telco_mcp_webhook_trusted_proxies: str = Field(
        "", description="Deprecated: the old name of TELCO_MCP_TRUSTED_PROXIES (read if that one is unset)."
    )
    telco_mcp_webhook_max_bytes: int = Field(
        16384, ge=1024, le=1048576, description="Largest webhook body accepted, in bytes."
    )
    telco_mcp_call_events_kept: int = Field(
        500, ge=10, le=100000, description="How many recent call events are kept in memory."
    )
    telco_mcp_audit_log: Path | None = Field(None, description="Audit file (default: <state dir>/audit.jsonl).")
    telco_mcp_audit_unmasked: bool = Field(False, description="Write full phone numbers to the audit log.")
    telco_mcp_block_premium: bool = Field(True, description="Refuse premium-rate and shared-cost destinations.")
    telco_mcp_allowed_prefixes: str = Field("", description="Only these E.164 prefixes may be called or texted.")
    telco_mcp_denied_prefixes: str = Field("", description="These E.164 prefixes may never be called or texted.")
    telco_mcp_allowed_routing_hosts: str = Field(
        "", description="Hosts calls, messages and push events may be routed to (and the SignalWire space's own)."
    )
    telco_mcp_max_sms_segments: int | None = Field(None, ge=1, le=10, description="Longest SMS, in segments.")
    telco_mcp_sms_per_hour: int | None = Field(None, ge=0, description="SMS the server may send per hour.")
    telco_mcp_calls_per_hour: int | None = Field(None, ge=0, description="Calls the server may start per hour.")
    telco_mcp_default_region: str = Field("DE", description="Region for national phone numbers (ISO 3166).")
    telco_mcp_http_token: SecretStr | None = Field(None, description="Bearer token required on HTTP transports.")
    telco_mcp_oauth_issuer: str | None = Field(
        None, description="OAuth 2.1 on the HTTP transports: the authorization server (the tokens' `iss`)."
    )
    telco_mcp_oauth_resource: str | None = Field(
        None, description="This server's resource URL, e.g. https://mcp.example.com/mcp (the tokens' `aud`)."
    )
    telco_mcp_oauth_jwks_url: str | None = Field(None, description="The issuer's JWKS (its signing keys).")
    telco_mcp_oauth_jwks_min_refresh: float = Field(
        30.0, ge=0, le=3600, description="Least seconds between two JWKS fetches for a token with an unknown key."
    )
    telco_mcp_oauth_required_scopes: str = Field(
        "", description="Token scopes every request needs (else 403 insufficient_scope), comma separated."
    )
    telco_mcp_oauth_scope_claim: str = Field(
        "scope", description="The claim holding the token's scopes or roles (dotted path, e.g. realm_access.roles)."
    )
    telco_mcp_oauth_scope_map: str = Field(
        "", description='JSON: token scope -> server scope patterns, e.g. {"telco.ops": ["sipgate:*"]}.'
    )
    telco_mcp_approver_token: SecretStr | None = Field(
        None, description="Your own access token, for `telco-mcp approvals --url` (or --token-file)."
    )
    telco_mcp_four_eyes: Literal["off", "destructive", "writes"] = Field(
        "off", description="Who approves: a different authenticated person for destructive writes, or all writes."
    )
    # --- routing guardrails (issue 22, part 1): where a SIP gateway may send calls ---
    telco_mcp_allowed_gateway_hosts: str = Field(
        "", description="SIP gateway hosts, comma separated: host (any port) or host:port (default: none)."
    )

    # --- approver authority (issue 23 part 3): the approval API is a resource of its own ---
    telco_mcp_oauth_approval_resource: str | None = Field(
        None,
        description="The approval API's own resource URL, e.g. https://mcp.example.com/api/approvals: approvers' "
        "tokens must name it as `aud` (a token for the MCP resource is refused there).",
    )
    telco_mcp_allowed_hosts: str = Field("", description="Extra Host values accepted on HTTP transports.")
    telco_mcp_allowed_origins: str = Field("", description="Extra Origin values accepted on HTTP transports.")
    telco_mcp_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    telco_mcp_timeout: float = Field(15.0, gt=0, le=120, description="Upstream request timeout in seconds.")
    telco_mcp_max_retries: int = Field(2, ge=0, le=5, description="Retries of idempotent requests.")

    # --- operating the HTTP service (issue 25): probes, metrics, logs, graceful shutdown ---
    telco_mcp_metrics_token: SecretStr | None = Field(
        None, description="Bearer token for /metrics (without it: loopback scrapers only; HTTP transports only)."
    )
    telco_mcp_log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or one JSON object a line (time, level, logger, request id, tool)."
    )
    telco_mcp_shutdown_drain: float = Field(
        5.0, ge=0, le=300, description="Seconds a SIGTERM keeps serving with /readyz 503 before stopping."
    )
    telco_mcp_shutdown_grace: int = Field(
        20, ge=0, le=600, description="Seconds after the drain for requests in flight before they are cut."
    )

    # --- forwarded headers (issue 23: proxies) ---
    telco_mcp_trusted_proxies: str = Field(
        "",
        description="Proxies (addresses or networks, comma separated) whose X-Forwarded-For and X-Forwarded-Proto "
        "count, on every listener; from any other peer, loopback included, the headers are ignored.",
    )

    # --- sipgate push signatures (issue 22, webhooks; docs/webhooks.md) ---
    telco_mcp_webhook_signature: Literal["require", "off"] = Field(
        "require", description="require: every sipgate push must carry a valid X-Sipgate-Signature; off: no check."
    )
    telco_mcp_webhook_public_key: Path | None = Field(
        None, description="PEM file of the key sipgate pushes are signed with (default: sipgate's; sandbox: its own)."
    )

    # --- the approver's factor and the server apart from the model (issue 24: passkeys) ---
    telco_mcp_approver_factor: Literal["none", "pin", "passkey"] = Field(
        "none",
        description="What a person proves with every approval: none (launch code), pin, or passkey. With pin or "
        "passkey, auto, elicit and token act as approval for every write.",
        json_schema_extra={"matters": "a model that can run programs or start its own MCP client (coding agents)"},
    )
    telco_mcp_approval_socket_group: str | None = Field(
        None,
        description="Group (name or id) of the terminal's approval socket, then mode 0660: for a server running "
        "under its own account (default: the server's own user only, 0600).",
        json_schema_extra={"matters": "the server runs under its own account and people approve from a terminal"},
    )

    # --- sipgate round 2 (issue 27, sipgate2): fax sources and their cap; docs/sipgate-fax.md ---
    telco_mcp_fax_dir: Path | None = Field(
        None, description="Directory sipgate_send_fax may read PDFs from (unset: faxes cannot be sent)."
    )
    telco_mcp_fax_per_hour: int | None = Field(None, ge=0, description="Faxes the server may send per hour.")
    telco_mcp_sipgate_ownership: Literal["account", "user"] | None = Field(
        None, description="account: every sipgate resource; user: only the token user's (default: account if admin)."
    )

    @field_validator("telco_mcp_log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    # ---------------------------------------------------------------- derived views
    @property
    def signalwire_configured(self) -> bool:
        return any((self.signalwire_space, self.signalwire_project_id, self.signalwire_api_token))

    @property
    def sipgate_auth_mode(self) -> SipgateAuthMode | None:
        if self.sipgate_token_id or self.sipgate_token:
            return "token"
        if (
            self.sipgate_access_token
            or self.sipgate_refresh_token
            or self.sipgate_client_id
            or self.sipgate_client_secret
        ):
            return "oauth"
        if self.sipgate_username or self.sipgate_password:
            return "password"
        return None

    @property
    def sipgate_configured(self) -> bool:
        return self.sipgate_auth_mode is not None

    @property
    def use_sandbox(self) -> bool:
        """The sandbox serves both providers when asked to, or when no credentials exist and it is not refused."""
        if self.telco_mcp_sandbox is not None:
            return self.telco_mcp_sandbox
        return not (self.signalwire_configured or self.sipgate_configured)

    @property
    def writes_enabled(self) -> bool:
        if self.telco_mcp_allow_writes is not None:
            return self.telco_mcp_allow_writes
        return self.use_sandbox

    @property
    def toolsets(self) -> list[str]:
        return split_list(self.telco_mcp_toolsets) or ["default"]

    @property
    def scope_patterns(self) -> list[str]:
        return [p.strip() for p in self.telco_mcp_scopes.split(",") if p.strip()]

    @property
    def oauth_enabled(self) -> bool:
        """OAuth 2.1 protects the HTTP transports (JWT access tokens from TELCO_MCP_OAUTH_ISSUER)."""
        return bool(self.telco_mcp_oauth_issuer)

    @property
    def oauth_scope_map(self) -> dict[str, list[str]]:
        """TELCO_MCP_OAUTH_SCOPE_MAP parsed: token scope -> server scope patterns ({} when unset or invalid)."""
        try:
            return _scope_map(self.telco_mcp_oauth_scope_map)
        except ValueError:
            return {}

    @property
    def trusted_proxies(self) -> list[str]:
        """TELCO_MCP_TRUSTED_PROXIES, or its deprecated old name TELCO_MCP_WEBHOOK_TRUSTED_PROXIES."""
        return split_list(self.telco_mcp_trusted_proxies or self.telco_mcp_webhook_trusted_proxies)

    @property
    def consent_mode(self) -> str:
        """The `TELCO_MCP_CONFIRM` that rules: with an approver factor (pin, passkey), auto, elicit and token act as
        approval, so no client (one the model started itself, answering its own form) can stand in for the person."""
        if self.telco_mcp_approver_factor != "none" and self.telco_mcp_confirm in FACTOR_OVERRIDES:
            return "approval"
        return self.telco_mcp_confirm

    @property
    def audit_path(self) -> Path:
        return self.telco_mcp_audit_log or _default_state_dir() / "audit.jsonl"

    @property
    def state_dir(self) -> Path:
        return _default_state_dir()

    def signalwire_origin(self) -> str:
        if self.signalwire_base_url:
            return self.signalwire_base_url.rstrip("/")
        return f"https://{self.signalwire_space}.signalwire.com"

    def sipgate_base(self) -> str:
        return (self.sipgate_base_url or SIPGATE_DEFAULT_BASE_URL).rstrip("/")

    def sipgate_token_endpoint(self) -> str:
        if self.sipgate_token_url:
            return self.sipgate_token_url
        parts = urlsplit(self.sipgate_base())
        return f"{parts.scheme}://{parts.netloc}{SIPGATE_TOKEN_PATH}"

    def sipgate_token_scopes(self) -> set[str] | None:
        """The scopes an OAuth access token carries (its JWT `scope` claim), or None if unknown.

        Read without verifying the signature: it only ever narrows what is exposed.
        """
        if self.sipgate_auth_mode != "oauth" or self.sipgate_access_token is None:
            return None
        parts = self.sipgate_access_token.get_secret_value().split(".")
        if len(parts) != 3:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            return None
        scope = payload.get("scope") if isinstance(payload, dict) else None
        return set(scope.split()) if isinstance(scope, str) else None

    # ---------------------------------------------------------------- validation
    def problems(self) -> list[str]:
        """Every missing or malformed setting, each naming its environment variable."""
        out: list[str] = []
        if self.telco_mcp_sandbox is False and not (self.signalwire_configured or self.sipgate_configured):
            out.append(
                "TELCO_MCP_SANDBOX=0 forbids the embedded sandbox, but no provider credentials are configured: "
                "set SIGNALWIRE_SPACE/SIGNALWIRE_PROJECT_ID/SIGNALWIRE_API_TOKEN or sipgate credentials "
                "(e.g. SIPGATE_TOKEN_ID and SIPGATE_TOKEN), or unset TELCO_MCP_SANDBOX"
            )
        if self.use_sandbox and self.telco_mcp_sandbox:
            pass  # an explicit sandbox ignores provider settings
        else:
            out += self._signalwire_problems() + self._sipgate_problems()
        for name in (
            "signalwire_base_url",
            "sipgate_base_url",
            "sipgate_token_url",
            "telco_mcp_approval_webhook",
            "telco_mcp_public_url",
        ):
            value = getattr(self, name)
            if value and not _is_http_url(value):
                out.append(f"{name.upper()} must be an http(s) URL, got {value!r}")
        out += self._oauth_problems()
        out += self._state_problems()
        out += self._factor_problems()
        if self.telco_mcp_confirm == "off" and not self.telco_mcp_confirm_off_acknowledged:
            out.append(
                "TELCO_MCP_CONFIRM=off also needs TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED=1 "
                "(or --i-accept-unconfirmed-writes)"
            )
        for name in ("telco_mcp_allowed_prefixes", "telco_mcp_denied_prefixes"):
            for prefix in split_list(getattr(self, name)):
                if not re.fullmatch(r"\+[0-9]{1,15}", prefix):
                    out.append(f"{name.upper()}: {prefix!r} is not an E.164 prefix like +49 or +4930")
        for host in split_list(self.telco_mcp_allowed_routing_hosts):
            if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", host):
                out.append(
                    f"TELCO_MCP_ALLOWED_ROUTING_HOSTS: {host!r} is not a host name like hooks.example.com or "
                    "*.example.com (no scheme, port or path)"
                )
        out += self._gateway_host_problems()
        out += self._pin_problems()
        for name in (
            "telco_mcp_webhook_allowed_networks",
            "telco_mcp_webhook_trusted_proxies",
            "telco_mcp_trusted_proxies",
        ):
            for network in split_list(getattr(self, name)):
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError:
                    out.append(f"{name.upper()}: {network!r} is not an IP address or network like 192.0.2.0/24")
        old, new = split_list(self.telco_mcp_webhook_trusted_proxies), split_list(self.telco_mcp_trusted_proxies)
        if old and new and old != new:
            out.append(
                "TELCO_MCP_WEBHOOK_TRUSTED_PROXIES (deprecated) and TELCO_MCP_TRUSTED_PROXIES differ: set only "
                "TELCO_MCP_TRUSTED_PROXIES (it applies to every listener)"
            )
        secret = self.telco_mcp_webhook_secret
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{32,128}", secret.get_secret_value()):
            out.append("TELCO_MCP_WEBHOOK_SECRET must be 32-128 letters, digits, - or _ (it is part of a URL path)")
        if not re.fullmatch(r"[A-Z]{2}", self.telco_mcp_default_region):
            out.append("TELCO_MCP_DEFAULT_REGION must be a two-letter region code such as DE")
        return out

    def _pin_problems(self) -> list[str]:  # issue 26: a malformed PIN hash stops startup with the settings
        from telco_mcp.approval.pin import pin_problem

        pin = self.telco_mcp_approver_pin
        problem = pin_problem(pin.get_secret_value()) if pin is not None else None
        return [problem] if problem else []

    def _gateway_host_problems(self) -> list[str]:
        from telco_mcp.routing import parse_host_entry

        out = []
        for entry in split_list(self.telco_mcp_allowed_gateway_hosts):
            try:
                parse_host_entry(entry)
            except ValueError:
                out.append(
                    f"TELCO_MCP_ALLOWED_GATEWAY_HOSTS: {entry!r} is not a host or host:port like pbx.example.com, "
                    "pbx.example.com:5061 or [2001:db8::1]:5061 (no scheme, user or wildcard)"
                )
        return out

    def _oauth_problems(self) -> list[str]:
        out: list[str] = []
        oauth = {
            "telco_mcp_oauth_issuer": self.telco_mcp_oauth_issuer,
            "telco_mcp_oauth_resource": self.telco_mcp_oauth_resource,
            "telco_mcp_oauth_jwks_url": self.telco_mcp_oauth_jwks_url,
        }
        if any(oauth.values()):
            for name, value in oauth.items():
                if not value:
                    out.append(
                        f"{name.upper()} is missing (OAuth needs the issuer, this server's resource URL and the "
                        "JWKS URL)"
                    )
                elif not _is_http_url(value):
                    out.append(f"{name.upper()} must be an http(s) URL, got {value!r}")
            jwks = self.telco_mcp_oauth_jwks_url
            if jwks and _is_http_url(jwks) and not _https_or_loopback(jwks):
                out.append(
                    "TELCO_MCP_OAUTH_JWKS_URL must be https (plain http only on loopback): whoever could alter the "
                    "keys in transit could sign their own tokens"
                )
            if self.telco_mcp_http_token is not None:
                out.append(
                    "TELCO_MCP_HTTP_TOKEN and TELCO_MCP_OAUTH_ISSUER are both set: choose the static bearer token or "
                    "OAuth access tokens, not both"
                )
        try:
            _scope_map(self.telco_mcp_oauth_scope_map)
        except ValueError as exc:
            out.append(f"TELCO_MCP_OAUTH_SCOPE_MAP: {exc}")
        out += self._approval_resource_problems()
        if self.telco_mcp_four_eyes != "off":
            if not self.oauth_enabled:
                out.append(
                    f"TELCO_MCP_FOUR_EYES={self.telco_mcp_four_eyes} needs OAuth (TELCO_MCP_OAUTH_ISSUER, "
                    "TELCO_MCP_OAUTH_RESOURCE, TELCO_MCP_OAUTH_JWKS_URL): only authenticated people can be told apart"
                )
            if self.telco_mcp_confirm == "off":
                out.append(f"TELCO_MCP_FOUR_EYES={self.telco_mcp_four_eyes} contradicts TELCO_MCP_CONFIRM=off")
        return out

    def _approval_resource_problems(self) -> list[str]:
        """The approval API's own audience (approver authority apart from MCP access)."""
        approval, mcp = self.telco_mcp_oauth_approval_resource, self.telco_mcp_oauth_resource
        if not approval:
            if self.oauth_enabled and self.telco_mcp_four_eyes != "off":
                return [
                    f"TELCO_MCP_FOUR_EYES={self.telco_mcp_four_eyes} needs TELCO_MCP_OAUTH_APPROVAL_RESOURCE (e.g. "
                    f"{_origin(mcp)}/api/approvals): the second person approves with a token for the approval API, "
                    "never with the MCP client's token"
                ]
            return []
        if not self.oauth_enabled:
            return ["TELCO_MCP_OAUTH_APPROVAL_RESOURCE is set without OAuth (TELCO_MCP_OAUTH_ISSUER and the rest)"]
        if not _is_http_url(approval):
            return [f"TELCO_MCP_OAUTH_APPROVAL_RESOURCE must be an http(s) URL, got {approval!r}"]
        if mcp and same_resource(approval, mcp):
            return [
                "TELCO_MCP_OAUTH_APPROVAL_RESOURCE equals TELCO_MCP_OAUTH_RESOURCE: then every MCP client's token "
                f"could approve its own writes. Give the approval API its own, e.g. {_origin(mcp)}/api/approvals"
            ]
        path = urlsplit(approval).path.rstrip("/")
        if not path or (mcp and urlsplit(mcp).path.startswith(path + "/")):
            return [
                f"TELCO_MCP_OAUTH_APPROVAL_RESOURCE needs a path of its own, e.g. {_origin(mcp)}/api/approvals: its "
                f"metadata is served under /.well-known/oauth-protected-resource{path}, beside the MCP resource's"
            ]
        return []

    def _factor_problems(self) -> list[str]:
        factor = self.telco_mcp_approver_factor
        out: list[str] = []
        if factor == "pin" and self.telco_mcp_approver_pin is None:
            out.append(
                "TELCO_MCP_APPROVER_FACTOR=pin needs TELCO_MCP_APPROVER_PIN (the PIN, or its hash from `telco-mcp "
                "approvals hash-pin`)"
            )
        if factor != "none" and self.telco_mcp_confirm == "off":
            out.append(f"TELCO_MCP_APPROVER_FACTOR={factor} contradicts TELCO_MCP_CONFIRM=off (nobody is asked)")
        group = self.telco_mcp_approval_socket_group
        if group and not group.isdigit():
            import grp

            try:
                grp.getgrnam(group)
            except KeyError:
                out.append(f"TELCO_MCP_APPROVAL_SOCKET_GROUP: there is no group {group!r} on this machine")
        public = self.telco_mcp_public_url
        if factor == "passkey" and public and _is_http_url(public) and urlsplit(public).scheme != "https":
            out.append(
                "TELCO_MCP_APPROVER_FACTOR=passkey needs an https TELCO_MCP_PUBLIC_URL: its host is the passkeys' "
                "relying party, and browsers make passkeys only on https (or http://localhost)"
            )
        return out

    def _state_problems(self) -> list[str]:
        from telco_mcp.safety import keys

        out = keys.problems(self.telco_mcp_confirm_secret)
        url = self.telco_mcp_state_url
        if url is not None:
            scheme = urlsplit(url.get_secret_value()).scheme
            if scheme not in ("redis", "rediss", "unix"):  # never echo the URL: it may carry a password
                out.append(f"TELCO_MCP_STATE_URL must be a redis://, rediss:// or unix:// URL (got a {scheme!r} URL)")
            if self.telco_mcp_confirm_secret is None:
                out.append(
                    "TELCO_MCP_STATE_URL is set, so TELCO_MCP_CONFIRM_SECRET is required: every replica must sign "
                    "and check tokens and request state with the same keys, and no key is kept in Redis"
                )
        return out

    def _signalwire_problems(self) -> list[str]:
        if not self.signalwire_configured:
            return []
        out = []
        for name in ("signalwire_space", "signalwire_project_id", "signalwire_api_token"):
            if not getattr(self, name):
                out.append(f"{name.upper()} is missing (the other SignalWire settings are set)")
        space = self.signalwire_space
        if space and not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", space.removesuffix(".signalwire.com")):
            out.append(f"SIGNALWIRE_SPACE must be the space name (NAME in NAME.signalwire.com), got {space!r}")
        project = self.signalwire_project_id
        if project:
            try:
                uuid.UUID(project)
            except ValueError:
                out.append("SIGNALWIRE_PROJECT_ID must be a UUID (see your space's API page)")
        return out

    def _sipgate_problems(self) -> list[str]:
        groups = {
            "token": ("sipgate_token_id", "sipgate_token"),
            "oauth": ("sipgate_access_token", "sipgate_refresh_token", "sipgate_client_id", "sipgate_client_secret"),
            "password": ("sipgate_username", "sipgate_password"),
        }
        present = {mode for mode, names in groups.items() if any(getattr(self, n) for n in names)}
        if len(present) > 1:
            return [
                "sipgate: configure exactly one way to authenticate, found "
                + " and ".join(sorted(present))
                + " (SIPGATE_TOKEN_ID+SIPGATE_TOKEN, SIPGATE_ACCESS_TOKEN, or SIPGATE_USERNAME+SIPGATE_PASSWORD)"
            ]
        mode = self.sipgate_auth_mode
        out: list[str] = []
        if mode == "token":
            out += [
                f"{n.upper()} is missing (personal access token auth)" for n in groups["token"] if not getattr(self, n)
            ]
            if self.sipgate_token_id and not re.fullmatch(r"token-[A-Za-z0-9]{6}", self.sipgate_token_id):
                out.append(  # never echo the value: a swapped token id and token would print the secret
                    f"SIPGATE_TOKEN_ID must look like token-ABC123 (got {len(self.sipgate_token_id)} characters)"
                )
        elif mode == "oauth":
            refresh = ("sipgate_refresh_token", "sipgate_client_id", "sipgate_client_secret")
            if any(getattr(self, n) for n in refresh):
                out += [
                    f"{n.upper()} is missing (token refresh needs refresh token, client id and secret)"
                    for n in refresh
                    if not getattr(self, n)
                ]
            if not self.sipgate_access_token and not all(getattr(self, n) for n in refresh):
                out.append("SIPGATE_ACCESS_TOKEN is missing (OAuth2 auth)")
        elif mode == "password":
            out += [
                f"{n.upper()} is missing (username/password auth)" for n in groups["password"] if not getattr(self, n)
            ]
        return out

    def check(self) -> Settings:
        """Raise `ConfigError` listing every problem; return self when all is well."""
        problems = self.problems()
        if problems:
            raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))
        return self


# TELCO_MCP_CONFIRM values an approver factor turns into `approval` (issue 24: passkeys)
FACTOR_OVERRIDES = ("auto", "elicit", "token")


def split_list(value: str) -> list[str]:
    """A comma-separated setting as a list, blanks dropped."""
    return [p.strip() for p in value.split(",") if p.strip()]


def _scope_map(value: str) -> dict[str, list[str]]:
    """`{"token scope": ["server:scope:pattern", ...]}` (a single pattern may be a string); ValueError says why not."""
    if not value.strip():
        return {}
    try:
        raw = json.loads(value)
    except ValueError:
        raise ValueError('not JSON: write an object such as {"telco.ops": ["sipgate:*"]}') from None
    if not isinstance(raw, dict):
        raise ValueError('must be a JSON object such as {"telco.ops": ["sipgate:*"]}')
    out: dict[str, list[str]] = {}
    for key, patterns in raw.items():
        listed = [patterns] if isinstance(patterns, str) else patterns
        if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
            raise ValueError(f"{key!r} must map to a scope pattern or a list of them")
        out[key] = listed
    return out


def _https_or_loopback(value: str) -> bool:
    import ipaddress

    parts = urlsplit(value)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_resource(a: str, b: str) -> bool:
    """Whether two resource URLs name one resource (scheme and host case, a trailing slash aside)."""
    pa, pb = urlsplit(a.strip()), urlsplit(b.strip())
    return (pa.scheme.lower(), pa.netloc.lower(), pa.path.rstrip("/"), pa.query) == (
        pb.scheme.lower(), pb.netloc.lower(), pb.path.rstrip("/"), pb.query,
    )  # fmt: skip


def _origin(url: str | None) -> str:
    parts = urlsplit(url or "https://mcp.example.com")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "https://mcp.example.com"


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with explicit overrides (used by CLI flags and tests).

    A `TELCO_MCP_*` name there that is no setting stops here (`check_names`), before anything reads it.
    """
    check_names(os.environ, _env_files(overrides.get("_env_file", Settings.model_config.get("env_file"))))
    try:
        settings = Settings(**overrides)  # pyright: ignore[reportArgumentType]
    except ValidationError as exc:  # name the settings without echoing their values
        lines = [f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(lines)) from None
    if settings.telco_mcp_webhook_trusted_proxies:
        logger.warning(
            "TELCO_MCP_WEBHOOK_TRUSTED_PROXIES is deprecated: rename it TELCO_MCP_TRUSTED_PROXIES (it now applies "
            "to every listener: the webhooks, the approval page and the MCP endpoint)"
        )
    return settings


# --- misspelled settings (issue 23: proxies) ---
# `TELCO_MCP_*` names the project reads outside `Settings` (tests and tooling): never a misspelling.
OTHER_NAMES = frozenset({"TELCO_MCP_TEST_ARTIFACTS"})
_PROVIDER_PREFIXES = ("SIGNALWIRE_", "SIPGATE_")


def setting_names() -> frozenset[str]:
    """Every environment name `Settings` reads: each field's name and its aliases (upper case)."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add(name.upper())
        for alias in (info.alias, info.validation_alias):
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            for choice in choices:
                if isinstance(choice, AliasPath):
                    choice = choice.path[0]
                if isinstance(choice, str):
                    names.add(choice.upper())
    return frozenset(names)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def _env_files(value: object) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [Path(value)]
    if isinstance(value, Iterable):
        return [Path(v) for v in value if isinstance(v, str | os.PathLike)]
    return []


def check_names(environ: Mapping[str, str], env_files: Iterable[Path] = ()) -> None:
    """Raise `ConfigError` for a `TELCO_MCP_*` name that is not a setting, and for a `SIGNALWIRE_*` or `SIPGATE_*`
    name within edit distance 2 of one; warn of any other unknown provider name. Each line names the closest
    setting. A misspelled name would be ignored, and an ignored safety setting fails open (`TELCO_MCP_SCOPE`
    would expose every write tool). Empty values are unset, as everywhere in the settings."""
    from dotenv import dotenv_values

    named = [(name, value, "") for name, value in environ.items()]
    for path in env_files:
        if path.is_file():
            values = dotenv_values(path, encoding=Settings.model_config.get("env_file_encoding") or "utf-8")
            named += [(name, value or "", f" (in {path})") for name, value in values.items()]
    known = setting_names()
    errors: list[str] = []
    for name, value, where in named:
        upper = name.upper()
        if not value or upper in known or upper in OTHER_NAMES:
            continue
        if upper.startswith("TELCO_MCP_"):
            closest = difflib.get_close_matches(upper, known, n=1, cutoff=0)[0]
            errors.append(
                f"{name}{where} is not a telco-mcp setting: did you mean {closest}? (a misspelled setting would be "
                "ignored, so nothing starts until it is renamed or removed)"
            )
        elif upper.startswith(_PROVIDER_PREFIXES):
            near = min(known, key=lambda k: (edit_distance(upper, k), k))
            if edit_distance(upper, near) <= 2:
                errors.append(
                    f"{name}{where} is not a telco-mcp setting: did you mean {near}? (a misspelled setting would be "
                    "ignored, so nothing starts until it is renamed or removed)"
                )
            else:
                closest = difflib.get_close_matches(upper, known, n=1, cutoff=0)[0]
                logger.warning(
                    "%s%s is not a telco-mcp setting and is ignored (closest setting: %s)", name, where, closest
                )
    if errors:
        raise ConfigError("\n".join(errors))
