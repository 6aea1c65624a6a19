"""Idempotency-Key: retries replay, reuse with another body is refused, duplicates in flight 409."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from ruta.embedded import create_embedded_app
from services.registry.models import Profile
from shared.clock import utcnow
from shared.db import Database
from shared.idempotency import IdempotencyInFlight, IdempotencyKey, IdempotencyKeyReused
from shared.settings import Settings
from shared.tables import idempotency_records
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


async def test_same_key_same_body_replays_first_response(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    headers = auth(**{"Idempotency-Key": "alta-0001"})
    first = await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    again = await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


async def test_same_key_other_body_is_422_and_writes_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    headers = auth(org="ong-idem", **{"Idempotency-Key": "alta-0002"})
    await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    other = await client.post("/v1/profiles", json=profile_payload(given_names="Otra"),
                              headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    async with dbs["registry"].uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Profile).where(Profile.organisation_id == "ong-idem"))
    assert count == 1


async def test_keys_are_scoped_to_the_calling_client(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    a = await client.post("/v1/profiles", json=profile_payload(),
                          headers=auth(subject="client-a", **{"Idempotency-Key": "k-1"}))
    b = await client.post("/v1/profiles", json=profile_payload(),
                          headers=auth(subject="client-b", **{"Idempotency-Key": "k-1"}))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_expired_key_no_longer_replays(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    headers = auth(**{"Idempotency-Key": "alta-old"})
    first = await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    async with dbs["registry"].uow() as uow:
        row = (await uow.session.execute(select(idempotency_records).where(
            idempotency_records.c.key == "alta-old"))).one()
        # kept at least 24 h
        assert row.expires_at.replace(tzinfo=None) - row.created_at.replace(tzinfo=None) \
            >= timedelta(hours=24)
        await uow.session.execute(update(idempotency_records)
                                  .where(idempotency_records.c.key == "alta-old")
                                  .values(expires_at=utcnow() - timedelta(seconds=1)))
        await uow.commit()
    later = await client.post("/v1/profiles", json=profile_payload(), headers=headers)
    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]


async def test_a_key_held_by_an_open_transaction_is_409(root_dbs: dict[str, Database]) -> None:
    db = root_dbs["registry"]
    key = IdempotencyKey("client-x", "in-flight-1", "f" * 64)
    async with db.uow() as first:
        assert await first.claim(key) is None
        async with db.uow() as second:
            with pytest.raises(IdempotencyInFlight):
                await second.claim(key)
        await first.remember(key, status_code=201, body={"ok": True})
        await first.commit()
    async with db.uow() as third:
        stored = await third.claim(key)
        assert stored is not None and stored.body == b'{"ok":true}' and stored.replayed
    async with db.uow() as fourth:
        with pytest.raises(IdempotencyKeyReused):
            await fourth.claim(IdempotencyKey("client-x", "in-flight-1", "0" * 64))
    if db.is_postgres:
        # two retries of an answered request at once: both get the stored answer, not 409
        async with db.uow() as fifth:
            assert await fifth.claim(key) is not None
            async with db.uow() as sixth:
                again = await sixth.claim(key)
                assert again is not None and again.body == b'{"ok":true}' and again.replayed
                with pytest.raises(IdempotencyKeyReused):
                    await sixth.claim(IdempotencyKey("client-x", "in-flight-1", "0" * 64))


@pytest.fixture
async def committing_app(root_dbs: dict[str, Database], tmp_path: object
                         ) -> AsyncIterator[FastAPI]:
    """An app on the real (committing) databases, for tests of concurrent transactions."""
    application = create_embedded_app(Settings(), root_dbs)
    async with application.router.lifespan_context(application):
        yield application


async def test_concurrent_duplicates_create_exactly_one(
    committing_app: FastAPI, auth: TokenFactory, root_dbs: dict[str, Database]
) -> None:
    org = "ong-race"
    headers = auth(org=org, **{"Idempotency-Key": "race-1"})
    async with contract_client(committing_app) as c:
        answers = await asyncio.gather(*[
            c.post("/v1/profiles", json=profile_payload(), headers=headers) for _ in range(30)])
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created_ids) == 1
    async with root_dbs["registry"].uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(Profile).where(Profile.organisation_id == org))
    assert count == 1
