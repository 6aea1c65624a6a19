"""Fixtures of these tests; what they import is in tests/support/referrals.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support.referrals import Route
from tests.support.tokens import TokenFactory


@pytest.fixture
def route(client: httpx.AsyncClient, auth: TokenFactory) -> Route:
    return Route(client, auth)


@pytest.fixture
def referrals_app(app: FastAPI) -> FastAPI:
    service_app: FastAPI = app.state.upstreams["referrals"].app
    return service_app


@pytest.fixture
async def internal(referrals_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Straight to the referrals service (its /internal routes, or as a ministry system)."""
    transport = httpx.ASGITransport(app=referrals_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://referrals.internal"
                                 ) as c:
        yield c

