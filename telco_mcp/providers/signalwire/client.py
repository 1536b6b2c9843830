"""SignalWire's shared client: Basic auth with project id and API token, space host."""

from __future__ import annotations

import httpx2

from telco_mcp.settings import Settings
from telco_mcp.upstream import ProviderClient, RetryPolicy, make_http_client


def make_client(
    settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None, sandbox: bool = False
) -> ProviderClient:
    assert settings.signalwire_project_id and settings.signalwire_api_token
    auth = httpx2.BasicAuth(settings.signalwire_project_id, settings.signalwire_api_token.get_secret_value())
    http = make_http_client(settings.signalwire_origin(), auth, timeout=settings.telco_mcp_timeout, transport=transport)
    return ProviderClient(
        "signalwire",
        http,
        retry=RetryPolicy(max_retries=settings.telco_mcp_max_retries),
        sandbox=sandbox,
        account_id=settings.signalwire_project_id,  # the Compatibility API's AccountSid
    )
