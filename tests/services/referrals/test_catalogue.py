"""The route catalogue: seeded programmes and providers of Peru and Ecuador, read by everyone,
edited by administrators (If-Match), validated."""

from __future__ import annotations

import httpx
import pytest

from services.referrals.catalogue import PROVIDERS
from tests.support.tokens import TokenFactory

PROGRAMME = {"id": "pe-bootcamp-digital", "name": "Bootcamp de competencias digitales",
             "name_en": "Digital skills bootcamp", "route_type": "skills_certification",
             "country": "PE", "operator": "MTPE — Programa Nacional para la Empleabilidad",
             "regions": ["PE-LMA", "PE-CAL"]}
PROVIDER = {"id": "cibertec-lima", "organisation_id": "cibertec", "name": "Cibertec Lima",
            "country": "PE", "regions": ["PE-LMA"], "sla_accept_days": 3,
            "sla_complete_days": 45, "programme_ids": ["pe-certificacion-competencias"]}


@pytest.fixture
def admin(auth: TokenFactory) -> dict[str, str]:
    return auth("admin", org=None, regions=[])


async def test_seeded_providers_match_the_demo_organisations(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    resp = await client.get("/v1/providers", params={"limit": 200}, headers=auth())
    assert resp.status_code == 200
    by_id = {p["id"]: p for p in resp.json()["items"]}
    assert {p["id"] for p in PROVIDERS} <= set(by_id)
    assert by_id["mtpe-empleo"]["organisation_id"] == "mtpe-empleo"
    assert by_id["sunedu"]["programme_ids"] == ["pe-sunedu-reconocimiento"]
    for pid in ("colegio-medico-peru", "aspefam-enam", "colegio-enfermeros-peru",
                "oit-emprende-pe"):
        assert by_id[pid]["sla_accept_days"] > 0 and by_id[pid]["sla_complete_days"] > 0
    one = await client.get("/v1/providers/sunedu", headers=auth("provider", org="sunedu"))
    assert one.status_code == 200 and one.headers["etag"] == '"v1"'
    enam = (await client.get("/v1/programs/pe-enam", headers=auth())).json()
    assert (enam["route_type"], enam["outcome_kind"]) == ("professional_licensing", "exam")


async def test_provider_filters_and_pagination(client: httpx.AsyncClient,
                                               auth: TokenFactory) -> None:
    async def ids(**params: str) -> list[str]:
        resp = await client.get("/v1/providers", params={"limit": 200, **params},
                                headers=auth())
        assert resp.status_code == 200, resp.text
        return [p["id"] for p in resp.json()["items"]]

    assert await ids(programme_id="pe-empleo") == ["mtpe-empleo", "mtpe-empleo-regiones"]
    assert await ids(programme_id="pe-empleo", region="PE-PIU") == ["mtpe-empleo-regiones"]
    assert await ids(organisation_id="sunedu") == ["sunedu"]
    assert set(await ids(country="EC")) == {"acess", "cancilleria-ec",
                                            "mintrabajo-socio-empleo", "oit-emprende-ec",
                                            "senescyt", "setec"}
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.get("/v1/providers", params={
            "limit": 4, "country": "PE", **({"cursor": cursor} if cursor else {})},
            headers=auth())
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 9  # with Migraciones
    regional = await client.get("/v1/programs", params={"region": "EC-T"}, headers=auth())
    assert {p["id"] for p in regional.json()["items"]} == {
        "ec-socio-empleo", "ec-senescyt-registro", "ec-acess-licencia",
        "ec-setec-certificacion", "ec-visa-renovacion"}


@pytest.mark.invalid_request
async def test_admin_adds_and_edits_a_programme(client: httpx.AsyncClient,
                                               admin: dict[str, str], auth: TokenFactory
                                               ) -> None:
    created = await client.post("/v1/programs", json=PROGRAMME, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/programs/pe-bootcamp-digital"
    assert created.json()["outcome_kind"] == "certification"  # the route type's
    assert (await client.post("/v1/programs", json=PROGRAMME, headers=admin)
            ).status_code == 409
    url = "/v1/programs/pe-bootcamp-digital"
    assert (await client.patch(url, json={"active": False}, headers=admin)).status_code == 428
    edited = await client.patch(url, json={"regions": ["PE-LMA", "PE-CAL", "PE-PIU"],
                                           "active": False},
                                headers={**admin, "If-Match": '"v1"'})
    assert edited.status_code == 200, edited.text
    assert edited.headers["etag"] == '"v2"' and edited.json()["active"] is False
    stale = await client.patch(url, json={"name": "Otro nombre"},
                               headers={**admin, "If-Match": '"v1"'})
    assert stale.status_code == 412
    listed = await client.get("/v1/programs", params={"limit": 200}, headers=auth())
    assert "pe-bootcamp-digital" not in {p["id"] for p in listed.json()["items"]}
    listed = await client.get("/v1/programs", params={"limit": 200, "include_inactive": True},
                              headers=auth())
    assert "pe-bootcamp-digital" in {p["id"] for p in listed.json()["items"]}
    assert (await client.get("/v1/programs/pe-nada", headers=auth())).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({**PROGRAMME, "regions": ["PE-LMA", "EC-P"]}, "body"),
    ({**PROGRAMME, "regions": ["PE-LMA", "PE-LMA"]}, "regions"),
    ({**PROGRAMME, "id": "Con Espacios"}, "id"),
    ({**PROGRAMME, "route_type": "lottery"}, "route_type"),
    ({**PROGRAMME, "version": 7}, "version"),
    ({**PROGRAMME, "regions": []}, "regions"),
    ({k: v for k, v in PROGRAMME.items() if k != "name"}, "name"),
])
@pytest.mark.invalid_request
async def test_invalid_programmes_are_422(client: httpx.AsyncClient, admin: dict[str, str],
                                          body: dict[str, object], field: str) -> None:
    resp = await client.post("/v1/programs", json=body, headers=admin)
    assert resp.status_code == 422, resp.text
    assert field in {e["field"].split("[")[0] for e in resp.json()["errors"]}


