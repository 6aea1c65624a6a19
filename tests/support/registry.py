"""Helpers of the registry tests (fixtures come from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from shared.db import Database
from shared.tables import outbox_events
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

SENSITIVE = {"gender_based_violence": True, "health_conditions": ["hipertensión"],
             "disability_types": ["visual"], "protection_needs": ["single_caregiver"],
             "notes": "Sobreviviente de violencia; derivar con acompañamiento."}


WRITTEN_SENSITIVE_CONSENT = {"purpose": "registration", "status": "granted",
                             "evidence": "written", "sensitive_data": True,
                             "evidence_reference": "FORM-001"}


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
                 ) -> dict[str, Any]:
    resp = await client.post("/v1/profiles", json=profile_payload(**overrides), headers=headers)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    body["_etag"] = resp.headers["etag"]
    return body


async def share(client: httpx.AsyncClient, auth: TokenFactory, profile_id: str,
                recipient: str, **extra: Any) -> dict[str, Any]:
    resp = await client.post(f"/v1/profiles/{profile_id}/consents", headers=auth(), json={
        "purpose": "referral", "status": "granted", "recipient_organisation_id": recipient,
        "evidence": "written", **extra})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def events_of(db: Database, subject_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(outbox_events.c.type, outbox_events.c.data)
            .where(outbox_events.c.subject_id == subject_id)
            .order_by(outbox_events.c.position))).all()
    return [(r.type, r.data) for r in rows]

