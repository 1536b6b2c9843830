"""Operating the HTTP service: probes, Prometheus metrics, JSON logs, trace spans and graceful shutdown.

probes.py    /healthz and /readyz (no Host, Origin or bearer check: a kubelet probes the pod IP)
metrics.py   the process's Prometheus registry; /metrics behind TELCO_MCP_METRICS_TOKEN or loopback
logs.py      TELCO_MCP_LOG_FORMAT=json: one JSON object a line
tracing.py   OpenTelemetry spans for the write pipeline's stages and each upstream request
shutdown.py  SIGTERM: drain (readiness 503, new sessions refused), then uvicorn's graceful exit
"""
