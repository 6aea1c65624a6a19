"""Issue 16, item 10: a consent naming a programme the referrals catalogue does not know is a
422 naming ``programme_id`` (before: 201, a consent for nothing that no check ever matches);
referrals unreachable is a 503, never an unknown programme accepted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.errors import ServiceUnavailable
from tests.support.payloads import profile_payload
from tests.support.registry import create
from tests.support.tokens import TokenFactory

REFERRAL = {"purpose": "referral", "recipient_organisation_id": "mtpe-empleo",
            "evidence": "written", "evidence_reference": "FORM-2026-0042"}


def _fields(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in resp.json()["errors"]]


async def test_a_known_programme_is_recorded(client: httpx.AsyncClient,
                                             auth: TokenFactory) -> None:
    p = await create(client, auth())
    resp = await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(),
                             json={**REFERRAL, "programme_id": "pe-empleo"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["programme_id"] == "pe-empleo"


async def test_an_unknown_programme_is_refused_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}/consents"
    resp = await client.post(url, headers=auth(),
                             json={**REFERRAL, "programme_id": "pe-no-existe"})
    assert _fields(resp) == ["programme_id"]
    listed = (await client.get(url, headers=auth())).json()["items"]
    assert all(c.get("programme_id") != "pe-no-existe" for c in listed)


async def test_registering_a_person_with_an_unknown_programme_consent_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    person = profile_payload(consents=[
        {"purpose": "registration", "evidence": "written", "evidence_reference": "F-1"},
        {**REFERRAL, "programme_id": "pe-no-existe"}])
    resp = await client.post("/v1/profiles", json=person, headers=auth())
    assert _fields(resp) == ["consents[1].programme_id"]
    found = await client.get("/v1/profiles", params={"q": person["first_surname"]},
                             headers=auth())
    assert found.json()["items"] == []


@pytest.mark.parametrize("failure", ["raise", 500])
async def test_referrals_unreachable_is_503_never_accepted(
    client: httpx.AsyncClient, auth: TokenFactory, app: FastAPI,
    monkeypatch: pytest.MonkeyPatch, failure: object,
) -> None:
    p = await create(client, auth())
    peers = app.state.upstreams["registry"].app.state.peers
    real = peers.request

    async def down(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
        if name == "referrals":
            if failure == "raise":
                raise ServiceUnavailable()
            return httpx.Response(500, json={})
        response: httpx.Response = await real(name, method, path, **kw)
        return response

    monkeypatch.setattr(peers, "request", down)
    resp = await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(),
                             json={**REFERRAL, "programme_id": "pe-empleo"})
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    # a consent naming no programme needs no catalogue
    plain = await client.post(f"/v1/profiles/{p['id']}/consents", headers=auth(),
                              json=REFERRAL)
    assert plain.status_code == 201, plain.text


async def test_a_batch_item_with_an_unknown_programme_is_invalid_and_the_rest_created(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    known = profile_payload(consents=[{**REFERRAL, "programme_id": "pe-empleo"}])
    unknown = profile_payload(given_names="Ana", documents=[], consents=[
        {**REFERRAL, "programme_id": "pe-no-existe"}])
    resp = await client.post("/v1/profiles/bulk", json={"items": [known, unknown]},
                             headers=auth())
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert results[0]["status"] == "created"
    assert results[1]["status"] == "invalid"
    assert [e["field"] for e in results[1]["errors"]] == ["consents[0].programme_id"]
