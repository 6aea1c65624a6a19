"""Issue 20 acceptance (the matching part), end to end through the gateway with the real
registry, credentials and referrals services: a Venezuelan nurse with a recognised degree but
no licence sees a hospital vacancy with "licence missing" and the nursing licensing pathway as
the next step; once licensed she ranks first among that vacancy's candidates; without her
``job_matching`` consent she is not listed and the vacancy's organisation gets 404 on her.

Then she applies (a referral with ``vacancy_id``), is hired (the employment service completes
it with an employment outcome), the vacancy is filled and the indicators count her placement
under ISCO-08 major group 2 and through a vacancy."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from services.referrals.models import ReportPerson
from shared.db import Database
from tests.support.credentials import SUNEDU
from tests.support.payloads import profile_payload
from tests.support.reports import report_client
from tests.support.tokens import TokenFactory
from tests.support.vacancies import EmploymentService

PES = "mtpe-empleo"  # the public employment service that posts the vacancy
CPP = {"type": "pe_cpp", "number": "CPP0012345", "expiry_date": "2030-12-31",
       "verification": "seen", "authorises_work": True}
REGISTRATION = {"purpose": "registration", "evidence": "written",
                "evidence_reference": "FORM-2026-0200"}
MATCHING = {"purpose": "job_matching", "recipient_organisation_id": PES, "evidence": "written",
            "evidence_reference": "FORM-2026-0201"}
REFERRAL = {"purpose": "referral", "recipient_organisation_id": PES, "evidence": "written",
            "evidence_reference": "FORM-2026-0202"}
HIRED = {"type": "employment", "employer": "Hospital Nacional", "job_title": "Enfermera",
         "formal_contract": True, "monthly_wage": 3800, "currency": "PEN"}
NURSING = {"work_authorisation": True, "degree": {"field_isced": "0913"},
           "professional_licence": {"field_isced": "0913"}, "certified_skills": [],
           "min_experience_years": 2, "languages": [{"code": "es", "level": "C1"}]}


async def drain(app: FastAPI) -> None:
    """Relay every outbox into the feed and dispatch to the consuming services."""
    while await app.state.hub.run_once():
        pass


async def _person(client: httpx.AsyncClient, headers: dict[str, str], *, given: str,
                  surname: str, region: str = "PE-LMA", consent: bool = True,
                  years: int = 6) -> str:
    body = profile_payload(
        given_names=given, first_surname=surname, region=region, education_level=6,
        education_field="0913", occupation_training="2221", experience=[
            {"isco": "2221", "years": years}], languages=["es"], documents=[CPP],
        consents=[REGISTRATION, *([MATCHING] if consent else [])])
    body["documents"] = [{**CPP, "number": f"CPP{uuid.uuid4().int % 10**9:09d}"}]
    created = await client.post("/v1/profiles", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _credential(client: httpx.AsyncClient, headers: dict[str, str], pid: str,
                      actions: list[dict[str, Any]], **body: Any) -> str:
    created = await client.post("/v1/credentials", headers=headers, json={
        "profile_id": pid, **body})
    assert created.status_code == 201, created.text
    cid, etag = created.json()["id"], created.headers["etag"]
    for action in actions:
        moved = await client.post(f"/v1/credentials/{cid}/transitions", json=action,
                                  headers={**headers, "If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    return str(cid)


def _nursing_degree(client: httpx.AsyncClient, headers: dict[str, str], pid: str
                    ) -> Any:
    return _credential(client, headers, pid, [
        {"action": "see_document"},
        {"action": "recognise", "reason": "Resolución presentada", "recognition": SUNEDU}],
        kind="academic_degree", title="Licenciada en Enfermería", field_isced="0913",
        occupation_isco="2221", issuer={"name": "Universidad Central de Venezuela",
                                        "country": "VE"}, issued_on="2014-07-15")


def _licence(client: httpx.AsyncClient, headers: dict[str, str], pid: str) -> Any:
    return _credential(client, headers, pid, [{"action": "verify_with_issuer"}],
                       kind="professional_licence", title="Colegiatura CEP",
                       field_isced="0913", occupation_isco="2221",
                       issuer={"name": "Colegio de Enfermeros del Perú", "country": "PE"},
                       issued_on="2026-11-30")


def _requirement(item: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in item["requirements"] if r["requirement"] == kind)


async def test_a_nurse_sees_the_licence_gap_then_ranks_first_once_licensed(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    # the gateway with every service, small cells shown (one placement is counted)
    async with report_client(dbs, tmp_path, min_cell=0) as (app, client):
        await _journey(app, client, auth, dbs)


async def _journey(app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory,
                   dbs: dict[str, Database]) -> None:
    caseworker = auth("caseworker", org="ong-lima", regions=["PE-LMA", "PE-CAL"],
                      subject="cw-rosa")
    pes = auth("provider", org=PES, regions=["PE-LMA", "PE-CAL"], subject="pes-staff")
    other_pes = auth("provider", org="mtpe-empleo-regiones", regions=["PE-LMA"],
                     subject="pes-other")

    service = EmploymentService(client, auth)
    hospital = (await service.posted(occupation_isco="2221", requirements=NURSING,
                                     openings=1))["id"]
    await service.posted(occupation_isco="5230", title="Cajera/o", requirements={})

    # a Venezuelan nurse, degree recognised by SUNEDU, no licence yet; consents to matching
    nurse = await _person(client, caseworker, given="Yusmary", surname="Rondón")
    await _nursing_degree(client, caseworker, nurse)
    # two other nurses consenting (one licensed in Callao, one unlicensed with less
    # experience) and one who did not consent
    callao = await _person(client, caseworker, given="Ana", surname="Lugo", region="PE-CAL")
    await _nursing_degree(client, caseworker, callao)
    await _licence(client, caseworker, callao)
    junior = await _person(client, caseworker, given="Luisa", surname="Mora", years=1)
    await _nursing_degree(client, caseworker, junior)
    silent = await _person(client, caseworker, given="Carmen", surname="Páez", consent=False)
    await _nursing_degree(client, caseworker, silent)
    await _licence(client, caseworker, silent)

    # 1. her matches: the hospital vacancy first, licence missing → nursing licensing pathway
    matches = await client.get(f"/v1/profiles/{nurse}/vacancy-matches", headers=caseworker)
    assert matches.status_code == 200, matches.text
    items = matches.json()["items"]
    assert [i["vacancy"]["id"] for i in items] == [hospital]  # the cashier job is not in reach
    first = items[0]
    assert first["occupation_fit"] == "unit_group" and first["same_region"] is True
    licence = _requirement(first, "licence")
    assert licence["outcome"] == "missing" and licence["code"] == "licence_missing"
    assert licence["message"] == "Falta la colegiatura (licencia profesional)"
    assert licence["next_step"] == {"programme": None, "pathway": "pe-nursing-licensing"}
    assert {r["requirement"]: r["outcome"] for r in first["requirements"]} == {
        "work_authorisation": "met", "degree": "met", "licence": "missing",
        "experience": "met", "languages": "met"}
    english = await client.get(f"/v1/profiles/{nurse}/vacancy-matches",
                               headers={**caseworker, "Accept-Language": "en"})
    assert _requirement(english.json()["items"][0], "licence")["message"] == \
        "Licence missing (colegiatura)"
    # someone who may not see her gets 404
    stranger = auth("caseworker", org="ong-otra", regions=["PE-LMA"])
    assert (await client.get(f"/v1/profiles/{nurse}/vacancy-matches",
                             headers=stranger)).status_code == 404

    # 2. the employment service's candidates: consenting people only, minimised
    await drain(app)
    ranked = await client.get(f"/v1/vacancies/{hospital}/candidates", headers=pes)
    assert ranked.status_code == 200, ranked.text
    order = [c["profile_id"] for c in ranked.json()["items"]]
    assert order == [callao, nurse, junior]
    assert silent not in order
    top = ranked.json()["items"][0]
    assert set(top) == {"order", "profile_id", "initials", "region", "occupation_fit",
                        "same_region", "score", "experience_years", "requirements"}
    assert top["initials"] == "A. L." and "Lugo" not in ranked.text
    assert (await client.get(f"/v1/vacancies/{hospital}/candidates/{silent}",
                             headers=pes)).status_code == 404
    # another organisation does not see this vacancy's candidates at all
    assert (await client.get(f"/v1/vacancies/{hospital}/candidates",
                             headers=other_pes)).status_code == 404
    assert (await client.get(f"/v1/vacancies/{hospital}/candidates/{nurse}",
                             headers=other_pes)).status_code == 404
    # job matching does not open her profile to the employment service
    assert (await client.get(f"/v1/profiles/{nurse}", headers=pes)).status_code == 404

    # 3. licensed, she ranks first (same region as the vacancy, more experience)
    await _licence(client, caseworker, nurse)
    await drain(app)
    ranked = (await client.get(f"/v1/vacancies/{hospital}/candidates", headers=pes)).json()
    assert [c["profile_id"] for c in ranked["items"]] == [nurse, callao, junior]
    assert ranked["items"][0]["score"] == 100
    mine = await client.get(f"/v1/vacancies/{hospital}/candidates/{nurse}", headers=pes)
    assert mine.status_code == 200 and mine.json()["order"] == 1

    # 4. she withdraws her consent: not listed, and 404 on her
    consents = (await client.get(f"/v1/profiles/{nurse}/consents", headers=caseworker)).json()
    matching = next(c for c in consents["items"] if c["purpose"] == "job_matching")
    withdrawn = await client.post(
        f"/v1/profiles/{nurse}/consents/{matching['id']}/withdraw", json={},
        headers={**caseworker, "If-Match": f'"v{matching["version"]}"'})
    assert withdrawn.status_code == 200, withdrawn.text
    await drain(app)
    ranked = (await client.get(f"/v1/vacancies/{hospital}/candidates", headers=pes)).json()
    assert nurse not in [c["profile_id"] for c in ranked["items"]]
    assert (await client.get(f"/v1/vacancies/{hospital}/candidates/{nurse}",
                             headers=pes)).status_code == 404

    # 5. she consents to the referral, applies, is hired: the vacancy is filled
    consented = await client.post(f"/v1/profiles/{nurse}/consents", json=REFERRAL,
                                  headers=caseworker)
    assert consented.status_code == 201, consented.text
    applied = await client.post("/v1/referrals", headers=caseworker,
                                json={"profile_id": nurse, "vacancy_id": hospital})
    assert applied.status_code == 201, applied.text
    rid, etag = applied.json()["id"], applied.headers["etag"]
    for action, body in (("accept", {}), ("start", {}), ("complete", {"outcome": HIRED})):
        moved = await client.post(f"/v1/referrals/{rid}/transitions",
                                  json={"action": action, **body},
                                  headers={**pes, "If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]
    filled = (await client.get(f"/v1/vacancies/{hospital}", headers=pes)).json()
    assert (filled["status"], filled["openings_remaining"]) == ("filled", 0)
    # a filled vacancy is no longer among her matches
    matches = await client.get(f"/v1/profiles/{nurse}/vacancy-matches", headers=caseworker)
    assert hospital not in [i["vacancy"]["id"] for i in matches.json()["items"]]

    # 6. the indicators count her placement: nursing is ISCO-08 major group 2
    await drain(app)
    async with dbs["referrals"].uow() as uow:  # only this test's people in the projection
        await uow.session.execute(delete(ReportPerson).where(
            ReportPerson.profile_id.not_in([nurse, callao, junior, silent])))
        await uow.commit()
    report = await client.get("/v1/reports/indicators", headers=auth("admin", org=None))
    assert report.status_code == 200, report.text
    totals = {i["name"]: i["total"] for i in report.json()["indicators"]}
    assert totals["jobs"] == 1 and totals["jobs.through_vacancy"] == 1
    assert totals["jobs.isco_major.2"] == 1
