"""TELCO_MCP_LOG_FORMAT, the trace spans of the write pipeline and upstream requests, and stdio's lack of /metrics."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telco_mcp.ops.logs import JsonFormatter
from tests.conftest import FakeUpstream, client_for, make_settings, response, sipgate_settings

pytestmark = pytest.mark.anyio


def serve_stdio(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_MCP_", "SIPGATE_", "SIGNALWIRE_"))}
    full |= {"XDG_STATE_HOME": str(tmp_path / "state"), "TELCO_MCP_SANDBOX": "1"} | env
    return subprocess.run(
        [sys.executable, "-m", "telco_mcp", "serve", "--transport", "stdio"],
        input="",  # stdin closes at once: the server starts, logs, and exits
        capture_output=True, text=True, env=full, cwd=tmp_path, timeout=60,
    )  # fmt: skip


def test_json_log_format_writes_one_object_a_line_to_stderr_only(tmp_path: Path):
    done = serve_stdio({"TELCO_MCP_LOG_FORMAT": "json"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= record.keys()
    assert any("SANDBOX MODE" in json.loads(line)["message"] for line in lines)


def test_text_log_format_is_the_default(tmp_path: Path):
    done = serve_stdio({}, tmp_path)
    first = next(line for line in done.stderr.splitlines() if "SANDBOX MODE" in line)
    with pytest.raises(ValueError):
        json.loads(first)


def test_a_misspelled_log_format_stops_startup_naming_the_setting(tmp_path: Path):
    done = serve_stdio({"TELCO_MCP_LOG_FORMAT": "jsno"}, tmp_path)
    assert done.returncode == 2
    assert "TELCO_MCP_LOG_FORMAT" in done.stderr


def test_metrics_settings_under_stdio_give_a_startup_warning(tmp_path: Path):
    done = serve_stdio({"TELCO_MCP_METRICS_TOKEN": "scrape-canary"}, tmp_path)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "TELCO_MCP_METRICS_TOKEN" in line]
    assert warning and "stdio" in warning[0]
    assert "scrape-canary" not in done.stderr


async def test_json_lines_name_the_tool_and_request_while_a_call_is_handled(audit_path: Path):
    fake = FakeUpstream()
    fake.route("GET /v2/history", [response(503), response(200, {"items": [], "totalCount": 0})])
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Keep(level=logging.INFO)
    handler.setFormatter(JsonFormatter())
    upstream_logger = logging.getLogger("telco_mcp.upstream")
    upstream_logger.addHandler(handler)
    upstream_logger.setLevel(logging.INFO)
    try:
        async with client_for(sipgate_settings(audit_path), fake) as client:
            await client.call_tool("sipgate_list_history", {})
    finally:
        upstream_logger.removeHandler(handler)
    retry = [json.loads(line) for line in seen if "retry" in line]
    assert retry, seen
    assert retry[0]["tool"] == "sipgate_list_history"
    assert retry[0]["request_id"]
    assert "caller" not in retry[0]  # nobody is authenticated in process


def test_the_webhook_secret_stays_redacted_in_json_lines(capfd: pytest.CaptureFixture[str]):
    from telco_mcp.events.receiver import redact_secrets_in_logs
    from telco_mcp.ops.logs import configure

    configure("INFO", "json")
    redact_secrets_in_logs()
    logging.getLogger("httpx2").warning("POST http://127.0.0.1:9/webhooks/sipgate/s3cret-path-canary answered 200")
    err = capfd.readouterr().err
    line = json.loads(err.strip().splitlines()[-1])
    assert "s3cret-path-canary" not in err
    assert "/webhooks/sipgate/***" in line["message"]


class _WhileATestListens(SimpleSpanProcessor):
    """Hands finished spans to the exporter only while a test asks for them.

    OpenTelemetry's global tracer provider is set once per process and cannot be replaced; a recording
    exporter left on would keep every span of every later test (the memory-growth test counts them).
    """

    listening = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.listening:
            super().on_end(span)


@pytest.fixture(scope="session")
def _recorder() -> tuple[_WhileATestListens, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = _WhileATestListens(exporter)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)  # once per test session: OpenTelemetry refuses to replace it
    return processor, exporter


@pytest.fixture
def spans(_recorder: tuple[_WhileATestListens, InMemorySpanExporter]) -> Iterator[InMemorySpanExporter]:
    processor, exporter = _recorder
    exporter.clear()
    processor.listening = True
    try:
        yield exporter
    finally:
        processor.listening = False
        exporter.clear()


async def test_a_write_makes_one_span_per_pipeline_stage_and_per_upstream_request_with_nothing_private(
    audit_path: Path, spans: InMemorySpanExporter
):
    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_confirm="off", telco_mcp_confirm_off_acknowledged=True
    )
    async with client_for(settings) as client:
        result = await client.call_tool(
            "sipgate_send_sms", {"recipient": "+4915799912345", "message": "private text canary"}
        )
        assert not result.is_error
    names = [s.name for s in spans.get_finished_spans()]
    for stage in ("write.policy", "write.consent", "write.audit_intent", "write.send", "write.interpret"):
        assert names.count(stage) == 1, names
    assert "upstream.request" in names
    send = next(s for s in spans.get_finished_spans() if s.name == "write.send")
    assert send.context is not None
    upstream = [s for s in spans.get_finished_spans() if s.name == "upstream.request"]
    assert any(u.parent is not None and u.parent.span_id == send.context.span_id for u in upstream)
    attributes = json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()])
    assert "private text canary" not in attributes
    assert "15799912345" not in attributes


def test_the_standard_otel_variables_export_the_spans_over_otlp(tmp_path: Path):
    """`telco-mcp serve` with OTEL_EXPORTER_OTLP_ENDPOINT (and the `otel` extra) posts its spans there."""
    import http.server
    import threading

    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    collector = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        port = collector.server_address[1]
        lines = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
             "capabilities": {}, "clientInfo": {"name": "otel-test", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "sipgate_send_sms", "arguments":
             {"recipient": "+4915799912345", "message": "otel canary text"}}},
        ]  # fmt: skip
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_SERVICE_NAME": "telco-mcp-test",
            "TELCO_MCP_CONFIRM": "off", "TELCO_MCP_CONFIRM_OFF_ACKNOWLEDGED": "1",
        }  # fmt: skip
        full = {k: v for k, v in os.environ.items() if not k.startswith(("TELCO_MCP_", "SIPGATE_", "SIGNALWIRE_"))}
        full |= {"XDG_STATE_HOME": str(tmp_path / "state"), "TELCO_MCP_SANDBOX": "1"} | env
        with subprocess.Popen(
            [sys.executable, "-m", "telco_mcp", "serve", "--transport", "stdio"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=full, cwd=tmp_path,
        ) as process:  # fmt: skip
            assert process.stdin is not None and process.stdout is not None
            for line in lines:
                process.stdin.write(json.dumps(line) + "\n")
                process.stdin.flush()
                if "id" in line:
                    while json.loads(process.stdout.readline()).get("id") != line["id"]:
                        pass
            process.stdin.close()
            assert process.wait(timeout=60) == 0
    finally:
        collector.shutdown()
        collector.server_close()
    traces = b"".join(body for path, body in received if path == "/v1/traces")
    assert traces, f"no spans exported: {[path for path, _ in received]}"
    for name in (b"write.send", b"upstream.request", b"telco-mcp-test"):
        assert name in traces
    assert b"otel canary text" not in traces and b"15799912345" not in traces
