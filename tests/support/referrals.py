"""Helpers of the referrals tests: people, consents, credentials, referrals and moves, all
through the embedded gateway and the real registry and credentials services."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import select

from shared.db import Database
from shared.identity import ASSERTION_HEADER, AssertionSigner, Identity, Role
from shared.settings import Settings
from shared.tables import outbox_events
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

CPP = {"type": "pe_cpp", "number": "001234567", "expiry_date": "2030-06-30",
       "verification": "seen", "authorises_work": True}


CEDULA = {"type": "ve_cedula", "number": "V-12.345.678", "verification": "seen"}


OUTCOMES: dict[str, dict[str, Any]] = {
    "recognition": {"type": "recognition", "resolution_number": "012345-2026-SUNEDU/DIGRAT",
                    "resolution_date": "2026-01-15"},
    "exam": {"type": "exam", "exam_date": "2026-02-10", "score": 14.5},
    "licensing": {"type": "licensing", "college_registration_number": "CMP 098765",
                  "valid_until": "2028-12-31"},
    "employment": {"type": "employment", "employer": "Clínica San Felipe S.A.",
                   "job_title": "Médico general", "formal_contract": True,
                   "monthly_wage": 4500.5, "currency": "PEN"},
    "entrepreneurship": {"type": "entrepreneurship", "cohort": "Lima-2026-1",
                         "modules_completed": ["business_management", "sst"],
                         "business_plan_presented": True, "seed_capital_amount": 1500,
                         "seed_capital_currency": "PEN", "formalised": False,
                         "business_name": "Arepas Doña Rosa"},
    "certification": {"type": "certification", "competency_standard": "Cocina básica",
                      "certificate_number": "MTPE-CL-2026-00123"},
}


_numbers = itertools.count(10_000_001)


def documents() -> list[dict[str, Any]]:
    """A Venezuelan cédula and a CPP (authorises work), with numbers unique in the test."""
    n = next(_numbers)
    return [{**CEDULA, "number": f"V{n}"}, {**CPP, "number": f"CPP{n}"}]


def degree(profile_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profile_id": profile_id, "kind": "academic_degree", "title": "Médico Cirujano",
        "field_isced": "0912", "occupation_isco": "2211",
        "issuer": {"name": "Universidad Central de Venezuela", "country": "VE"},
        "issued_on": "2015-07-20"}
    body.update(overrides)
    return body


class Route:
    """A caseworker of ``ong-lima`` (PE-LMA, PE-CAL) and the providers, through the API."""

    def __init__(self, client: httpx.AsyncClient, auth: TokenFactory) -> None:
        self.client = client
        self.auth = auth

    def h(self, **extra: str) -> dict[str, str]:
        return self.auth(**extra)

    def provider(self, org: str, **extra: str) -> dict[str, str]:
        return self.auth("provider", org=org, subject=f"staff-{org}", **extra)

    async def person(self, *, consents_for: tuple[str, ...] = (), headers: dict[str, str]
                     | None = None, **overrides: Any) -> str:
        body = profile_payload(**{"documents": documents(), "interest_employment": True,
                                  **overrides})
        body.setdefault("consents", [])
        body["consents"] = [*body["consents"], *[
            {"purpose": "referral", "status": "granted", "recipient_organisation_id": org,
             "evidence": "written", "evidence_reference": "FORM-REF-1"}
            for org in consents_for]]
        resp = await self.client.post("/v1/profiles", json=body, headers=headers or self.h())
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async def consent(self, profile_id: str, recipient: str, status: str = "granted",
                      headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(
            f"/v1/profiles/{profile_id}/consents", headers=headers or self.h(),
            json={"purpose": "referral", "status": status,
                  "recipient_organisation_id": recipient, "evidence": "written"})

    async def credential(self, profile_id: str, **overrides: Any) -> tuple[str, str]:
        resp = await self.client.post("/v1/credentials", json=degree(profile_id, **overrides),
                                      headers=self.h())
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"]), resp.headers["etag"]

    async def move_credential(self, cid: str, etag: str, *actions: str) -> str:
        for action in actions:
            resp = await self.client.post(f"/v1/credentials/{cid}/transitions",
                                          json={"action": action},
                                          headers=self.h(**{"If-Match": etag}))
            assert resp.status_code == 200, resp.text
            etag = resp.headers["etag"]
        return etag

    async def refer(self, profile_id: str, programme: str = "pe-empleo",
                    provider: str = "mtpe-empleo", headers: dict[str, str] | None = None,
                    **extra: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/referrals", headers=headers or self.h(),
            json={"profile_id": profile_id, "programme_id": programme,
                  "provider_id": provider, **extra})

    async def referral(self, profile_id: str, programme: str = "pe-empleo",
                       provider: str = "mtpe-empleo", **extra: Any) -> dict[str, Any]:
        resp = await self.refer(profile_id, programme, provider, **extra)
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        body["_etag"] = resp.headers["etag"]
        return body

    async def move(self, referral_id: str, headers: dict[str, str], action: str,
                   etag: str | None = None, **body: Any) -> httpx.Response:
        if etag is None:
            current = await self.client.get(f"/v1/referrals/{referral_id}", headers=headers)
            assert current.status_code == 200, current.text
            etag = current.headers["etag"]
        return await self.client.post(
            f"/v1/referrals/{referral_id}/transitions", json={"action": action, **body},
            headers={**headers, "If-Match": etag})

    async def walk(self, referral_id: str, headers: dict[str, str],
                   *steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for action, extra in steps:
            resp = await self.move(referral_id, headers, action, **extra)
            assert resp.status_code == 200, resp.text
            body = resp.json()
        return body

    async def complete(self, referral_id: str, org: str, kind: str) -> dict[str, Any]:
        return await self.walk(referral_id, self.provider(org), ("accept", {}),
                               ("start", {}), ("complete", {"outcome": OUTCOMES[kind]}))


def assertion(role: Role = Role.SYSTEM, org: str | None = None, subject: str = "relay",
              regions: tuple[str, ...] = ()) -> dict[str, str]:
    signer = AssertionSigner(Settings().internal_secret)
    identity = Identity(subject=subject, role=role, organisation_id=org,
                        regions=frozenset(regions))
    return {ASSERTION_HEADER: signer.sign(identity).decode()}


async def events(db: Database, *, subject_id: str | None = None, type_: str | None = None
                 ) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        q = select(outbox_events).order_by(outbox_events.c.position)
        if subject_id is not None:
            q = q.where(outbox_events.c.subject_id == subject_id)
        if type_ is not None:
            q = q.where(outbox_events.c.type == type_)
        rows = (await uow.session.execute(q)).all()
    return [dict(r._mapping) for r in rows]

