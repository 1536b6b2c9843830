"""Fixed, non-secret credentials the sandbox accepts (re-exported by ``telco_mcp.sandbox``)."""

from __future__ import annotations

from telco_mcp.sandbox.tokens import make_access_token

SIGNALWIRE_SPACE = "sandbox"
SIGNALWIRE_PROJECT_ID = "5f1c3a52-8d5e-4b6a-9c1e-0a1b2c3d4e5f"
SIGNALWIRE_API_TOKEN = "PTsandbox-signalwire-token-not-a-secret"

SIPGATE_TOKEN_ID = "token-SANDBX"
SIPGATE_TOKEN = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SIPGATE_USERNAME = "sandbox@example.com"
SIPGATE_PASSWORD = "sandbox-password"
SIPGATE_CLIENT_ID = "sandbox-client"
SIPGATE_CLIENT_SECRET = "sandbox-client-secret"
SIPGATE_REFRESH_TOKEN = "sandbox-refresh-token"
SIPGATE_ALL_SCOPES: tuple[str, ...] = (
    "account:read",
    "rtcm:read",
    "rtcm:write",
    "sessions:calls:write",
    "sessions:sms:write",
    "sms:read",
    "history:read",
    "history:write",
    "users:read",
    "devices:read",
    "phonelines:read",
    "numbers:read",
    "balance:read",
    "contacts:read",
    "voicemails:read",
    "blacklist:read",
    "blacklist:write",
)
# Valid until 2100-01-01 unless the sandbox is told to expire it or a refresh replaces it.
SIPGATE_ACCESS_TOKEN = make_access_token(
    scopes=SIPGATE_ALL_SCOPES,
    iat=1767225600,  # 2026-01-01T00:00:00Z
    exp=4102444800,  # 2100-01-01T00:00:00Z
    jti="sandbox-initial-access-token",
    client_id=SIPGATE_CLIENT_ID,
)
