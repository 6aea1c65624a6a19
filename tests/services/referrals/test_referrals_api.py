"""Referrals through the gateway: consent (acceptance 2), scope (acceptance 4), validation,
the lifecycle over HTTP (If-Match, 403/404/409/412/428), history, events, idempotency."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from services.referrals.models import Referral
from shared.db import Database
from shared.identity import Role
from tests.support.referrals import OUTCOMES, Route, assertion, events
from tests.support.tokens import TokenFactory

EMPLEO = ("pe-empleo", "mtpe-empleo")


# --- acceptance 2: consent ---------------------------------------------------------------
async def test_referral_needs_the_persons_consent_to_share_with_the_provider(
    route: Route, client: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid = await route.person()
    refused = await route.refer(pid, *EMPLEO)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/consent-required"
    assert problem["missing_consent"] == {"purpose": "referral",
                                          "recipient_organisation_id": "mtpe-empleo",
                                          "programme_id": "pe-empleo"}
    assert "mtpe-empleo" in problem["detail"] and "referral" in problem["detail"]
    english = await route.refer(pid, *EMPLEO, headers=route.h(**{"Accept-Language": "en"}))
    assert english.json()["detail"].startswith("The person has not consented")

    # a consent for another organisation does not count; a refusal does not either
    assert (await route.consent(pid, "sunedu")).status_code == 201
    assert (await route.consent(pid, "mtpe-empleo", status="refused")).status_code == 201
    assert (await route.refer(pid, *EMPLEO)).status_code == 409
    async with dbs["referrals"].uow() as uow:
        assert (await uow.session.scalars(
            select(Referral).where(Referral.profile_id == pid))).all() == []

    granted = await route.consent(pid, "mtpe-empleo")
    assert granted.status_code == 201
    created = await route.refer(pid, *EMPLEO, notes="Disponible por las mañanas")
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == '"v1"'
    assert created.headers["location"] == f"/v1/referrals/{body['id']}"
    assert body["status"] == "requested" and body["consent_id"] == granted.json()["id"]
    assert (body["referring_organisation_id"], body["provider_organisation_id"],
            body["profile_organisation_id"], body["region"], body["country"]) == (
        "ong-lima", "mtpe-empleo", "ong-lima", "PE-LMA", "PE")
    assert body["route_type"] == "public_employment_service"
    assert body["outcome_kind"] == "employment"
    assert datetime.fromisoformat(body["due_accept_at"]) < datetime.fromisoformat(
        body["due_complete_at"])
    assert body["allowed_actions"] == ["accept", "reject", "cancel"]

    # withdrawing the consent stops new referrals
    withdrawn = await client.post(
        f"/v1/profiles/{pid}/consents/{granted.json()['id']}/withdraw", headers=route.h())
    assert withdrawn.status_code == 200, withdrawn.text
    other = await route.refer(pid, "pe-certificacion-competencias", "mtpe-empleo")
    assert other.status_code == 409 and other.json()["type"] == "/problems/consent-required"


# --- acceptance 4: scope -----------------------------------------------------------------
async def test_a_provider_outside_the_persons_region_is_422_and_nothing_is_written(
    route: Route, dbs: dict[str, Database]
) -> None:
    """The provider's reach is checked on the region the registry's consent answer gives
    (the person is in Lima; the regional centres serve Cusco, La Libertad...)."""
    pid = await route.person(consents_for=("mtpe-empleo-regiones",))
    resp = await route.refer(pid, "pe-empleo", "mtpe-empleo-regiones")
    assert resp.status_code == 422, resp.text
    assert [e["field"] for e in resp.json()["errors"]] == ["provider_id"]
    async with dbs["referrals"].uow() as uow:
        assert (await uow.session.scalars(
            select(Referral).where(Referral.profile_id == pid))).all() == []
    # the same person, the provider that serves Lima: referred
    assert (await route.consent(pid, "mtpe-empleo")).status_code == 201
    assert (await route.refer(pid, *EMPLEO)).status_code == 201


async def test_referring_asks_the_registry_once_without_reading_the_profile(
    route: Route, client: httpx.AsyncClient
) -> None:
    """A referral to a programme asks the registry one question, the consent check, whose
    answer says whom it answered for; the referrer received no personal data, so the
    person's audit trail shows the consent check and no profile read."""
    pid = await route.person(consents_for=("mtpe-empleo",))
    before = (await client.get(f"/v1/profiles/{pid}/audit",
                               headers=route.auth("coordinator"))).json()["items"]
    created = await route.refer(pid, *EMPLEO)
    assert created.status_code == 201, created.text
    after = (await client.get(f"/v1/profiles/{pid}/audit",
                              headers=route.auth("coordinator"))).json()["items"]
    new = Counter(h["action"] for h in after) - Counter(h["action"] for h in before)
    new.pop("audit_read", None)  # the coordinator's own reading of the trail
    assert new == Counter({"consent_check": 1}), new
    assert created.json()["region"] == "PE-LMA"
    assert created.json()["profile_organisation_id"] == "ong-lima"


