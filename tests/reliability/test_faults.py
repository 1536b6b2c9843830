"""Injected upstream faults against a read, an idempotent write and a non-idempotent write.

The sandbox is served over real HTTP on a loopback port, so a timeout is a real client timeout and a
dropped connection a real broken response. For every fault and operation the result must carry the
right error category, the sandbox's request log must show retries only where they are allowed
(reads and idempotent writes, on 429/502/503 and broken connections), an ambiguous write must be reported as outcome
unknown (and audited so), and the very next call must be served normally.

Retry waits stay short: `Retry-After: 0` where a header is sent; without one the client's own
jittered backoff (at most 0.5 s + 1 s for two retries) applies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from mcp import Client

from telco_mcp.sandbox import Fault
from telco_mcp.server import build_server

from .conftest import (
    MOBILE_NUMBER,
    ServedSandbox,
    accept,
    assert_not_crashed,
    category_of,
    text_of,
    upstream_settings,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

MAX_RETRIES = 2  # the default TELCO_MCP_MAX_RETRIES
SHORT_TIMEOUT = 0.5  # TELCO_MCP_TIMEOUT for the timeout cases
SLOW_UPSTREAM_MS = 1500  # well beyond SHORT_TIMEOUT
LOG_WAIT = 5.0  # a request the client gave up on is logged when the sandbox answers it

Kind = Literal["read", "idempotent", "non_idempotent"]


@dataclass(frozen=True)
class Target:
    kind: Kind
    tool: str
    method: str
    path_prefix: str  # the one upstream request the fault is aimed at (lookups are not faulted)
    arguments: Callable[[ServedSandbox], dict[str, Any]]

    @property
    def attempts_allowed(self) -> int:
        return 1 + MAX_RETRIES if self.kind != "non_idempotent" else 1


def _first_gateway(s: ServedSandbox) -> str:
    return next(iter(s.sandbox.state.signalwire.sip_gateways))


READ = Target("read", "signalwire_get_sip_profile", "GET", "/api/relay/rest/sip_profile", lambda s: {})
IDEMPOTENT = Target(
    "idempotent",
    "signalwire_update_sip_gateway",
    "PATCH",
    "/api/fabric/resources/sip_gateways/",
    lambda s: {"id": _first_gateway(s), "name": "Fault-tested trunk"},
)
NON_IDEMPOTENT = Target(
    "non_idempotent",
    "sipgate_send_sms",
    "POST",
    "/v2/sessions/sms",
    lambda s: {"recipient": MOBILE_NUMBER, "message": "Fault injection"},
)
READ_SIPGATE = Target("read", "sipgate_list_calls", "GET", "/v2/calls", lambda s: {})
TARGETS = (READ, READ_SIPGATE, IDEMPOTENT, NON_IDEMPOTENT)
KINDS: tuple[Kind, ...] = ("read", "idempotent", "non_idempotent")


@dataclass(frozen=True)
class Expect:
    outcome: str  # an error category, or "ok" (read) / "applied" (write)
    requests: int | Literal["retry"]  # how many times the faulted request reaches the sandbox


@dataclass(frozen=True)
class Case:
    name: str
    fault: dict[str, Any]
    expect: dict[Kind, Expect]
    timeout: float | None = None

    def fault_for(self, target: Target) -> Fault:
        return Fault(method=target.method, path_prefix=target.path_prefix, **self.fault)


PERSISTENT: dict[str, Any] = {"count": None}
CASES = [
    Case(
        "timeout",
        {"kind": "latency", "latency_ms": SLOW_UPSTREAM_MS},
        {
            "read": Expect("timeout", 1),
            "idempotent": Expect("outcome_unknown", 1),
            "non_idempotent": Expect("outcome_unknown", 1),
        },
        timeout=SHORT_TIMEOUT,
    ),
    Case(
        "500",
        {"kind": "status", "status": 500, **PERSISTENT},
        {k: Expect("upstream_unavailable", 1) for k in KINDS},  # a 500 is not retried
    ),
    Case(
        "502",
        {"kind": "status", "status": 502, **PERSISTENT},
        {
            "read": Expect("upstream_unavailable", "retry"),
            "idempotent": Expect("outcome_unknown", "retry"),  # a gateway error after sending: may have happened
            "non_idempotent": Expect("outcome_unknown", 1),
        },
    ),
    Case(
        "503 without Retry-After",
        {"kind": "status", "status": 503, **PERSISTENT},
        {k: Expect("upstream_unavailable", "retry") for k in KINDS},
    ),
    Case(
        "503 with Retry-After",
        {"kind": "status", "status": 503, "retry_after": 0, **PERSISTENT},
        {k: Expect("upstream_unavailable", "retry") for k in KINDS},
    ),
    Case(
        "one 503 with Retry-After, then healthy",
        {"kind": "status", "status": 503, "retry_after": 0, "count": 1},
        {
            "read": Expect("ok", 2),
            "idempotent": Expect("applied", 2),
            "non_idempotent": Expect("upstream_unavailable", 1),  # never repeated, even when it would work
        },
    ),
    Case(
        "429",
        {"kind": "status", "status": 429, "retry_after": 0, **PERSISTENT},
        {k: Expect("rate_limited", "retry") for k in KINDS},
    ),
    Case(
        "one dropped connection, then healthy",
        {"kind": "drop"},
        {
            "read": Expect("ok", 2),
            "idempotent": Expect("applied", 2),  # sets an absolute state: the repeat is harmless
            "non_idempotent": Expect("outcome_unknown", 1),
        },
    ),
    Case(
        "dropped connections",
        {"kind": "drop", **PERSISTENT},
        {
            "read": Expect("upstream_unavailable", "retry"),
            "idempotent": Expect("outcome_unknown", "retry"),
            "non_idempotent": Expect("outcome_unknown", 1),
        },
    ),
    Case(
        "malformed JSON",
        {"kind": "malformed_json"},
        {
            "read": Expect("unexpected_response", 1),
            "idempotent": Expect("applied", 1),  # 2xx: the change happened; the result could not be read
            "non_idempotent": Expect("applied", 1),  # sipgate answers 204: the body is never read
        },
    ),
    Case(
        "200 with an unexpected shape",
        {"kind": "unexpected_shape"},
        {
            "read": Expect("unexpected_response", 1),
            "idempotent": Expect("applied", 1),
            "non_idempotent": Expect("applied", 1),
        },
    ),
]


def _audit_outcomes(path: Path, tool: str) -> list[str]:
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["outcome"] for r in lines if r.get("event") == "attempt" and r.get("tool") == tool]


async def _logged(served_sandbox: ServedSandbox, target: Target, at_least: int) -> int:
    """Requests of `target` in the sandbox's log, once at least `at_least` arrived (bounded wait)."""
    import anyio

    deadline = time.monotonic() + LOG_WAIT
    while True:
        count = len(served_sandbox.requests_to(target.method, target.path_prefix))
        if count >= at_least or time.monotonic() > deadline:
            return count
        await anyio.sleep(0.02)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.tool)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_an_upstream_fault_is_reported_in_its_category_retried_only_where_safe_and_the_server_keeps_serving(
    served_sandbox: ServedSandbox, audit_path: Path, case: Case, target: Target
) -> None:
    expect = case.expect[target.kind]
    overrides: dict[str, Any] = {} if case.timeout is None else {"telco_mcp_timeout": case.timeout}
    settings = upstream_settings(audit_path, served_sandbox.url, **overrides)
    sandbox = served_sandbox.sandbox
    async with Client(build_server(settings), elicitation_callback=accept) as client:
        sandbox.add_fault(case.fault_for(target))
        result = await client.call_tool(target.tool, target.arguments(served_sandbox))
        sandbox.clear_faults()

        assert_not_crashed(result, target.tool)
        text = text_of(result)
        if expect.outcome in ("ok", "applied"):
            assert not result.is_error, f"{case.name} on {target.tool}: {text[:400]}"
            if expect.outcome == "applied":
                assert (result.structured_content or {}).get("status") == "applied", text[:400]
        else:
            assert result.is_error, f"{case.name} on {target.tool} was not reported: {text[:400]}"
            assert category_of(result) == expect.outcome, f"{case.name} on {target.tool}: {text[:400]}"

        wanted = target.attempts_allowed if expect.requests == "retry" else expect.requests
        assert await _logged(served_sandbox, target, wanted) == wanted, (
            f"{case.name} on {target.tool}: expected {wanted} upstream attempt(s), "
            f"log: {[(r.method, r.path, r.status, r.fault) for r in sandbox.requests]}"
        )

        if expect.outcome == "outcome_unknown":
            assert "outcome unknown" in text.lower()
            assert "unknown" in _audit_outcomes(audit_path, target.tool)
        if target.kind != "read" and expect.outcome not in ("applied", "outcome_unknown"):
            assert "applied" not in _audit_outcomes(audit_path, target.tool)

        after = await client.call_tool(READ.tool, {})
        assert not after.is_error, f"after {case.name} on {target.tool} the next call failed: {text_of(after)[:300]}"


