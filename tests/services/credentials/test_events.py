"""What the credentials service does with other services' events, and its internal routes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.credentials.app import consumer
from services.credentials.models import Credential, CredentialTransition
from shared.clock import utcnow
from shared.db import Database
from shared.identity import Role
from shared.outbox import EventEnvelope
from shared.tables import idempotency_records
from tests.support.credentials import SUNEDU, Flow, assertion, degree_payload
from tests.support.tokens import TokenFactory


def envelope(type_: str, profile_id: str, **kw: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": type_, "occurred_at": utcnow().isoformat(),
            "subject_type": "profile", "subject_id": profile_id, **kw}


async def test_profile_erased_pseudonymises_keeps_counts_and_is_idempotent(
    flow: Flow, internal: httpx.AsyncClient, dbs: dict[str, Database]
) -> None:
    pid, cid, _ = await flow.recognised_degree()
    granted = await flow.consent(pid)
    assert granted.status_code == 201, granted.text
    token = (await flow.export(cid)).text
    keyed = await flow.client.post(
        "/v1/credentials", json=degree_payload(pid, title="Licenciado en Educación"),
        headers=flow.h(**{"Idempotency-Key": "erase-me"}))
    assert keyed.status_code == 201
    other_pid, other_cid, _ = await flow.recognised_degree()

    event = envelope("profile.erased", pid, organisation_id="ong-lima", regions=["PE-LMA"])
    first = await internal.post("/internal/events", json=event, headers=assertion())
    assert first.status_code == 200 and first.json() == {"handled": True}
    again = await internal.post("/internal/events", json=event, headers=assertion())
    assert again.json() == {"handled": False}

    async with dbs["credentials"].uow() as uow:
        rows = (await uow.session.scalars(
            select(Credential).where(Credential.profile_id == pid))).all()
        reasons = (await uow.session.scalars(
            select(CredentialTransition.reason)
            .where(CredentialTransition.credential_id == cid))).all()
        stored = await uow.session.scalar(
            select(func.count()).select_from(idempotency_records)
            .where(idempotency_records.c.key == "erase-me"))
    assert len(rows) == 2  # counts stay
    for row in rows:
        assert row.erased_at is not None
        assert (row.title, row.issuer_name, row.issuer_identifier, row.issued_on,
                row.recognition_resolution, row.evidence) == (None, None, None, None, None, [])
    recognised = next(r for r in rows if r.id == cid)
    assert (recognised.kind, recognised.status, recognised.field_isced,
            recognised.recognition_body) == ("academic_degree", "recognised", "0912", "SUNEDU")
    assert set(reasons) == {None}
    assert stored == 0  # the stored first response held the title: forgotten

    assert (await flow.client.get(f"/v1/credentials/{cid}", headers=flow.h())).status_code \
        == 404
    listed = await flow.client.get("/v1/credentials", headers=flow.h())
    assert cid not in {c["id"] for c in listed.json()["items"]}
    assert other_cid in {c["id"] for c in listed.json()["items"]}
    # what was issued to the person stays theirs: the VC still verifies
    assert (await flow.verify(token))["status"] == "valid"
    assert (await flow.client.get(f"/v1/credentials/{other_cid}",
                                  headers=flow.h())).json()["profile_id"] == other_pid


async def test_events_need_a_system_assertion(internal: httpx.AsyncClient) -> None:
    event = envelope("profile.erased", str(uuid.uuid4()))
    assert (await internal.post("/internal/events", json=event)).status_code == 401
    caseworker = assertion(Role.CASEWORKER, org="ong-lima", subject="cw")
    assert (await internal.post("/internal/events", json=event,
                                headers=caseworker)).status_code == 403


@pytest.mark.invalid_request
async def test_internal_routes_are_not_reachable_through_the_gateway(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    event = envelope("profile.erased", str(uuid.uuid4()))
    resp = await client.post("/internal/events", json=event, headers=auth())
    assert resp.status_code == 404
    moved = await client.post(f"/internal/credentials/{uuid.uuid4()}/transitions",
                              json={"action": "revoke", "reason": "x" * 5}, headers=auth())
    assert moved.status_code == 404


async def test_region_changes_and_merges_follow_the_person(
    flow: Flow, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    created = await flow.credential()
    cid, pid = created.json()["id"], created.json()["profile_id"]
    moved = EventEnvelope.model_validate(envelope(
        "profile.updated", pid, regions=["PE-CUS"], data={"changed_fields": ["region"]}))
    assert await consumer.consume(db=dbs["credentials"], event=moved)
    cusco = auth(regions=["PE-CUS"])
    read = await flow.client.get(f"/v1/credentials/{cid}", headers=cusco)
    assert read.status_code == 200 and read.json()["region"] == "PE-CUS"
    assert read.headers["etag"] == created.headers["etag"]  # not a change of the credential

    survivor = str(uuid.uuid4())
    merged = EventEnvelope.model_validate(envelope(
        "profile.merged", pid, data={"merged_into": survivor}))
    assert await consumer.consume(db=dbs["credentials"], event=merged)
    assert (await flow.client.get(f"/v1/credentials/{cid}",
                                  headers=cusco)).json()["profile_id"] == survivor

    ignored = EventEnvelope.model_validate(envelope("referral.created", pid))
    assert not await consumer.consume(db=dbs["credentials"], event=ignored)


async def test_authority_decisions_through_the_internal_route(
    flow: Flow, internal: httpx.AsyncClient
) -> None:
    """The hook for inbound ministry callbacks (issue 7): SUNEDU recognises a degree."""
    created = await flow.credential()
    cid = created.json()["id"]
    etag = await flow.walk(cid, created.headers["etag"], ("see_document", {}),
                           ("apostille", {}))
    sunedu = assertion(Role.MINISTRY_SYSTEM, org="sunedu", subject="inbound:sunedu")
    url = f"/internal/credentials/{cid}/transitions"

    not_authority = await internal.post(url, json={"action": "see_document"}, headers=sunedu)
    assert not_authority.status_code == 403
    caseworker = assertion(Role.CASEWORKER, org="ong-lima", subject="cw")
    assert (await internal.post(url, json={"action": "recognise", "recognition": SUNEDU},
                                headers=caseworker)).status_code == 403
    stale = await internal.post(url, json={"action": "recognise", "recognition": SUNEDU},
                                headers={**sunedu, "If-Match": '"v1"'})
    assert stale.status_code == 412

    decided = await internal.post(url, json={"action": "recognise", "recognition": SUNEDU,
                                             "reason": "Resolución SUNEDU"}, headers=sunedu)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "recognised"
    assert decided.headers["etag"] != etag
    history = (await flow.client.get(f"/v1/credentials/{cid}/history",
                                     headers=flow.h())).json()["items"]
    assert (history[-1]["actor"], history[-1]["actor_role"],
            history[-1]["actor_organisation_id"]) == ("inbound:sunedu", "ministry_system",
                                                      "sunedu")


async def test_ministry_systems_do_not_use_the_public_transition_route(
    flow: Flow, auth: TokenFactory
) -> None:
    created = await flow.credential()
    resp = await flow.client.post(
        f"{created.headers['location']}/transitions",
        json={"action": "verify_with_issuer"},
        headers=auth("ministry_system", org="sunedu", scopes=["credentials:write"],
                     **{"If-Match": created.headers["etag"]}))
    assert resp.status_code == 403


async def test_a_retried_authority_decision_replays_instead_of_conflicting(
    flow: Flow, internal: httpx.AsyncClient
) -> None:
    created = await flow.credential()
    cid = created.json()["id"]
    await flow.walk(cid, created.headers["etag"], ("see_document", {}), ("apostille", {}))
    sunedu = assertion(Role.MINISTRY_SYSTEM, org="sunedu", subject="inbound:sunedu")
    headers = {**sunedu, "If-Match": "*", "Idempotency-Key": "msg_2Lk9"}
    body = {"action": "recognise", "recognition": SUNEDU}
    url = f"/internal/credentials/{cid}/transitions"
    first = await internal.post(url, json=body, headers=headers)
    again = await internal.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    fresh_key = await internal.post(url, json=body,
                                    headers={**headers, "Idempotency-Key": "msg_other"})
    assert fresh_key.status_code == 409  # a genuinely new decision is checked again


async def test_sunedu_callback_through_the_gateway_recognises_the_degree(
    flow: Flow, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    """Issue 7's signed inbound callback reaching this service's authority entry point."""
    import time

    from standardwebhooks import Webhook

    admin = auth("admin", org=None)
    org = await client.post("/v1/organisations", headers=admin, json={
        "id": "sunedu", "name": "SUNEDU", "kind": "ministry", "country": "PE",
        "regions": ["PE-LMA"]})
    assert org.status_code in (201, 409), org.text
    source = await client.post("/v1/inbound-sources", headers=admin, json={
        "id": "sunedu", "name": "SUNEDU — reconocimiento de grados",
        "organisation_id": "sunedu"})
    assert source.status_code == 201, source.text
    created = await flow.credential()
    cid = created.json()["id"]
    await flow.walk(cid, created.headers["etag"], ("see_document", {}), ("apostille", {}))

    payload = json.dumps({"type": "credential.transition", "data": {
        "credential_id": cid, "action": "recognise", "reason": "Resolución emitida",
        "recognition": SUNEDU}})
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.fromtimestamp(int(time.time()), tz=UTC)
    signature = Webhook(source.json()["secret"]).sign(msg_id, now, payload)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}
    applied = await client.post("/v1/inbound/sunedu", content=payload, headers=headers)
    assert applied.status_code == 200, applied.text
    read = (await client.get(f"/v1/credentials/{cid}", headers=flow.h())).json()
    assert read["status"] == "recognised"
    assert read["recognition"] == {**SUNEDU, "organisation_id": "sunedu"}
    history = (await client.get(f"/v1/credentials/{cid}/history",
                                headers=flow.h())).json()["items"]
    assert (history[-1]["actor"], history[-1]["actor_role"]) == ("inbound:sunedu",
                                                                 "ministry_system")
    forged = await client.post("/v1/inbound/sunedu", content=payload.replace(
        "recognise", "revoke"), headers={**headers, "webhook-id": "msg_forged"})
    assert forged.status_code in (401, 422)
    assert (await client.get(f"/v1/credentials/{cid}",
                             headers=flow.h())).json()["status"] == "recognised"