async def test_other_providers_and_other_regions_get_404(
    route: Route, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    rid = r["id"]
    strangers = {
        "provider of another organisation": route.provider("sunedu"),
        "caseworker of another region": auth("caseworker", org="ong-lima",
                                              regions=["PE-CUS"]),
        "caseworker of another organisation": auth("caseworker", org="ong-otra"),
        "provider of the right organisation in another region": auth(
            "provider", org="mtpe-empleo", regions=["PE-PIU"]),
    }
    for who, h in strangers.items():
        for resp in (await client.get(f"/v1/referrals/{rid}", headers=h),
                     await client.get(f"/v1/referrals/{rid}/history", headers=h)):
            assert resp.status_code == 404, (who, resp.text)
            assert resp.json()["type"] == "/problems/referral-not-found"
            assert pid not in resp.text
        listed = await client.get("/v1/referrals", headers=h)
        assert listed.status_code == 200 and listed.json()["items"] == [], who
        action = "cancel" if "caseworker" in who else "accept"
        moved = await client.post(f"/v1/referrals/{rid}/transitions",
                                  json={"action": action, "reason": "no es mío"},
                                  headers={**h, "If-Match": r["_etag"]})
        assert moved.status_code == 404, (who, moved.text)
    # those in scope
    for h in (route.h(), route.provider("mtpe-empleo"),
              auth("coordinator", org="ong-lima", regions=["PE-LMA"]),
              auth("ngo_partner", org="ong-lima", regions=[])):
        seen = await client.get(f"/v1/referrals/{rid}", headers=h)
        assert seen.status_code == 200, seen.text
        assert seen.headers["etag"] == '"v1"'
    # an administrator holds no referral data
    admin = auth("admin", org=None, regions=[])
    assert (await client.get("/v1/referrals", headers=admin)).status_code == 403
    assert (await client.get(f"/v1/referrals/{rid}", headers=admin)).status_code == 403


async def test_ministry_system_of_the_provider_acts_with_if_match_star(
    route: Route, internal: httpx.AsyncClient
) -> None:
    """How a signed inbound callback arrives: role ministry_system, the source's
    organisation, ``If-Match: *`` (no ETag to read first)."""
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    url = f"/v1/referrals/{r['id']}/transitions"
    other = {**assertion(Role.MINISTRY_SYSTEM, org="sunedu", subject="sunedu-gw"),
             "If-Match": "*"}
    assert (await internal.post(url, json={"action": "accept"}, headers=other)
            ).status_code == 404
    ministry = {**assertion(Role.MINISTRY_SYSTEM, org="mtpe-empleo", subject="mtpe-gw"),
                "If-Match": "*"}
    accepted = await internal.post(url, json={"action": "accept"}, headers=ministry)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    cancel = await internal.post(url, json={"action": "cancel", "reason": "no procede"},
                                 headers=ministry)
    assert cancel.status_code == 403
    # through the gateway it reads (and lists) the referrals addressed to its organisation
    ms = route.auth("ministry_system", org="mtpe-empleo", regions=[])
    assert (await route.client.get(f"/v1/referrals/{r['id']}", headers=ms)).status_code == 200
    listed = await route.client.get("/v1/referrals", params={"profile_id": pid}, headers=ms)
    assert [i["id"] for i in listed.json()["items"]] == [r["id"]]
    other_ms = route.auth("ministry_system", org="sunedu", regions=[])
    assert (await route.client.get(f"/v1/referrals/{r['id']}", headers=other_ms)
            ).status_code == 404
    history = (await route.client.get(f"/v1/referrals/{r['id']}/history",
                                      headers=route.h())).json()["items"]
    assert (history[-1]["actor"], history[-1]["actor_role"],
            history[-1]["actor_organisation_id"]) == ("mtpe-gw", "ministry_system",
                                                      "mtpe-empleo")


# --- the lifecycle over HTTP -------------------------------------------------------------
@pytest.mark.invalid_request
async def test_transitions_need_if_match_and_a_fresh_etag(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    provider = route.provider("mtpe-empleo")
    url = f"/v1/referrals/{r['id']}/transitions"
    missing = await route.client.post(url, json={"action": "accept"}, headers=provider)
    assert missing.status_code == 428
    accepted = await route.move(r["id"], provider, "accept", etag='"v1"')
    assert accepted.status_code == 200 and accepted.headers["etag"] == '"v2"'
    stale = await route.move(r["id"], provider, "start", etag='"v1"')
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/precondition-failed"


async def test_invalid_transitions_are_409_with_the_allowed_actions(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    provider = route.provider("mtpe-empleo")
    early = await route.move(r["id"], provider, "complete", outcome=OUTCOMES["employment"])
    assert early.status_code == 409, early.text
    assert early.json()["type"] == "/problems/invalid-transition"
    assert early.json()["allowed_actions"] == ["accept", "reject", "cancel"]
    rejected = await route.move(r["id"], provider, "reject", reason="Sin vacantes",
                                reason_code="capacity")
    assert rejected.status_code == 200 and rejected.json()["reason_code"] == "capacity"
    again = await route.move(r["id"], provider, "accept")
    assert again.status_code == 409 and again.json()["allowed_actions"] == []
    cancel = await route.move(r["id"], route.h(), "cancel", reason="ya no")
    assert cancel.status_code == 409


async def test_who_may_take_which_action(route: Route, auth: TokenFactory) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    # the referring caseworker cannot accept; the provider cannot cancel: 403
    by_caseworker = await route.move(r["id"], route.h(), "accept")
    assert by_caseworker.status_code == 403
    assert by_caseworker.json()["type"] == "/problems/action-not-allowed-for-role"
    by_provider = await route.move(r["id"], route.provider("mtpe-empleo"), "cancel",
                                   reason="no procede")
    assert by_provider.status_code == 403
    # the referring organisation (another of its people) cancels
    colleague = auth("coordinator", org="ong-lima", subject="coord-1")
    cancelled = await route.move(r["id"], colleague, "cancel", reason="Se mudó a Arequipa")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


@pytest.mark.invalid_request
async def test_bodies_are_validated_per_action(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    provider = route.provider("mtpe-empleo")
    cases = [
        ({"action": "reject", "reason": "Sin cupos"}, "reason_code"),
        ({"action": "reject", "reason_code": "capacity"}, "reason"),
        ({"action": "accept", "reason_code": "capacity"}, "reason_code"),
        ({"action": "accept", "outcome": OUTCOMES["employment"]}, "outcome"),
        ({"action": "teleport"}, "action"),
        ({"action": "accept", "status": "completed"}, "status"),
        ({"action": "reject", "reason": "x" * 1001, "reason_code": "capacity"}, "reason"),
        ({"action": "reject", "reason": "ok ok", "reason_code": "bored"}, "reason_code"),
    ]
    for body, field in cases:
        resp = await route.client.post(f"/v1/referrals/{r['id']}/transitions", json=body,
                                       headers={**provider, "If-Match": r["_etag"]})
        assert resp.status_code == 422, (body, resp.text)
        assert field in {e["field"].split(".")[0] for e in resp.json()["errors"]}, resp.text
    await route.walk(r["id"], provider, ("accept", {}), ("start", {}))
    no_outcome = await route.move(r["id"], provider, "complete")
    assert no_outcome.status_code == 422
    wrong_kind = await route.move(r["id"], provider, "complete",
                                  outcome=OUTCOMES["recognition"])
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["errors"][0]["field"] == "outcome.type"
    bad_wage = await route.move(r["id"], provider, "complete", outcome={
        **OUTCOMES["employment"], "monthly_wage": -5})
    assert bad_wage.status_code == 422
    no_currency = await route.move(r["id"], provider, "complete", outcome={
        k: v for k, v in OUTCOMES["employment"].items() if k != "currency"})
    assert no_currency.status_code == 422
    done = await route.move(r["id"], provider, "complete", outcome=OUTCOMES["employment"],
                            reason="Contrato firmado")
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == {**OUTCOMES["employment"], "occupation_isco": None,
                                      "start_date": None}
    assert done.json()["closed_at"] is not None


async def test_history_and_events_record_who_when_why_without_personal_data(
    route: Route, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO, notes="Tiene dos hijos; prefiere turno mañana")
    provider = route.provider("mtpe-empleo")
    await route.walk(r["id"], provider, ("accept", {"reason": "Cita el lunes"}),
                     ("start", {}), ("hold", {"reason": "Espera certificado médico"}),
                     ("resume", {}),
                     ("fail", {"reason": "No se presentó", "reason_code":
                               "person_unreachable"}))
    history = await route.client.get(f"/v1/referrals/{r['id']}/history", headers=route.h())
    assert history.status_code == 200
    items = history.json()["items"]
    assert [(i["action"], i["from_status"], i["to_status"]) for i in items] == [
        ("create", None, "requested"), ("accept", "requested", "accepted"),
        ("start", "accepted", "in_progress"), ("hold", "in_progress", "on_hold"),
        ("resume", "on_hold", "in_progress"), ("fail", "in_progress", "failed")]
    assert items[0]["actor"] == "test-caseworker-ong-lima"
    assert items[1]["actor"] == "staff-mtpe-empleo" and items[1]["reason"] == "Cita el lunes"
    assert items[-1]["reason_code"] == "person_unreachable"
    emitted = await events(dbs["referrals"], subject_id=r["id"])
    assert [e["type"] for e in emitted] == ["referral.created"] + [
        "referral.status_changed"] * 5
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["action"])
            for e in emitted[1:]] == [(i["from_status"], i["to_status"], i["action"])
                                      for i in items[1:]]
    for e in emitted:
        assert e["organisation_id"] == "ong-lima" and e["regions"] == ["PE-LMA"]
        assert e["data"]["provider_organisation_id"] == "mtpe-empleo"
        # the feed shows it to the provider too (gateway: data.organisations)
        assert e["data"]["organisations"] == ["ong-lima", "mtpe-empleo"]
        text = str(e["data"])
        assert "hijos" not in text and "Cita" not in text and "certificado" not in text


async def test_hold_stops_the_completion_clock(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    provider = route.provider("mtpe-empleo")
    started = await route.walk(r["id"], provider, ("accept", {}), ("start", {}))
    held = await route.walk(r["id"], provider, ("hold", {"reason": "Falta documento"}))
    assert held["overdue"] is False and held["allowed_actions"] == ["resume", "cancel"]
    resumed = await route.walk(r["id"], provider, ("resume", {}))
    assert datetime.fromisoformat(resumed["due_complete_at"]) >= datetime.fromisoformat(
        started["due_complete_at"])


# --- validation of the request -------------------------------------------------------------
@pytest.mark.invalid_request
async def test_bad_referral_requests_are_422_and_write_nothing(
    route: Route, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo", "mtpe-empleo-regiones"))
    stranger = await route.person(headers=auth(org="ong-otra"))
    cases = [
        ({"programme_id": "pe-inexistente", "provider_id": "mtpe-empleo"}, "programme_id"),
        ({"programme_id": "pe-empleo", "provider_id": "sunedu"}, "provider_id"),
        ({"programme_id": "pe-empleo", "provider_id": "mtpe-empleo-regiones"}, "provider_id"),
        ({"programme_id": "ec-socio-empleo", "provider_id": "mintrabajo-socio-empleo"},
         "provider_id"),
        ({"programme_id": "pe-empleo", "provider_id": "mtpe-empleo", "status": "completed"},
         "status"),
        ({"programme_id": "pe-empleo", "provider_id": "mtpe-empleo",
          "provider_organisation_id": "ong-lima"}, "provider_organisation_id"),
        ({"programme_id": "PE EMPLEO", "provider_id": "mtpe-empleo"}, "programme_id"),
        ({"programme_id": "pe-empleo", "provider_id": "mtpe-empleo", "notes": "a\x00b"},
         "notes"),
    ]
    for body, field in cases:
        resp = await route.client.post("/v1/referrals", headers=route.h(),
                                       json={"profile_id": pid, **body})
        assert resp.status_code == 422, (body, resp.text)
        assert field in {e["field"] for e in resp.json()["errors"]}, resp.text
    invisible = await route.refer(stranger, *EMPLEO)
    assert invisible.status_code == 422
    assert invisible.json()["errors"][0]["field"] == "profile_id"
    nobody = await route.refer("00000000-0000-0000-0000-000000000000", *EMPLEO)
    assert nobody.status_code == 422
    async with dbs["referrals"].uow() as uow:
        assert (await uow.session.scalars(select(Referral.id).where(
            Referral.profile_id.in_([pid, stranger])))).all() == []
    # roles that never refer
    for role in ("provider", "admin", "ministry_system"):
        h = auth(role, org=None if role == "admin" else "mtpe-empleo")
        assert (await route.refer(pid, *EMPLEO, headers=h)).status_code == 403


async def test_one_open_referral_per_programme_and_provider_capacity(
    route: Route, auth: TokenFactory
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    first = await route.referral(pid, *EMPLEO)
    again = await route.refer(pid, *EMPLEO)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/referral-already-open"
    assert again.json()["existing_referral_id"] == first["id"]
    # once closed, a new one may be made
    await route.move(first["id"], route.h(), "cancel", reason="Error de registro")
    assert (await route.refer(pid, *EMPLEO)).status_code == 201

    admin = auth("admin", org=None, regions=[])
    made = await route.client.post("/v1/providers", headers=admin, json={
        "id": "ong-cupos", "organisation_id": "ong-cupos", "name": "Taller de empleabilidad",
        "country": "PE", "regions": ["PE-LMA"], "sla_accept_days": 3,
        "sla_complete_days": 20, "capacity": 1, "programme_ids": ["pe-empleo"]})
    assert made.status_code == 201, made.text
    a = await route.person(consents_for=("ong-cupos",), given_names="Ana")
    b = await route.person(consents_for=("ong-cupos",), given_names="Berta",
                           documents=[{"type": "pe_cpp", "number": "CPP555666",
                                       "authorises_work": True}])
    made_a = await route.refer(a, "pe-empleo", "ong-cupos")
    assert made_a.status_code == 201
    full = await route.refer(b, "pe-empleo", "ong-cupos")
    assert full.status_code == 409, full.text
    assert full.json()["type"] == "/problems/provider-at-capacity"
    # at capacity, a second referral of the same person is still told it is already open
    twice = await route.refer(a, "pe-empleo", "ong-cupos")
    assert twice.json()["type"] == "/problems/referral-already-open", twice.text
    assert twice.json()["existing_referral_id"] == made_a.json()["id"]


# --- lists -----------------------------------------------------------------------------------
@pytest.mark.invalid_request
async def test_list_filters_and_cursor_pagination(route: Route, auth: TokenFactory) -> None:
    h = auth(org="ong-listas", regions=["PE-LMA", "PE-CAL"])
    made = []
    for i in range(5):
        pid = await route.person(headers=h, given_names=f"Persona {i}",
                                 region="PE-CAL" if i == 4 else "PE-LMA",
                                 documents=[{"type": "pe_cpp", "number": f"CPP10000{i}",
                                             "authorises_work": True}],
                                 consents_for=("mtpe-empleo", "sunedu"))
        made.append(await route.referral(pid, *EMPLEO, headers=h))
    await route.move(made[0]["id"], route.provider("mtpe-empleo"), "accept")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await route.client.get("/v1/referrals", params=params, headers=h)
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["id"] for r in reversed(made)]  # newest first, each once

    async def ids(**params: str) -> set[str]:
        resp = await route.client.get("/v1/referrals", params=params, headers=h)
        assert resp.status_code == 200, resp.text
        return {r["id"] for r in resp.json()["items"]}

    assert await ids(status="accepted") == {made[0]["id"]}
    assert await ids(region="PE-CAL") == {made[4]["id"]}
    assert await ids(profile_id=made[2]["profile_id"]) == {made[2]["id"]}
    assert await ids(programme_id="pe-empleo", provider_id="mtpe-empleo") == {
        r["id"] for r in made}
    assert await ids(programme_id="pe-enam") == set()
    assert await ids(overdue="true") == set()
    assert await ids(overdue="false") == {r["id"] for r in made}
    assert await ids(route_type="public_employment_service") == {r["id"] for r in made}
    assert await ids(created_from="2000-01-01", created_to="2000-01-02") == set()
    # the provider sees the same referrals in its list
    provider_view = await route.client.get("/v1/referrals", params={"limit": 200},
                                           headers=route.provider("mtpe-empleo"))
    assert {r["id"] for r in made} <= {r["id"] for r in provider_view.json()["items"]}
    # a cursor from other filters or tampered is 400
    first = await route.client.get("/v1/referrals", params={"limit": 2}, headers=h)
    token = first.json()["next_cursor"]
    other = await route.client.get("/v1/referrals", params={"limit": 2, "cursor": token,
                                                            "status": "accepted"}, headers=h)
    assert other.status_code == 400
    bad = await route.client.get("/v1/referrals", params={"region": "XX-1"}, headers=h)
    assert bad.status_code == 422


async def test_registry_export_includes_the_persons_referrals(route: Route) -> None:
    pid = await route.person(consents_for=("mtpe-empleo",))
    r = await route.referral(pid, *EMPLEO)
    export = await route.client.get(f"/v1/profiles/{pid}/export", headers=route.h())
    assert export.status_code == 200, export.text
    section = export.json()["referrals"]
    assert section["status"] == "ok" and [i["id"] for i in section["items"]] == [r["id"]]


# --- idempotency (SQLite and PostgreSQL; concurrency is in test_concurrency.py) -----------
async def test_idempotent_create_replays_and_refuses_another_body(
    route: Route, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    pid = await route.person(consents_for=("mtpe-empleo", "sunedu"))
    h = auth(subject="ngo-client-1", **{"Idempotency-Key": "ref-0001"})
    first = await route.refer(pid, *EMPLEO, headers=h)
    again = await route.refer(pid, *EMPLEO, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    other = await route.refer(pid, "pe-certificacion-competencias", "mtpe-empleo", headers=h)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    async with dbs["referrals"].uow() as uow:
        count = len((await uow.session.scalars(
            select(Referral.id).where(Referral.profile_id == pid))).all())
    assert count == 1


async def test_a_referral_is_written_without_looking_for_an_open_one_first(
    route: Route, referrals_app: FastAPI
) -> None:
    """The open key's unique index refuses a second open referral; the happy path does not
    query the person's open referrals first (a round trip of every referral, issue 22). The
    409's existing id is read only when refused."""
    pid = await route.person(consents_for=("mtpe-empleo",))
    engine = referrals_app.state.db.engine.sync_engine
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        first = await route.referral(pid, *EMPLEO)
        made = list(seen)
        seen.clear()
        again = await route.refer(pid, *EMPLEO)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    reads_of_referrals = [s for s in made if s.startswith("SELECT") and "FROM referrals" in s]
    assert reads_of_referrals == [], reads_of_referrals
    assert again.status_code == 409
    assert again.json()["existing_referral_id"] == first["id"]
    assert any(s.startswith("SELECT") and "FROM referrals" in s for s in seen)
