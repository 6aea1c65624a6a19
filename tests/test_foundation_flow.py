"""End to end through the gateway (embedded shape): what a new integrator meets first."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from services.registry.models import Profile
from shared.db import Database
from shared.tables import outbox_events
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


async def count_profiles(db: Database) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Profile)) or 0)


async def test_create_and_read_profile_through_gateway(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    created = await client.post("/v1/profiles", json=profile_payload(), headers=auth())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["given_names"] == "María José"
    assert body["organisation_id"] == "ong-lima"
    assert body["country"] == "PE"
    assert created.headers["etag"] == '"v1"'
    assert created.headers["location"] == f"/v1/profiles/{body['id']}"
    assert created.headers["x-request-id"]

    read = await client.get(created.headers["location"], headers=auth())
    assert read.status_code == 200
    assert read.json()["id"] == body["id"]
    assert read.headers["etag"] == '"v1"'

    async with dbs["registry"].uow() as uow:
        events = (await uow.session.execute(
            select(outbox_events.c.type, outbox_events.c.data)
            .where(outbox_events.c.subject_id == body["id"]))).all()
    assert [e.type for e in events] == ["profile.created"]
    assert "María" not in str(events)  # events are thin: ids, never personal data


async def test_other_organisation_gets_404(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    created = await client.post("/v1/profiles", json=profile_payload(), headers=auth())
    other = await client.get(created.headers["location"], headers=auth(org="ong-otra"))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    out_of_region = await client.get(created.headers["location"],
                                     headers=auth(regions=["PE-CUS"]))
    assert out_of_region.status_code == 404


@pytest.mark.invalid_request
async def test_bad_input_answers_problems_in_spanish_and_writes_nothing(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    before = await count_profiles(dbs["registry"])

    bad_json = await client.post("/v1/profiles", content=b'{"given_names": "Ana",',
                                 headers=auth(**{"Content-Type": "application/json"}))
    assert bad_json.status_code == 422
    assert bad_json.headers["content-type"] == "application/problem+json"
    assert bad_json.json()["title"] == "Datos no válidos"
    assert bad_json.json()["errors"]

    unknown = await client.get("/v1/no-such-thing", headers=auth())
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "No encontrado"

    missing = await client.post("/v1/profiles", json=profile_payload())
    assert missing.status_code == 401
    assert missing.json()["title"] == "No autenticado"
    assert missing.headers["www-authenticate"].startswith("Bearer")

    wrong = await client.post("/v1/profiles", json=profile_payload(),
                              headers={"Authorization": "Bearer not.a.token"})
    assert wrong.status_code == 401
    assert wrong.json()["title"] == "No autenticado"

    assert await count_profiles(dbs["registry"]) == before


@pytest.mark.invalid_request
async def test_validation_errors_name_fields_without_echoing_input(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    resp = await client.post(
        "/v1/profiles",
        json=profile_payload(region="XX-123", nationality="venezuela", organisation_id="x"),
        headers=auth(**{"Accept-Language": "en"}),
    )
    assert resp.status_code == 422
    problem = resp.json()
    assert problem["title"] == "Invalid data"
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"region", "nationality", "organisation_id"}
    assert fields["organisation_id"] == "Field not allowed"
    assert "venezuela" not in resp.text and "XX-123" not in resp.text


@pytest.mark.invalid_request
async def test_update_requires_if_match_and_rejects_stale(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    created = await client.post("/v1/profiles", json=profile_payload(), headers=auth())
    url = created.headers["location"]

    no_precondition = await client.patch(url, json={"second_surname": "Díaz"}, headers=auth())
    assert no_precondition.status_code == 428

    ok = await client.patch(url, json={"second_surname": "Díaz"},
                            headers=auth(**{"If-Match": created.headers["etag"]}))
    assert ok.status_code == 200, ok.text
    assert ok.json()["second_surname"] == "Díaz"
    assert ok.headers["etag"] == '"v2"'

    stale = await client.patch(url, json={"second_surname": "Ruiz"},
                               headers=auth(**{"If-Match": created.headers["etag"]}))
    assert stale.status_code == 412
    assert (await client.get(url, headers=auth())).json()["second_surname"] == "Díaz"

    read_only = await client.patch(url, json={"status": "erased"},
                                   headers=auth(**{"If-Match": ok.headers["etag"]}))
    assert read_only.status_code == 422


async def test_programmes_come_from_the_seeded_catalogue(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    resp = await client.get("/v1/programs", params={"country": "PE"}, headers=auth())
    assert resp.status_code == 200
    ids = {p["id"] for p in resp.json()["items"]}
    assert {"pe-sunedu-reconocimiento", "pe-emprende-segura", "pe-empleo"} <= ids
    assert all(p["country"] == "PE" for p in resp.json()["items"])


async def test_create_and_read_credential(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    profile = (await client.post("/v1/profiles", json=profile_payload(), headers=auth())).json()
    created = await client.post("/v1/credentials", headers=auth(), json={
        "profile_id": profile["id"], "kind": "academic_degree", "title": "Médico Cirujano"})
    assert created.status_code == 201, created.text
    read = await client.get(created.headers["location"], headers=auth())
    assert read.status_code == 200
    assert read.json()["title"] == "Médico Cirujano"
    assert read.json()["status"] == "self_declared"
    assert (await client.get(created.headers["location"],
                             headers=auth(org="ong-otra"))).status_code == 404


async def test_list_paginates_with_opaque_cursor(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    ids = set()
    for i in range(5):
        r = await client.post("/v1/profiles", headers=auth(org="ong-pag"),
                              json=profile_payload(given_names=f"Persona {i}"))
        ids.add(r.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/profiles", params=params, headers=auth(org="ong-pag"))
        assert page.status_code == 200
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)

    first = await client.get("/v1/profiles", params={"limit": 2}, headers=auth(org="ong-pag"))
    token = first.json()["next_cursor"]
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    bad = await client.get("/v1/profiles", params={"limit": 2, "cursor": tampered},
                           headers=auth(org="ong-pag"))
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    foreign = await client.get("/v1/programs", params={"cursor": token}, headers=auth())
    assert foreign.status_code == 400


async def test_operational_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["status"] == "ok"
    metrics = await client.get("/metrics")
    assert "ruta_http_requests_total" in metrics.text
    doc = (await client.get("/openapi.json")).json()
    assert "/v1/profiles" in doc["paths"] and "/v1/programs" in doc["paths"]
    assert "Problem" in doc["components"]["schemas"]


@pytest.mark.invalid_request
async def test_caller_cannot_forge_the_gateway_identity(
    client: httpx.AsyncClient, auth: TokenFactory, settings: object
) -> None:
    from shared.identity import AssertionSigner, Identity, Role

    forged = AssertionSigner("not-the-internal-secret").sign(
        Identity(subject="x", role=Role.CASEWORKER, organisation_id="ong-lima"))
    # With a valid token the forged header is dropped and the caller is who the token says.
    created = await client.post("/v1/profiles", json=profile_payload(),
                                headers=auth(org="ong-real", **{"x-ruta-identity":
                                                                forged.decode()}))
    assert created.json()["organisation_id"] == "ong-real"
    # Without a token, the forged header gets nobody in.
    anon = await client.get("/v1/profiles", headers={"x-ruta-identity": forged.decode()})
    assert anon.status_code == 401
