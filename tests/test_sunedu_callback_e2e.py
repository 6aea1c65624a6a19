"""Issue 7, acceptance 7, end to end: a signed SUNEDU callback recognises the degree once,
and the pathway's recognition referral follows through the event (credentials' outbox →
gateway feed → referrals' inbox), opening the next step."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.events.signing import sign
from ruta.embedded import create_embedded_app
from shared.db import Database
from shared.settings import Settings
from tests.support.contract import contract_client
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


@pytest.fixture
async def hub_app(dbs: dict[str, Database]) -> AsyncIterator[FastAPI]:
    app = create_embedded_app(Settings(), dbs)
    async with app.router.lifespan_context(app):
        yield app


def signed(secret: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    mid, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    return raw, {"webhook-id": mid, "webhook-timestamp": str(stamp),
                 "webhook-signature": sign(secret, mid, stamp, raw),
                 "content-type": "application/json"}


async def test_sunedu_recognition_moves_the_credential_and_the_pathway(
    hub_app: FastAPI, auth: TokenFactory
) -> None:
    async with contract_client(hub_app) as c:
        admin = auth("admin", org=None, regions=[])
        await c.post("/v1/organisations", headers=admin, json={
            "id": "sunedu", "name": "SUNEDU", "kind": "ministry", "country": "PE",
            "regions": ["PE-LMA"]})
        source = await c.post("/v1/inbound-sources", headers=admin, json={
            "id": "sunedu", "name": "SUNEDU", "organisation_id": "sunedu"})
        secret = source.json()["secret"]
        cw = auth("caseworker", org="ong-lima", regions=["PE-LMA"])
        person = profile_payload(
            education_level=7, education_field="0912", occupation_training="2211",
            documents=[{"type": "pe_cpp", "number": "CPP0077665", "expiry_date": "2029-12-31",
                        "verification": "seen", "authorises_work": True}],
            consents=[{"purpose": "referral", "recipient_organisation_id": org,
                       "evidence": "written", "evidence_reference": "F-1"}
                      for org in ("sunedu", "aspefam-enam", "colegio-medico-peru",
                                  "mtpe-empleo")])
        pid = (await c.post("/v1/profiles", json=person, headers=cw)).json()["id"]
        degree = await c.post("/v1/credentials", headers=cw, json={
            "profile_id": pid, "kind": "academic_degree", "title": "Médico Cirujano",
            "field_isced": "0912", "occupation_isco": "2211",
            "issuer": {"name": "Universidad de Los Andes", "country": "VE"}})
        cid, etag = degree.json()["id"], degree.headers["etag"]
        for action in ("see_document", "apostille"):
            moved = await c.post(f"/v1/credentials/{cid}/transitions", json={"action": action},
                                 headers={**cw, "If-Match": etag})
            etag = moved.headers["etag"]
        pathway = await c.post("/v1/pathways", headers=cw, json={
            "profile_id": pid, "template": "pe-medical-licensing"})
        assert pathway.status_code == 201, pathway.text
        path_id = pathway.json()["id"]
        await hub_app.state.hub.run_once()  # earlier events out of the way

        decision = {"type": "credential.transition", "data": {
            "credential_id": cid, "action": "recognise", "reason": "Resolución emitida",
            "recognition": {"body": "SUNEDU", "resolution_number": "0789-2026-SUNEDU/DIGRAT",
                            "resolution_date": "2026-11-21"}}}
        body, headers = signed(secret, decision)
        applied = await c.post("/v1/inbound/sunedu", content=body, headers=headers)
        assert applied.status_code == 200, applied.text
        again = await c.post("/v1/inbound/sunedu", content=body, headers=headers)
        assert again.json()["status"] == "duplicate"
        assert (await c.get(f"/v1/credentials/{cid}", headers=cw)).json()["status"] \
            == "recognised"

        await hub_app.state.hub.run_once()  # credential.status_changed → referrals
        state = (await c.get(f"/v1/pathways/{path_id}", headers=cw)).json()
        steps = state["steps"]
        assert steps[0]["status"] == "completed", state
        assert steps[1]["status"] == "open"  # ENAM opened by the same event
        history = (await c.get(f"/v1/credentials/{cid}/history", headers=cw)).json()
        assert [h["action"] for h in history["items"]].count("recognise") == 1
