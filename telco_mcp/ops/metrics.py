"""Prometheus metrics: one registry per process, served at `/metrics` on the HTTP transports.

Importing `prometheus_client` costs about 90 ms, so nothing here imports it before the first thing is
counted (a tool call, a scrape): `tools/list` after a cold start never pays for it. Every label value
comes from a closed set the code declares (tool names, outcomes, provider and operation names, rule
names, channels, state operations): no label carries a phone number, an id, a URL or a secret.

    telco_mcp_tool_calls_total{tool, outcome}           outcome: read, applied, declined, refused, failed,
                                                         unknown, dry_run, previewed, pending, invalid
                                                         (arguments refused by the input schema)
    telco_mcp_calls_in_flight                            tool calls being handled now
    telco_mcp_upstream_request_seconds{provider, operation, status_class}
                                                         one observation per HTTP attempt; status_class 2xx..5xx,
                                                         or "error" when no answer came
    telco_mcp_approvals_opened_total{tool}
    telco_mcp_approvals_decided_total{channel, decision}
    telco_mcp_approvals_expired_total
    telco_mcp_approvals_pending                          pending approvals in the store at scrape time (shared
                                                         by replicas: each reports the same count, take max)
    telco_mcp_refusals_total{rule}                       guardrails, caps, exposure, consent mode
    telco_mcp_webhook_events_total{event}                sipgate pushes accepted
    telco_mcp_webhook_refused_total{reason}              pushes refused: network, path, content_type, size,
                                                         disconnected, signature, not_an_event
    telco_mcp_state_integrity_refusals_total{kind}       shared records whose MAC did not hold: approval, grant,
                                                         session, code (state/integrity.py)
    telco_mcp_state_errors_total{operation}              shared-state calls that failed
    telco_mcp_state_seconds{operation}                   shared-state call latency
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The process's metric families (see the module docstring)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # no `_created` series beside each counter and histogram
        self.registry = CollectorRegistry()
        r = self.registry
        self.tool_calls = Counter(
            "telco_mcp_tool_calls", "Tool calls by tool and outcome.", ["tool", "outcome"], registry=r
        )
        self.in_flight = Gauge("telco_mcp_calls_in_flight", "Tool calls being handled now.", registry=r)
        self.upstream_seconds = Histogram(
            "telco_mcp_upstream_request_seconds",
            "Upstream HTTP requests by provider, operation and status class, in seconds.",
            ["provider", "operation", "status_class"],
            buckets=UPSTREAM_BUCKETS,
            registry=r,
        )
        self.approvals_opened = Counter("telco_mcp_approvals_opened", "Approvals opened.", ["tool"], registry=r)
        self.approvals_decided = Counter(
            "telco_mcp_approvals_decided", "Approvals decided, by channel and decision.", ["channel", "decision"],
            registry=r,
        )  # fmt: skip
        self.approvals_expired = Counter("telco_mcp_approvals_expired", "Approvals that expired undecided.", registry=r)
        self.approvals_pending = Gauge("telco_mcp_approvals_pending", "Pending approvals, at scrape time.", registry=r)
        self.refusals = Counter("telco_mcp_refusals", "Writes refused by a rule, by rule.", ["rule"], registry=r)
        self.webhook_events = Counter(
            "telco_mcp_webhook_events", "sipgate push events accepted, by event type.", ["event"], registry=r
        )
        self.webhook_refused = Counter(
            "telco_mcp_webhook_refused", "sipgate pushes refused, by reason.", ["reason"], registry=r
        )
        self.integrity_refusals = Counter(
            "telco_mcp_state_integrity_refusals",
            "Shared records refused because their MAC did not hold, by kind.",
            ["kind"],
            registry=r,
        )
        self.state_errors = Counter(
            "telco_mcp_state_errors", "Shared-state calls that failed, by operation.", ["operation"], registry=r
        )
        self.state_seconds = Histogram(
            "telco_mcp_state_seconds", "Shared-state call latency, by operation.", ["operation"],
            buckets=STATE_BUCKETS, registry=r,
        )  # fmt: skip
        self.approvals_pending.set_function(_pending)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_metrics: Metrics | None = None
_lock = threading.Lock()
_pending_source: weakref.WeakMethod[Callable[[], int]] | None = None


def count_pending_with(source: Callable[[], int]) -> None:
    """The pending-approvals gauge reads `source()` (a bound method of the process's approval service; the
    newest one wins, and it is held weakly) at each scrape. Registering imports nothing."""
    global _pending_source
    _pending_source = weakref.WeakMethod(source)  # type: ignore[arg-type]


def _pending() -> float:
    source = _pending_source() if _pending_source is not None else None
    if source is None:
        return 0.0
    try:
        return float(source())
    except Exception:  # a scrape never fails for a gauge it cannot read (the shared state away)
        return 0.0


def metrics() -> Metrics:
    """The process's one `Metrics`, built at first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics


def status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status is not None and 100 <= status <= 599 else "error"


def tool_call(tool: str, outcome: str) -> None:
    metrics().tool_calls.labels(tool=tool, outcome=outcome).inc()


def approval_opened(tool: str) -> None:
    metrics().approvals_opened.labels(tool=tool).inc()


def approval_decided(channel: str, decision: str) -> None:
    metrics().approvals_decided.labels(channel=channel, decision=decision).inc()


def approval_expired() -> None:
    metrics().approvals_expired.inc()


def webhook_event(event: str) -> None:
    metrics().webhook_events.labels(event=event).inc()


def webhook_refused(reason: str) -> None:
    metrics().webhook_refused.labels(reason=reason).inc()


def integrity_refused(kind: str) -> None:
    metrics().integrity_refusals.labels(kind=kind).inc()


def refused(rule: str) -> None:
    metrics().refusals.labels(rule=rule).inc()


@contextmanager
def in_flight() -> Iterator[None]:
    gauge = metrics().in_flight
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


@contextmanager
def state_call(operation: str) -> Iterator[None]:
    """Time one shared-state call; count it as an error if it raises."""
    m = metrics()
    start = time.perf_counter()
    try:
        yield
    except Exception:
        m.state_errors.labels(operation=operation).inc()
        raise
    finally:
        m.state_seconds.labels(operation=operation).observe(time.perf_counter() - start)


def upstream(provider: str, operation: str, status: int | None, seconds: float) -> None:
    metrics().upstream_seconds.labels(
        provider=provider, operation=operation, status_class=status_class(status)
    ).observe(seconds)
