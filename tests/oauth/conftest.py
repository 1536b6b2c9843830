"""Fixtures of the OAuth tests (the harness itself is in harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.state.conftest import redis_server  # noqa: F401  (a real redis-server, for replicas sharing state)

from .harness import Issuer, running_issuer


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    """A fresh key pair, its JWKS served on 127.0.0.1."""
    with running_issuer() as state:
        yield state
