"""Applying is a referral to the vacancy (issue 20 item 4): the vacancy's employment service
receives it; completing it with an employment outcome fills an opening and the vacancy
becomes filled when none remain; a vacancy closes by itself after its last day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from services.referrals.models import ReportPerson
from services.referrals.vacancies.usecases import close_expired
from shared.clock import utcnow
from shared.db import Database
from tests.support.referrals import Route, events
from tests.support.reports import drain, report_client
from tests.support.tokens import TokenFactory
from tests.support.vacancies import EmploymentService

LIMA = "mtpe-empleo"


@pytest.fixture
def pes(client: httpx.AsyncClient, auth: TokenFactory) -> EmploymentService:
    return EmploymentService(client, auth)


async def _apply(route: Route, pid: str, vacancy_id: str, **extra: Any) -> httpx.Response:
    return await route.client.post("/v1/referrals", headers=route.h(),
                                   json={"profile_id": pid, "vacancy_id": vacancy_id, **extra})


async def test_apply_then_hired_fills_the_vacancy(
    route: Route, pes: EmploymentService, client: httpx.AsyncClient,
    dbs: dict[str, Database],
) -> None:
    v = await pes.posted(openings=1)
    first = await route.person(consents_for=(LIMA,))
    applied = await _apply(route, first, v["id"])
    assert applied.status_code == 201, applied.text
    body = applied.json()
    assert (body["vacancy_id"], body["programme_id"], body["provider_id"]) == (
        v["id"], "pe-empleo", "mtpe-empleo")
    # an application sits beside a general referral to the employment programme
    assert (await route.refer(first)).status_code == 201
    # but one open application per person and vacancy
    assert (await _apply(route, first, v["id"])).status_code == 409

    second = await route.person(consents_for=(LIMA,))
    other = await _apply(route, second, v["id"])
    assert other.status_code == 201, other.text

    done = await route.complete(body["id"], LIMA, "employment")
    assert done["status"] == "completed"
    read = await client.get(f"/v1/vacancies/{v['id']}", headers=pes.h())
    assert (read.json()["status"], read.json()["openings_remaining"]) == ("filled", 0)
    assert read.json()["filled_at"]
    [filled] = await events(dbs["referrals"], subject_id=v["id"], type_="vacancy.filled")
    assert filled["data"]["openings_remaining"] == 0

    # a filled vacancy takes no new applications; completing the other one changes nothing
    late = await _apply(route, await route.person(consents_for=(LIMA,)), v["id"])
    assert late.status_code == 409 and late.json()["type"] == "/problems/vacancy-not-open"
    await route.complete(other.json()["id"], LIMA, "employment")
    again = await client.get(f"/v1/vacancies/{v['id']}", headers=pes.h())
    assert again.json()["openings_remaining"] == 0


async def test_a_failed_application_or_a_referral_without_vacancy_fills_nothing(
    route: Route, pes: EmploymentService, client: httpx.AsyncClient,
) -> None:
    v = await pes.posted(openings=2)
    pid = await route.person(consents_for=(LIMA,))
    plain = await route.referral(pid)
    await route.complete(plain["id"], LIMA, "employment")
    applied = (await _apply(route, pid, v["id"])).json()
    failed = await route.move(applied["id"], route.provider(LIMA), "reject",
                              reason="El empleador eligió a otra persona",
                              reason_code="other")
    assert failed.status_code == 200, failed.text
    read = await client.get(f"/v1/vacancies/{v['id']}", headers=pes.h())
    assert (read.json()["status"], read.json()["openings_remaining"]) == ("open", 2)


@pytest.mark.invalid_request
async def test_an_application_needs_a_vacancy_the_caseworker_sees_and_its_consent(
    route: Route, pes: EmploymentService, auth: TokenFactory,
) -> None:
    v = await pes.posted()
    without_consent = await route.person()
    refused = await _apply(route, without_consent, v["id"])
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/consent-required"
    pid = await route.person(consents_for=(LIMA,))
    unknown = await _apply(route, pid, "00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "vacancy_id"
    wrong = await _apply(route, pid, v["id"], programme_id="pe-certificacion-competencias")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "programme_id"
    neither = await route.client.post("/v1/referrals", headers=route.h(),
                                      json={"profile_id": pid})
    assert neither.status_code == 422


async def test_vacancies_close_by_themselves_after_valid_until(
    pes: EmploymentService, client: httpx.AsyncClient, dbs: dict[str, Database],
) -> None:
    today = date.today()
    ending = await pes.posted(valid_until=today.isoformat())
    lasting = await pes.posted(valid_until=(today + timedelta(days=30)).isoformat())
    assert await close_expired(db=dbs["referrals"]) == 0  # its last day is not over
    two_days_on = datetime.combine(today + timedelta(days=2), time(12), tzinfo=utcnow().tzinfo)
    assert await close_expired(db=dbs["referrals"], now=two_days_on) == 1
    assert await close_expired(db=dbs["referrals"], now=two_days_on) == 0  # once
    closed = (await client.get(f"/v1/vacancies/{ending['id']}", headers=pes.h())).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    still = (await client.get(f"/v1/vacancies/{lasting['id']}", headers=pes.h())).json()
    assert still["status"] == "open"
    [event] = await events(dbs["referrals"], subject_id=ending["id"], type_="vacancy.closed")
    assert event["data"]["reason"] == "expired"


def test_the_close_vacancies_command_is_registered() -> None:
    from ruta.cli import app

    result = CliRunner().invoke(app, ["close-vacancies", "--help"])
    assert result.exit_code == 0 and "valid_until" in result.output


async def test_the_indicators_count_a_placement_by_its_isco_major_group(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path,
) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pes = EmploymentService(c, auth)
        route = Route(c, auth)
        v = await pes.posted(openings=1, occupation_isco="2221")
        pid = await route.person(consents_for=(LIMA,))
        applied = (await _apply(route, pid, v["id"])).json()
        await route.complete(applied["id"], LIMA, "employment")  # outcome names no ISCO
        await drain(app)
        async with dbs["referrals"].uow() as uow:
            await uow.session.execute(delete(ReportPerson).where(
                ReportPerson.profile_id != pid))
            await uow.commit()
        resp = await c.get("/v1/reports/indicators", headers=auth("admin", org=None))
        assert resp.status_code == 200, resp.text
        totals = {i["name"]: i["total"] for i in resp.json()["indicators"]}
        assert totals["jobs"] == 1 and totals["jobs.through_vacancy"] == 1
        assert totals["jobs.isco_major.2"] == 1  # the vacancy's occupation, 2221 nursing
        assert totals["jobs.isco_major.9"] == 0 and totals["jobs.isco_major.unknown"] == 0
