"""Bulk registration for NGO batches: per-item results, partial success, idempotent replays."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.registry.models import Profile
from services.registry.synthetic import SyntheticPeople
from shared.db import Database
from shared.tables import outbox_events
from tests.support.registry import create
from tests.support.tokens import TokenFactory

ORG = "ong-lote"


async def _count(db: Database, org: str) -> tuple[int, int]:
    async with db.uow() as uow:
        profiles = await uow.session.scalar(select(func.count()).select_from(Profile).where(
            Profile.organisation_id == org))
        events = await uow.session.scalar(select(func.count()).select_from(
            outbox_events).where(outbox_events.c.organisation_id == org))
    return int(profiles or 0), int(events or 0)


def _batch() -> tuple[list[dict[str, Any]], dict[int, str], dict[int, str]]:
    """1,000 people (Peru regions of the caller) with 9 invalid, 5 duplicates and 2 bad
    optional phones."""
    people = []
    for p in SyntheticPeople(seed=99).people(4000):
        if p["region"] in ("PE-LMA", "PE-CAL") and len(people) < 1000:
            people.append(p)
    assert len(people) == 1000
    invalid = {
        3: "documents[0].number", 50: "first_surname", 120: "region", 200: "birth_date",
        333: "nationality", 500: "organisation_id", 640: "sex",
        777: "documents[0].issuing_country", 901: "region",
    }
    people[3]["documents"] = [{"type": "ec_cedula", "number": "1710034066"}]
    del people[50]["first_surname"]
    people[120]["region"] = "PE-XXX"
    people[200]["birth_date"] = "2999-01-01"
    people[333]["nationality"] = "venezolana"
    people[404]["phone"] = "12"           # optional and invalid: dropped with a warning
    people[405]["phone"] = "+51 912 345 67"  # possible, not valid: the same
    people[500]["organisation_id"] = "otra"
    people[640]["sex"] = "f"
    people[777]["documents"] = [{"type": "passport", "number": "AB123456"}]
    people[901]["region"] = "EC-P"    # valid code, outside the caller's regions
    people[901].pop("district", None)
    people[901].pop("phone", None)
    duplicates = {10: "batch", 11: "batch", 600: "existing", 601: "existing",
                  602: "foreign"}
    people[10]["documents"] = copy.deepcopy(people[9]["documents"])
    people[11]["documents"] = [copy.deepcopy(people[9]["documents"][0])]
    return people, invalid, duplicates


async def test_thousand_items_with_nine_invalid_five_duplicates_two_phone_warnings(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    people, invalid, duplicates = _batch()
    mine = await create(client, auth(org=ORG),
                        documents=[{"type": "ve_cedula", "number": "V30111222"}])
    mine2 = await create(client, auth(org=ORG), given_names="Otra",
                         documents=[{"type": "pe_dni", "number": "41112223"}])
    foreign = await create(client, auth(org="ong-ajena"),
                           documents=[{"type": "pe_cpp", "number": "555666777"}])
    people[600]["documents"] = [{"type": "ve_cedula", "number": "30111222"}]
    people[601]["documents"] = [{"type": "pe_dni", "number": "41112223"}]
    people[602]["documents"] = [{"type": "pe_cpp", "number": "555-666-777"}]
    before = await _count(dbs["registry"], ORG)

    headers = auth("ngo_partner", org=ORG, **{"Idempotency-Key": "lote-2026-11-23-001",
                                              "Accept-Language": "en"})
    resp = await client.post("/v1/profiles/bulk", json={"items": people}, headers=headers)
    assert resp.status_code == 200, resp.text[:2000]
    body = resp.json()
    assert (body["created"], body["duplicates"], body["invalid"]) == (986, 5, 9)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(1000))
    errors = {r["index"]: r for r in results if r["status"] != "created"}
    warned = {r["index"]: r for r in results if r.get("warnings")}
    assert set(warned) == {404, 405}
    for r in warned.values():
        assert r["status"] == "created"
        assert [w["field"] for w in r["warnings"]] == ["phone"]
        assert r["warnings"][0]["message"].startswith("Invalid phone")
        registered = await client.get(f"/v1/profiles/{r['id']}", headers=auth(org=ORG))
        assert registered.status_code == 200 and registered.json().get("phone") is None
    assert set(errors) == set(invalid) | set(duplicates)
    for i, field in invalid.items():
        assert errors[i]["status"] == "invalid"
        assert [e["field"] for e in errors[i]["errors"]] == [field], (i, errors[i])
        assert all(e["message"] for e in errors[i]["errors"])
    assert errors[3]["errors"][0]["message"].startswith("Invalid cédula")
    assert errors[10] == {"index": 10, "status": "duplicate", "duplicate_of_index": 9}
    assert errors[11] == {"index": 11, "status": "duplicate", "duplicate_of_index": 9}
    assert errors[600] == {"index": 600, "status": "duplicate",
                           "existing_profile_id": mine["id"]}
    assert errors[601]["existing_profile_id"] == mine2["id"]
    assert foreign["id"] not in resp.text
    assert errors[602] == {"index": 602, "status": "duplicate"}  # nothing about that person
    created_ids = [r["id"] for r in results if r["status"] == "created"]
    assert len(set(created_ids)) == 986

    after = await _count(dbs["registry"], ORG)
    assert after == (before[0] + 986, before[1] + 986)
    one = await client.get(f"/v1/profiles/{created_ids[0]}", headers=auth(org=ORG))
    assert one.status_code == 200

    replay = await client.post("/v1/profiles/bulk", json={"items": people}, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == body
    assert await _count(dbs["registry"], ORG) == after

    people[0]["given_names"] = "Cambiado"
    reused = await client.post("/v1/profiles/bulk", json={"items": people}, headers=headers)
    assert reused.status_code == 422
    assert await _count(dbs["registry"], ORG) == after


@pytest.mark.invalid_request
async def test_batch_shape_is_validated_as_a_whole(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    before = await _count(dbs["registry"], ORG)
    url = "/v1/profiles/bulk"
    h = auth(org=ORG)
    assert (await client.post(url, json={"items": []}, headers=h)).status_code == 422
    assert (await client.post(url, json={"items": [{}] * 1001}, headers=h)).status_code == 422
    assert (await client.post(url, json=[{}], headers=h)).status_code == 422
    assert (await client.post(url, json={"items": [{}], "org": "x"}, headers=h)
            ).status_code == 422
    assert (await client.post(url, json={"items": ["text", 3]}, headers=h)).status_code == 422
    odd = await client.post(url, json={"items": [{}, {"given_names": 3}]}, headers=h)
    assert odd.status_code == 200
    assert [r["status"] for r in odd.json()["results"]] == ["invalid"] * 2
    assert "given_names" in {e["field"] for e in odd.json()["results"][1]["errors"]}
    assert (await client.post(url, json={"items": [{}]}, headers=auth(
        "admin", org=None, regions=[]))).status_code == 403
    assert await _count(dbs["registry"], ORG) == before
