"""SignalWire's Compatibility (LaML) API: calls, conferences and queues, form-encoded.

Base `https://{space}.signalwire.com/api/laml/2010-04-01`, Basic auth `project_id:api_token` (the shared
SignalWire client); the AccountSid in every path is the project id. The operations themselves are the
2010-04-01 shape's (`providers/compatibility/`), declared once for any provider that speaks it.
"""

from __future__ import annotations

from telco_mcp.errors import ConfigError
from telco_mcp.operation import Operation
from telco_mcp.providers.compatibility.operations import compatibility_operations
from telco_mcp.upstream import CallContext

BASE = "/api/laml/2010-04-01"


def project_id(ctx: CallContext) -> str:
    """The AccountSid of SignalWire's Compatibility paths: the project id the client authenticates with."""
    if not ctx.client.account_id:
        raise ConfigError("SIGNALWIRE_PROJECT_ID is not set: the Compatibility API names the project in its paths")
    return ctx.client.account_id


OPERATIONS: tuple[Operation, ...] = compatibility_operations("signalwire", base=BASE, account=project_id)
