"""Issue 19, acceptance (registry side), end to end through the gateway: a person with a CPP
expiring in 20 days appears in their caseworker's worklist once the watch has run and its
event has come back to the registry through the relay, with what to do next; the event
goes out once even with two watchers running at once (two engines on one PostgreSQL
database; one after the other on SQLite); acknowledging, snoozing and assigning work, and
another organisation's caseworker neither sees the item nor can act on it (404). Referrals
past their deadline reach the worklist through the referrals service's event, and a
renewal in progress takes the document reminders off it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from ruta.embedded import create_embedded_app
from services.referrals.sla import mark_overdue
from services.registry.models import watch_marks_table, worklist_table
from services.registry.usecases.worklist import on_referral_changed
from services.registry.watch import WatchConfig, watch_documents
from shared.clock import utcnow
from shared.db import Database
from shared.outbox import EventEnvelope
from shared.settings import Settings
from shared.tables import outbox_events
from shared.work_authorisation import today_in
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

WATCH = WatchConfig(horizons=(60, 30, 7))


@pytest.fixture
async def quiet_app(dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    """The embedded system with the relay driven by the test (``app.state.hub``)."""
    app = create_embedded_app(Settings(background_tasks=False), dbs)
    async with app.router.lifespan_context(app):
        yield app


def person_with_cpp(days_left: int, number: str, **extra: Any) -> dict[str, Any]:
    expiry = today_in("PE") + timedelta(days=days_left)
    return profile_payload(documents=[
        {"type": "pe_cpp", "number": number, "expiry_date": expiry.isoformat(),
         "verification": "seen", "authorises_work": True}], **extra)


async def register(c: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
                   ) -> dict[str, Any]:
    resp = await c.post("/v1/profiles", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def worklist(c: httpx.AsyncClient, headers: dict[str, str], **params: Any
                   ) -> list[dict[str, Any]]:
    resp = await c.get("/v1/worklist", headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def test_a_cpp_expiring_in_20_days_is_on_the_worklist_and_only_its_people_act_on_it(
    quiet_app: FastAPI, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    ana = auth("caseworker", org="ong-lima", regions=["PE-LMA"], subject="cw-ana")
    coordinator = auth("coordinator", org="ong-lima", regions=["PE-LMA"], subject="co-rosa")
    stranger = auth("caseworker", org="ong-otra", regions=["PE-LMA"], subject="cw-otra")
    elsewhere = auth("caseworker", org="ong-lima", regions=["PE-CAL"], subject="cw-callao")
    async with contract_client(quiet_app) as c:
        person = await register(c, ana, person_with_cpp(20, "CPP7700112"))
        doc_id = person["documents"][0]["id"]
        assert await worklist(c, ana) == []  # nothing until the watch runs

        assert (await watch_documents(db=dbs["registry"], config=WATCH)).expiring == 1
        assert await quiet_app.state.hub.run_once() >= 1  # into the feed, on its schema
        [item] = await worklist(c, ana)
        assert {k: item[k] for k in ("kind", "profile_id", "subject_type", "subject_id",
                                     "days_left", "status", "region", "country")} == {
            "kind": "document_expiring", "profile_id": person["id"],
            "subject_type": "document", "subject_id": doc_id, "days_left": 20,
            "status": "open", "region": "PE-LMA", "country": "PE"}
        assert item["next_step"] == {
            "code": "start_renewal",
            "text": "Inicie la renovación del documento antes de que venza."}
        assert item["details"]["renewal_programme"] == "pe-migraciones-renovacion"
        english = await c.get("/v1/worklist", headers={**ana, "Accept-Language": "en"})
        assert english.json()["items"][0]["next_step"]["text"] == \
            "Start the document's renewal before it expires."
        assert [i["id"] for i in await worklist(c, coordinator)] == [item["id"]]
        # filters
        assert await worklist(c, ana, kind="referral_overdue") == []
        assert await worklist(c, ana, within_days=10) == []
        assert len(await worklist(c, ana, within_days=20, region="PE-LMA")) == 1
        assert await worklist(c, ana, region="PE-CAL") == []

        # scope: another organisation, or another region of the same one, sees nothing and
        # acting is 404; a provider may not ask at all
        assert await worklist(c, stranger) == []
        assert await worklist(c, elsewhere) == []
        for who in (stranger, elsewhere):
            for action, body in (("acknowledge", None), ("assign", {"assignee": "cw-x"}),
                                 ("snooze", {"until": (today_in("PE") + timedelta(days=3))
                                             .isoformat()})):
                refused = await c.post(f"/v1/worklist/{item['id']}/{action}", headers=who,
                                       json=body)
                assert refused.status_code == 404, refused.text
        provider = auth("provider", org="mtpe-empleo", subject="staff-mtpe")
        assert (await c.get("/v1/worklist", headers=provider)).status_code == 403

        # assign (If-Match checked when sent), snooze, acknowledge
        stale = await c.post(f"/v1/worklist/{item['id']}/assign", json={"assignee": "cw-ana"},
                             headers={**coordinator, "If-Match": '"v9"'})
        assert stale.status_code == 412
        assigned = await c.post(f"/v1/worklist/{item['id']}/assign",
                                json={"assignee": "cw-ana"},
                                headers={**coordinator, "If-Match": f'"v{item["version"]}"'})
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["assigned_to"] == "cw-ana"
        assert assigned.headers["etag"] == f'"v{item["version"] + 1}"'
        too_far = await c.post(f"/v1/worklist/{item['id']}/snooze", headers=ana,
                               json={"until": (today_in("PE") + timedelta(days=400))
                                     .isoformat()})
        assert too_far.status_code == 422
        until = today_in("PE") + timedelta(days=3)
        snoozed = await c.post(f"/v1/worklist/{item['id']}/snooze", headers=ana,
                               json={"until": until.isoformat()})
        assert snoozed.status_code == 200 and snoozed.json()["snoozed_until"] == \
            until.isoformat()
        assert await worklist(c, ana) == []  # back on its day
        acknowledged = await c.post(f"/v1/worklist/{item['id']}/acknowledge", headers=ana)
        assert acknowledged.status_code == 200
        assert acknowledged.json()["status"] == "acknowledged"
        assert await worklist(c, ana, status="acknowledged") == []  # still snoozed

        # the 7-day horizon reopens it (the snooze holds until its day)
        later = utcnow() + timedelta(days=14)
        assert (await watch_documents(db=dbs["registry"], config=WATCH,
                                      now=later)).expiring == 1
        await quiet_app.state.hub.run_once()  # the registry consumes its own event
        async with dbs["registry"].uow() as uow:
            row = (await uow.session.execute(select(worklist_table).where(
                worklist_table.c.id == item["id"]))).one()
        assert (row.status, row.details["horizon_days"], row.assigned_to) == (
            "open", 7, "cw-ana")
        # lapsed: document.expired, and the item says so
        lapsed = utcnow() + timedelta(days=21)
        assert (await watch_documents(db=dbs["registry"], config=WATCH,
                                      now=lapsed)).expired == 1
        assert await quiet_app.state.hub.run_once() >= 1
        async with dbs["registry"].uow() as uow:
            kinds = (await uow.session.scalars(select(outbox_events.c.type).where(
                outbox_events.c.subject_id == doc_id))).all()
            row = (await uow.session.execute(select(worklist_table).where(
                worklist_table.c.id == item["id"]))).one()
        assert kinds == ["document.expiring", "document.expiring", "document.expired"]
        assert (row.kind, row.status) == ("document_expired", "open")


async def test_referrals_past_their_deadline_and_renewals_in_progress(
    quiet_app: FastAPI, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    ana = auth("caseworker", org="ong-lima", regions=["PE-LMA"], subject="cw-ana")
    async with contract_client(quiet_app) as c:
        body = person_with_cpp(20, "CPP7700113", interest_employment=True, consents=[
            {"purpose": "referral", "status": "granted",
             "recipient_organisation_id": "mtpe-empleo", "evidence": "written",
             "evidence_reference": "FORM-1"}])
        person = await register(c, ana, body)
        referral = await c.post("/v1/referrals", headers=ana, json={
            "profile_id": person["id"], "programme_id": "pe-empleo",
            "provider_id": "mtpe-empleo"})
        assert referral.status_code == 201, referral.text
        hub = quiet_app.state.hub
        await hub.run_once()
        # the provider did not answer in time: referral.overdue → the registry's inbox
        assert await mark_overdue(db=dbs["referrals"], now=utcnow() + timedelta(days=30)) >= 1
        await hub.run_once()
        overdue = await worklist(c, ana, kind="referral_overdue")
        assert [(i["subject_id"], i["details"]["phase"], i["next_step"]["code"])
                for i in overdue] == [(referral.json()["id"], "accept", "follow_up_provider")]
        # the provider accepts: the accept deadline's item leaves the list
        provider = auth("provider", org="mtpe-empleo", subject="staff-mtpe")
        current = await c.get(f"/v1/referrals/{referral.json()['id']}", headers=provider)
        moved = await c.post(f"/v1/referrals/{referral.json()['id']}/transitions",
                             json={"action": "accept"},
                             headers={**provider, "If-Match": current.headers["etag"]})
        assert moved.status_code == 200, moved.text
        await hub.run_once()
        assert await worklist(c, ana, kind="referral_overdue") == []

        # a renewal referral in progress stops the document reminders; closing it resumes
        await watch_documents(db=dbs["registry"], config=WATCH)
        await hub.run_once()
        assert [i["kind"] for i in await worklist(c, ana)] == ["document_expiring"]
        renewal = str(uuid.uuid4())
        for kind, data in (("referral.created", {"status": "requested"}),
                           ("referral.status_changed", {"from": "requested",
                                                        "to": "cancelled"})):
            async with dbs["registry"].uow() as uow:
                await on_referral_changed(uow, EventEnvelope(
                    event_id=str(uuid.uuid4()), type=kind, occurred_at=utcnow(),
                    subject_type="referral", subject_id=renewal,
                    data={"profile_id": person["id"],
                          "programme_id": "pe-migraciones-renovacion", **data}))
                await uow.commit()
            listed = [i["kind"] for i in await worklist(c, ana)]
            assert listed == ([] if kind == "referral.created" else ["document_expiring"])


async def test_two_watchers_at_once_announce_the_document_once(
    root_dbs: dict[str, Database], database_urls: dict[str, str], auth: TokenFactory
) -> None:
    """Committed data; on PostgreSQL two engines race (two replicas), on SQLite (one writer)
    they run one after the other."""
    org = f"ong-watch-{uuid.uuid4().hex[:6]}"
    caseworker = auth("caseworker", org=org, regions=["PE-LMA"], subject=f"{org}-cw")
    app = create_embedded_app(Settings(background_tasks=False), root_dbs)
    registry = root_dbs["registry"]
    other = Database(database_urls["registry"], pool_size=2)
    try:
        async with app.router.lifespan_context(app), contract_client(app) as c:
            person = await register(c, caseworker, person_with_cpp(
                20, f"CPP{uuid.uuid4().int % 10**9:09d}"))
            doc_id = person["documents"][0]["id"]
            try:
                if registry.is_postgres:
                    outcomes = await asyncio.gather(
                        *(watch_documents(db=db, config=WATCH)
                          for db in (registry, other, registry, other)))
                else:
                    outcomes = [await watch_documents(db=db, config=WATCH)
                                for db in (registry, other)]
                async with registry.uow() as uow:
                    sent = (await uow.session.scalars(select(outbox_events.c.type).where(
                        outbox_events.c.subject_id == doc_id))).all()
                assert sent == ["document.expiring"]
                assert sum(o.expiring for o in outcomes) >= 1
                await app.state.hub.run_once()
                assert len(await worklist(c, caseworker)) == 1
            finally:
                erased = await c.delete(f"/v1/profiles/{person['id']}", headers={
                    **caseworker, "If-Match": '"v1"'})
                assert erased.status_code == 204, erased.text
                async with registry.uow() as uow:
                    for table, col in ((outbox_events, outbox_events.c.subject_id),
                                       (watch_marks_table, watch_marks_table.c.document_id),
                                       (worklist_table, worklist_table.c.subject_id)):
                        await uow.session.execute(delete(table).where(col == doc_id))
                    await uow.commit()
    finally:
        await other.dispose()
