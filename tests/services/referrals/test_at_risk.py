"""Issue 19 item 4c: open employment referrals of a person whose work authorisation lapsed
are flagged ``at_risk`` and the provider hears ``referral.at_risk`` once; a new
work-authorising document clears the flag (``at_risk=false``). The registry's document
events are fed to the referrals inbox (``POST /internal/events``) as the relay delivers
them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from services.referrals.models import WorkAuthorisation
from shared.db import Database
from shared.work_authorisation import today_in
from tests.support.referrals import Route, assertion, events


def _document_event(kind: str, profile_id: str, document_type: str, expiry: date | None,
                    **extra: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind,
            "occurred_at": "2026-12-04T12:00:00+00:00", "subject_type": "document",
            "subject_id": str(uuid.uuid4()), "subject_version": 1,
            "organisation_id": "ong-lima", "regions": ["PE-LMA"],
            "data": {"profile_id": profile_id, "document_type": document_type,
                     "expiry_date": expiry.isoformat() if expiry else None,
                     "authorises_work": True, **extra}}


async def _deliver(internal: httpx.AsyncClient, envelope: dict[str, Any]) -> None:
    resp = await internal.post("/internal/events", json=envelope, headers=assertion())
    assert resp.status_code == 200, resp.text


def _expired(profile_id: str, days_ago: int = 1, document_type: str = "pe_cpp"
             ) -> dict[str, Any]:
    day = today_in("PE") - timedelta(days=days_ago)
    return _document_event("document.expired", profile_id, document_type, day,
                           days_left=-days_ago, horizon_days=0, country="PE")


async def _get(route: Route, rid: str) -> dict[str, Any]:
    resp = await route.client.get(f"/v1/referrals/{rid}", headers=route.h())
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _at_risk_events(db: Database, rid: str) -> list[dict[str, Any]]:
    return [r["data"] for r in await events(db, subject_id=rid, type_="referral.at_risk")]


async def test_a_lapsed_cpp_flags_the_employment_referral_once_and_a_new_one_clears_it(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo", "oit-emprende-pe"))
    empleo = await route.referral(pid)
    emprende = await route.referral(pid, "pe-emprende-segura", "oit-emprende-pe")
    assert empleo["at_risk"] is False and empleo["at_risk_reason"] is None

    expired = _expired(pid)
    await _deliver(internal, expired)
    flagged = await _get(route, empleo["id"])
    assert (flagged["at_risk"], flagged["at_risk_reason"]) == (
        True, "work_authorisation_lapsed")
    assert flagged["version"] > empleo["version"]  # a new ETag: the provider re-reads
    # Emprende Segur@ needs no work authorisation: not at risk
    assert (await _get(route, emprende["id"]))["at_risk"] is False

    sent = await _at_risk_events(dbs["referrals"], empleo["id"])
    assert sent == [{
        "profile_id": pid, "programme_id": "pe-empleo", "provider_id": "mtpe-empleo",
        "provider_organisation_id": "mtpe-empleo", "referring_organisation_id": "ong-lima",
        "pathway_id": None, "organisations": ["ong-lima", "mtpe-empleo"],
        "status": "requested", "at_risk": True, "reason_code": "work_authorisation_lapsed",
        "document_type": "pe_cpp"}]
    assert await _at_risk_events(dbs["referrals"], emprende["id"]) == []

    # the same event redelivered, and another lapse of the person, emit nothing more
    await _deliver(internal, expired)
    await _deliver(internal, _expired(pid, days_ago=2, document_type="pe_ptp"))
    assert len(await _at_risk_events(dbs["referrals"], empleo["id"])) == 1

    # the provider and the caseworker can list what is at risk
    for headers in (route.h(), route.provider("mtpe-empleo")):
        listed = await route.client.get("/v1/referrals", headers=headers,
                                        params={"at_risk": "true", "profile_id": pid})
        assert listed.status_code == 200, listed.text
        assert [r["id"] for r in listed.json()["items"]] == [empleo["id"]]
    listed = await route.client.get("/v1/referrals", headers=route.h(),
                                    params={"at_risk": "false", "profile_id": pid})
    assert [r["id"] for r in listed.json()["items"]] == [emprende["id"]]

    # a document that authorises no work (a Venezuelan passport) changes nothing
    await _deliver(internal, _document_event("document.recorded", pid, "ve_passport",
                                             today_in("PE") + timedelta(days=900)))
    assert (await _get(route, empleo["id"]))["at_risk"] is True
    # an already lapsed CPP recorded late changes nothing either
    await _deliver(internal, _document_event("document.recorded", pid, "pe_cpp",
                                             today_in("PE") - timedelta(days=5)))
    assert (await _get(route, empleo["id"]))["at_risk"] is True

    # the renewed CPP is recorded: the flag clears, the provider hears it once
    renewed = _document_event("document.recorded", pid, "pe_cpp",
                              today_in("PE") + timedelta(days=365))
    await _deliver(internal, renewed)
    await _deliver(internal, renewed)
    cleared = await _get(route, empleo["id"])
    assert (cleared["at_risk"], cleared["at_risk_reason"]) == (False, None)
    sent = await _at_risk_events(dbs["referrals"], empleo["id"])
    assert [(e["at_risk"], e["reason_code"], e["document_type"]) for e in sent] == [
        (True, "work_authorisation_lapsed", "pe_cpp"),
        (False, "work_authorisation_recorded", "pe_cpp")]


async def test_a_lapse_already_covered_by_a_newer_document_flags_nothing(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    empleo = await route.referral(pid)
    # renewed early: the new CPP is recorded before the old one lapses
    await _deliver(internal, _document_event("document.recorded", pid, "pe_cpp",
                                             today_in("PE") + timedelta(days=700)))
    await _deliver(internal, _expired(pid))
    assert (await _get(route, empleo["id"]))["at_risk"] is False
    assert await _at_risk_events(dbs["referrals"], empleo["id"]) == []


async def test_an_expiry_corrected_earlier_counts_when_that_document_lapses(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    """A caseworker corrects a CPP's expiry to an earlier date (the registry re-emits
    ``document.recorded`` for the same document): the date first recorded no longer covers
    the person, so the lapse on the corrected date flags the employment referral."""
    pid = await route.person(consents_for=("mtpe-empleo",))
    empleo = await route.referral(pid)
    recorded = _document_event("document.recorded", pid, "pe_cpp",
                               today_in("PE") + timedelta(days=700))
    await _deliver(internal, recorded)
    corrected = _document_event("document.recorded", pid, "pe_cpp",
                                today_in("PE") + timedelta(days=10))
    corrected["subject_id"] = recorded["subject_id"]
    await _deliver(internal, corrected)
    expired = _expired(pid)
    expired["subject_id"] = recorded["subject_id"]
    await _deliver(internal, expired)
    flagged = await _get(route, empleo["id"])
    assert (flagged["at_risk"], flagged["at_risk_reason"]) == (
        True, "work_authorisation_lapsed")
    assert [e["at_risk"] for e in await _at_risk_events(dbs["referrals"], empleo["id"])] == [
        True]


async def test_a_lapse_in_another_country_or_of_a_closed_referral_flags_nothing(
    route: Route, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    empleo = await route.referral(pid)
    # Ecuador's VIRTE lapsing says nothing about work in Peru
    virte = _document_event("document.expired", pid, "ec_visa_virte",
                            today_in("EC") - timedelta(days=1), country="EC")
    await _deliver(internal, virte)
    assert (await _get(route, empleo["id"]))["at_risk"] is False
    # a CPP that has not lapsed on Lima's day yet (an early event) flags nothing
    await _deliver(internal, _document_event("document.expired", pid, "pe_cpp",
                                             today_in("PE"), country="PE"))
    assert (await _get(route, empleo["id"]))["at_risk"] is False
    cancelled = await route.move(empleo["id"], route.h(), "cancel", reason="Ya no lo necesita")
    assert cancelled.status_code == 200, cancelled.text
    await _deliver(internal, _expired(pid))
    assert (await _get(route, empleo["id"]))["at_risk"] is False
    assert await _at_risk_events(dbs["referrals"], empleo["id"]) == []


async def test_a_merge_carries_the_authorisation_and_a_cancellation_forgets_it(
    internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    duplicate, survivor = str(uuid.uuid4()), str(uuid.uuid4())
    await _deliver(internal, _expired(duplicate, days_ago=4))

    def profile_event(kind: str, subject: str, **data: Any) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "type": kind,
                "occurred_at": "2026-12-04T12:00:00+00:00", "subject_type": "profile",
                "subject_id": subject, "subject_version": 2, "organisation_id": "ong-lima",
                "regions": ["PE-LMA"], "data": data}

    async def known() -> dict[str, date | None]:
        async with dbs["referrals"].uow() as uow:
            rows = (await uow.session.scalars(select(WorkAuthorisation))).all()
            return {r.profile_id: r.expiry_date for r in rows}

    await _deliver(internal, profile_event("profile.merged", duplicate, merged_into=survivor))
    assert await known() == {survivor: today_in("PE") - timedelta(days=4)}
    await _deliver(internal, profile_event("profile.erased", survivor))
    assert await known() == {}
