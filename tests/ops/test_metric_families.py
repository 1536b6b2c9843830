"""The approval, webhook and shared-state integrity families: each counts what happened, with closed labels."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from telco_mcp.approval.service import ApprovalService
from telco_mcp.approval.store import MemoryApprovalStore
from telco_mcp.ops.metrics import metrics
from telco_mcp.server import build_server
from tests.approval.conftest import client
from tests.conftest import make_settings
from tests.ops.test_probes_and_metrics import samples
from tests.state.conftest import Clock, RedisServer
from tests.state.test_redis_state import SMS, approval, settings
from tests.test_call_events import new_call, poster

pytestmark = pytest.mark.anyio


def now_text() -> str:
    return metrics().exposition()[0].decode()


def delta(before: str, after: str, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return samples(after).get(key, 0.0) - samples(before).get(key, 0.0)


async def test_approvals_opened_decided_and_pending_are_counted(audit_path: Path):
    server = build_server(make_settings(audit_path, telco_mcp_sandbox=True, telco_mcp_confirm="approval"))
    runtime: Any = server.telco_runtime  # type: ignore[attr-defined]
    before = now_text()
    async with client(server) as c:
        first = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        other = (await c.call_tool("sipgate_send_sms", SMS | {"message": "second"})).structured_content
        assert first is not None and other is not None
        pending = now_text()
        runtime.approvals.decide(first["approval_id"], True, "approval-page")
        runtime.approvals.decide(other["approval_id"], False, "cli")
    after = now_text()
    assert delta(before, after, "telco_mcp_approvals_opened_total", tool="sipgate_send_sms") == 2
    assert samples(pending)[("telco_mcp_approvals_pending", frozenset())] == 2
    assert samples(after)[("telco_mcp_approvals_pending", frozenset())] == 0
    assert delta(before, after, "telco_mcp_approvals_decided_total", channel="approval-page", decision="approved") == 1
    assert delta(before, after, "telco_mcp_approvals_decided_total", channel="cli", decision="denied") == 1
    assert delta(before, after, "telco_mcp_tool_calls_total", tool="sipgate_send_sms", outcome="pending") == 2


def test_an_approval_that_expires_undecided_is_counted_once(tmp_path: Path):
    clock = Clock(time.time())
    service = ApprovalService(ttl=60, state_dir=tmp_path, store=MemoryApprovalStore(clock=clock), clock=clock)
    service.start = lambda: None  # type: ignore[method-assign]  # no page listener for a store-level test
    before = now_text()
    service.create(approval("apr_lapses", expires_in=60))
    service.create(dataclasses.replace(approval("apr_decided", expires_in=60), digest="d2"))
    service.decide("apr_decided", False, "cli")
    clock.now += 61
    service.sweep_expired()
    service.sweep_expired()  # counted once
    assert delta(before, now_text(), "telco_mcp_approvals_expired_total") == 1


async def test_webhook_events_and_refusals_are_counted_by_type_and_reason(audit_path: Path):
    server = build_server(make_settings(audit_path, telco_mcp_sandbox=True))
    runtime: Any = server.telco_runtime  # type: ignore[attr-defined]
    before = now_text()
    async with poster(runtime) as post:
        assert (await post.post(runtime.webhooks.path, data=new_call("METRIC1"))).status_code == 200
    async with poster(runtime, signed=False) as post:
        assert (await post.post(runtime.webhooks.path, data=new_call("METRIC2"))).status_code == 403
        assert (await post.post("/webhooks/sipgate/" + "x" * 40, data=new_call("METRIC3"))).status_code == 404
    after = now_text()
    assert delta(before, after, "telco_mcp_webhook_events_total", event="newCall") == 1
    assert delta(before, after, "telco_mcp_webhook_refused_total", reason="signature") == 1
    assert delta(before, after, "telco_mcp_webhook_refused_total", reason="path") == 1
    assert "METRIC" not in after


async def test_a_shared_record_refused_for_its_mac_is_counted_by_kind(audit_path: Path, redis_server: RedisServer):
    server = build_server(settings(audit_path, redis_server, telco_mcp_confirm="approval"))
    before = now_text()
    async with client(server) as c:
        pending = (await c.call_tool("sipgate_send_sms", SMS)).structured_content
        assert pending is not None
        redis_server.client().hset(f"telco-mcp:approval:{pending['approval_id']}", "status", "approved")  # type: ignore[attr-defined]
        retried = await c.call_tool("sipgate_send_sms", SMS | {"approval_id": pending["approval_id"]})
        assert retried.is_error
    assert delta(before, now_text(), "telco_mcp_state_integrity_refusals_total", kind="approval") >= 1
    assert delta(before, now_text(), "telco_mcp_state_seconds_count", operation="redeem an approval") >= 1
