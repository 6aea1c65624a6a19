"""Job matching's operations (issue 20 item 3): bad input is a 422 problem naming the field,
never a 500; who may ask; a person cancelled (ARCO) leaves the candidates projection."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.referrals.matching.models import MatchConsent, MatchOccupation, MatchPerson
from shared.db import Database
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory
from tests.support.vacancies import EmploymentService

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.mark.invalid_request
@pytest.mark.parametrize(("path", "field"), [
    (f"/v1/profiles/{MISSING}/vacancy-matches?limit=0", "limit"),
    (f"/v1/profiles/{MISSING}/vacancy-matches?limit=101", "limit"),
    (f"/v1/profiles/{MISSING}/vacancy-matches?limit=x", "limit"),
    (f"/v1/vacancies/{MISSING}/candidates?limit=0", "limit"),
    ("/v1/vacancies/not%20an%20id/candidates", "vacancy_id"),
    (f"/v1/vacancies/{MISSING}/candidates/not%20an%20id", "profile_id"),
])
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, path: str, field: str
) -> None:
    resp = await client.get(path, headers=auth("provider", org="mtpe-empleo")
                            if "vacancies" in path else auth())
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [e["field"].rsplit(".", 1)[-1] for e in resp.json()["errors"]] == [field]


async def test_who_may_ask(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    assert (await client.get(f"/v1/vacancies/{MISSING}/candidates",
                             headers=auth("provider", org="mtpe-empleo"))).status_code == 404
    assert (await client.get(f"/v1/vacancies/{MISSING}/candidates",
                             headers=auth("admin"))).status_code == 403
    assert (await client.get(f"/v1/profiles/{MISSING}/vacancy-matches",
                             headers=auth("provider", org="mtpe-empleo"))).status_code == 403
    assert (await client.get(f"/v1/profiles/{MISSING}/vacancy-matches",
                             headers=auth())).status_code == 404


async def _rows(db: Database, pid: str) -> list[int]:
    async with db.uow() as uow:
        return [len((await uow.session.scalars(select(m).where(m.profile_id == pid))).all())
                for m in (MatchPerson, MatchConsent, MatchOccupation)]


async def test_a_cancelled_person_leaves_the_candidates(
    app: FastAPI, client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    v = await EmploymentService(client, auth).posted(requirements={})
    body = profile_payload(occupation_desired="2221", consents=[
        {"purpose": "registration", "evidence": "written"},
        {"purpose": "job_matching", "recipient_organisation_id": "mtpe-empleo",
         "evidence": "written"}])
    created = await client.post("/v1/profiles", json=body, headers=auth())
    assert created.status_code == 201, created.text
    pid, etag = created.json()["id"], created.headers["etag"]
    while await app.state.hub.run_once():
        pass
    assert await _rows(dbs["referrals"], pid) == [1, 1, 1]
    pes = auth("provider", org="mtpe-empleo")
    listed = await client.get(f"/v1/vacancies/{v['id']}/candidates", headers=pes)
    assert [c["profile_id"] for c in listed.json()["items"]] == [pid]

    gone = await client.delete(f"/v1/profiles/{pid}", headers={**auth(), "If-Match": etag})
    assert gone.status_code in (200, 204), gone.text
    while await app.state.hub.run_once():
        pass
    assert await _rows(dbs["referrals"], pid) == [0, 0, 0]
    listed = await client.get(f"/v1/vacancies/{v['id']}/candidates", headers=pes)
    assert listed.json()["items"] == []
