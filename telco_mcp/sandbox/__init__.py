"""An embedded, stateful simulator of the SignalWire and sipgate REST APIs.

It is the default upstream when no credentials are configured, and the upstream of the
integration tests and benchmarks::

    from telco_mcp.sandbox import Sandbox

    sb = Sandbox(seed=0)
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sb.app), base_url="http://sandbox.test")

SignalWire lives at the app root (``/api/...``), sipgate under ``/v2`` plus the OAuth token endpoint
``/login/third-party/protocol/openid-connect/token``, and the admin surface under ``/_sandbox/``.
The credentials below are the only ones accepted; they are fixed and not secret.
"""

from telco_mcp.sandbox.app import Sandbox, create_app
from telco_mcp.sandbox.core import RecordedRequest
from telco_mcp.sandbox.credentials import (
    SIGNALWIRE_API_TOKEN,
    SIGNALWIRE_PROJECT_ID,
    SIGNALWIRE_SPACE,
    SIPGATE_ACCESS_TOKEN,
    SIPGATE_ALL_SCOPES,
    SIPGATE_CLIENT_ID,
    SIPGATE_CLIENT_SECRET,
    SIPGATE_PASSWORD,
    SIPGATE_REFRESH_TOKEN,
    SIPGATE_TOKEN,
    SIPGATE_TOKEN_ID,
    SIPGATE_USERNAME,
)
from telco_mcp.sandbox.faults import Fault, SandboxConnectionDropped

__all__ = [
    "SIGNALWIRE_API_TOKEN",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_SPACE",
    "SIPGATE_ACCESS_TOKEN",
    "SIPGATE_ALL_SCOPES",
    "SIPGATE_CLIENT_ID",
    "SIPGATE_CLIENT_SECRET",
    "SIPGATE_PASSWORD",
    "SIPGATE_REFRESH_TOKEN",
    "SIPGATE_TOKEN",
    "SIPGATE_TOKEN_ID",
    "SIPGATE_USERNAME",
    "Fault",
    "RecordedRequest",
    "Sandbox",
    "SandboxConnectionDropped",
    "create_app",
]
