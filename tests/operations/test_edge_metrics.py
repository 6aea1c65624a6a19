"""issue 18: rate-limit rejections, idempotency replays and conflicts, denied object access
and database pools move their metrics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.operations.metrics_support import sample
from tests.support.contract import contract_client
from tests.support.databases import IS_POSTGRES
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

TIGHT = '{"read": {"capacity": 1, "window_seconds": 60}}'


@pytest.fixture
async def tight(dbs: dict[str, Database]) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_embedded_app(Settings(rate_limits=TIGHT, background_tasks=False), dbs)
    async with app.router.lifespan_context(app), contract_client(app) as c:
        yield c


async def test_rate_limit_rejections_are_counted_by_class(
        tight: httpx.AsyncClient, auth: TokenFactory) -> None:
    before = sample("ruta_rate_limit_rejections_total", **{"class": "read"})
    headers = auth(subject=f"rl-{uuid.uuid4().hex}")
    statuses = [(await tight.get("/v1/programs", headers=headers)).status_code
                for _ in range(3)]
    assert statuses.count(429) == 2
    assert sample("ruta_rate_limit_rejections_total", **{"class": "read"}) == before + 2


async def test_idempotency_replays_and_conflicts_are_counted(
        client: httpx.AsyncClient, auth: TokenFactory) -> None:
    replayed = sample("ruta_idempotency_outcomes_total", outcome="replayed")
    reused = sample("ruta_idempotency_outcomes_total", outcome="key_reused")
    headers = auth(**{"Idempotency-Key": f"k-{uuid.uuid4().hex}"})
    assert (await client.post("/v1/profiles", json=profile_payload(),
                              headers=headers)).status_code == 201
    again = await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/profiles", json=profile_payload(given_names="Otra"),
                              headers=headers)
    assert other.status_code == 422
    assert sample("ruta_idempotency_outcomes_total", outcome="replayed") == replayed + 1
    assert sample("ruta_idempotency_outcomes_total", outcome="key_reused") == reused + 1


async def test_denied_object_access_is_counted_by_route_template(
        client: httpx.AsyncClient, auth: TokenFactory) -> None:
    labels = {"service": "registry", "route": "/v1/profiles/{profile_id}"}
    before = sample("ruta_access_denied_total", **labels)
    made = await client.post("/v1/profiles", json=profile_payload(), headers=auth())
    assert made.status_code == 201
    probe = await client.get(f"/v1/profiles/{made.json()['id']}",
                             headers=auth(org="ong-otra", subject="client-otra"))
    assert probe.status_code == 404
    assert sample("ruta_access_denied_total", **labels) == before + 1


async def test_database_pools_are_exported(client: httpx.AsyncClient,
                                           dbs: dict[str, Database]) -> None:
    exposed = (await client.get("/metrics")).text
    for name in ("ruta_db_pool_size", "ruta_db_pool_in_use", "ruta_db_pool_waiting"):
        assert f'{name}{{database="registry"}}' in exposed, name
    # this test's own connection (the rolled-back outer transaction) is checked out
    assert sample("ruta_db_pool_in_use", database="registry") >= 1
    assert sample("ruta_db_pool_size", database="registry") >= 1


async def test_a_caller_blocked_on_a_full_pool_is_waiting(dbs: dict[str, Database]) -> None:
    """A pool of one (as on SQLite): a second caller waits, and is seen waiting."""
    db = Database(str(dbs["referrals"].url.render_as_string(hide_password=False)),
                  pool_size=1)
    base = sample("ruta_db_pool_waiting", database="referrals")
    try:
        async with db.engine.connect():
            blocked = asyncio.create_task(db.ping())
            for _ in range(100):
                if sample("ruta_db_pool_waiting", database="referrals") > base:
                    break
                await asyncio.sleep(0.01)
            assert sample("ruta_db_pool_waiting", database="referrals") == base + 1
            blocked.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await blocked
    finally:
        await db.dispose()


@pytest.mark.skipif(not IS_POSTGRES, reason="the statement pool is PostgreSQL only")
async def test_a_caller_in_line_for_the_statement_pool_is_waiting(
    dbs: dict[str, Database]
) -> None:
    """The hot reads' pool (Database.statement) serves callers in arrival order through a
    gate; a caller in its line is counted as waiting like one on the session pool."""
    db = Database(str(dbs["registry"].url.render_as_string(hide_password=False)),
                  pool_size=1)
    base = sample("ruta_db_pool_waiting", database="registry")

    async def one() -> None:
        async with db.statement() as conn:
            await conn.fetchval("SELECT 1")

    try:
        async with db.statement():
            blocked = asyncio.create_task(one())
            for _ in range(100):
                if sample("ruta_db_pool_waiting", database="registry") > base:
                    break
                await asyncio.sleep(0.01)
            assert sample("ruta_db_pool_waiting", database="registry") == base + 1
        await asyncio.wait_for(blocked, 5)  # served once the first is done
        assert sample("ruta_db_pool_waiting", database="registry") == base
    finally:
        await db.dispose()
