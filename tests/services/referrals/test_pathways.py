"""Pathways: instantiated from a template, the first step opened as a referral (consent
checked), completing a step opens the next, a failed step holds the pathway, and the whole
state is readable in one call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.referrals.models import Pathway, Referral
from shared.db import Database
from tests.support.referrals import Route, events
from tests.support.tokens import TokenFactory

RECOGNITION = "pe-recognition-employment"


async def _pathway(route: Route, pid: str, template: str = RECOGNITION,
                   headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    return await route.client.post("/v1/pathways", headers=headers or route.h(),
                                   json={"profile_id": pid, "template": template, **extra})


async def _state(route: Route, pathway_id: str, headers: dict[str, str] | None = None
                 ) -> httpx.Response:
    return await route.client.get(f"/v1/pathways/{pathway_id}", headers=headers or route.h())


async def _move_pathway(route: Route, pathway_id: str, action: str, **body: Any
                        ) -> httpx.Response:
    etag = (await _state(route, pathway_id)).headers["etag"]
    return await route.client.post(f"/v1/pathways/{pathway_id}/transitions",
                                   json={"action": action, "reason": "Decisión del caso",
                                         **body},
                                   headers=route.h(**{"If-Match": etag}))


async def test_templates_are_listed(route: Route) -> None:
    resp = await route.client.get("/v1/pathways/templates", headers=route.h())
    assert resp.status_code == 200
    ids = {t["id"] for t in resp.json()["items"]}
    assert {"pe-medical-licensing", "pe-nursing-licensing", RECOGNITION,
            "pe-emprende-segura"} <= ids
    nursing = next(t for t in resp.json()["items"] if t["id"] == "pe-nursing-licensing")
    assert [s["programme_id"] for s in nursing["steps"]] == [
        "pe-sunedu-reconocimiento", "pe-colegio-enfermeros", "pe-empleo"]


async def test_a_missing_consent_for_the_next_step_holds_until_resumed(
    route: Route, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("sunedu",))
    await route.credential(pid, field_isced="0732", title="Ingeniero Civil")
    created = await _pathway(route, pid)
    assert created.status_code == 201, created.text
    pathway = created.json()
    assert created.headers["location"] == f"/v1/pathways/{pathway['id']}"
    first = pathway["steps"][0]
    assert (first["status"], first["referral_status"], first["attempts"]) == (
        "open", "requested", 1)
    referral = (await route.client.get(f"/v1/referrals/{first['referral_id']}",
                                       headers=route.h())).json()
    assert (referral["pathway_id"], referral["pathway_step"]) == (pathway["id"], 0)
    assert referral["credential_id"] == pathway["credential_id"] is not None

    await route.complete(first["referral_id"], "sunedu", "recognition")
    held = (await _state(route, pathway["id"])).json()
    assert held["status"] == "on_hold" and held["current_step"] == 1
    assert held["held_reason"] == {"code": "consent_missing", "step": 1,
                                   "programme_id": "pe-empleo", "purpose": "referral",
                                   "recipient_organisation_id": "mtpe-empleo"}
    assert [s["status"] for s in held["steps"]] == ["completed", "pending"]

    refused = await _move_pathway(route, pathway["id"], "resume")
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/consent-required"
    assert (await route.consent(pid, "mtpe-empleo")).status_code == 201
    resumed = await _move_pathway(route, pathway["id"], "resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active" and resumed.json()["held_reason"] is None
    second = resumed.json()["steps"][1]
    assert second["status"] == "open"
    await route.complete(second["referral_id"], "mtpe-empleo", "employment")
    done = (await _state(route, pathway["id"])).json()
    assert done["status"] == "completed"
    kinds = [e["type"] for e in await events(dbs["referrals"], subject_id=pathway["id"])]
    assert kinds == ["pathway.advanced", "pathway.advanced", "pathway.completed"]
    again = await _move_pathway(route, pathway["id"], "cancel")
    assert again.status_code == 409 and again.json()["type"] == "/problems/pathway-closed"


async def test_a_rejected_step_holds_and_resume_opens_a_new_referral(route: Route) -> None:
    pid = await route.person(consents_for=("sunedu", "mtpe-empleo"))
    pathway = (await _pathway(route, pid)).json()
    first = pathway["steps"][0]["referral_id"]
    not_held = await _move_pathway(route, pathway["id"], "resume")
    assert not_held.status_code == 409
    assert not_held.json()["type"] == "/problems/pathway-not-on-hold"
    rejected = await route.move(first, route.provider("sunedu"), "reject",
                                reason="Falta apostilla", reason_code="documents_missing")
    assert rejected.status_code == 200, rejected.text
    held = (await _state(route, pathway["id"])).json()
    assert held["status"] == "on_hold"
    assert held["held_reason"] == {"code": "step_rejected", "step": 0,
                                   "programme_id": "pe-sunedu-reconocimiento",
                                   "referral_id": first, "reason_code": "documents_missing"}
    assert held["steps"][0]["status"] == "failed"
    elsewhere = await _move_pathway(route, pathway["id"], "resume",
                                    provider_id="mtpe-empleo-regiones")
    assert elsewhere.status_code == 422  # does not deliver the step's programme
    resumed = await _move_pathway(route, pathway["id"], "resume")
    assert resumed.status_code == 200, resumed.text
    step = resumed.json()["steps"][0]
    assert step["status"] == "open" and step["attempts"] == 2
    assert step["referral_id"] != first and step["referral_status"] == "requested"
    # a referral cancelled by its referrer also holds the pathway
    await route.move(step["referral_id"], route.h(), "cancel", reason="Cambio de plan")
    assert (await _state(route, pathway["id"])).json()["held_reason"]["code"] == \
        "step_cancelled"


async def test_failing_a_step_holds_and_cancelling_the_pathway_cancels_its_referral(
    route: Route
) -> None:
    pid = await route.person(consents_for=("sunedu", "mtpe-empleo"))
    pathway = (await _pathway(route, pid, providers={"pe-empleo": "mtpe-empleo"})).json()
    assert [s["provider_id"] for s in pathway["steps"]] == ["sunedu", "mtpe-empleo"]
    rid = pathway["steps"][0]["referral_id"]
    await route.walk(rid, route.provider("sunedu"), ("accept", {}), ("start", {}),
                     ("fail", {"reason": "Silencio administrativo negativo",
                               "reason_code": "other"}))
    assert (await _state(route, pathway["id"])).json()["held_reason"]["code"] == "step_failed"
    resumed = await _move_pathway(route, pathway["id"], "resume")
    new_rid = resumed.json()["steps"][0]["referral_id"]
    cancelled = await _move_pathway(route, pathway["id"], "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert [s["status"] for s in cancelled.json()["steps"]] == ["cancelled", "cancelled"]
    referral = (await route.client.get(f"/v1/referrals/{new_rid}", headers=route.h())).json()
    assert referral["status"] == "cancelled"
    # another pathway of the same kind may now start
    assert (await _pathway(route, pid)).status_code == 201


@pytest.mark.invalid_request
async def test_pathway_creation_is_validated_and_writes_nothing_when_refused(
    route: Route, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    no_consent = await _pathway(route, pid)
    assert no_consent.status_code == 409
    assert no_consent.json()["missing_consent"]["recipient_organisation_id"] == "sunedu"
    cases = [
        ({"template": "pe-astronaut"}, "template"),
        ({"template": "ec-recognition-employment"}, "template"),
        ({"providers": {"pe-sunedu-reconocimiento": "mtpe-empleo"}},
         "providers.pe-sunedu-reconocimiento"),
        ({"providers": {"pe-enam": "aspefam-enam"}}, "providers.pe-enam"),
        ({"status": "completed"}, "status"),
    ]
    for extra, field in cases:
        resp = await _pathway(route, pid, **extra)
        assert resp.status_code == 422, (extra, resp.text)
        assert field in {e["field"] for e in resp.json()["errors"]}, resp.text
    stranger = await route.person(headers=auth(org="ong-otra"))
    assert (await _pathway(route, stranger)).status_code == 422
    async with dbs["referrals"].uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Pathway).where(
            Pathway.profile_id.in_([pid, stranger]))) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Referral).where(
            Referral.profile_id.in_([pid, stranger]))) == 0
    for role in ("provider", "admin"):
        h = auth(role, org=None if role == "admin" else "sunedu")
        assert (await _pathway(route, pid, headers=h)).status_code == 403


async def test_one_live_pathway_per_template_and_idempotent_creation(
    route: Route, auth: TokenFactory
) -> None:
    pid = await route.person(consents_for=("sunedu", "oit-emprende-pe"))
    keyed = route.h(**{"Idempotency-Key": "path-1"})
    first = await _pathway(route, pid, headers=keyed)
    replay = await _pathway(route, pid, headers=keyed)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    twice = await _pathway(route, pid)
    assert twice.status_code == 409
    assert twice.json()["pathway_id"] == first.json()["id"]
    # another template is another pathway, if its first step's programme is free
    emprende = await _pathway(route, pid, template="pe-emprende-segura")
    assert emprende.status_code == 201, emprende.text
    listed = await route.client.get("/v1/pathways", params={"profile_id": pid},
                                    headers=route.h())
    assert {p["id"] for p in listed.json()["items"]} == {first.json()["id"],
                                                        emprende.json()["id"]}
    only = await route.client.get("/v1/pathways", params={"profile_id": pid,
                                                          "template": "pe-emprende-segura"},
                                  headers=route.h())
    assert [p["id"] for p in only.json()["items"]] == [emprende.json()["id"]]


async def test_who_sees_a_pathway(route: Route, auth: TokenFactory) -> None:
    pid = await route.person(consents_for=("sunedu", "mtpe-empleo"))
    pathway = (await _pathway(route, pid)).json()
    url = f"/v1/pathways/{pathway['id']}"
    for h in (route.h(), route.provider("sunedu"),
              auth("coordinator", org="ong-lima", regions=["PE-LMA"])):
        assert (await route.client.get(url, headers=h)).status_code == 200
    for h in (route.provider("aspefam-enam"), auth(org="ong-otra"),
              auth(org="ong-lima", regions=["PE-CUS"])):
        resp = await route.client.get(url, headers=h)
        assert resp.status_code == 404 and pid not in resp.text
    provider_list = await route.client.get("/v1/pathways",
                                           headers=route.provider("mtpe-empleo"))
    assert provider_list.json()["items"] == []  # not referred to it (yet)
    sunedu_list = await route.client.get("/v1/pathways", headers=route.provider("sunedu"))
    assert [p["id"] for p in sunedu_list.json()["items"]] == [pathway["id"]]
    # providers read, never steer
    moved = await route.client.post(f"{url}/transitions", json={
        "action": "cancel", "reason": "no corresponde"},
        headers=route.provider("sunedu", **{"If-Match": '"v1"'}))
    assert moved.status_code == 403