async def test_an_ambiguous_non_idempotent_write_really_may_have_happened(
    served_sandbox: ServedSandbox, audit_path: Path
) -> None:
    """The dropped SMS was handled before the connection broke: 'outcome unknown' is the truth, not a guess."""
    sandbox = served_sandbox.sandbox
    async with Client(
        build_server(upstream_settings(audit_path, served_sandbox.url)), elicitation_callback=accept
    ) as c:
        sandbox.add_fault(Fault(kind="drop", method=NON_IDEMPOTENT.method, path_prefix=NON_IDEMPOTENT.path_prefix))
        result = await c.call_tool(NON_IDEMPOTENT.tool, NON_IDEMPOTENT.arguments(served_sandbox))
    assert category_of(result) == "outcome_unknown"
    assert "do not repeat" in text_of(result).lower()
    assert len(sandbox.outbox) == 1


async def test_a_retry_after_longer_than_the_cap_is_reported_instead_of_waited_for(
    served_sandbox: ServedSandbox, audit_path: Path
) -> None:
    sandbox = served_sandbox.sandbox
    async with Client(build_server(upstream_settings(audit_path, served_sandbox.url))) as client:
        sandbox.add_fault(
            Fault(kind="status", status=503, retry_after=3600, count=None, method="GET", path_prefix=READ.path_prefix)
        )
        result = await client.call_tool(READ.tool, {})
    assert category_of(result) == "upstream_unavailable"
    assert len(served_sandbox.requests_to("GET", READ.path_prefix)) == 1


