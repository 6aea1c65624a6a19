"""Issue 21 in one process: a deployment that lists itself as its peer prepares a portable
record and imports it. The same documents link to the person already registered (never a
duplicate); both transfer events are emitted; refusals write nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ruta.embedded import create_embedded_app
from services.registry.portability.trust import PeerTrust
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

BASE = "http://ruta.test"
SELF = [{"id": "ruta-pe", "country": "PE", "issuer": BASE,
         "jwks_url": f"{BASE}/v1/transfers/jwks.json"}]


class _Later:
    """An ASGI app bound after it is built: the peer is the app being built."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture
async def app(dbs: dict[str, Database], monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[FastAPI]:
    settings = Settings(public_base_url=BASE, peer_deployments=json.dumps(SELF))
    later = _Later()
    # the peer's keys are fetched over HTTP: here, from this very app
    monkeypatch.setattr("services.registry.app.PeerTrust", lambda s: PeerTrust(
        s, httpx.AsyncClient(transport=httpx.ASGITransport(app=later), base_url=BASE)))
    app = create_embedded_app(settings, dbs)
    later.app = app
    async with app.router.lifespan_context(app):
        yield app


async def _person(c: httpx.AsyncClient, cw: dict[str, str], *, consent: bool) -> str:
    consents = [{"purpose": "transfer", "recipient_deployment_id": "ruta-pe",
                 "evidence": "written", "evidence_reference": "F-T"}] if consent else []
    created = await c.post("/v1/profiles", headers=cw, json=profile_payload(
        documents=[{"type": "ve_cedula", "number": "V20111222", "verification": "seen"}],
        consents=consents))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_the_same_document_links_and_both_events_are_emitted(
        app: FastAPI, auth: TokenFactory) -> None:
    cw = auth("caseworker", org="ong-lima", regions=["PE-LMA"])
    async with contract_client(app) as c:
        pid = await _person(c, cw, consent=True)
        prepared = await c.post(f"/v1/profiles/{pid}/portable-record", headers=cw,
                                json={"destination": "ruta-pe"})
        assert prepared.status_code == 200, prepared.text
        token = prepared.json()["bundle"]
        assert token.count(".") == 4  # a JWE, not readable without our key
        assert "Carrillo" not in token and "V20111222" not in token
        imported = await c.post("/v1/transfers/import", headers=cw,
                                json={"bundle": token, "region": "PE-LMA"})
        assert imported.status_code == 201, imported.text
        assert imported.json()["linked"] is True
        assert imported.json()["profile_id"] == pid
        listed = await c.get("/v1/profiles", headers=cw, params={"document": "V20111222"})
        assert len(listed.json()["items"]) == 1
        coordinator = auth("coordinator", org="ong-lima", regions=["PE-LMA"])
        audit = (await c.get(f"/v1/profiles/{pid}/audit", headers=coordinator)
                 ).json()["items"]
        assert {"transfer_out", "transfer_in"} <= {a["action"] for a in audit}
        await app.state.hub.run_once()
        feed = await c.get("/v1/events", headers=auth("admin", org=None, regions=[]),
                           params={"types": "profile.transfer_prepared,profile.transferred_in"})
        assert {e["type"] for e in feed.json()["items"]} == {
            "profile.transfer_prepared", "profile.transferred_in"}


async def test_no_transfer_consent_is_409_naming_it(app: FastAPI, auth: TokenFactory) -> None:
    cw = auth("caseworker", org="ong-lima", regions=["PE-LMA"])
    async with contract_client(app) as c:
        pid = await _person(c, cw, consent=False)
        refused = await c.post(f"/v1/profiles/{pid}/portable-record", headers=cw,
                               json={"destination": "ruta-pe"})
        assert refused.status_code == 409, refused.text
        assert "transfer" in refused.json()["detail"]
        other = auth("caseworker", org="ong-otra", regions=["PE-LMA"])
        hidden = await c.post(f"/v1/profiles/{pid}/portable-record", headers=other,
                              json={"destination": "ruta-pe"})
        assert hidden.status_code == 404


async def test_the_profile_read_shows_where_an_imported_person_came_from(
        app: FastAPI, auth: TokenFactory) -> None:
    """A caseworker reading the profile sees the peer deployment and the original id, on
    the read (the one-statement path on PostgreSQL, the unit of work on SQLite) and on a
    rectification's answer alike; a person never imported shows null."""
    cw = auth("caseworker", org="ong-lima", regions=["PE-LMA"])
    async with contract_client(app) as c:
        pid = await _person(c, cw, consent=True)
        before = await c.get(f"/v1/profiles/{pid}", headers=cw)
        assert before.status_code == 200, before.text
        assert before.json()["imported_from"] is None
        token = (await c.post(f"/v1/profiles/{pid}/portable-record", headers=cw,
                              json={"destination": "ruta-pe"})).json()["bundle"]
        imported = await c.post("/v1/transfers/import", headers=cw,
                                json={"bundle": token, "region": "PE-LMA"})
        assert imported.status_code == 201, imported.text
        read = await c.get(f"/v1/profiles/{pid}", headers=cw)
        assert read.status_code == 200, read.text
        assert read.json()["imported_from"] == {"deployment": "ruta-pe", "profile_id": pid}
        assert read.json()["imported_from"] == imported.json()["imported_from"]
        patched = await c.patch(f"/v1/profiles/{pid}", json={"phone": "+51987654322"},
                                headers={**cw, "If-Match": read.headers["ETag"]})
        assert patched.status_code == 200, patched.text
        assert patched.json()["imported_from"] == read.json()["imported_from"]
