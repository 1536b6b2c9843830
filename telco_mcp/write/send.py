"""Stages 4 and 5: send the request once through the shared client, and read the answer.

The shared client repeats only what is safe to repeat (reads and idempotent writes); a write whose
answer never came is an `OutcomeUnknown`, reported as such and never retried here.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
from pydantic import BaseModel

from telco_mcp.errors import TelcoError
from telco_mcp.wire import PreparedRequest
from telco_mcp.write.call import WriteCall


async def send(call: WriteCall, request: PreparedRequest) -> httpx2.Response:
    """The provider's 2xx answer, or a `ProviderError` (`OutcomeUnknown` when it may have happened)."""
    return await call.client.send(call.op, request)


@dataclass(frozen=True)
class Interpreted:
    result: BaseModel | None
    note: str | None = None


async def interpret(call: WriteCall, response: httpx2.Response) -> Interpreted:
    """The result model; a failure to read it never hides that the write was applied."""
    try:
        return Interpreted(await call.op.read_result(response, call.args, call.hooks))
    except TelcoError as exc:
        return Interpreted(
            None, f"The write was applied ({response.status_code}), but reading the result failed: {exc}"
        )


def provider_id(result: BaseModel | None) -> str | None:
    """The id the provider gave the thing written, for the audit log."""
    for name in ("id", "call_id", "session_id"):
        value = getattr(result, name, None)
        if isinstance(value, str):
            return value
    return None
