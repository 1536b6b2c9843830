"""The stdio server ends when its client closes stdin, whatever its sipgate webhook receiver is doing.

Over stdio the receiver runs beside the MCP session in one task group. When the session ends, that group is
cancelled: asking uvicorn to exit instead (`should_exit`) waits for its next check, then for every open
request, so a push whose body stalls halfway kept the process alive for as long as its sender kept the
connection open. No timing is asserted: the process must be gone well before such a push would end (never,
here: the test holds it open until the server has exited).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

EXE = Path(sys.executable).with_name("telco-mcp")
SECRET = "stdio-exit-test-webhook-secret-0123456789"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "exit", "version": "1"}},
}


def test_closing_stdin_ends_the_server_even_while_a_webhook_push_is_half_received(tmp_path: Path) -> None:
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env |= {"XDG_STATE_HOME": str(tmp_path / "state"), "TELCO_MCP_WEBHOOK_SECRET": SECRET}
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [str(EXE), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, cwd=tmp_path
        )
    with proc:
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == 1
            found = re.search(r"sipgate webhooks: listening on http://127\.0\.0\.1:(\d+)/", log.read_text())
            assert found, log.read_text()
            with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=10) as push:
                push.sendall(
                    f"POST /webhooks/sipgate/{SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n"
                    "event=newCall&".encode()
                )  # and the rest never comes, while the connection stays open
                time.sleep(0.5)  # the receiver is reading the body now
                proc.stdin.close()
                returncode = proc.wait(15)  # without the cancellation: no exit while the push is open
            assert returncode == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()


def test_the_served_objects_are_frozen_before_the_interpreter_tears_down(tmp_path: Path) -> None:
    """Teardown's full collections skip frozen objects: walking every object the server made was most of a stdio
    server's exit time. Seen from the last exit handler (registered first, so it runs last)."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count(), file=sys.stderr))\n"
        "from telco_mcp.cli import main\n"
        "main(['serve'])\n"
    )
    skip = ("SIGNALWIRE_", "SIPGATE_", "TELCO_MCP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)} | {"XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = re.search(r"frozen at exit: (\d+)", done.stderr)
    assert found and int(found.group(1)) > 10_000, done.stderr
