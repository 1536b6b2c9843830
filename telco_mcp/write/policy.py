"""Stage 1, policy: may this write happen at all, whoever agrees to it?

Exposure (providers, scopes, read-only mode decide which tools are registered; a tool that is not
exposed is refused here too) and the guardrails (premium-rate numbers, prefixes, SMS length, hourly
caps). Checked before anyone is asked, and the guardrails once more when the write is counted.
"""

from __future__ import annotations

from telco_mcp.errors import SafetyRefusal, StateUnavailable
from telco_mcp.write.call import WriteCall


def check(call: WriteCall) -> None:
    """Raise `SafetyRefusal` when policy forbids the write. Changes nothing."""
    caller = call.caller
    if not call.runtime.is_exposed(call.op, caller.key if caller is not None else None):  # defensive: not listed
        raise SafetyRefusal(f"{call.op.name} is not granted on this server.", rule="exposure")
    call.runtime.guardrails.check(call.subject, call.op.provider)


def verdict(call: WriteCall) -> str | None:
    """What the guardrails would say now, for previews: None when the write would pass."""
    try:
        check(call)
    except (SafetyRefusal, StateUnavailable) as exc:
        return exc.message
    return None


def consume(call: WriteCall) -> None:
    """Re-check and count the write that is about to be sent (raises if a budget ran out meanwhile)."""
    call.runtime.guardrails.consume(call.subject, call.op.provider)
