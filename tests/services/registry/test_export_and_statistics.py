"""ARCO access export (registry + siblings through their APIs) and the statistics endpoint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.errors import ServiceUnavailable
from tests.support.referrals import OUTCOMES, Route
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create
from tests.support.tokens import TokenFactory

SENSITIVE_READ = ["sensitive:read"]


def _registry_app(app: FastAPI) -> FastAPI:
    registry: FastAPI = app.state.upstreams["registry"].app
    return registry


async def test_export_covers_registry_and_siblings(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    permitted = auth(permissions=SENSITIVE_READ)
    p = await create(client, permitted, documents=[{"type": "ve_cedula", "number": "V7654321"}],
                     consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    await client.get(f"/v1/profiles/{p['id']}", headers=auth())
    resp = await client.get(f"/v1/profiles/{p['id']}/export", headers=permitted)
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert "attachment" in resp.headers["content-disposition"]
    body = resp.json()
    assert body["format"] == "ruta-arco-export/1" and body["profile_id"] == p["id"]
    reg = body["registry"]
    assert reg["profile"]["documents"][0]["number"] == "V7654321"
    assert reg["profile"]["sensitive"]["notes"] == SENSITIVE["notes"]
    assert body["sensitive_included"] is True
    assert [c["purpose"] for c in reg["consents"]] == ["registration"]
    assert [a["action"] for a in reg["access_log"]][:2] == ["create", "read"]
    for section in ("credentials", "referrals"):
        assert body[section]["status"] in ("ok", "unavailable")
        if body[section]["status"] == "ok":
            assert isinstance(body[section]["items"], list)

    # without the permission, or for a partner's machine client: no sensitive data
    plain = (await client.get(f"/v1/profiles/{p['id']}/export", headers=auth())).json()
    assert plain["sensitive_included"] is False and "sensitive" not in plain["registry"][
        "profile"]
    partner = await client.get(f"/v1/profiles/{p['id']}/export", headers=auth(
        "ngo_partner", permissions=SENSITIVE_READ))
    assert partner.status_code == 200
    assert "violencia" not in partner.text
    # shared with another organisation: it may read, not export
    await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(), json={
        "purpose": "referral", "recipient_organisation_id": "ong-otra", "evidence": "written"})
    assert (await client.get(f"/v1/profiles/{p['id']}/export",
                             headers=auth(org="ong-otra"))).status_code == 403


async def test_export_includes_sibling_items_and_records_unavailable_ones(
    client: httpx.AsyncClient, auth: TokenFactory, app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = await create(client, auth())
    peers = _registry_app(app).state.peers
    calls: list[tuple[str, dict[str, Any]]] = []

    async def fake(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
        calls.append((name, kw["params"]))
        if name == "referrals":
            return httpx.Response(404, json={"type": "about:blank"})
        if "cursor" not in kw["params"]:
            return httpx.Response(200, json={"items": [{"id": "c1"}], "next_cursor": "n2"})
        return httpx.Response(200, json={"items": [{"id": "c2"}], "next_cursor": None})

    monkeypatch.setattr(peers, "request", fake)
    body = (await client.get(f"/v1/profiles/{p['id']}/export", headers=auth())).json()
    assert body["credentials"] == {"status": "ok", "items": [{"id": "c1"}, {"id": "c2"}]}
    assert body["referrals"] == {"status": "unavailable"}
    assert calls[0] == ("credentials", {"profile_id": p["id"], "limit": 200})
    assert calls[1][1]["cursor"] == "n2"


async def test_export_holds_referrals_other_organisations_made(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    """The person's right of access covers every organisation's referrals of them, not only
    the exporting organisation's; the exporting caseworker still cannot list the others."""
    route = Route(client, auth)
    pid = await route.person(consents_for=("ong-otra", "mtpe-empleo"))
    mine = await route.referral(pid)
    await route.walk(mine["id"], route.provider("mtpe-empleo"), ("accept", {}), ("start", {}),
                     ("complete", {"outcome": OUTCOMES["employment"]}))
    theirs = await route.refer(pid, headers=auth(org="ong-otra"))
    assert theirs.status_code == 201, theirs.text
    listed = await client.get("/v1/referrals", params={"profile_id": pid}, headers=auth())
    assert [r["id"] for r in listed.json()["items"]] == [mine["id"]]

    body = (await client.get(f"/v1/profiles/{pid}/export", headers=auth())).json()
    assert body["referrals"]["status"] == "ok"
    exported = {r["id"]: r for r in body["referrals"]["items"]}
    assert set(exported) == {mine["id"], theirs.json()["id"]}
    assert exported[theirs.json()["id"]]["referring_organisation_id"] == "ong-otra"
    # the other organisation may not export a person it was only shared
    assert (await client.get(f"/v1/profiles/{pid}/export",
                             headers=auth(org="ong-otra"))).status_code == 403


