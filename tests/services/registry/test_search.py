"""Search through the gateway: names (accent-insensitive, typo- and order-tolerant) among
10,000 synthetic people with namesakes, documents, filters, pagination, scope."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import httpx
import pytest

from services.registry import search
from services.registry.repository import ProfileRepository
from services.registry.schemas import ProfileCreate
from services.registry.synthetic import SyntheticPeople
from services.registry.usecases.registration import prepare
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Identity, Role
from tests.support.registry import create, share
from tests.support.tokens import TokenFactory

ORG = "ong-busca"
TARGET = {"given_names": "José Gregorio", "first_surname": "Hernández",
          "second_surname": "Márquez", "birth_date": "1985-03-14"}
NAMESAKES = [
    {"given_names": "José Gregorio", "first_surname": "Hernández",
     "second_surname": "Márquez", "birth_date": "1971-11-30"},   # the very same name
    {"given_names": "José Gregorio", "first_surname": "Hernández",
     "second_surname": "Colmenares", "birth_date": "1990-01-02"},
    {"given_names": "José", "first_surname": "Hernández", "second_surname": "Márquez",
     "birth_date": "1988-07-07"},
    {"given_names": "Gregorio", "first_surname": "Márquez", "second_surname": "Hernández",
     "birth_date": "1960-05-05"},
    {"given_names": "José Gregorio", "first_surname": "Fernández",
     "second_surname": "Márquez", "birth_date": "1983-02-01"},
]


def _typo(word: str, rng: random.Random) -> str:
    """One realistic slip: a letter dropped, doubled or swapped with its neighbour."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


async def _seed(db: Database, people: list[dict[str, Any]]) -> list[str]:
    """Insert through the repository in batches (not 10,000 HTTP calls)."""
    identity = Identity(subject="seed", role=Role.CASEWORKER, organisation_id=ORG)
    from services.registry.crypto import SensitiveCipher
    from shared.settings import Settings

    cipher = SensitiveCipher.from_settings(Settings())
    now = utcnow()
    ids: list[str] = []
    async with db.uow() as uow:
        repo = ProfileRepository(uow.session)
        for start in range(0, len(people), 2000):
            chunk = [prepare(identity, ProfileCreate.model_validate(p), cipher, now)
                     for p in people[start:start + 2000]]
            await repo.insert_many([c.profile for c in chunk],
                                   [d for c in chunk for d in c.documents], [])
            ids += [c.profile["id"] for c in chunk]
        await uow.commit()
    return ids


@pytest.fixture
async def population(dbs: dict[str, Database]) -> dict[str, Any]:
    people = list(SyntheticPeople(seed=2026).people(10_000 - 1 - len(NAMESAKES)))
    base = {"sex": "male", "nationality": "VEN", "population_type": "migrant",
            "region": "PE-LMA"}
    extra = [{**base, **TARGET}, *({**base, **n} for n in NAMESAKES)]
    ids = await _seed(dbs["registry"], extra + people)
    return {"target": ids[0], "ids": ids, "people": extra + people}


async def _names(client: httpx.AsyncClient, headers: dict[str, str], q: str,
                 limit: int = 10) -> list[str]:
    resp = await client.get("/v1/profiles", params={"q": q, "limit": limit}, headers=headers)
    assert resp.status_code == 200, resp.text
    return [i["id"] for i in resp.json()["items"]]


async def test_fuzzy_name_search_among_ten_thousand(
    client: httpx.AsyncClient, auth: TokenFactory, population: dict[str, Any]
) -> None:
    headers = auth(org=ORG, regions=[])
    # typo'd, without accents, surnames swapped
    top = await _names(client, headers, "jose gregorio marquez hernandes", limit=3)
    assert population["target"] in top
    assert population["target"] in await _names(client, headers, "JOSE GREGORIO HERNANDEZ",
                                                limit=10)
    # unrelated names find nothing
    for q in ("Zbigniew Brzęczyszczykiewicz", "Haruki Murakami Tanaka", "xqzw"):
        assert await _names(client, headers, q) == [], q

    # and the same for people drawn from the crowd
    rng = random.Random(7)
    people, ids = population["people"], population["ids"]
    full = Counter(search.normalise(p["given_names"], p["first_surname"],
                                    p.get("second_surname")) for p in people)
    checked = 0
    for i in rng.sample(range(len(people)), 400):
        p = people[i]
        key = search.normalise(p["given_names"], p["first_surname"], p.get("second_surname"))
        if not p.get("second_surname") or full[key] > 2:
            continue  # more than two exact namesakes: no name search can tell them apart
        first = search.fold(p["first_surname"])
        second = search.fold(p["second_surname"])
        longer = max((first, second), key=len)
        if len(longer) < 4:
            continue
        q = f"{search.fold(p['given_names'])} {second} {first}".replace(
            longer, _typo(longer, rng), 1)
        found = await _names(client, headers, q, limit=3)
        assert ids[i] in found, (q, key)
        checked += 1
        if checked == 15:
            break
    assert checked == 15
    # How fast is measured by `make bench-registry` as a same-run ratio, never here: a timed
    # assertion failed this test under a loaded machine without anything being wrong.


