"""The real redis-server fixture of the shared-state tests, for the metric families that read Redis."""

from tests.state.conftest import redis_server  # noqa: F401
