"""Recommendations over HTTP: inputs read from the registry and the credentials service as
the caller (their scope is ours), answers in the caller's language, no guessing when a
sibling is down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.errors import ServiceUnavailable
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
