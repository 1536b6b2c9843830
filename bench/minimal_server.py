"""The reference server: the smallest useful `MCPServer` from the SDK, one trivial tool.

    python bench/minimal_server.py              stdio (cold start, the SDK's per-call floor)
    python bench/minimal_server.py http PORT    streamable HTTP on 127.0.0.1:PORT (concurrency floor)

`BENCH_ECHO_SLEEP_MS` makes the tool wait that long before answering, standing in for an upstream
request of that latency. It is run the same way as `telco-mcp serve`: same interpreter, same
environment, same transport.
"""

import os
import sys

import anyio
from mcp.server import MCPServer

SLEEP = int(os.environ.get("BENCH_ECHO_SLEEP_MS", "0")) / 1000

mcp = MCPServer("bench-minimal")


@mcp.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    if SLEEP:
        await anyio.sleep(SLEEP)
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run()
