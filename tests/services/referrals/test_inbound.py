"""Ministry systems push referral decisions through signed inbound callbacks: the gateway
verifies the signature and calls this service as ``ministry_system`` of the source's
organisation with ``If-Match: *``; a step completed that way opens the pathway's next."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from gateway.events.signing import sign
from tests.support.referrals import OUTCOMES, Route
from tests.support.tokens import TokenFactory


def signed(secret: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    mid, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    return raw, {"webhook-id": mid, "webhook-timestamp": str(stamp),
                 "webhook-signature": sign(secret, mid, stamp, raw),
                 "content-type": "application/json"}


@pytest.fixture
def source(auth: TokenFactory) -> Any:
    async def register(client: httpx.AsyncClient, org: str) -> str:
        admin = auth("admin", org=None, regions=[])
        made = await client.post("/v1/organisations", headers=admin, json={
            "id": org, "name": org.upper(), "kind": "ministry", "country": "PE",
            "regions": ["PE-LMA"]})
        assert made.status_code in (201, 409), made.text
        created = await client.post("/v1/inbound-sources", headers=admin, json={
            "id": org, "name": f"{org} callbacks", "organisation_id": org})
        assert created.status_code == 201, created.text
        return str(created.json()["secret"])

    return register


async def test_a_signed_ministry_callback_moves_the_step_and_the_pathway(
    route: Route, source: Any
) -> None:
    secret = await source(route.client, "sunedu")
    pid = await route.person(consents_for=("sunedu", "mtpe-empleo"))
    pathway = (await route.client.post("/v1/pathways", headers=route.h(), json={
        "profile_id": pid, "template": "pe-recognition-employment"})).json()
    rid = pathway["steps"][0]["referral_id"]

    for data in ({"action": "accept"}, {"action": "start"},
                 {"action": "complete", "reason": "Resolución emitida",
                  "outcome": OUTCOMES["recognition"]}):
        body, headers = signed(secret, {"type": "referral.transition",
                                        "data": {"referral_id": rid, **data}})
        applied = await route.client.post("/v1/inbound/sunedu", content=body, headers=headers)
        assert applied.status_code == 200, applied.text
        assert applied.json()["status"] == "applied"
        replayed = await route.client.post("/v1/inbound/sunedu", content=body,
                                           headers=headers)
        assert replayed.json()["status"] == "duplicate"

    history = (await route.client.get(f"/v1/referrals/{rid}/history",
                                      headers=route.h())).json()["items"]
    assert [(h["action"], h["actor_role"], h["actor_organisation_id"]) for h in history] == [
        ("create", "caseworker", "ong-lima"), ("accept", "ministry_system", "sunedu"),
        ("start", "ministry_system", "sunedu"), ("complete", "ministry_system", "sunedu")]
    state = (await route.client.get(f"/v1/pathways/{pathway['id']}",
                                    headers=route.h())).json()
    assert state["current_step"] == 1 and state["steps"][1]["status"] == "open"


async def test_a_source_cannot_move_another_organisations_referral(
    route: Route, source: Any
) -> None:
    secret = await source(route.client, "colegio-medico-peru")
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, "pe-empleo", "mtpe-empleo")
    body, headers = signed(secret, {"type": "referral.transition",
                                    "data": {"referral_id": r["id"], "action": "accept"}})
    refused = await route.client.post("/v1/inbound/colegio-medico-peru", content=body,
                                      headers=headers)
    assert refused.status_code == 422, refused.text
    after = (await route.client.get(f"/v1/referrals/{r['id']}", headers=route.h())).json()
    assert after["status"] == "requested" and after["version"] == 1


async def test_an_employment_service_pushes_its_vacancies_as_signed_callbacks(
    route: Route, source: Any
) -> None:
    from tests.support.vacancies import vacancy

    secret = await source(route.client, "mtpe-empleo")
    body, headers = signed(secret, {"type": "vacancy.upsert",
                                    "data": vacancy(external_id="EP-77", openings=4)})
    applied = await route.client.post("/v1/inbound/mtpe-empleo", content=body, headers=headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    replayed = await route.client.post("/v1/inbound/mtpe-empleo", content=body,
                                       headers=headers)
    assert replayed.json()["status"] == "duplicate"
    body, headers = signed(secret, {"type": "vacancy.upsert",
                                    "data": vacancy(external_id="EP-77", openings=5)})
    assert (await route.client.post("/v1/inbound/mtpe-empleo", content=body,
                                    headers=headers)).status_code == 200
    listed = (await route.client.get("/v1/vacancies", params={"external_id": "EP-77"},
                                     headers=route.h())).json()["items"]
    assert [(v["openings"], v["version"], v["organisation_id"]) for v in listed] == [
        (5, 2, "mtpe-empleo")]

    # a discriminatory offer is rejected, and recorded as such
    body, headers = signed(secret, {"type": "vacancy.upsert", "data": vacancy(
        external_id="EP-78", requirements={"sex": "F"})})
    refused = await route.client.post("/v1/inbound/mtpe-empleo", content=body, headers=headers)
    assert refused.status_code == 422, refused.text
    # a source that is no employment service cannot post vacancies
    other = await source(route.client, "sunedu")
    body, headers = signed(other, {"type": "vacancy.upsert",
                                   "data": vacancy(external_id="SU-1")})
    assert (await route.client.post("/v1/inbound/sunedu", content=body,
                                    headers=headers)).status_code in (403, 422)
