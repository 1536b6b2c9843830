"""Argument completions (`completion/complete`) where the server knows the values.

- `handle_live_call`'s `caller`: the numbers of the other parties of the calls running now, read
  from sipgate through the shared client (the same `GET /calls` as `sipgate_list_calls`);
- the `toolset` of the resource template `telco-mcp://toolsets/{toolset}`: the catalogue's toolsets.

A client inserts a completion value verbatim into an argument, so values cannot be fenced like tool
results. Provider values are sanitised instead: control, format (bidirectional, zero-width, tag) and
separator characters are removed, each value must match its argument's pattern (E.164 for numbers,
the toolset-name shape), anything longer than `MAX_LENGTH` is dropped, not cut, and at most
`MAX_VALUES` are returned (`total` and `hasMore` say how many matched). A value that fails a check is
left out, never repaired. An unknown prompt or resource template is `-32602`, as for `prompts/get`.
A client may ask on every keystroke: the running calls are read at most once per `CALLS_TTL` seconds.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    PromptReference,
)

from telco_mcp.catalogue import BY_NAME
from telco_mcp.errors import TelcoError
from telco_mcp.resources import TOOLSET_TEMPLATE
from telco_mcp.safety.scopes import TOOLSETS

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from telco_mcp.runtime import Runtime
    from telco_mcp.upstream import ProviderClient

logger = logging.getLogger(__name__)

MAX_VALUES = 20  # the protocol allows 100; a person scans a short list
MAX_LENGTH = 40
CALLS_TTL = 2.0  # seconds a read of the running calls serves further completions
E164 = re.compile(r"\+[1-9][0-9]{5,14}")
TOOLSET_NAME = re.compile(r"[a-z][a-z0-9_]*(?::[a-z0-9_]+){0,4}")
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}  # control, format (bidi, zero-width, tags), unassigned...
_NUMBER_PUNCTUATION = re.compile(r"[\s\-()/.]")


def scrub(text: str) -> str:
    """`text` without control, format, private-use, unassigned or line/paragraph-separator characters."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE).strip()


def offer(candidates: Iterable[Any], pattern: re.Pattern[str], wanted: Callable[[str], bool]) -> Completion:
    """The sanitised candidates that match `pattern` and the user's input, first seen first, capped."""
    values: list[str] = []
    for raw in candidates:
        if not isinstance(raw, str) or len(raw) > 4 * MAX_LENGTH:
            continue
        value = scrub(raw)
        if len(value) <= MAX_LENGTH and pattern.fullmatch(value) and value not in values and wanted(value):
            values.append(value)
    return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)


def number_matcher(typed: str) -> Callable[[str], bool]:
    """Match an E.164 number against what was typed so far: `+49 30`, `004930`, `030 12`, `1234`."""
    compact = _NUMBER_PUNCTUATION.sub("", scrub(typed))
    if not compact:
        return lambda value: True
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        return lambda value: value.startswith(compact)
    digits = compact.lstrip("0")
    if not digits.isdigit():  # a name: the provider lists numbers only
        return lambda value: False
    return lambda value: digits in value[1:]


async def running_call_numbers(client: ProviderClient) -> list[str]:
    """The other parties' numbers of the calls running now (the owner's own number left out)."""
    from telco_mcp.providers.sipgate.models import call_list_from_api

    calls = call_list_from_api(await client.read("sipgate_list_calls", "/calls")).calls
    return [p.phone_number for call in calls for p in call.participants if not p.owner and p.phone_number]


def register(server: MCPServer, runtime: Runtime) -> None:
    """Serve `completion/complete` (and so declare the `completions` capability)."""
    empty = CompleteResult(completion=Completion(values=[], total=0, has_more=False))
    recent: dict[str, tuple[float, list[str]]] = {}  # "calls" -> (when read, numbers)

    async def caller_numbers(client: ProviderClient) -> list[str]:
        now = time.monotonic()
        if "calls" in recent and now - recent["calls"][0] < CALLS_TTL:
            return recent["calls"][1]
        numbers = await running_call_numbers(client)
        recent["calls"] = (time.monotonic(), numbers)
        return numbers

    async def complete(ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
        ref, argument = params.ref, params.argument
        if isinstance(ref, PromptReference):
            if ref.name not in {prompt.name for prompt in await server.list_prompts()}:
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {ref.name!r} (prompts/list names them)")
            if (ref.name, argument.name) != ("handle_live_call", "caller"):
                return empty
            client = getattr(ctx.lifespan_context, "clients", {}).get("sipgate")
            if client is None or not runtime.is_exposed(BY_NAME["sipgate_list_calls"]):
                return empty
            try:
                numbers = await caller_numbers(client)
            except TelcoError as exc:  # a convenience: no suggestions rather than an error in the user's input box
                logger.warning("completion of handle_live_call.caller: the running calls could not be read: %s", exc)
                return empty
            return CompleteResult(completion=offer(numbers, E164, number_matcher(argument.value)))
        if ref.uri != TOOLSET_TEMPLATE:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown resource template: {ref.uri!r}")
        if argument.name != "toolset":
            return empty
        typed = scrub(argument.value)  # every toolset can be read, a hidden one to see why its tools are hidden
        return CompleteResult(completion=offer(TOOLSETS, TOOLSET_NAME, lambda value: value.startswith(typed)))

    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    # MCPServer.completion() hands its callback no request context, hence no shared provider client.
    lowlevel.add_request_handler("completion/complete", CompleteRequestParams, complete)
