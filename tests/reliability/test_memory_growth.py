"""Memory over many calls: after a warm-up, what `telco_mcp` allocates and keeps stays flat.

tracemalloc snapshots before and after 20,000 read calls (the bench's memory figure: the embedded sandbox, the
SDK's in-memory client, two read tools alternating), filtered to allocations with a `telco_mcp` frame on their
stack; what the SDK's client keeps on its side is not ours to bound. Slow: run with `-m slow`.
"""

from __future__ import annotations

import gc
import logging
import tracemalloc

import pytest
from mcp import Client

from telco_mcp.server import build_server
from telco_mcp.settings import Settings

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.xdist_group("serial"),
]  # one xdist worker

TOOLS = ("signalwire_get_sip_profile", "sipgate_list_calls")
WARM_UP, CALLS, MAX_BYTES_PER_CALL = 1_000, 20_000, 5.0
OURS = [tracemalloc.Filter(True, "*/telco_mcp/*", all_frames=True)]


async def test_what_telco_mcp_keeps_grows_less_than_5_bytes_per_call_over_20k_calls() -> None:
    server = build_server(Settings(_env_file=None, telco_mcp_sandbox=True))  # pyright: ignore[reportCallIssue]
    logging.disable(logging.INFO)  # one log line per request is not what is measured
    try:
        async with Client(server) as client:
            # Traced from before the warm-up: a bounded buffer (the sandbox's request log, 500 entries) that the
            # warm-up fills is then traced too, so what replaces its oldest entries later is not counted as growth.
            tracemalloc.start(6)  # 6 frames: deep enough to find a telco_mcp caller, about 14 ms a call
            try:
                for i in range(WARM_UP):
                    await client.call_tool(TOOLS[i % 2], {})
                gc.collect()
                before = tracemalloc.take_snapshot().filter_traces(OURS)
                for i in range(CALLS):
                    result = await client.call_tool(TOOLS[i % 2], {})
                    assert not result.is_error
                gc.collect()
                after = tracemalloc.take_snapshot().filter_traces(OURS)
            finally:
                tracemalloc.stop()
    finally:
        logging.disable(logging.NOTSET)
    grown = after.compare_to(before, "traceback")
    per_call = sum(s.size_diff for s in grown) / CALLS
    top = "\n".join(f"{s.size_diff:+,} B {s.count_diff:+,} blocks\n  " + "\n  ".join(s.traceback.format()[-6:])
                    for s in grown[:5])  # fmt: skip
    assert per_call < MAX_BYTES_PER_CALL, f"{per_call:.1f} B per call attributable to telco_mcp; grew most:\n{top}"
