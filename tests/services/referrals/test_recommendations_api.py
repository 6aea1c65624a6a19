"""Recommendations over HTTP: inputs read from the registry and the credentials service as
the caller (their scope is ours), answers in the caller's language, no guessing when a
sibling is down."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.errors import ServiceUnavailable
from shared.work_authorisation import today_in
from tests.support.referrals import Route
from tests.support.tokens import TokenFactory


async def test_recommendations_read_the_person_as_the_caller(
    route: Route, auth: TokenFactory
) -> None:
    pid = await route.person(education_field="0913")
    await route.credential(pid, title="Licenciada en Enfermería", field_isced="0913",
                           occupation_isco="2221")
    resp = await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=route.h())
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["profile_id"] == pid and body["rules_version"] >= 1
    items = body["items"]
    assert [i["order"] for i in items] == list(range(1, len(items) + 1))
    assert items[0]["programme"]["id"] == "pe-sunedu-reconocimiento"
    assert all(i["programme"]["country"] == "PE" for i in items)
    nursing = next(i for i in items if i["programme"]["id"] == "pe-colegio-enfermeros")
    assert nursing["relevant"] is True and nursing["eligible"] is False
    empleo = next(i for i in items if i["programme"]["id"] == "pe-empleo")
    assert empleo["provider_ids"] == ["mtpe-empleo"]  # the one serving PE-LMA

    english = await route.client.get(f"/v1/profiles/{pid}/recommendations",
                                     headers=route.h(**{"Accept-Language": "en"}))
    first = english.json()["items"][0]
    assert first["programme"]["name"] == "Foreign degree recognition (SUNEDU)"
    assert {"code": "degree_not_apostilled", "message": "Degree not apostilled"} \
        in first["missing"]

    # not visible to the caller in the registry: not found here either
    for h in (auth(org="ong-otra"), auth(org="ong-lima", regions=["PE-CUS"])):
        hidden = await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=h)
        assert hidden.status_code == 404 and pid not in hidden.text
    unknown = await route.client.get(
        "/v1/profiles/00000000-0000-0000-0000-000000000000/recommendations",
        headers=route.h())
    assert unknown.status_code == 404
    for role in ("provider", "admin", "ministry_system"):
        h = auth(role, org=None if role == "admin" else "mtpe-empleo")
        assert (await route.client.get(f"/v1/profiles/{pid}/recommendations",
                                       headers=h)).status_code == 403


async def test_a_referral_in_progress_shows_in_the_recommendations(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    await route.referral(pid, "pe-empleo", "mtpe-empleo")
    items = (await route.client.get(f"/v1/profiles/{pid}/recommendations",
                                    headers=route.h())).json()["items"]
    assert next(i for i in items if i["programme"]["id"] == "pe-empleo")[
        "referral_status"] == "open"


@pytest.mark.parametrize("failure", ["raise", 500])
async def test_a_sibling_down_is_503_never_a_guess(
    route: Route, app: FastAPI, monkeypatch: pytest.MonkeyPatch, failure: object
) -> None:
    pid = await route.person()
    peers = app.state.upstreams["referrals"].app.state.peers
    real = peers.request

    async def flaky(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
        if name == "credentials":
            if failure == "raise":
                raise ServiceUnavailable()
            return httpx.Response(500, json={})
        response: httpx.Response = await real(name, method, path, **kw)
        return response

    monkeypatch.setattr(peers, "request", flaky)
    resp = await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=route.h())
    assert resp.status_code == 503
    assert resp.headers["content-type"] == "application/problem+json"


def _cpp(days_left: int, **extra: Any) -> dict[str, Any]:
    expiry = today_in("PE") + timedelta(days=days_left)
    return {"type": "pe_cpp", "number": f"CPP{uuid.uuid4().int % 10**9:09d}",
            "expiry_date": expiry.isoformat(), "verification": "seen", **extra}


async def test_a_lapsed_cpp_puts_the_renewal_first_and_blocks_the_employment_service(
    route: Route
) -> None:
    """Issue 19 item 4b through the gateway: the CPP lapsed three days ago (Lima's day)."""
    cedula = {"type": "ve_cedula", "number": f"V{uuid.uuid4().int % 10**8}",
              "verification": "seen"}
    pid = await route.person(documents=[cedula, _cpp(-3, authorises_work=True)])
    resp = await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=route.h())
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    first = items[0]
    assert first["programme"] == {
        "id": "pe-migraciones-renovacion", "route_type": "regularisation", "country": "PE",
        "name": "Renovación del CPP o del carné de extranjería (Migraciones)"}
    assert first["relevant"] and first["eligible"] and first["blocked_by"] is None
    assert first["provider_ids"] == ["migraciones"]
    empleo = next(i for i in items if i["programme"]["id"] == "pe-empleo")
    assert empleo["eligible"] is False
    assert "no_work_authorisation" in {m["code"] for m in empleo["missing"]}
    assert empleo["blocked_by"]["programme_id"] == "pe-migraciones-renovacion"
    assert empleo["blocked_by"]["code"] == "work_authorisation_lapsed"
    assert empleo["blocked_by"]["message"].startswith(
        "Bloqueado: Carné de Permiso Temporal de Permanencia (CPP) venció el ")
    english = (await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=route.h(
        **{"Accept-Language": "en"}))).json()["items"]
    blocked = next(i for i in english if i["programme"]["id"] == "pe-empleo")["blocked_by"]
    assert blocked["message"].startswith("Blocked: the Temporary Permanence Permit card (CPP) "
                                         "expired on ")
    emprende = next(i for i in items if i["programme"]["id"] == "pe-emprende-segura")
    assert emprende["blocked_by"] is None

    # a referral to the renewal is made like any other (Migraciones' SLA from the catalogue)
    await route.consent(pid, "migraciones")
    referral = await route.referral(pid, "pe-migraciones-renovacion", "migraciones")
    assert referral["route_type"] == "regularisation"
    assert referral["outcome_kind"] == "regularisation"


async def test_a_cpp_marked_as_not_authorising_work_shows_the_disagreement(
    route: Route
) -> None:
    """The caseworker's mark stays recorded evidence; the shared rules decide, and say so."""
    pid = await route.person(documents=[_cpp(200, authorises_work=False)])
    items = (await route.client.get(f"/v1/profiles/{pid}/recommendations", headers=route.h(
        **{"Accept-Language": "en"}))).json()["items"]
    empleo = next(i for i in items if i["programme"]["id"] == "pe-empleo")
    assert empleo["eligible"] is True and empleo["blocked_by"] is None
    assert {"code": "work_authorisation_evidence_disagrees",
            "message": "Temporary Permanence Permit card (CPP): recorded as 'authorises "
                       "work: no', but by the rules yes; the rules apply"} in empleo["reasons"]
    profile = (await route.client.get(f"/v1/profiles/{pid}", headers=route.h())).json()
    assert profile["documents"][0]["authorises_work"] is False  # never overwritten