@pytest.mark.parametrize("failure", ["raise", 503, 500])
async def test_export_fails_rather_than_answer_incomplete(
    client: httpx.AsyncClient, auth: TokenFactory, app: FastAPI,
    monkeypatch: pytest.MonkeyPatch, failure: object,
) -> None:
    p = await create(client, auth())
    peers = _registry_app(app).state.peers

    async def down(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
        if name == "referrals":
            if failure == "raise":
                raise ServiceUnavailable()
            assert isinstance(failure, int)
            return httpx.Response(failure, json={})
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    monkeypatch.setattr(peers, "request", down)
    resp = await client.get(f"/v1/profiles/{p['id']}/export", headers=auth())
    assert resp.status_code == (502 if failure == 500 else 503)
    assert resp.headers["content-type"] == "application/problem+json"
    assert "referrals" in resp.json()["detail"]


async def test_statistics_counts_without_identifying_anyone(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    org = "ong-cifras"
    people = [
        {"sex": "female", "birth_date": "2000-01-01", "region": "PE-LMA"},
        {"sex": "female", "birth_date": "1985-06-15", "region": "PE-CAL",
         "nationality": "COL", "population_type": "refugee"},
        {"sex": "male", "birth_date": "1950-01-01", "region": "PE-LMA"},
        {"sex": "male", "birth_date": "2015-01-01", "region": "PE-LMA",
         "population_type": "asylum_seeker"},
    ]
    created = [await create(client, auth(org=org), **p) for p in people]
    await create(client, auth(org="ong-otra-cifra"))
    erased = created[2]
    assert (await client.delete(f"/v1/profiles/{erased['id']}", headers=auth(
        org=org, **{"If-Match": erased["_etag"]}))).status_code == 204

    resp = await client.get("/v1/profiles/statistics", headers=auth("coordinator", org=org))
    assert resp.status_code == 200
    s = resp.json()
    assert s["total"] == 4
    assert s["by_sex"] == {"female": 2, "male": 2}
    assert s["by_nationality"] == {"COL": 1, "VEN": 3}
    assert s["by_population_type"] == {"asylum_seeker": 1, "migrant": 2, "refugee": 1}
    assert s["by_region"] == {"PE-CAL": 1, "PE-LMA": 3}
    assert s["by_status"] == {"active": 3, "erased": 1}
    assert sum(s["by_age_band"].values()) == 4
    assert s["by_age_band"]["60+"] == 1 and s["by_age_band"]["0-17"] == 1
    for c in created:
        assert c["id"] not in resp.text

    only_callao = (await client.get("/v1/profiles/statistics", params={"region": "PE-CAL"},
                                    headers=auth("coordinator", org=org))).json()
    assert only_callao["total"] == 1
    admin = await client.get("/v1/profiles/statistics", params={"organisation_id": org},
                             headers=auth("admin", org=None, regions=[]))
    assert admin.status_code == 200 and admin.json()["total"] == 4
    everyone = (await client.get("/v1/profiles/statistics",
                                 headers=auth("admin", org=None, regions=[]))).json()
    assert everyone["total"] >= 5
    future = (await client.get("/v1/profiles/statistics",
                               params={"registered_from": "2099-01-01"},
                               headers=auth("coordinator", org=org))).json()
    assert future["total"] == 0
    for role in ("caseworker", "provider", "ngo_partner"):
        denied = await client.get("/v1/profiles/statistics", headers=auth(role, org=org))
        assert denied.status_code == 403, role
