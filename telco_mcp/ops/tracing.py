"""OpenTelemetry spans of our own, beside the SDK's one span per JSON-RPC message.

The write pipeline's stages (`write.policy`, `write.consent`, `write.audit_intent`, `write.send`,
`write.interpret`) and each upstream HTTP attempt (`upstream.request`) get a span. Only the
OpenTelemetry API is needed (the SDK `mcp` depends on it): without a tracer provider every span is a
no-op. `pip install 'telco-mcp[otel]'` adds the OpenTelemetry SDK and the OTLP exporter, and the
standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, ...) export them.

Attributes name the tool, the provider, the operation, the stage's outcome and an HTTP status: never an
argument, a number, a message text, an id or a secret.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

logger = logging.getLogger(__name__)

_tracer = trace.get_tracer("telco_mcp")


@contextmanager
def span(name: str, **attributes: str | int | bool) -> Iterator[trace.Span]:
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def export_from_environment() -> bool:
    """With the `otel` extra and an OTLP endpoint in the environment, export spans there; else do nothing."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed: "
            "pip install 'telco-mcp[otel]' to export traces"
        )
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "telco-mcp")})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    logger.info("exporting traces over OTLP (OTEL_* settings)")
    return True
