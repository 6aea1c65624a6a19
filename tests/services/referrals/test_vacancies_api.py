"""Vacancies through the gateway (issue 20 items 1, 1b and 4): posted by a public employment
service, read by caseworkers, edited with If-Match, synced in bulk; discriminatory
requirements refused by name, a low wage or a long week flagged; other organisations kept
out."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from shared.db import Database
from tests.support.referrals import events
from tests.support.tokens import TokenFactory
from tests.support.vacancies import EmploymentService, vacancy


@pytest.fixture
def pes(client: httpx.AsyncClient, auth: TokenFactory) -> EmploymentService:
    return EmploymentService(client, auth)


async def test_an_employment_service_posts_a_vacancy_a_caseworker_reads_it(
    pes: EmploymentService, client: httpx.AsyncClient, auth: TokenFactory,
    dbs: dict[str, Database],
) -> None:
    created = await pes.post()
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == '"v1"'
    assert created.headers["location"] == f"/v1/vacancies/{body['id']}"
    assert (body["status"], body["openings_remaining"], body["country"], body["flags"]) == (
        "open", 2, "PE", [])
    assert (body["organisation_id"], body["programme_id"], body["provider_id"]) == (
        "mtpe-empleo", "pe-empleo", "mtpe-empleo")
    assert body["requirements"]["professional_licence"] == {"field_isced": "0913"}

    read = await client.get(f"/v1/vacancies/{body['id']}", headers=auth())
    assert read.status_code == 200, read.text
    assert read.json()["title"] == "Enfermera(o) asistencial"
    assert read.headers["etag"] == '"v1"'
    listed = await client.get("/v1/vacancies", params={"occupation": "22"}, headers=auth())
    assert [v["id"] for v in listed.json()["items"]] == [body["id"]]
    assert (await client.get("/v1/vacancies", params={"occupation": "7"},
                             headers=auth())).json()["items"] == []

    [event] = await events(dbs["referrals"], subject_id=body["id"])
    assert event["type"] == "vacancy.created"
    assert event["data"]["occupation_isco"] == "2221" and "title" not in event["data"]


@pytest.mark.invalid_request
async def test_patch_needs_the_version_read_and_emits_the_changed_fields(
    pes: EmploymentService, client: httpx.AsyncClient, dbs: dict[str, Database],
) -> None:
    v = await pes.posted()
    url = f"/v1/vacancies/{v['id']}"
    missing = await client.patch(url, json={"openings": 3}, headers=pes.h())
    assert missing.status_code == 428, missing.text
    stale = await client.patch(url, json={"openings": 3}, headers=pes.h(**{"If-Match": '"v9"'}))
    assert stale.status_code == 412, stale.text
    ok = await client.patch(url, json={"openings": 3, "wage_max": 4000},
                            headers=pes.h(**{"If-Match": v["_etag"]}))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["openings"], ok.json()["openings_remaining"]) == (3, 3)
    assert ok.headers["etag"] == '"v2"'
    updated = await events(dbs["referrals"], subject_id=v["id"], type_="vacancy.updated")
    assert updated[0]["data"]["changed_fields"] == ["openings", "wage_max"]

    closed = await client.patch(url, json={"status": "closed"},
                                headers=pes.h(**{"If-Match": ok.headers["etag"]}))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    [event] = await events(dbs["referrals"], subject_id=v["id"], type_="vacancy.closed")
    assert event["data"]["reason"] == "withdrawn"
    again = await client.patch(url, json={"title": "Otra"},
                               headers=pes.h(**{"If-Match": closed.headers["etag"]}))
    assert again.status_code == 409, again.text


@pytest.mark.invalid_request
@pytest.mark.parametrize(("where", "key"), [
    ("requirements", "max_age"), ("requirements", "sex"), ("requirements", "nationality"),
    ("requirements", "disability"), ("body", "gender"), ("body", "edad_maxima")])
async def test_selecting_by_sex_age_nationality_or_disability_is_refused_naming_the_field(
    pes: EmploymentService, where: str, key: str,
) -> None:
    body = vacancy()
    if where == "requirements":
        body["requirements"][key] = 35 if "age" in key else "F"
        field = f"requirements.{key}"
    else:
        body[key] = None
        field = key
    resp = await pes.client.post("/v1/vacancies", json=body,
                                 headers=pes.h(**{"Accept-Language": "en"}))
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert error["field"] == field
    assert "Ley 26772" in error["message"] and "forbidden grounds" in error["message"]


async def test_a_wage_under_the_minimum_or_a_long_week_is_flagged_not_refused(
    pes: EmploymentService, client: httpx.AsyncClient, auth: TokenFactory,
) -> None:
    low = await pes.posted(wage_min=900, wage_max=1000, hours_per_week=48)
    assert low["flags"] == ["wage_below_minimum"]
    long_week = await pes.posted(hours_per_week=60)
    assert long_week["flags"] == ["hours_over_48"]
    part_time = await pes.posted(wage_min=600, wage_max=600, hours_per_week=24)
    assert part_time["flags"] == []  # S/ 1,130 pro rata for 24 of 48 hours is S/ 565
    seen = await client.get(f"/v1/vacancies/{low['id']}", headers=auth())
    assert seen.json()["flags"] == ["wage_below_minimum"]


@pytest.mark.invalid_request
async def test_invalid_vacancies_are_422_naming_the_field(pes: EmploymentService) -> None:
    cases = {
        "occupation_isco": {"occupation_isco": "2220"},
        "currency": {"currency": "USD"},
        "requirements.languages[0].code": {"requirements": {"languages": [{"code": "xx"}]}},
        "requirements.degree.field_isced": {"requirements": {"degree": {"field_isced": "9"}}},
        "requirements.favourite_colour": {"requirements": {"favourite_colour": "blue"}},
        "valid_until": {"valid_from": "2020-01-01", "valid_until": "2020-02-01"},
    }
    for field, overrides in cases.items():
        resp = await pes.post(**overrides)
        assert resp.status_code == 422, (field, resp.text)
        fields = [e["field"] for e in resp.json()["errors"]]
        assert field in fields or (field == "currency" and fields == ["body"]), (field, fields)


async def test_who_may_post_read_and_edit(
    pes: EmploymentService, client: httpx.AsyncClient, auth: TokenFactory,
) -> None:
    v = await pes.posted()
    url = f"/v1/vacancies/{v['id']}"
    # a caseworker reads but never posts; a client without vacancies:write cannot post
    assert (await client.post("/v1/vacancies", json=vacancy(), headers=auth())
            ).status_code == 403
    narrow = auth("provider", org="mtpe-empleo", scopes=["vacancies:read"])
    assert (await client.post("/v1/vacancies", json=vacancy(), headers=narrow)
            ).status_code == 403
    # a provider that is no employment service cannot post
    sunedu = await client.post("/v1/vacancies", json=vacancy(),
                               headers=auth("provider", org="sunedu"))
    assert sunedu.status_code == 403
    assert sunedu.json()["type"] == "/problems/not-an-employment-service"
    # an employment service outside its regions: 422 on region
    cusco = await pes.post(region="PE-CUS", district="080101")
    assert cusco.status_code == 422 and cusco.json()["errors"][0]["field"] == "region"
    quito = await pes.post(region="EC-P", district="1701", currency="USD", wage_min=600,
                           wage_max=700)
    assert quito.status_code == 422 and quito.json()["errors"][0]["field"] == "region"
    not_pes = await client.post("/v1/vacancies/bulk", json={"items": [vacancy()]},
                                headers=auth("provider", org="sunedu"))
    assert not_pes.status_code == 403
    # another employment service neither sees nor edits it: 404
    other = EmploymentService(client, auth, org="mtpe-empleo-regiones")
    assert (await client.get(url, headers=other.h())).status_code == 404
    patched = await client.patch(url, json={"openings": 5},
                                 headers=other.h(**{"If-Match": v["_etag"]}))
    assert patched.status_code == 404
    # a caseworker outside the vacancy's region does not see it
    far = auth("caseworker", org="ong-cusco", regions=["PE-CUS"])
    assert (await client.get(url, headers=far)).status_code == 404
    assert (await client.get(url, headers=auth())).status_code == 200


async def test_bulk_sync_upserts_by_external_id_and_is_idempotent(
    pes: EmploymentService, client: httpx.AsyncClient, dbs: dict[str, Database],
) -> None:
    later = (date.today() + timedelta(days=90)).isoformat()
    batch = {"items": [vacancy(external_id="EP-1"), vacancy(external_id="EP-2",
                                                              occupation_isco="5120"),
                       vacancy(external_id="EP-3", requirements={"age_max": 40}),
                       {"external_id": "EP-4"}]}
    key = {"Idempotency-Key": "sync-2026-12-04"}
    first = await client.post("/v1/vacancies/bulk", json=batch, headers=pes.h(**key))
    assert first.status_code == 200, first.text
    out = first.json()
    assert (out["created"], out["updated"], out["unchanged"], out["invalid"]) == (2, 0, 0, 2)
    assert out["results"][2]["errors"][0]["field"] == "requirements.age_max"
    replay = await client.post("/v1/vacancies/bulk", json=batch, headers=pes.h(**key))
    assert replay.json() == out and replay.headers["idempotent-replayed"] == "true"
    assert len(await events(dbs["referrals"], type_="vacancy.created")) == 2

    second = {"items": [vacancy(external_id="EP-1", valid_until=later),
                        vacancy(external_id="EP-2", occupation_isco="5120"),
                        vacancy(external_id="EP-5", status="closed")]}
    again = await client.post("/v1/vacancies/bulk", json=second, headers=pes.h())
    out2 = again.json()
    assert [r["status"] for r in out2["results"]] == ["updated", "unchanged", "created"]
    assert out2["results"][0]["id"] == out["results"][0]["id"]
    ep1 = await client.get(f"/v1/vacancies/{out['results'][0]['id']}", headers=pes.h())
    assert ep1.json()["valid_until"] == later and ep1.json()["version"] == 2
    listed = await client.get("/v1/vacancies", params={"external_id": "EP-5"},
                              headers=pes.h())
    assert listed.json()["items"][0]["status"] == "closed"
