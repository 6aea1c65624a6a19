"""Credentials through the gateway: adding, reading, scope, lifecycle, lists, events."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from services.credentials.models import Credential
from shared.db import Database
from shared.tables import outbox_events
from tests.support.credentials import SUNEDU, Flow, degree_payload
from tests.support.tokens import TokenFactory


async def count_credentials(db: Database) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Credential)) or 0)


async def events_of(db: Database, subject_id: str) -> list[tuple[str, dict[str, object]]]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(outbox_events.c.type, outbox_events.c.data)
            .where(outbox_events.c.subject_id == subject_id)
            .order_by(outbox_events.c.position))).all()
    return [(r.type, r.data) for r in rows]


async def test_add_a_degree_and_read_it_back(flow: Flow, dbs: dict[str, Database]) -> None:
    pid = await flow.profile()
    created = await flow.credential(pid)
    body = created.json()
    assert created.headers["etag"] == '"v1"'
    assert created.headers["location"] == f"/v1/credentials/{body['id']}"
    assert body["status"] == "self_declared"
    assert body["organisation_id"] == "ong-lima" and body["region"] == "PE-LMA"
    assert body["issuer"] == {"name": "Universidad Central de Venezuela", "country": "VE",
                              "identifier": "UCV"}
    assert body["allowed_actions"] == ["see_document", "verify_with_issuer", "reject"]

    read = await flow.client.get(created.headers["location"], headers=flow.h())
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == '"v1"'

    history = await flow.client.get(f"{created.headers['location']}/history",
                                    headers=flow.h())
    assert [(i["action"], i["to_status"]) for i in history.json()["items"]] == \
        [("declare", "self_declared")]

    events = await events_of(dbs["credentials"], body["id"])
    assert events == [("credential.created", {"profile_id": pid})]
    assert "Médico" not in str(events)  # thin events: ids, never personal data


@pytest.mark.parametrize("body", [
    {"kind": "skills_certification", "title": "Certificado de competencias laborales",
     "skills_certification": {"competency_standard_code": "NCL-GAS-001",
                              "competency_standard_name": "Preparación de alimentos",
                              "certifying_body": "MTPE", "assessment_date": "2025-03-10"},
     "level": "Nivel 2"},
    {"kind": "training_completion", "title": "Emprende Segur@ — Educación financiera",
     "training": {"module": "financial_education", "hours": 16}},
    {"kind": "language", "title": "DELE B2", "language": "es", "level": "B2"},
    {"kind": "professional_licence", "title": "Licenciada en Enfermería — colegiatura",
     "occupation_isco": "2221", "expires_on": "2030-12-31"},
], ids=["skills", "training", "language", "licence"])
async def test_every_kind_keeps_its_own_fields(flow: Flow, body: dict[str, object]) -> None:
    pid = await flow.profile()
    payload = {"profile_id": pid, **body}
    created = await flow.client.post("/v1/credentials", json=payload, headers=flow.h())
    assert created.status_code == 201, created.text
    out = created.json()
    for key, value in body.items():
        assert out[key] == value


@pytest.mark.parametrize(("overrides", "fields"), [
    ({"status": "recognised"}, {"status"}),
    ({"organisation_id": "other"}, {"organisation_id"}),
    ({"recognition": {"body": "SUNEDU"}}, {"recognition"}),
    ({"field_isced": "0950"}, {"field_isced"}),
    ({"occupation_isco": "22111"}, {"occupation_isco"}),
    ({"issued_on": "2099-01-01"}, {"issued_on"}),
    ({"issued_on": "2015-07-20", "expires_on": "2010-01-01"}, {"expires_on"}),
    ({"kind": "diploma"}, {"kind"}),
    ({"title": "x"}, {"title"}),
    ({"evidence": [{"document_id": "../../etc/passwd"}]}, {"evidence[0].document_id"}),
    ({"evidence": [{"document_id": "d1", "file": "base64..."}]}, {"evidence[0].file"}),
    ({"training": {"module": "sst"}}, {"training"}),
    ({"kind": "skills_certification"}, {"skills_certification"}),
    ({"kind": "language", "level": "B2"}, {"language"}),
    ({"kind": "language", "language": "es", "level": "fluent"}, {"level"}),
    ({"issuer": {"name": "UCV", "country": "Venezuela"}}, {"issuer.country"}),
    ({"issuer": {"name": "UCV", "country": "ZZ"}}, {"issuer.country"}),
    ({"title": "Médico\u0000Cirujano"}, {"title"}),
    ({"issuer": {"name": "UCV\nInjected: line"}}, {"issuer.name"}),
    ({"level": "\u0007"}, {"level"}),
], ids=lambda v: str(v) if isinstance(v, set) else None)
@pytest.mark.invalid_request
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    flow: Flow, dbs: dict[str, Database], overrides: dict[str, object], fields: set[str]
) -> None:
    pid = await flow.profile()
    before = await count_credentials(dbs["credentials"])
    resp = await flow.client.post("/v1/credentials", json=degree_payload(pid, **overrides),
                                  headers=flow.h(**{"Accept-Language": "en"}))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in resp.json()["errors"]} == fields
    assert await count_credentials(dbs["credentials"]) == before


@pytest.mark.invalid_request
async def test_malformed_json_and_unknown_profile(flow: Flow) -> None:
    bad = await flow.client.post("/v1/credentials", content=b'{"profile_id": ',
                                 headers=flow.h(**{"Content-Type": "application/json"}))
    assert bad.status_code == 422
    missing = await flow.client.post(
        "/v1/credentials", json=degree_payload("00000000-0000-4000-8000-000000000000"),
        headers=flow.h())
    assert missing.status_code == 422
    assert missing.json()["type"] == "/problems/profile-not-found"
    assert missing.json()["errors"] == [{"field": "profile_id",
                                         "message": "Perfil no encontrado"}]


async def test_a_profile_of_another_organisation_cannot_get_credentials(
    flow: Flow, auth: TokenFactory
) -> None:
    pid = await flow.profile()
    resp = await flow.client.post("/v1/credentials", json=degree_payload(pid),
                                  headers=auth(org="ong-otra"))
    assert resp.status_code == 422
    assert resp.json()["type"] == "/problems/profile-not-found"


async def test_idempotent_create(flow: Flow, dbs: dict[str, Database]) -> None:
    pid = await flow.profile()
    before = await count_credentials(dbs["credentials"])
    headers = flow.h(**{"Idempotency-Key": "cred-0001"})
    first = await flow.client.post("/v1/credentials", json=degree_payload(pid),
                                   headers=headers)
    again = await flow.client.post("/v1/credentials", json=degree_payload(pid),
                                   headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await flow.client.post("/v1/credentials",
                                   json=degree_payload(pid, title="Médico General"),
                                   headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert await count_credentials(dbs["credentials"]) == before + 1


async def test_cross_organisation_and_region_are_404_admin_is_403(
    flow: Flow, auth: TokenFactory
) -> None:
    created = await flow.credential()
    url = created.headers["location"]
    etag = created.headers["etag"]
    strangers = [auth(org="ong-otra"), auth(regions=["PE-CUS"]),
                 auth("provider", org="uni-revalida")]
    for headers in strangers:
        for path in (url, f"{url}/history", f"{url}/vc"):
            resp = await flow.client.get(path, headers=headers)
            if resp.status_code == 403:  # the gateway's route policy for this role
                continue
            assert resp.status_code == 404, (path, resp.text)
            assert resp.json()["type"] == "/problems/credential-not-found"
            assert "Médico" not in resp.text
        moved = await flow.client.post(f"{url}/transitions", json={"action": "see_document"},
                                       headers={**headers, "If-Match": etag})
        assert moved.status_code in (403, 404)
    admin = await flow.client.get(url, headers=auth("admin", org=None))
    assert admin.status_code == 403
    listed = await flow.client.get("/v1/credentials", headers=auth(org="ong-otra"))
    assert listed.json()["items"] == []
    assert (await flow.client.get(url, headers=flow.h())).json()["status"] == "self_declared"


@pytest.mark.invalid_request
async def test_lifecycle_to_recognised_with_history_and_events(
    flow: Flow, dbs: dict[str, Database]
) -> None:
    created = await flow.credential()
    cid = created.json()["id"]
    etag = created.headers["etag"]

    no_precondition = await flow.client.post(f"/v1/credentials/{cid}/transitions",
                                             json={"action": "see_document"}, headers=flow.h())
    assert no_precondition.status_code == 428

    seen = await flow.move(cid, etag, "see_document", reason="Original revisado")
    assert seen.status_code == 200 and seen.json()["status"] == "document_seen"
    assert seen.headers["etag"] == '"v2"'

    stale = await flow.move(cid, etag, "apostille")
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/precondition-failed"

    apostilled = await flow.client.post(
        f"/v1/credentials/{cid}/transitions",
        json={"action": "apostille", "legalisation": "consular_legalisation"},
        headers=flow.h(**{"If-Match": seen.headers["etag"], "Idempotency-Key": "apo-1"}))
    assert apostilled.status_code == 200
    retried = await flow.client.post(
        f"/v1/credentials/{cid}/transitions",
        json={"action": "apostille", "legalisation": "consular_legalisation"},
        headers=flow.h(**{"If-Match": seen.headers["etag"], "Idempotency-Key": "apo-1"}))
    assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "true"
    assert retried.headers["etag"] == apostilled.headers["etag"] == '"v3"'

    invalid = await flow.move(cid, apostilled.headers["etag"], "suspend", reason="test")
    assert invalid.status_code == 409
    problem = invalid.json()
    assert problem["type"] == "/problems/invalid-transition"
    assert problem["allowed_actions"] == ["verify_with_issuer", "recognise", "reject"]

    without_resolution = await flow.move(cid, apostilled.headers["etag"], "recognise")
    assert without_resolution.status_code == 422
    assert without_resolution.json()["errors"][0]["field"] == "recognition"
    incomplete = await flow.move(cid, apostilled.headers["etag"], "recognise",
                                 recognition={"body": "SUNEDU", "resolution_number": "1"})
    assert incomplete.status_code == 422

    recognised = await flow.move(cid, apostilled.headers["etag"], "recognise",
                                 reason="Resolución presentada", recognition=SUNEDU)
    assert recognised.status_code == 200, recognised.text
    body = recognised.json()
    assert body["status"] == "recognised"
    assert body["recognition"] == {**SUNEDU, "organisation_id": "sunedu"}
    assert body["allowed_actions"] == ["suspend", "revoke"]

    no_reason = await flow.decide(cid, recognised.headers["etag"], "revoke")
    assert no_reason.status_code == 422
    suspended = await flow.decide(cid, recognised.headers["etag"], "suspend",
                                reason="Colegio Médico suspendió la habilitación")
    reinstated = await flow.decide(cid, suspended.headers["etag"], "reinstate",
                                   reason="Habilitación restituida")
    assert reinstated.json()["status"] == "recognised"
    revoked = await flow.decide(cid, reinstated.headers["etag"], "revoke",
                              reason="Título anulado por la universidad")
    assert revoked.json()["status"] == "revoked" and revoked.json()["allowed_actions"] == []
    final = await flow.move(cid, revoked.headers["etag"], "reinstate", reason="x" * 5)
    assert final.status_code == 409

    history = (await flow.client.get(f"/v1/credentials/{cid}/history",
                                     headers=flow.h())).json()["items"]
    assert [(i["action"], i["from_status"], i["to_status"]) for i in history] == [
        ("declare", None, "self_declared"),
        ("see_document", "self_declared", "document_seen"),
        ("apostille", "document_seen", "apostilled"),
        ("recognise", "apostilled", "recognised"),
        ("suspend", "recognised", "suspended"),
        ("reinstate", "suspended", "recognised"),
        ("revoke", "recognised", "revoked"),
    ]
    assert history[3]["details"] == {"recognition": SUNEDU}
    assert history[2]["details"] == {"legalisation": "consular_legalisation"}
    assert history[-1]["reason"] == "Título anulado por la universidad"
    assert {i["actor"] for i in history} == {"test-caseworker-ong-lima",
                                             "test-ministry_system-sunedu"}
    assert [i["actor_role"] for i in history] == ["caseworker"] * 4 + [
        "ministry_system"] * 3

    events = await events_of(dbs["credentials"], cid)
    assert [t for t, _ in events] == [
        "credential.created", *["credential.status_changed"] * 6, "credential.revoked"]
    pid = created.json()["profile_id"]
    codes = {"kind": "academic_degree", "field_isced": "0912"}
    assert events[3][1] == {"profile_id": pid, "from": "apostilled", "to": "recognised",
                            "action": "recognise", **codes}
    assert events[-1][1] == {"profile_id": pid, "from": "recognised", "to": "revoked",
                             "action": "revoke", **codes}


async def test_recognition_is_for_degrees_and_licences_only(flow: Flow) -> None:
    pid = await flow.profile()
    created = await flow.client.post("/v1/credentials", headers=flow.h(), json={
        "profile_id": pid, "kind": "language", "title": "TOEFL", "language": "en"})
    etag = await flow.walk(created.json()["id"], created.headers["etag"],
                           ("see_document", {}))
    resp = await flow.move(created.json()["id"], etag, "recognise", recognition=SUNEDU)
    assert resp.status_code == 409
    assert resp.json()["type"] == "/problems/recognition-not-applicable"


@pytest.mark.invalid_request
async def test_list_by_person_kind_and_state_with_cursor(flow: Flow, auth: TokenFactory
                                                         ) -> None:
    pid = await flow.profile()
    other_pid = await flow.profile(given_names="Ana")
    ids = [(await flow.credential(pid, title=f"Título {i}")).json()["id"] for i in range(3)]
    lang = await flow.client.post("/v1/credentials", headers=flow.h(), json={
        "profile_id": pid, "kind": "language", "title": "DELE", "language": "es"})
    await flow.credential(other_pid)
    await flow.walk(ids[0], '"v1"', ("verify_with_issuer", {}))

    async def listing(**params: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            q = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = await flow.client.get("/v1/credentials", params=q, headers=flow.h())
            assert page.status_code == 200, page.text
            seen += [c["id"] for c in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return seen

    assert sorted(await listing(profile_id=pid)) == sorted([*ids, lang.json()["id"]])
    assert sorted(await listing(profile_id=pid, kind="academic_degree")) == sorted(ids)
    assert await listing(profile_id=pid, status="verified_with_issuer") == [ids[0]]
    assert await listing(profile_id=pid, kind="language", status="self_declared") == \
        [lang.json()["id"]]
    assert len(await listing()) >= 5

    first = await flow.client.get("/v1/credentials", params={"profile_id": pid, "limit": 1},
                                  headers=flow.h())
    cursor = first.json()["next_cursor"]
    mismatched = await flow.client.get(
        "/v1/credentials", params={"profile_id": other_pid, "limit": 1, "cursor": cursor},
        headers=flow.h())
    assert mismatched.status_code == 400
    bad_filter = await flow.client.get("/v1/credentials", params={"status": "valid"},
                                       headers=flow.h())
    assert bad_filter.status_code == 422

    stranger = await flow.client.get("/v1/credentials", params={"profile_id": pid},
                                     headers=auth(org="ong-otra"))
    assert stranger.status_code == 200 and stranger.json()["items"] == []


async def test_ngo_partner_machine_client_adds_and_moves(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    ngo = auth("ngo_partner")
    profile = await client.post("/v1/profiles", headers=ngo, json={
        "given_names": "Luis", "first_surname": "Rojas", "birth_date": "1985-02-03",
        "sex": "male", "nationality": "VEN", "population_type": "refugee",
        "region": "PE-LMA"})
    assert profile.status_code == 201, profile.text
    created = await client.post("/v1/credentials", headers=ngo, json=degree_payload(
        profile.json()["id"]))
    assert created.status_code == 201, created.text
    moved = await client.post(f"{created.headers['location']}/transitions",
                              json={"action": "see_document"},
                              headers={**ngo, "If-Match": created.headers["etag"]})
    assert moved.status_code == 200, moved.text
    provider = await client.post("/v1/credentials", headers=auth("provider"),
                                 json=degree_payload(profile.json()["id"]))
    assert provider.status_code == 403


@pytest.mark.invalid_request
async def test_hostile_input_is_refused_never_a_500(flow: Flow) -> None:
    created = await flow.credential()
    cid = created.json()["id"]
    for path in ("/v1/credentials/abc%00def", "/v1/credentials/%27%3B--",
                 f"/v1/credentials/{'a' * 65}"):
        resp = await flow.client.get(path, headers=flow.h())
        assert resp.status_code in (404, 422), (path, resp.status_code)
    listed = await flow.client.get("/v1/credentials", params={"profile_id": "a\u0000"},
                                   headers=flow.h())
    assert listed.status_code == 422
    reason = await flow.move(cid, created.headers["etag"], "reject", reason="no\u0000pe")
    assert reason.status_code == 422
    multi_line = await flow.move(cid, created.headers["etag"], "reject",
                                 reason="Diploma falso.\nConfirmado por la universidad.")
    assert multi_line.status_code == 200
    forged_kid = await flow.client.post("/v1/credentials/verify", json={
        "credential": "eyJhbGciOiJFUzI1NiIsInR5cCI6InZjK2p3dCIsImtpZCI6ImFcdTAwMDBiIn0.e30.AAAA"})
    assert forged_kid.status_code == 200
    assert forged_kid.json()["reason"] == "unknown_key"