@pytest.mark.invalid_request
async def test_programme_edits_are_validated(client: httpx.AsyncClient,
                                            admin: dict[str, str]) -> None:
    url = "/v1/programs/pe-empleo"
    etag = (await client.get(url, headers=admin)).headers["etag"]
    for body in ({"route_type": "entrepreneurship"}, {"country": "EC"}, {"name": None},
                 {"regions": ["EC-P"]}, {"id": "otro"}):
        resp = await client.patch(url, json=body, headers={**admin, "If-Match": etag})
        assert resp.status_code == 422, (body, resp.text)
    assert (await client.get(url, headers=admin)).headers["etag"] == etag


async def test_only_admins_edit_the_catalogue(client: httpx.AsyncClient,
                                              auth: TokenFactory) -> None:
    for role in ("caseworker", "coordinator", "ngo_partner", "provider", "ministry_system"):
        h = auth(role, org="mtpe-empleo")
        assert (await client.post("/v1/programs", json=PROGRAMME, headers=h)
                ).status_code == 403, role
        assert (await client.patch("/v1/providers/mtpe-empleo", json={"capacity": 1},
                                   headers={**h, "If-Match": '"v1"'})).status_code == 403


@pytest.mark.invalid_request
async def test_admin_adds_and_edits_a_provider(client: httpx.AsyncClient,
                                              admin: dict[str, str]) -> None:
    bad = await client.post("/v1/providers", headers=admin, json={
        **PROVIDER, "programme_ids": ["pe-inexistente", "ec-socio-empleo"]})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["programme_ids[0]",
                                                         "programme_ids[1]"]
    for body in ({**PROVIDER, "sla_accept_days": 0}, {**PROVIDER, "capacity": 0},
                 {**PROVIDER, "regions": ["EC-P"]}, {**PROVIDER, "active": "maybe"}):
        assert (await client.post("/v1/providers", json=body, headers=admin)
                ).status_code == 422, body
    keyed = {**admin, "Idempotency-Key": "prov-1"}
    created = await client.post("/v1/providers", json=PROVIDER, headers=keyed)
    assert created.status_code == 201, created.text
    replay = await client.post("/v1/providers", json=PROVIDER, headers=keyed)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert created.json()["capacity"] is None and created.json()["sla_working_days"] is True
    url = "/v1/providers/cibertec-lima"
    edited = await client.patch(url, headers={**admin, "If-Match": '"v1"'}, json={
        "programme_ids": ["pe-certificacion-competencias", "pe-empleo"], "capacity": 40})
    assert edited.status_code == 200, edited.text
    assert edited.json()["programme_ids"] == ["pe-certificacion-competencias", "pe-empleo"]
    assert edited.json()["version"] == 2
    unlimited = await client.patch(url, headers={**admin, "If-Match": '"v2"'},
                                   json={"capacity": None})
    assert unlimited.status_code == 200 and unlimited.json()["capacity"] is None
    for body in ({"organisation_id": "otra"}, {"sla_complete_days": None},
                 {"programme_ids": []}):
        resp = await client.patch(url, json=body, headers={**admin, "If-Match": '"v3"'})
        assert resp.status_code == 422, (body, resp.text)
    assert (await client.get("/v1/providers/nadie", headers=admin)).status_code == 404
