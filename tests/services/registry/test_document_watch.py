"""The document-expiry watch's rules (issue 19, item 2): which horizon a document is in,
once per document and horizon, the lapse once, the country's day boundary (Lima), horizons
from a setting, and ``document.recorded`` when a document is added to a profile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from services.registry.watch import EXPIRED, WatchConfig, watch_documents, windows
from services.registry.worklist import Kind, add_worklist_item
from shared.clock import utcnow
from shared.db import Database
from shared.settings import Settings
from shared.tables import outbox_events
from shared.work_authorisation import COUNTRY_ZONES, today_in
from tests.support.registry import create
from tests.support.tokens import TokenFactory

DEFAULT = WatchConfig(horizons=(60, 30, 7))


def cpp(expiry: date, number: str = "CPP0011223") -> dict[str, Any]:
    return {"type": "pe_cpp", "number": number, "expiry_date": expiry.isoformat(),
            "verification": "seen", "authorises_work": True}


async def announced(db: Database, subject_id: str) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(outbox_events.c.type, outbox_events.c.data, outbox_events.c.regions,
                   outbox_events.c.organisation_id)
            .where(outbox_events.c.subject_id == subject_id,
                   outbox_events.c.type.in_(["document.expiring", "document.expired"]))
            .order_by(outbox_events.c.position))).all()
    return [{"type": r.type, **r.data, "regions": r.regions, "org": r.organisation_id}
            for r in rows]


def test_each_document_is_in_the_window_of_the_smallest_horizon_reached() -> None:
    today = date(2027, 1, 10)
    got = {h: (first, last) for h, first, last in windows(today, DEFAULT)}
    assert got[7] == (today, today + timedelta(days=7))
    assert got[30] == (today + timedelta(days=8), today + timedelta(days=30))
    assert got[60] == (today + timedelta(days=31), today + timedelta(days=60))
    assert got[EXPIRED] == (today - timedelta(days=30), today - timedelta(days=1))


def test_horizons_come_from_the_setting_else_from_the_rules_file() -> None:
    assert WatchConfig.from_settings(Settings()).horizons == (60, 30, 7)
    assert WatchConfig.from_settings(
        Settings(document_watch_horizons_days=[10, 45])).horizons == (45, 10)


async def test_once_per_horizon_then_the_next_horizon_then_the_lapse_once(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    db = dbs["registry"]
    now = utcnow()
    expiry = today_in("PE", now) + timedelta(days=20)
    p = await create(client, auth(), documents=[cpp(expiry)])
    doc_id = p["documents"][0]["id"]

    first = await watch_documents(db=db, config=DEFAULT, now=now)
    again = await watch_documents(db=db, config=DEFAULT, now=now + timedelta(hours=1))
    assert (first.expiring, again.expiring) == (1, 0)
    [event] = await announced(db, doc_id)
    assert event == {"type": "document.expiring", "profile_id": p["id"],
                     "document_type": "pe_cpp", "expiry_date": expiry.isoformat(),
                     "authorises_work": True, "days_left": 20, "horizon_days": 30,
                     "country": "PE", "regions": ["PE-LMA"], "org": "ong-lima"}

    # 6 days left: the 7-day horizon, once
    later = now + timedelta(days=14)
    assert (await watch_documents(db=db, config=DEFAULT, now=later)).expiring == 1
    assert (await watch_documents(db=db, config=DEFAULT, now=later)).expiring == 0
    # lapsed: document.expired, once
    lapsed = now + timedelta(days=21)
    assert (await watch_documents(db=db, config=DEFAULT, now=lapsed)).expired == 1
    assert (await watch_documents(db=db, config=DEFAULT, now=lapsed)).expired == 0
    events = await announced(db, doc_id)
    assert [(e["type"], e["horizon_days"], e["days_left"]) for e in events] == [
        ("document.expiring", 30, 20), ("document.expiring", 7, 6),
        ("document.expired", None, -1)]


async def test_the_day_turns_at_midnight_in_lima_not_in_utc(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    """A CPP valid until 10 January is valid all that day in Lima (UTC-5): at 03:00 UTC on
    the 11th it is still the 10th there; at 05:30 UTC the 11th has begun and it lapsed."""
    db = dbs["registry"]
    p = await create(client, auth(), documents=[cpp(date(2027, 1, 10))])
    doc_id = p["documents"][0]["id"]
    late_evening = datetime(2027, 1, 11, 3, 0, tzinfo=UTC)
    after_midnight = datetime(2027, 1, 11, 5, 30, tzinfo=UTC)

    assert (await watch_documents(db=db, config=DEFAULT, now=late_evening)).expired == 0
    [last_day] = await announced(db, doc_id)
    assert (last_day["type"], last_day["days_left"], last_day["horizon_days"]) == (
        "document.expiring", 0, 7)
    assert (await watch_documents(db=db, config=DEFAULT, now=after_midnight)).expired == 1
    assert (await announced(db, doc_id))[-1]["type"] == "document.expired"


async def test_configured_horizons_and_only_documents_that_authorise_work_there(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    db = dbs["registry"]
    now = utcnow()
    soon = today_in("PE", now) + timedelta(days=40)
    peru = await create(client, auth(), documents=[
        cpp(soon), {"type": "ve_passport", "number": "998877665",
                    "expiry_date": soon.isoformat()}])
    # a Peruvian CPP does not authorise work in Ecuador: not watched there
    quito = auth(regions=["EC-P"])
    ecuador = await create(client, quito, region="EC-P", first_surname="Mora",
                           documents=[cpp(soon, "CPP0099001")])

    out = await watch_documents(db=db, config=WatchConfig(horizons=(45, 10)), now=now)
    assert out.by_horizon == {EXPIRED: 0, 10: 0, 45: 1}
    by_type = {d["type"]: d["id"] for d in peru["documents"]}
    assert [e["horizon_days"] for e in await announced(db, by_type["pe_cpp"])] == [45]
    assert await announced(db, by_type["ve_passport"]) == []
    assert await announced(db, ecuador["documents"][0]["id"]) == []


async def test_a_document_added_to_a_profile_is_recorded_with_the_rules_verdict(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth(), documents=[cpp(date(2027, 1, 10))])
    renewed = cpp(date(2029, 1, 10), "CPP0055667")
    renewed["authorises_work"] = False  # the caseworker's flag is evidence, not the rule
    resp = await client.patch(f"/v1/profiles/{p['id']}", headers=auth(**{
        "If-Match": p["_etag"]}), json={"documents": [cpp(date(2027, 1, 10)), renewed]})
    assert resp.status_code == 200, resp.text
    new_id = next(d["id"] for d in resp.json()["documents"] if d["number"] == "CPP0055667")
    async with dbs["registry"].uow() as uow:
        rows = (await uow.session.execute(
            select(outbox_events.c.subject_id, outbox_events.c.subject_type,
                   outbox_events.c.data)
            .where(outbox_events.c.type == "document.recorded"))).all()
    assert [(r.subject_id, r.subject_type, r.data) for r in rows] == [
        (new_id, "document", {"profile_id": p["id"], "document_type": "pe_cpp",
                              "expiry_date": "2029-01-10", "authorises_work": True})]


async def test_consents_expiring_and_transfers_received_reach_the_worklist(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    """``consent_expiring`` from a granted consent's ``valid_until`` (within 30 days, once);
    ``transfer_received`` through the repository function the portability issue calls."""
    p = await create(client, auth())
    soon = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    granted = await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(), json={
        "purpose": "referral", "status": "granted", "recipient_organisation_id": "mtpe-empleo",
        "evidence": "written", "valid_until": soon.isoformat().replace("+00:00", "Z")})
    assert granted.status_code == 201, granted.text
    db = dbs["registry"]
    assert (await watch_documents(db=db, config=DEFAULT)).consents == 1
    assert (await watch_documents(db=db, config=DEFAULT)).consents == 0
    async with db.uow() as uow:
        await add_worklist_item(
            uow.session, kind=Kind.TRANSFER_RECEIVED, profile_id=p["id"],
            subject_type="transfer", subject_id="tr-1", dedupe_key="transfer:tr-1",
            country="PE", due_date=today_in("PE"), details={"from_organisation_id": "ong-x"},
            now=utcnow())
        await uow.commit()
    listed = (await client.get("/v1/worklist", headers=auth())).json()["items"]
    assert [(i["kind"], i["subject_id"], i["next_step"]["code"], i["days_left"])
            for i in listed] == [
        ("transfer_received", "tr-1", "review_transfer", 0),
        ("consent_expiring", granted.json()["id"], "renew_consent",
         (soon.astimezone(COUNTRY_ZONES["PE"]).date() - today_in("PE")).days)]
