"""Acceptance 1 (issue 5), end to end through the gateway: a Venezuelan doctor with a CPP is
registered; the recommendations put SUNEDU recognition first, missing "título no
apostillado"; once the degree is apostilled a medical-licensing pathway is created; the
provider of each step accepts and completes it; the pathway ends completed and the person
is recommended for the public employment service. Real registry, credentials and referrals
services, each on its own database."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from shared.db import Database
from shared.tables import outbox_events
from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory

STEPS = [  # programme, provider organisation, outcome
    ("pe-sunedu-reconocimiento", "sunedu",
     {"type": "recognition", "resolution_number": "004512-2026-SUNEDU/DIGRAT",
      "resolution_date": "2026-02-02"}),
    ("pe-enam", "aspefam-enam", {"type": "exam", "exam_date": "2026-03-08", "score": 13.2}),
    ("pe-colegio-medico", "colegio-medico-peru",
     {"type": "licensing", "college_registration_number": "CMP 101010",
      "valid_until": "2028-03-31"}),
    ("pe-empleo", "mtpe-empleo",
     {"type": "employment", "employer": "Hospital Nacional Dos de Mayo",
      "job_title": "Médico cirujano", "formal_contract": True, "monthly_wage": 6200,
      "currency": "PEN"}),
]


def _codes(findings: list[dict[str, Any]]) -> set[str]:
    return {f["code"] for f in findings}


async def test_a_venezuelan_doctor_walks_the_medical_licensing_route(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    caseworker = auth("caseworker", org="ong-lima", regions=["PE-LMA"], subject="cw-ana")

    # 1. registered with a CPP that authorises work, and consents for each provider
    person = profile_payload(
        given_names="José Gregorio", first_surname="Hernández", sex="male",
        birth_date="1986-05-19", education_level=7, education_field="0912",
        occupation_training="2211", interest_employment=True,
        documents=[{"type": "ve_passport", "number": "123456789", "expiry_date": "2021-01-31"},
                   {"type": "pe_cpp", "number": "CPP0099887", "expiry_date": "2029-12-31",
                    "verification": "seen", "authorises_work": True}],
        consents=[{"purpose": "registration", "evidence": "written",
                   "evidence_reference": "FORM-2026-0100"}] + [
            {"purpose": "referral", "recipient_organisation_id": org, "evidence": "written",
             "evidence_reference": "FORM-2026-0101"} for _, org, _ in STEPS])
    created = await client.post("/v1/profiles", json=person, headers=caseworker)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]

    # 2. the medical degree, self-declared
    degree = await client.post("/v1/credentials", headers=caseworker, json={
        "profile_id": pid, "kind": "academic_degree", "title": "Médico Cirujano",
        "field_isced": "0912", "occupation_isco": "2211",
        "issuer": {"name": "Universidad del Zulia", "country": "VE"},
        "issued_on": "2012-07-15"})
    assert degree.status_code == 201, degree.text
    cid, c_etag = degree.json()["id"], degree.headers["etag"]

    # 3. SUNEDU recognition comes first, with the apostille missing
    recs = await client.get(f"/v1/profiles/{pid}/recommendations", headers=caseworker)
    assert recs.status_code == 200, recs.text
    first = recs.json()["items"][0]
    assert first["programme"]["id"] == "pe-sunedu-reconocimiento"
    assert first["relevant"] is True and first["eligible"] is False
    assert {"code": "degree_not_apostilled", "message": "Título no apostillado"} \
        in first["missing"]
    employment = next(i for i in recs.json()["items"] if i["programme"]["id"] == "pe-empleo")
    assert employment["eligible"] is True and "work_authorised" in _codes(employment["reasons"])

    # 4. the degree is apostilled (credentials' own lifecycle)
    for action in ("see_document", "apostille"):
        moved = await client.post(f"/v1/credentials/{cid}/transitions",
                                  json={"action": action},
                                  headers={**caseworker, "If-Match": c_etag})
        assert moved.status_code == 200, moved.text
        c_etag = moved.headers["etag"]
    recs = (await client.get(f"/v1/profiles/{pid}/recommendations",
                             headers=caseworker)).json()
    sunedu = recs["items"][0]
    assert sunedu["programme"]["id"] == "pe-sunedu-reconocimiento"
    assert sunedu["eligible"] is True and sunedu["missing"] == []

    # 5. the medical-licensing pathway
    started = await client.post("/v1/pathways", headers=caseworker, json={
        "profile_id": pid, "template": "pe-medical-licensing",
        "notes": "Título apostillado; solicita reconocimiento."})
    assert started.status_code == 201, started.text
    pathway = started.json()
    assert pathway["status"] == "active" and pathway["credential_id"] == cid
    assert [s["programme_id"] for s in pathway["steps"]] == [p for p, _, _ in STEPS]
    assert [s["status"] for s in pathway["steps"]] == ["open", "pending", "pending", "pending"]

    # 6. each step's provider accepts and completes it; completion opens the next step
    for position, (programme, org, outcome) in enumerate(STEPS):
        provider = auth("provider", org=org, regions=["PE-LMA"], subject=f"staff-{org}")
        state = (await client.get(f"/v1/pathways/{pathway['id']}", headers=caseworker)).json()
        step = state["steps"][position]
        assert (step["status"], step["referral_status"]) == ("open", "requested"), state
        rid = step["referral_id"]
        seen = await client.get(f"/v1/referrals/{rid}", headers=provider)
        assert seen.status_code == 200, seen.text
        assert seen.json()["programme_id"] == programme
        assert seen.json()["provider_organisation_id"] == org
        etag = seen.headers["etag"]
        for action, body in (("accept", {}), ("start", {}),
                             ("complete", {"outcome": outcome, "reason": "Trámite concluido"})):
            moved = await client.post(f"/v1/referrals/{rid}/transitions",
                                      json={"action": action, **body},
                                      headers={**provider, "If-Match": etag})
            assert moved.status_code == 200, moved.text
            etag = moved.headers["etag"]
        assert moved.json()["status"] == "completed"
        assert moved.json()["outcome"]["type"] == outcome["type"]

    # 7. the pathway ends completed, in one read
    final = await client.get(f"/v1/pathways/{pathway['id']}", headers=caseworker)
    assert final.status_code == 200
    assert final.json()["status"] == "completed" and final.json()["completed_at"]
    assert [s["status"] for s in final.json()["steps"]] == ["completed"] * 4
    async with dbs["referrals"].uow() as uow:
        rows = (await uow.session.execute(
            select(outbox_events.c.type, outbox_events.c.data)
            .where(outbox_events.c.subject_id == pathway["id"])
            .order_by(outbox_events.c.position))).all()
    assert [r.type for r in rows] == ["pathway.advanced"] * 4 + ["pathway.completed"]
    # each step's provider is in the audience of the events about it
    assert [r.data["organisations"] for r in rows] == [
        ["ong-lima", "sunedu"], ["ong-lima", "sunedu", "aspefam-enam"],
        ["ong-lima", "aspefam-enam", "colegio-medico-peru"],
        ["ong-lima", "colegio-medico-peru", "mtpe-empleo"], ["ong-lima", "mtpe-empleo"]]
    assert all("Hernández" not in str(r.data) for r in rows)

    # 8. and the person is now recommended for the public employment service first
    recs = (await client.get(f"/v1/profiles/{pid}/recommendations",
                             headers=caseworker)).json()
    top = recs["items"][0]
    assert top["programme"]["id"] == "pe-empleo" and top["eligible"] is True
    assert {"licensed_health_professional", "degree_recognised"} <= _codes(top["reasons"])
    done = {i["programme"]["id"]: i for i in recs["items"]}
    for programme in ("pe-sunedu-reconocimiento", "pe-enam", "pe-colegio-medico"):
        assert done[programme]["relevant"] is False
        assert done[programme]["referral_status"] == "completed"
        assert "already_completed" in _codes(done[programme]["missing"])