async def test_name_search_pages_and_respects_scope(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    mine = [await create(client, auth(), given_names="Yuleisy Carolina",
                         first_surname="Briceño", second_surname=s)
            for s in ("Peña", "Parra", "Pérez", None)]
    stranger = await create(client, auth(org="ong-otra"), given_names="Yuleisy Carolina",
                            first_surname="Briceño")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "yuleisi briceno", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/profiles", params=params, headers=auth())).json()
        seen += [i["id"] for i in page["items"]]
        assert all(i["score"] >= search.MATCH_CUTOFF for i in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p["id"] for p in mine)
    assert stranger["id"] not in seen
    # shared by consent: now the other organisation finds it as well
    await share(client, auth, mine[0]["id"], "ong-otra")
    other = (await client.get("/v1/profiles", params={"q": "Yuleisy Briceño"},
                              headers=auth(org="ong-otra"))).json()
    assert {i["id"] for i in other["items"]} == {stranger["id"], mine[0]["id"]}
    # nobody finds a person outside their regions, owned or shared
    far = (await client.get("/v1/profiles", params={"q": "Yuleisy Briceño"},
                            headers=auth(regions=["PE-CUS"]))).json()
    assert far["items"] == []
    # a cursor is bound to its query
    first = (await client.get("/v1/profiles", params={"q": "yuleisy", "limit": 1},
                              headers=auth())).json()
    bad = await client.get("/v1/profiles", params={"q": "briceno", "limit": 1,
                                                   "cursor": first["next_cursor"]},
                           headers=auth())
    assert bad.status_code == 400


@pytest.mark.invalid_request
async def test_document_search_and_filters(client: httpx.AsyncClient, auth: TokenFactory
                                           ) -> None:
    a = await create(client, auth(), documents=[{"type": "ve_cedula", "number": "V-9.876.543"}])
    b = await create(client, auth(), given_names="Ana", region="PE-CAL",
                     documents=[{"type": "pe_cpp", "number": "000111222"}])
    for typed in ("9876543", "V9876543", "v-9.876.543"):
        found = (await client.get("/v1/profiles", params={"document": typed},
                                  headers=auth())).json()["items"]
        assert [i["id"] for i in found] == [a["id"]], typed
    by_type = await client.get("/v1/profiles", params={"document": "000111222",
                                                       "document_type": "pe_dni"},
                               headers=auth())
    assert by_type.json()["items"] == []
    assert (await client.get("/v1/profiles", params={"document": "9876543"},
                             headers=auth(org="ong-otra"))).json()["items"] == []
    region = (await client.get("/v1/profiles", params={"region": "PE-CAL"},
                               headers=auth())).json()["items"]
    assert [i["id"] for i in region] == [b["id"]]
    both = await client.get("/v1/profiles", params={"q": "x", "document": "1"},
                            headers=auth())
    assert both.status_code == 422
    bad_region = await client.get("/v1/profiles", params={"region": "XX-1"}, headers=auth())
    assert bad_region.status_code == 422
    await client.delete(f"/v1/profiles/{b['id']}", headers=auth(**{"If-Match": b["_etag"]}))
    erased = (await client.get("/v1/profiles", params={"status": "erased"},
                               headers=auth())).json()["items"]
    assert [(i["id"], i["given_names"]) for i in erased] == [(b["id"], None)]


async def test_search_is_audited_per_profile_returned(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    from sqlalchemy import select

    from services.registry.models import AuditEntry

    p = await create(client, auth(), given_names="Oriana", first_surname="Villalobos")
    await create(client, auth(), given_names="Franklin", first_surname="Quintero")
    assert (await client.get("/v1/profiles", params={"q": "oriana villalobos"},
                             headers=auth())).status_code == 200
    async with dbs["registry"].uow() as uow:
        actions = (await uow.session.scalars(select(AuditEntry.action).where(
            AuditEntry.profile_id == p["id"]).order_by(AuditEntry.id))).all()
    assert list(actions) == ["create", "search"]


async def test_list_without_query_is_owned_plus_shared(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    own = await create(client, auth(org="ong-a"))
    theirs = await create(client, auth(org="ong-b"), given_names="Compartida")
    hidden = await create(client, auth(org="ong-b"), given_names="Oculta")
    await share(client, lambda **kw: auth(org="ong-b", **kw), theirs["id"], "ong-a")
    listed = (await client.get("/v1/profiles", headers=auth(org="ong-a"))).json()["items"]
    assert {i["id"] for i in listed} == {own["id"], theirs["id"]}
    assert hidden["id"] not in {i["id"] for i in listed}
