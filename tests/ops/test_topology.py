"""Three replicas behind haproxy, one of them stopped with SIGTERM in the middle of a burst of writes.

Real processes throughout (`tests/state/test_replicas.py`'s topology: redis-server, `telco-mcp sandbox`,
three `telco-mcp serve --transport http` replicas, haproxy following each replica's `/readyz`). Writes go
out through the round robin under one hourly cap the replicas share. Every write ends applied once or
reported unknown, none is sent twice; the stopped replica answers `/readyz` 503 while it drains and then
exits 0; the others keep serving; and `/metrics`, summed over the replicas, counts exactly what reached
the provider.
"""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.state.test_replicas import replicas_behind_haproxy

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.xdist_group("serial"),
]  # 40 s of processes: test-all

BURST = 30
CAP = 20
RETRIES = 6


def applied_in(metrics_text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def test_sigterm_mid_burst_loses_and_doubles_nothing_and_metrics_match_the_provider(tmp_path: Path):
    env = {
        "TELCO_MCP_ALLOW_WRITES": "1", "TELCO_MCP_CONFIRM": "off", "TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED": "1",
        "TELCO_MCP_SMS_PER_HOUR": str(CAP),
        "TELCO_MCP_SHUTDOWN_DRAIN": "8", "TELCO_MCP_SHUTDOWN_GRACE": "10",
    }  # fmt: skip
    with replicas_behind_haproxy(tmp_path, env, ready_checks=True) as topology:
        # every SMS takes 300 ms at the provider: the burst is still going when the replica is stopped
        slow = {
            "kind": "latency",
            "method": "POST",
            "path_prefix": "/v2/sessions/sms",
            "latency_ms": 300,
            "count": None,
        }
        httpx2.post(topology.sandbox + "/_sandbox/faults", json=slow).raise_for_status()
        stopped, stopped_base = topology.processes[0], topology.replicas[0].removesuffix("/mcp")
        outcomes: dict[int, str] = {}
        texts: dict[int, str] = {}
        done_before_stop = anyio.Event()
        readiness_seen: list[int] = []

        async def send(n: int, limit: anyio.CapacityLimiter) -> None:
            async with limit:
                for _ in range(RETRIES):
                    try:
                        async with Client(topology.round_robin, read_timeout_seconds=60) as client:
                            result = await client.call_tool(
                                "sipgate_send_sms", {"recipient": "+4915799912345", "message": f"burst {n}"}
                            )
                    except Exception as exc:
                        if "stopping" in str(exc) or "503" in str(exc):
                            await anyio.sleep(0.3)  # refused before anything happened: send it again
                            continue
                        outcomes[n] = "unknown"  # the client cannot tell: never retried
                        return
                    status = (result.structured_content or {}).get("status")
                    outcomes[n] = status if status else ("refused" if result.is_error else "?")
                    texts[n] = " ".join(getattr(block, "text", "") for block in result.content)[:200]
                    if sum(o == "applied" for o in outcomes.values()) >= 6:
                        done_before_stop.set()
                    return
                outcomes[n] = "gave up"

        async def stop_one_and_watch_it_drain() -> None:
            await done_before_stop.wait()
            stopped.send_signal(signal.SIGTERM)
            async with httpx2.AsyncClient(timeout=5) as http:
                with anyio.fail_after(10):
                    while (answer := await http.get(stopped_base + "/readyz")).status_code == 200:
                        await anyio.sleep(0.05)
                readiness_seen.append(answer.status_code)
                for base in (url.removesuffix("/mcp") for url in topology.replicas[1:]):
                    assert (await http.get(base + "/readyz")).status_code == 200

        limit = anyio.CapacityLimiter(5)
        async with anyio.create_task_group() as group:
            group.start_soon(stop_one_and_watch_it_drain)
            for n in range(BURST):
                group.start_soon(send, n, limit)

        # the stopped replica is still listening (draining): every replica's metrics can be read
        async with httpx2.AsyncClient(timeout=10) as http:
            scrapes = [(await http.get(url.removesuffix("/mcp") + "/metrics")).text for url in topology.replicas]
        records = httpx2.get(topology.sandbox + "/_sandbox/requests", timeout=10).json()
        assert stopped.wait(timeout=60) == 0

    sent = [r for r in records if r["method"] == "POST" and r["path"] == "/v2/sessions/sms"]
    messages = [r["json"]["message"] for r in sent]
    assert len(messages) == len(set(messages)), "a write reached the provider twice"
    applied = sorted(n for n, o in outcomes.items() if o == "applied")
    unknown = sorted(n for n, o in outcomes.items() if o == "unknown")
    assert sorted(outcomes) == list(range(BURST)), outcomes
    assert set(outcomes.values()) <= {"applied", "unknown", "refused"}, (outcomes, texts)
    refused = [texts[n] for n, o in outcomes.items() if o == "refused"]
    assert all("hourly" in text or "cap" in text for text in refused), refused  # refused by the cap, nothing else
    assert {f"burst {n}" for n in applied} <= set(messages)  # every write reported applied was applied once
    assert set(messages) <= {f"burst {n}" for n in applied + unknown}  # nothing applied that was not reported so
    assert len(sent) == CAP  # the shared cap held exactly, across the replicas and the stop
    assert readiness_seen == [503]
    counted = sum(
        applied_in(t, "telco_mcp_tool_calls_total", tool="sipgate_send_sms", outcome="applied") for t in scrapes
    )
    # every request that reached the provider (the SMS and the lookups before them) was observed once
    upstream = sum(applied_in(t, "telco_mcp_upstream_request_seconds_count") for t in scrapes)
    assert counted == len(sent)
    assert upstream == len(records)
