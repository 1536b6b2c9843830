# telco-mcp as a team service: streamable HTTP on :8000, behind a load balancer, state in Redis.
# Build: docker build -t telco-mcp .   (CI checks this file with hadolint; it builds no image: no daemon there)
# Settings come from the environment (docs/operations.md): at least TELCO_MCP_ALLOWED_HOSTS, a bearer
# token (TELCO_MCP_HTTP_TOKEN) or OAuth, TELCO_MCP_CONFIRM_SECRET, TELCO_MCP_STATE_URL for replicas,
# TELCO_MCP_METRICS_TOKEN for /metrics, and the provider credentials. None is baked into the image.

FROM python:3.11-slim-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY telco_mcp ./telco_mcp
# the package and every dependency as wheels, listed in one requirements file: the image installs exactly those
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[redis]' \
    && find /wheels -name '*.whl' | sort > /wheels/requirements.txt

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_STATE_HOME=/var/lib/telco-mcp \
    TELCO_MCP_AUDIT_LOG=/var/lib/telco-mcp/audit/audit.jsonl \
    TELCO_MCP_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --requirement /wheels/requirements.txt \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/telco-mcp --create-home \
       --shell /usr/sbin/nologin telco-mcp \
    && mkdir -p /var/lib/telco-mcp/audit \
    && chown -R 10001:10001 /var/lib/telco-mcp
# a non-root user, by number so the runtime can check it without reading /etc/passwd
USER 10001:10001
WORKDIR /var/lib/telco-mcp
VOLUME ["/var/lib/telco-mcp/audit"]
EXPOSE 8000
# /healthz answers while the process serves (no upstream, no Redis call): the container's liveness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# SIGTERM drains (TELCO_MCP_SHUTDOWN_DRAIN, then TELCO_MCP_SHUTDOWN_GRACE): give `docker stop -t` more than both.
STOPSIGNAL SIGTERM
ENTRYPOINT ["telco-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
