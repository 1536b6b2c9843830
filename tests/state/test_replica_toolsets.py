"""Dynamic toolsets through haproxy's plain round robin: three `telco-mcp serve --transport http` replicas with
OAuth (the test's own issuer) and one `redis-server`. A person enables a toolset, lists and calls it, each
request on another replica; a colleague on the same replicas does not get it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.oauth.harness import Issuer, running_issuer, text_of
from tests.state.test_replicas import Topology, replicas_behind_haproxy

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

HISTORY = "sipgate_list_history"


@asynccontextmanager
async def person(topology: Topology, issuer: Issuer, sub: str) -> AsyncIterator[Client]:
    """A sessionless (2026-07-28) client through the round-robin frontend, with `sub`'s access token."""
    async with topology.recording_client() as http:
        http.headers["Authorization"] = "Bearer " + issuer.mint(sub, audience=topology.round_robin)
        async with Client(streamable_http_client(topology.round_robin, http_client=http)) as client:
            yield client


async def test_a_toolset_enabled_through_round_robin_is_listed_and_called_on_the_other_replicas(
    tmp_path: Path,
) -> None:
    with running_issuer() as issuer:
        env = {
            "TELCO_MCP_OAUTH_ISSUER": issuer.url,
            "TELCO_MCP_OAUTH_RESOURCE": "{public}/mcp",
            "TELCO_MCP_OAUTH_JWKS_URL": issuer.jwks_url,
            "TELCO_MCP_DYNAMIC_TOOLSETS": "1",
            "TELCO_MCP_TOOLSETS": "sipgate:account",
        }
        with replicas_behind_haproxy(tmp_path, env) as topology, anyio.fail_after(120):
            async with person(topology, issuer, "anna") as anna:
                before = {t.name for t in (await anna.list_tools()).tools}
                enabled = await anna.call_tool("telco_enable_toolset", {"toolset": "sipgate:history"})
                after = [{t.name for t in (await anna.list_tools()).tools} for _ in range(3)]
                called = [await anna.call_tool(HISTORY, {}) for _ in range(3)]
            served = [(method, replica) for method, replica in topology.served if method.startswith("tools/")]
            async with person(topology, issuer, "ben") as ben:
                ben_lists = [{t.name for t in (await ben.list_tools()).tools} for _ in range(3)]
                ben_calls = await ben.call_tool(HISTORY, {})
    assert HISTORY not in before and not enabled.is_error, text_of(enabled)
    assert all(HISTORY in names for names in after)
    assert all(not r.is_error for r in called), [text_of(r) for r in called]
    listed_on = {replica for method, replica in served if method == "tools/list"}
    called_on = {replica for method, replica in served if method == "tools/call"}
    assert listed_on == called_on == {"r0", "r1", "r2"}, served  # every replica answered with Anna's toolset
    assert all(HISTORY not in names for names in ben_lists)
    assert ben_calls.is_error and "Unknown tool" in text_of(ben_calls)
