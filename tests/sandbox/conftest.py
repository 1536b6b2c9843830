from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx2
import pytest

from telco_mcp.sandbox import (
    SIGNALWIRE_API_TOKEN,
    SIGNALWIRE_PROJECT_ID,
    SIPGATE_ACCESS_TOKEN,
    SIPGATE_PASSWORD,
    SIPGATE_TOKEN,
    SIPGATE_TOKEN_ID,
    SIPGATE_USERNAME,
    Sandbox,
)

BASE_URL = "http://sandbox.test"
SW_AUTH = httpx2.BasicAuth(SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN)
PAT_AUTH = httpx2.BasicAuth(SIPGATE_TOKEN_ID, SIPGATE_TOKEN)
PASSWORD_AUTH = httpx2.BasicAuth(SIPGATE_USERNAME, SIPGATE_PASSWORD)


def basic(user: str, password: str) -> dict[str, str]:
    """A Basic ``Authorization`` header built by hand (for deliberately wrong credentials too)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str = SIPGATE_ACCESS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(seed=0)


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sb.app), base_url=BASE_URL) as http:
        yield http
