"""tests/ports.py: a child server counts as started only when it listens on the port itself."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.ports import free_port, listens, wait_listening

LISTEN = (
    "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)"
)


@contextmanager
def child(code: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", code, *args], stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def test_a_child_listening_on_its_port_is_started() -> None:
    port = free_port()
    with child(LISTEN, str(port)) as process:
        assert wait_listening(process, port, 20)
        assert listens(process.pid, port)


def test_a_child_that_lost_the_port_to_another_process_is_reported_not_taken_for_started() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # connecting to the port works: a connect probe would call the child started
        port = taken.getsockname()[1]
        with child(LISTEN, str(port)) as process:
            assert not wait_listening(process, port, 20)  # it exited: the caller tries another port
            assert process.stderr is not None and b"Address already in use" in process.stderr.read()
        # alive, listening nowhere, the port answering: not started either
        with child("import time; time.sleep(60)") as idle, pytest.raises(TimeoutError):
            wait_listening(idle, port, 1)
