"""A real `redis-server` (Debian's, installed by `make replicas`) on a free loopback port per test.

Started with no persistence, stopped by its PID; `stop()` and `start()` again on the same port let a
test take Redis away mid-run. Without the binary the tests say how to install it, and under CI=true
they fail instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.approval.conftest import browser, csrf_of, forms_of  # noqa: F401  (the recording `$BROWSER` fixture, for approval tests here)
from tests.ports import free_port, wait_listening

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def need(binary: str, package: str) -> str:
    if not Path(binary).exists():
        message = f"this test needs Debian's {package}: `make replicas` installs it (sudo apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Clock:
    """A clock a test moves by hand (`clock.now += 600`): windows and expiries without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False
        self._clients: list[Any] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on this server's port; the first start moves to another port while the port is taken."""
        log_text = ""
        for _ in range(5):
            command = [need(REDIS_SERVER, "redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
            command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder), "--loglevel", "warning"]
            with (self.folder / "redis.log").open("ab") as log:
                self.process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            try:
                if wait_listening(self.process, self.port, 10.0):
                    self.started = True
                    return
            except TimeoutError:
                self.stop()
                raise
            log_text = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
            if self.started:  # a restart keeps the port its clients know
                pytest.fail(f"redis-server could not start again on {self.port}:\n{log_text}")
            self.port = free_port()
        pytest.fail(f"redis-server found no free port in 5 attempts:\n{log_text}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def client(self) -> object:
        """A client of this Redis, closed with the fixture (an unclosed one's socket is a ResourceWarning, an error
        here, in whichever later test the garbage collector happens to run)."""
        import redis

        client = redis.Redis.from_url(self.url)
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def dump(self) -> bytes:
        """Every key and value this Redis holds, as bytes: what a reader of the shared state could see."""
        r: Any = self.client()
        out = b""
        for key in r.scan_iter("*"):
            read = {
                b"string": r.get, b"hash": r.hgetall, b"zset": lambda k: r.zrange(k, 0, -1),
                b"set": lambda k: sorted(r.smembers(k)), b"list": lambda k: r.lrange(k, 0, -1),
            }[r.type(key)]  # fmt: skip
            out += key + repr(read(key)).encode()
        return out


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.close_clients()
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: one process's memory, or a real Redis (`maybe_redis`)."""
    return request.param


@pytest.fixture
def maybe_redis(kind: str, request: pytest.FixtureRequest) -> RedisServer | None:
    return request.getfixturevalue("redis_server") if kind == "redis" else None


async def approve_typing(http: Any, base: str, approval_id: str, page: str, password: str) -> Any:
    """Press Approve on the approval page at `base` (its HTML in `page`), with a typed password, as a browser."""
    (form,) = [f for f in forms_of(page) if f["action"].endswith("/decide")]
    hidden = {name: value for name, value in form["fields"] if name in ("csrf", "code")}  # its proof: a launch code
    return await http.post(
        f"{base}/approvals/a/{approval_id}/decide",
        data={
            **hidden, "decision": "approve", "secret_mode": "typed", "secret": password, "secret_repeat": password,
        },
        headers={"Origin": base},
    )  # fmt: skip
