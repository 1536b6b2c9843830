"""The reference server: the smallest useful `MCPServer` from the SDK.

    python bench/minimal_server.py              stdio (cold start, the per-call floor)
    python bench/minimal_server.py http PORT    streamable HTTP on 127.0.0.1:PORT (the concurrency floor)

Two tools:
- `echo` returns its text (after `BENCH_ECHO_SLEEP_MS`, if set): what the SDK alone costs.
- `sip_profile` makes the same upstream GET as `signalwire_get_sip_profile`, with one keep-alive
  `httpx2.AsyncClient` made by the same factory as ours (`telco_mcp.upstream.make_http_client`: pool,
  timeouts, headers), against `BENCH_UPSTREAM_URL` (the sandbox) with its SignalWire credentials, and
  returns the JSON: the same work as our read tool with none of our layers.

It is run the same way as `telco-mcp serve`: same interpreter, same environment, same transport.
"""

import os
import sys
from typing import Any

import anyio
import httpx2
from mcp.server import MCPServer

SLEEP = int(os.environ.get("BENCH_ECHO_SLEEP_MS", "0")) / 1000
UPSTREAM = os.environ.get("BENCH_UPSTREAM_URL", "")
PATH = "/api/relay/rest/sip_profile"

# WARNING: no log line per request (uvicorn's access log, httpx2's request log), as ours at its default.
mcp = MCPServer("bench-minimal", log_level="WARNING")
_client: httpx2.AsyncClient | None = None


def _upstream() -> httpx2.AsyncClient:
    global _client
    if _client is None:  # configured exactly like ours (same factory), so only the layers around it differ
        from telco_mcp import sandbox as sb
        from telco_mcp.upstream import make_http_client

        auth = httpx2.BasicAuth(sb.SIGNALWIRE_PROJECT_ID, sb.SIGNALWIRE_API_TOKEN)
        _client = make_http_client(UPSTREAM, auth, timeout=60)
    return _client


@mcp.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    if SLEEP:
        await anyio.sleep(SLEEP)
    return text


@mcp.tool()
async def sip_profile() -> dict[str, Any]:
    """The SIP profile, straight from the upstream."""
    response = await _upstream().get(PATH)
    response.raise_for_status()
    return response.json()


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run()
