"""Readiness tells the truth (issue 18 item 4; issue 16 finding 5): the embedded shape's
``/readyz`` checks all four databases and Redis when configured, with detail per check;
``/healthz`` never touches a database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings

# nothing listens on port 1: the connection is refused at once
REFUSING = "postgresql+asyncpg://postgres@127.0.0.1:1/ruta_down"


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_every_database_of_the_embedded_shape_is_checked(
        client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert set(checks) == {"database", "registry.database", "referrals.database",
                           "credentials.database"}
    assert all(c["status"] == "ok" and c["duration_ms"] >= 0 for c in checks.values())


async def test_a_service_database_down_makes_the_embedded_shape_not_ready(
        settings: Settings, dbs: dict[str, Database]) -> None:
    down = Database(REFUSING)
    try:
        app = create_embedded_app(settings, {**dbs, "registry": down})
        async for client in _client(app):
            ready = await client.get("/readyz")
            live = await client.get("/healthz")
    finally:
        await down.dispose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["registry.database"]["status"] == "unavailable"
    assert body["checks"]["registry.database"]["error"]  # the kind of failure, no values
    assert body["checks"]["referrals.database"]["status"] == "ok"
    assert live.status_code == 200  # liveness never touches a database


async def test_liveness_touches_no_database(settings: Settings) -> None:
    dead = {name: Database(REFUSING) for name in ("gateway", "registry", "referrals",
                                                  "credentials")}
    from gateway.app import create_app

    app = create_app(settings, dead["gateway"], {})
    try:
        transport = httpx.ASGITransport(app=app)  # no lifespan: the gateway's start needs its db
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/healthz")).status_code == 200
            assert (await c.get("/readyz")).status_code == 503
    finally:
        for db in dead.values():
            await db.dispose()


async def test_redis_is_checked_when_configured(tmp_path: object,
                                                dbs: dict[str, Database]) -> None:
    """Redis down is reported; the answer is "degraded", not 503 (the rate limiter falls
    back to per-process buckets: every replica out of rotation would be worse)."""
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    app = create_embedded_app(settings, dbs)
    async for client in _client(app):
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["redis"]["status"] == "unavailable"


async def test_redis_answering_is_ready(tmp_path: object, dbs: dict[str, Database]) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    app = create_embedded_app(settings, dbs)
    async for client in _client(app):
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["redis"]["status"] == "ok"


@pytest.mark.parametrize("path", ["/readyz"])
async def test_not_ready_is_a_problem(settings: Settings, dbs: dict[str, Database],
                                      path: str) -> None:
    down = Database(REFUSING)
    try:
        app = create_embedded_app(settings, {**dbs, "credentials": down})
        async for client in _client(app):
            r = await client.get(path)
    finally:
        await down.dispose()
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 503
