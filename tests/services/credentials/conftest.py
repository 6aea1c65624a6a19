"""Fixtures of these tests; what they import is in tests/support/credentials.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support.credentials import Flow
from tests.support.tokens import TokenFactory


@pytest.fixture
def flow(client: httpx.AsyncClient, auth: TokenFactory) -> Flow:
    return Flow(client, auth)


@pytest.fixture
def credentials_app(app: FastAPI) -> FastAPI:
    """The credentials service inside the embedded gateway (for its /internal routes)."""
    service_app: FastAPI = app.state.upstreams["credentials"].app
    return service_app


@pytest.fixture
async def internal(credentials_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=credentials_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://credentials.internal"
                                 ) as c:
        yield c

