"""Dynamic toolsets over OAuth across replicas: two telco-mcp HTTP servers (the harness's real uvicorn apps)
sharing one real `redis-server`, as two replicas behind a round-robin load balancer would.

A person who enables a toolset on replica A lists and calls its tools on replica B on their next request;
nobody else sees them; a replica never lists more than it may offer or the person's token grants; and
with Redis away, enabling says so, listing falls back to the default set and an enabled-only tool is
refused clearly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.state.conftest import RedisServer

from .harness import Issuer, OAuthServer, oauth_server, text_of

pytestmark = pytest.mark.anyio

SECRET = "oauth-replicas-confirm-secret-0123456789abcdef"
HISTORY = "sipgate_list_history"


@contextmanager
def two_replicas(tmp_path: Path, issuer: Issuer, redis: RedisServer, **b_overrides: Any) -> Iterator[list[OAuthServer]]:
    shared = {
        "telco_mcp_dynamic_toolsets": True,
        "telco_mcp_toolsets": "sipgate:account",
        "telco_mcp_state_url": redis.url,
        "telco_mcp_confirm_secret": SECRET,
    }
    with ExitStack() as stack:
        a = stack.enter_context(oauth_server(tmp_path, issuer, **shared))
        b = stack.enter_context(oauth_server(tmp_path, issuer, **(shared | b_overrides)))
        for server in (a, b):
            server.fake.route("GET /v2/history", httpx2.Response(200, json={"items": [], "totalCount": 0}))
        yield [a, b]


def token(issuer: Issuer, replicas: list[OAuthServer], sub: str, scope: str = "sipgate:*") -> str:
    """One access token valid on every replica (behind a load balancer they share one resource URL)."""
    return issuer.mint(sub, audience=[r.resource for r in replicas], scope=scope)


async def names(server: OAuthServer, bearer: str) -> set[str]:
    async with server.client(bearer) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def call(server: OAuthServer, bearer: str, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    async with server.client(bearer) as client:
        return await client.call_tool(tool, arguments or {})


async def test_a_toolset_enabled_on_one_replica_is_listed_and_called_on_another_for_that_person_only(
    tmp_path: Path, issuer: Issuer, redis_server: RedisServer
) -> None:
    with two_replicas(tmp_path, issuer, redis_server) as replicas:
        a, b = replicas
        anna, ben = token(issuer, replicas, "anna"), token(issuer, replicas, "ben")
        with anyio.fail_after(60):
            before = await names(b, anna)
            enabled = await call(a, anna, "telco_enable_toolset", {"toolset": "sipgate:history"})
            anna_on_b = await names(b, anna)
            described = await call(b, anna, "telco_list_toolsets")
            called = await call(b, anna, HISTORY)
            ben_on_b, ben_on_a = await names(b, ben), await names(a, ben)
            ben_calls = await call(b, ben, HISTORY)
        dump = redis_server.dump()
    assert HISTORY not in before and not enabled.is_error, text_of(enabled)
    assert HISTORY in anna_on_b and "sipgate:history (enabled)" in text_of(described)
    assert not called.is_error, text_of(called)
    assert [r.url.path for r in b.fake.requests] == ["/v2/history"] and not a.fake.requests  # B sent it
    assert HISTORY not in ben_on_b and HISTORY not in ben_on_a
    assert ben_calls.is_error and "Unknown tool" in text_of(ben_calls)
    assert b"telco-mcp:toolsets:" in dump and HISTORY.encode() in dump
    assert b"anna" not in dump  # stored under a hash of the person, never their subject


async def test_what_another_replica_stored_never_widens_what_a_replica_offers_or_a_token_grants(
    tmp_path: Path, issuer: Issuer, redis_server: RedisServer
) -> None:
    """Replica B may not offer sipgate history at all (its TELCO_MCP_SCOPES), and a token of Anna's that does
    not grant its scope does not list it either: the shared state only names tools, each replica decides."""
    with two_replicas(tmp_path, issuer, redis_server, telco_mcp_scopes="sipgate:account:*") as replicas:
        a, b = replicas
        anna = token(issuer, replicas, "anna")
        narrow = token(issuer, replicas, "anna", scope="sipgate:account:read")
        with anyio.fail_after(60):
            enabled = await call(a, anna, "telco_enable_toolset", {"toolset": "sipgate:history"})
            on_a_narrow = await names(a, narrow)
            on_a_narrow_call = await call(a, narrow, HISTORY)
            on_b = await names(b, anna)
            on_b_call = await call(b, anna, HISTORY)
    assert not enabled.is_error, text_of(enabled)
    assert HISTORY not in on_a_narrow
    assert on_a_narrow_call.is_error and "insufficient_scope" in text_of(on_a_narrow_call)
    assert HISTORY not in on_b and on_b_call.is_error and "Unknown tool" in text_of(on_b_call)
    assert not a.fake.requests and not b.fake.requests


async def test_with_redis_away_enabling_fails_listing_falls_back_and_enabled_tools_are_refused_clearly(
    tmp_path: Path, issuer: Issuer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with two_replicas(tmp_path, issuer, redis_server) as replicas:
        a, b = replicas
        anna = token(issuer, replicas, "anna")
        with anyio.fail_after(60):
            enabled = await call(a, anna, "telco_enable_toolset", {"toolset": "sipgate:history"})
            redis_server.stop()
            try:
                with caplog.at_level(logging.WARNING, logger="telco_mcp"):
                    listed = await names(b, anna)
                    refused = await call(b, anna, HISTORY)
                    enable = await call(b, anna, "telco_enable_toolset", {"toolset": "sipgate:history"})
                    default = await call(b, anna, "sipgate_get_account")
            finally:
                redis_server.start()
    assert not enabled.is_error, text_of(enabled)
    assert HISTORY not in listed and "sipgate_get_account" in listed  # the default set, said in the log
    assert any("listing the default tools" in r.getMessage() for r in caplog.records)
    assert refused.is_error and "[unavailable]" in text_of(refused) and "cannot be reached" in text_of(refused)
    assert "Nothing was sent" in text_of(refused) and str(redis_server.port) not in text_of(refused)
    assert enable.is_error and text_of(enable).startswith("[unavailable] sipgate:history cannot be enabled now")
    assert not default.is_error, text_of(default)  # what everyone has keeps working
    assert [r.url.path for r in b.fake.requests] == ["/v2/account"]