async def test_a_rate_limited_read_says_how_long_to_wait(served_sandbox: ServedSandbox, audit_path: Path) -> None:
    sandbox = served_sandbox.sandbox
    async with Client(build_server(upstream_settings(audit_path, served_sandbox.url, telco_mcp_max_retries=0))) as c:
        sandbox.add_fault(Fault(kind="status", status=429, retry_after=7, method="GET", path_prefix="/v2/calls"))
        result = await c.call_tool("sipgate_list_calls", {})
    assert category_of(result) == "rate_limited"
    assert "Retry after 7 s" in text_of(result)


@pytest.mark.parametrize("kind", ["malformed_json", "unexpected_shape"])
async def test_a_broken_answer_to_a_writes_supporting_lookup_is_an_unexpected_response_not_invalid_input(
    served_sandbox: ServedSandbox, audit_path: Path, kind: str
) -> None:
    """sipgate_hold_call reads the call list to describe the change; a broken answer there is the provider's fault."""
    sandbox = served_sandbox.sandbox
    call_id = next(iter(sandbox.state.sipgate.calls))
    async with Client(
        build_server(upstream_settings(audit_path, served_sandbox.url)), elicitation_callback=accept
    ) as c:
        sandbox.add_fault(Fault(kind=kind, method="GET", path_prefix="/v2/calls"))  # pyright: ignore[reportArgumentType]
        result = await c.call_tool("sipgate_hold_call", {"call_id": call_id, "value": True})
        assert_not_crashed(result, "sipgate_hold_call")
        assert category_of(result) == "unexpected_response", text_of(result)
        assert served_sandbox.requests_to("PUT", "/v2/calls/") == []  # nothing was changed
        assert not (await c.call_tool("sipgate_list_calls", {})).is_error
