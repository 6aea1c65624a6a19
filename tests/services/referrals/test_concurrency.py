"""Concurrency on PostgreSQL with committing databases.

Acceptance 3: 50 concurrent POSTs of one referral with the same Idempotency-Key and body
create exactly one referral; each answers the first response (replayed) or 409 while the
first is in flight; the same key with another body is 422; a key belongs to its client.
And the overdue job run by several replicas at once announces each referral once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from ruta.embedded import create_embedded_app
from services.referrals.models import Referral, ReferralTransition
from services.referrals.sla import mark_overdue
from shared.clock import utcnow
from shared.db import Database
from shared.settings import Settings
from shared.tables import idempotency_records, outbox_events
from tests.support.contract import contract_client
from tests.support.referrals import documents
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def committing_app(root_dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    application = create_embedded_app(Settings(), root_dbs)
    async with application.router.lifespan_context(application):
        yield application


async def _cleanup(db: Database, profile_ids: list[str], keys: list[str]) -> None:
    async with db.uow() as uow:
        ids = list((await uow.session.scalars(
            select(Referral.id).where(Referral.profile_id.in_(profile_ids)))).all())
        await uow.session.execute(delete(ReferralTransition).where(
            ReferralTransition.referral_id.in_(ids)))
        await uow.session.execute(delete(Referral).where(Referral.id.in_(ids)))
        await uow.session.execute(delete(outbox_events).where(
            outbox_events.c.subject_id.in_(ids)))
        await uow.session.execute(delete(idempotency_records).where(
            idempotency_records.c.key.in_(keys)))
        await uow.commit()


async def test_fifty_concurrent_duplicates_create_exactly_one_referral(
    committing_app: FastAPI, auth: TokenFactory, root_dbs: dict[str, Database]
) -> None:
    org = f"ong-race-{uuid.uuid4().hex[:6]}"
    key = f"race-ref-{uuid.uuid4().hex[:8]}"
    caseworker = auth(org=org, subject=f"{org}-client")
    async with contract_client(committing_app) as c:
        people = []
        for name in ("Ana", "Berta"):
            made = await c.post("/v1/profiles", headers=caseworker, json={
                "given_names": name, "first_surname": "Concurrente", "birth_date": "1991-02-03",
                "sex": "female", "nationality": "VEN", "population_type": "migrant",
                "region": "PE-LMA", "documents": documents(), "consents": [
                    {"purpose": "referral", "recipient_organisation_id": "mtpe-empleo",
                     "evidence": "written"}]})
            assert made.status_code == 201, made.text
            people.append(made.json()["id"])
        pid = people[0]
        body = {"profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo",
                "notes": "Carrera de 50 reintentos"}
        keyed = {**caseworker, "Idempotency-Key": key}
        try:
            answers = await asyncio.gather(*[c.post("/v1/referrals", json=body, headers=keyed)
                                             for _ in range(50)])
            statuses = [a.status_code for a in answers]
            assert set(statuses) <= {201, 409}, statuses
            created = [a for a in answers if a.status_code == 201]
            assert created, statuses
            assert len({a.json()["id"] for a in created}) == 1
            first = next(a for a in created if "idempotent-replayed" not in a.headers)
            for a in created:
                assert a.json() == first.json()
                assert a.headers["etag"] == first.headers["etag"]
            for a in answers:
                if a.status_code == 409:
                    assert a.json()["type"] == "/problems/idempotency-in-flight", a.text
            async with root_dbs["referrals"].uow() as uow:
                count = await uow.session.scalar(select(func.count()).select_from(Referral)
                                                 .where(Referral.profile_id == pid))
            assert count == 1

            # after the race: a replay, never a second referral
            late = await c.post("/v1/referrals", json=body, headers=keyed)
            assert late.status_code == 201 and late.headers["idempotent-replayed"] == "true"
            assert late.json() == first.json()
            # the same key with another body
            other = await c.post("/v1/referrals", json={**body, "notes": "otra"},
                                 headers=keyed)
            assert other.status_code == 422
            assert other.json()["type"] == "/problems/idempotency-key-reused"
            # the same key from another client is that client's own key
            colleague = auth(org=org, subject=f"{org}-other-client",
                             **{"Idempotency-Key": key})
            mine = await c.post("/v1/referrals", headers=colleague,
                                json={**body, "profile_id": people[1]})
            assert mine.status_code == 201, mine.text
            assert "idempotent-replayed" not in mine.headers
            assert mine.json()["id"] != first.json()["id"]
        finally:
            await _cleanup(root_dbs["referrals"], people, [key])


async def test_replicas_marking_overdue_at_once_announce_each_referral_once(
    root_dbs: dict[str, Database]
) -> None:
    """Four replicas run the job at the same moment, in small batches, until nothing is
    left: every overdue referral is announced exactly once."""
    db = root_dbs["referrals"]
    now = utcnow()
    profiles = [str(uuid.uuid4()) for _ in range(40)]
    async with db.uow() as uow:
        for pid in profiles:
            uow.session.add(Referral(
                profile_id=pid, profile_organisation_id="ong-overdue", region="PE-LMA",
                country="PE", programme_id="pe-empleo", route_type="public_employment_service",
                outcome_kind="employment", provider_id="mtpe-empleo",
                provider_organisation_id="mtpe-empleo",
                referring_organisation_id="ong-overdue", referring_subject="cw",
                status="requested", due_accept_at=now - timedelta(days=1),
                due_complete_at=now + timedelta(days=30)))
        await uow.commit()
    try:
        total = 0
        for _ in range(20):
            counts = await asyncio.gather(*(mark_overdue(db=db, batch=7) for _ in range(4)))
            total += sum(counts)
            if not any(counts):
                break
        async with db.uow() as uow:
            ids = list((await uow.session.scalars(
                select(Referral.id).where(Referral.profile_id.in_(profiles)))).all())
            announced = (await uow.session.scalars(
                select(outbox_events.c.subject_id)
                .where(outbox_events.c.type == "referral.overdue",
                       outbox_events.c.subject_id.in_(ids)))).all()
        assert total == 40
        assert sorted(announced) == sorted(ids)  # each exactly once
    finally:
        await _cleanup(db, profiles, [])
