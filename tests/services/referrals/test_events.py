"""What the referrals service does with other services' events, each handled exactly once:
a recognised degree completes the recognition step; a cancelled person's data is
pseudonymised (counts kept); a merged person's referrals follow the survivor.

The events are the real ones the credentials service and the registry wrote to their
outboxes, delivered to ``POST /internal/events`` as the relay will (system assertion)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from services.referrals.models import Referral, ReferralTransition
from shared.clock import as_utc, utcnow
from shared.db import Database
from shared.identity import Role
from shared.tables import idempotency_records
from tests.support.referrals import OUTCOMES, Route, assertion, events

SUNEDU = {"body": "SUNEDU", "resolution_number": "004512-2026-SUNEDU/DIGRAT",
          "resolution_date": "2026-02-02"}


def _envelope(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("event_id", "type", "subject_type", "subject_id", "subject_version",
            "organisation_id", "regions", "data")
    return {**{k: row[k] for k in keys}, "occurred_at": as_utc(row["occurred_at"]).isoformat()}


async def _deliver(internal: httpx.AsyncClient, row: dict[str, Any]) -> dict[str, Any]:
    resp = await internal.post("/internal/events", json=_envelope(row), headers=assertion())
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_a_recognised_degree_completes_the_recognition_step_once(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("sunedu", "aspefam-enam"))
    cid, etag = await route.credential(pid)
    other_cid, _ = await route.credential(pid, title="Magíster en Salud Pública",
                                          field_isced="0988")
    created = await route.client.post("/v1/pathways", headers=route.h(), json={
        "profile_id": pid, "template": "pe-medical-licensing"})
    assert created.status_code == 201, created.text
    pathway = created.json()
    assert pathway["credential_id"] == cid  # the medical degree, not the master's
    rid = pathway["steps"][0]["referral_id"]

    # the other degree's recognition is not this step's
    etag_other = await route.move_credential(other_cid, (await route.client.get(
        f"/v1/credentials/{other_cid}", headers=route.h())).headers["etag"], "see_document")
    moved = await route.client.post(f"/v1/credentials/{other_cid}/transitions", headers=route.h(
        **{"If-Match": etag_other}), json={"action": "recognise", "reason": "Resolución",
                                           "recognition": SUNEDU})
    assert moved.status_code == 200, moved.text
    # apostilled (not recognised) changes nothing either
    etag = await route.move_credential(cid, etag, "see_document", "apostille")
    for row in await events(dbs["credentials"], type_="credential.status_changed"):
        assert await _deliver(internal, row) == {"handled": True}
    still = (await route.client.get(f"/v1/referrals/{rid}", headers=route.h())).json()
    assert still["status"] == "requested"

    recognised = await route.client.post(f"/v1/credentials/{cid}/transitions", headers=route.h(
        **{"If-Match": etag}), json={"action": "recognise", "reason": "Resolución SUNEDU",
                                     "recognition": SUNEDU})
    assert recognised.status_code == 200, recognised.text
    row = [r for r in await events(dbs["credentials"], subject_id=cid,
                                   type_="credential.status_changed")][-1]
    assert row["data"]["to"] == "recognised"
    assert await _deliver(internal, row) == {"handled": True}

    done = (await route.client.get(f"/v1/referrals/{rid}", headers=route.h())).json()
    assert done["status"] == "completed"
    assert done["outcome"] == {"type": "recognition", "resolution_number": None,
                               "resolution_date": None, "credential_id": cid}
    history = (await route.client.get(f"/v1/referrals/{rid}/history",
                                      headers=route.h())).json()["items"]
    assert [(h["action"], h["actor_role"]) for h in history] == [
        ("create", "caseworker"), ("accept", "system"), ("start", "system"),
        ("complete", "system")]
    state = (await route.client.get(f"/v1/pathways/{pathway['id']}", headers=route.h())).json()
    assert state["current_step"] == 1 and state["status"] == "active"
    assert state["steps"][1]["status"] == "open"

    # redelivered: a no-op
    before = len(await events(dbs["referrals"]))
    assert await _deliver(internal, row) == {"handled": False}
    assert len(await events(dbs["referrals"])) == before
    async with dbs["referrals"].uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Referral).where(
            Referral.profile_id == pid)) == 2


async def test_profile_erased_pseudonymises_closes_and_keeps_counts(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo", "oit-emprende-pe", "sunedu"))
    keyed = route.h(**{"Idempotency-Key": "erase-me-1"})
    done = await route.refer(pid, "pe-empleo", "mtpe-empleo", headers=keyed,
                             notes="Vive con su hermana en SJL")
    assert done.status_code == 201
    await route.walk(done.json()["id"], route.provider("mtpe-empleo"),
                     ("accept", {"reason": "Entrevista con la Sra. Pérez"}), ("start", {}),
                     ("complete", {"outcome": OUTCOMES["employment"]}))
    open_one = await route.referral(pid, "pe-emprende-segura", "oit-emprende-pe",
                                    notes="Vende arepas")
    pathway = (await route.client.post("/v1/pathways", headers=route.h(), json={
        "profile_id": pid, "template": "pe-recognition-employment"})).json()

    etag = (await route.client.get(f"/v1/profiles/{pid}", headers=route.h())).headers["etag"]
    erased = await route.client.delete(f"/v1/profiles/{pid}",
                                       headers=route.h(**{"If-Match": etag}))
    assert erased.status_code == 204
    row = (await events(dbs["registry"], subject_id=pid, type_="profile.erased"))[0]
    assert await _deliver(internal, row) == {"handled": True}

    async with dbs["referrals"].uow() as uow:
        rows = {r.id: r for r in (await uow.session.scalars(
            select(Referral).where(Referral.profile_id == pid))).all()}
        reasons = (await uow.session.scalars(
            select(ReferralTransition.reason)
            .where(ReferralTransition.referral_id.in_(list(rows))))).all()
        stored = await uow.session.scalar(
            select(func.count()).select_from(idempotency_records)
            .where(idempotency_records.c.key == "erase-me-1"))
    assert len(rows) == 3  # counts stay
    completed = rows[done.json()["id"]]
    assert completed.status == "completed" and completed.notes is None
    assert completed.outcome is not None
    assert completed.outcome["employer"] is None and completed.outcome["job_title"] is None
    assert completed.outcome["monthly_wage"] is None
    assert (completed.outcome["formal_contract"], completed.outcome["currency"]) == (True,
                                                                                      "PEN")
    assert rows[open_one["id"]].status == "cancelled" and rows[open_one["id"]].notes is None
    assert all(r.erased_at is not None for r in rows.values())
    assert set(reasons) == {None}
    assert stored == 0
    state = (await route.client.get(f"/v1/pathways/{pathway['id']}", headers=route.h())).json()
    assert state["status"] == "cancelled"
    kinds = [e["data"].get("to") for e in await events(dbs["referrals"],
                                                        type_="referral.status_changed")]
    assert kinds.count("cancelled") == 2
    # redelivered: a no-op
    assert await _deliver(internal, row) == {"handled": False}


async def test_profile_merged_moves_referrals_to_the_survivor(
    route: Route, internal: httpx.AsyncClient
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, "pe-empleo", "mtpe-empleo")
    survivor = str(uuid.uuid4())
    event = {"event_id": str(uuid.uuid4()), "type": "profile.merged",
             "occurred_at": utcnow().isoformat(), "subject_type": "profile",
             "subject_id": pid, "data": {"merged_into": survivor}}
    resp = await internal.post("/internal/events", json=event, headers=assertion())
    assert resp.json() == {"handled": True}
    moved = (await route.client.get(f"/v1/referrals/{r['id']}", headers=route.h())).json()
    assert moved["profile_id"] == survivor


async def test_a_person_who_moves_region_takes_referrals_and_pathways_along(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo", "sunedu"))
    r = await route.referral(pid, "pe-empleo", "mtpe-empleo")
    made = await route.client.post("/v1/pathways", headers=route.h(), json={
        "profile_id": pid, "template": "pe-recognition-employment"})
    assert made.status_code == 201, made.text
    etag = (await route.client.get(f"/v1/profiles/{pid}", headers=route.h())).headers["etag"]
    moved = await route.client.patch(f"/v1/profiles/{pid}", json={
        "region": "PE-CAL", "district": "070101"}, headers=route.h(**{"If-Match": etag}))
    assert moved.status_code == 200, moved.text
    row = (await events(dbs["registry"], subject_id=pid, type_="profile.updated"))[-1]
    assert await _deliver(internal, row) == {"handled": True}

    lima, callao = route.h(regions=["PE-LMA"]), route.h(regions=["PE-CAL"])
    for path in (f"/v1/referrals/{r['id']}", f"/v1/pathways/{made.json()['id']}"):
        assert (await route.client.get(path, headers=lima)).status_code == 404
        now = await route.client.get(path, headers=callao)
        assert now.status_code == 200 and now.json()["region"] == "PE-CAL", now.text
    listed = await route.client.get("/v1/referrals", params={"profile_id": pid},
                                    headers=callao)
    items = listed.json()["items"]  # the referral and the pathway's first step
    assert r["id"] in [i["id"] for i in items] and {i["region"] for i in items} == {"PE-CAL"}


async def test_a_merge_keeps_one_open_referral_per_programme_and_pathway_per_template(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    orgs = ("mtpe-empleo", "oit-emprende-pe", "sunedu")
    survivor, duplicate = [await route.person(consents_for=orgs) for _ in range(2)]
    kept = await route.referral(survivor, "pe-empleo", "mtpe-empleo")
    twin = await route.referral(duplicate, "pe-empleo", "mtpe-empleo")
    other = await route.referral(duplicate, "pe-emprende-segura", "oit-emprende-pe")
    pathways = []
    for pid in (survivor, duplicate):
        made = await route.client.post("/v1/pathways", headers=route.h(), json={
            "profile_id": pid, "template": "pe-recognition-employment"})
        assert made.status_code == 201, made.text
        pathways.append(made.json())

    etag = (await route.client.get(f"/v1/profiles/{survivor}", headers=route.h())
            ).headers["etag"]
    merged = await route.client.post(f"/v1/profiles/{survivor}/merge",
                                     json={"duplicate_id": duplicate},
                                     headers=route.h(**{"If-Match": etag}))
    assert merged.status_code == 200, merged.text
    row = (await events(dbs["registry"], subject_id=duplicate, type_="profile.merged"))[0]
    assert await _deliver(internal, row) == {"handled": True}

    async def state(rid: str) -> dict[str, Any]:
        got = await route.client.get(f"/v1/referrals/{rid}", headers=route.h())
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    # the survivor's own referral stays; the duplicate's twin is cancelled, saying why
    assert (await state(kept["id"]))["status"] == "requested"
    cancelled = await state(twin["id"])
    assert (cancelled["status"], cancelled["profile_id"]) == ("cancelled", survivor)
    history = await route.client.get(f"/v1/referrals/{twin['id']}/history",
                                     headers=route.h())
    assert "profile merged" in (history.json()["items"][-1]["reason"] or "")
    # a programme only the duplicate had stays open, now counted against the survivor
    moved = await state(other["id"])
    assert (moved["status"], moved["profile_id"]) == ("requested", survivor)
    again = await route.refer(survivor, "pe-emprende-segura", "oit-emprende-pe")
    assert again.status_code == 409, again.text
    # one live pathway of a template: the duplicate's is cancelled with its open step
    first, second = [(await route.client.get(f"/v1/pathways/{p['id']}", headers=route.h())
                      ).json() for p in pathways]
    assert first["status"] != "cancelled" and second["status"] == "cancelled"
    step = second["steps"][0]["referral_id"]
    assert step is not None and (await state(step))["status"] == "cancelled"
    assert (await route.client.post("/v1/pathways", headers=route.h(), json={
        "profile_id": survivor, "template": "pe-recognition-employment"})).status_code == 409
    # redelivered: a no-op
    assert await _deliver(internal, row) == {"handled": False}


async def test_events_need_a_system_assertion(internal: httpx.AsyncClient) -> None:
    event = {"event_id": str(uuid.uuid4()), "type": "profile.erased",
             "occurred_at": utcnow().isoformat(), "subject_type": "profile",
             "subject_id": str(uuid.uuid4())}
    assert (await internal.post("/internal/events", json=event)).status_code == 401
    caseworker = assertion(Role.CASEWORKER, org="ong-lima", subject="cw")
    assert (await internal.post("/internal/events", json=event, headers=caseworker)
            ).status_code == 403
    types = await internal.get("/internal/events/types", headers=assertion())
    assert types.json() == {"types": [  # profile.* and consent.*: the reports' projection;
        # credential.*: job matching's candidates projection too; document.*: regularisation
        "consent.granted", "consent.withdrawn", "credential.created", "credential.revoked",
        "credential.status_changed", "document.expired", "document.expiring",
        "document.recorded", "profile.created", "profile.erased", "profile.merged",
        "profile.updated"]}
    ignored = {**event, "type": "referral.created"}
    assert (await internal.post("/internal/events", json=ignored, headers=assertion())
            ).json() == {"handled": False}
