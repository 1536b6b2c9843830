"""MCP prompts for the operator workflows people ask for most.

Each prompt names the tools it uses and is listed only when those tools are exposed. Prompts never
write anything themselves: every write they suggest still goes through the confirmation gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver.prompts.base import Prompt
from pydantic import Field

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from telco_mcp.runtime import Runtime

_GATE = (
    "Every write needs a human's yes before anything is sent: the client asks the user, or the result is "
    "approval_pending (tell the user, and call again with approval_id once they approved it outside the chat) "
    "or, under the token mode, a preview with confirm_token (call again with it only if the user agrees). "
    "Never retry a write whose result says 'outcome unknown' before checking the current state."
)


def handle_live_call(
    caller: Annotated[str, Field(description="Who is on the line: a number like +49 30 ... or a name.")],
    goal: Annotated[str, Field(description="What to do: hold, transfer to a number, or hang up.")] = "",
) -> str:
    wanted = goal or "ask me what to do with it (hold, transfer, or hang up)"
    return (
        f"Handle a live call on sipgate. The call: {caller}. Goal: {wanted}.\n"
        "1. Call sipgate_list_calls and find the running call whose participants match the caller "
        "(compare phone numbers in E.164; if several match or none does, show me the candidates and stop).\n"
        "2. Tell me the call_id and the parties before acting.\n"
        "3. Use sipgate_hold_call (value=true to hold, false to resume), sipgate_transfer_call "
        "(phone_number, attended=false for blind) or sipgate_hangup_call as the goal requires.\n"
        "4. Report the call's state from the tool result; after a transfer the call gets a new call_id.\n" + _GATE
    )


def sip_security_review() -> str:
    return (
        "Review the SignalWire SIP estate for weak security settings. Read everything first:\n"
        "- signalwire_get_sip_profile (project defaults),\n"
        "- signalwire_list_sip_credentials and signalwire_list_sip_gateways, following next_cursor to the end.\n"
        "Flag, per credential or gateway (by name/username and id):\n"
        "- encryption that is not 'required' ('optional' or 'default' allows unencrypted media);\n"
        "- no SRTP ciphers, or only the weaker 32-bit-tag ciphers (AES_CM_128_HMAC_SHA1_32, "
        "AES_256_CM_HMAC_SHA1_32);\n"
        "- legacy or weak codecs such as G729 (and PCMU/PCMA-only lists with no wideband codec);\n"
        "- profile defaults that new endpoints would inherit with the same problems.\n"
        "Summarise the findings as a table with a recommended change for each. Do not change anything "
        "unless I ask; if I do, use signalwire_update_sip_gateway or signalwire_update_sip_profile "
        "(dry_run=true first shows the exact request). " + _GATE
    )


def clean_up_old_recordings(
    older_than_days: Annotated[int, Field(ge=1, le=3650, description="Age in days.")] = 90,
) -> str:
    cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).date().isoformat()
    return (
        f"Find SignalWire call recordings older than {older_than_days} days (created before {cutoff}) and help me "
        "clean them up.\n"
        "1. Page through signalwire_list_recordings (limit=100, follow next_cursor; recordings come newest "
        "first, so keep going until you reach the cutoff and beyond) and collect the candidates: id, created_at, "
        "duration, leg type.\n"
        "2. Show me the count, total duration and the oldest and newest candidate, then ask which to delete.\n"
        "3. Delete only what I approve, one signalwire_delete_recording call per recording; deletion cannot "
        "be undone. " + _GATE
    )


@dataclass(frozen=True)
class OperatorPrompt:
    fn: Callable[..., str]
    title: str
    description: str
    tools: tuple[str, ...]  # read tools the workflow cannot do without

    def register(self, server: MCPServer, runtime: Runtime) -> None:
        exposed = {op.name for op in runtime.exposed}
        if not set(self.tools) <= exposed:
            return
        server.add_prompt(Prompt.from_function(self.fn, title=self.title, description=self.description))


PROMPTS: tuple[OperatorPrompt, ...] = (
    OperatorPrompt(
        handle_live_call,
        "Handle a live call",
        "Find a running sipgate call by caller, then hold, transfer or hang up (tools: sipgate_list_calls, "
        "sipgate_hold_call, sipgate_transfer_call, sipgate_hangup_call).",
        ("sipgate_list_calls",),
    ),
    OperatorPrompt(
        sip_security_review,
        "SIP security review",
        "Find SIP credentials and gateways without required encryption or with weak ciphers and codecs "
        "(tools: signalwire_get_sip_profile, signalwire_list_sip_credentials, signalwire_list_sip_gateways).",
        ("signalwire_list_sip_credentials", "signalwire_list_sip_gateways", "signalwire_get_sip_profile"),
    ),
    OperatorPrompt(
        clean_up_old_recordings,
        "Clean up old recordings",
        "Find recordings older than N days and delete the ones you approve (tools: signalwire_list_recordings, "
        "signalwire_delete_recording).",
        ("signalwire_list_recordings",),
    ),
)
