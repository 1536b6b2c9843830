"""One provider client per server on every transport, SSE included.

The SSE transport enters the server lifespan once per connection. If every connection opened its own
provider clients, each would hold its own sipgate OAuth token: one connection's refresh retires the
token another one holds (the sandbox does that, as token rotation does), so connections taking turns
would refresh on every call. Shared clients refresh once.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from telco_mcp import sandbox as sb
from telco_mcp.server import build_server
from telco_mcp.settings import SIPGATE_TOKEN_PATH
from telco_mcp.transports import http_app

from .conftest import LOOPBACK, ServedSandbox, serve_in_thread, text_of, upstream_settings

pytestmark = pytest.mark.anyio


def oauth_settings(audit_path: Path, upstream: str):
    return upstream_settings(
        audit_path,
        upstream,
        sipgate_token_id=None,
        sipgate_token=None,
        sipgate_access_token=sb.SIPGATE_ACCESS_TOKEN,
        sipgate_refresh_token=sb.SIPGATE_REFRESH_TOKEN,
        sipgate_client_id=sb.SIPGATE_CLIENT_ID,
        sipgate_client_secret=sb.SIPGATE_CLIENT_SECRET,
        sipgate_token_url=upstream + SIPGATE_TOKEN_PATH,
    )


async def test_sse_connections_share_one_sipgate_client_and_refresh_its_token_once(
    served_sandbox: ServedSandbox, audit_path: Path
) -> None:
    settings = oauth_settings(audit_path, served_sandbox.url)
    app = http_app(build_server(settings), settings, transport="sse", host=LOOPBACK, port=0)
    with serve_in_thread(app, name="sse") as served:
        url = served.url + "/sse"
        with anyio.fail_after(60):
            async with (
                Client(sse_client(url, timeout=10), mode="legacy") as first,
                Client(sse_client(url, timeout=10), mode="legacy") as second,
            ):
                assert not (await first.call_tool("sipgate_get_account", {})).is_error
                served_sandbox.served.run(_expire(served_sandbox.sandbox))
                for client in (first, second, first, second):
                    result = await client.call_tool("sipgate_get_account", {})
                    assert not result.is_error, text_of(result)

    refreshes = [r for r in served_sandbox.sandbox.requests if r.provider == "sipgate-oauth"]
    assert len(refreshes) == 1, f"{len(refreshes)} token refreshes for one expired token"


async def _expire(sandbox: sb.Sandbox) -> None:
    """Expire every sipgate access token, on the sandbox's own event loop."""
    sandbox.expire_sipgate_access_token()
