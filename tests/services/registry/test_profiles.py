"""Profiles through the gateway: registration, documents and duplicates, who sees what,
sensitive data, rectification, cancellation and merges."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from services.registry.models import AuditEntry, IdentityDocument, Profile
from shared.db import Database
from shared.tables import idempotency_records
from tests.support.payloads import profile_payload
from tests.support.registry import SENSITIVE, WRITTEN_SENSITIVE_CONSENT, create, events_of, share
from tests.support.tokens import TokenFactory

CEDULA = {"type": "ve_cedula", "number": "V-14.567.890", "verification": "seen"}
SENSITIVE_READ = ["sensitive:read"]


async def _raw_profile(db: Database, pid: str) -> Profile:
    async with db.uow() as uow:
        p = await uow.session.get(Profile, pid)
        assert p is not None
        return p


async def _count(db: Database, model: type, **where: object) -> int:
    async with db.uow() as uow:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(await uow.session.scalar(q) or 0)


async def test_full_registration_round_trip(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    body = profile_payload(
        gender_identity="woman", district="150132", phone="987 654 321",
        email="maria@example.org", languages=["es", "en", "es"], education_level=7,
        education_field="0912", occupation_training="2211", occupation_desired="2211",
        years_experience=8, skills=["vacunación"], interest_employment=True,
        interest_self_employment=False,
        documents=[CEDULA, {"type": "pe_cpp", "number": "001-234-567",
                            "expiry_date": "2030-01-31", "authorises_work": True}],
        consents=[{"purpose": "registration", "evidence": "written"}])
    created = await client.post("/v1/profiles", json=body, headers=auth())
    assert created.status_code == 201, created.text
    p = created.json()
    assert p["phone"] == "+51987654321" and p["languages"] == ["es", "en"]
    assert p["age_band"] == "35-44" and p["country"] == "PE"
    assert [(d["type"], d["number"], d["issuing_country"]) for d in p["documents"]] == [
        ("ve_cedula", "V14567890", "VEN"), ("pe_cpp", "001234567", "PER")]
    assert "sensitive" not in p
    assert created.headers["cache-control"] == "no-store"

    read = await client.get(created.headers["location"], headers=auth())
    assert read.status_code == 200
    assert read.headers["etag"] == '"v1"'
    got = read.json()
    assert got == {k: v for k, v in p.items() if k != "duplicate_candidates"}

    events = await events_of(dbs["registry"], p["id"])
    assert [e for e, _ in events] == ["profile.created", "consent.granted"]
    assert "María" not in str(events) and "V14567890" not in str(events)
    async with dbs["registry"].uow() as uow:
        audit = (await uow.session.scalars(select(AuditEntry).where(
            AuditEntry.profile_id == p["id"]).order_by(AuditEntry.id))).all()
    assert [a.action for a in audit] == ["create", "read"]
    assert audit[1].actor_subject == "test-caseworker-ong-lima"
    assert audit[1].actor_organisation_id == "ong-lima"
    assert audit[1].request_id == read.headers["x-request-id"]
    assert audit[1].fields == ["identity", "location", "contact", "employability",
                               "documents"]


@pytest.mark.parametrize("extra", [{"organisation_id": "x"}, {"status": "erased"},
                                   {"search_key": "x"}, {"opt_out_statistics": True},
                                   {"sensitive_ciphertext": "x"}])
@pytest.mark.invalid_request
async def test_mass_assignment_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database],
    extra: dict[str, object],
) -> None:
    before = await _count(dbs["registry"], Profile)
    resp = await client.post("/v1/profiles", json=profile_payload(**extra), headers=auth())
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == list(extra)
    p = await create(client, auth())
    patch = await client.patch(f"/v1/profiles/{p['id']}", json=extra,
                               headers=auth(**{"If-Match": p["_etag"]}))
    assert patch.status_code == 422
    assert await _count(dbs["registry"], Profile) == before + 1


async def test_duplicate_document_points_only_to_what_you_may_see(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    first = await create(client, auth(), documents=[CEDULA])
    before = await _count(dbs["registry"], Profile)

    mine = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        given_names="Otra", documents=[{"type": "ve_cedula", "number": "14567890"}]))
    assert mine.status_code == 409
    assert mine.json()["existing_profile_id"] == first["id"]

    stranger = await client.post("/v1/profiles", headers=auth(org="ong-otra"),
                                 json=profile_payload(documents=[CEDULA]))
    assert stranger.status_code == 409
    assert stranger.headers["content-type"] == "application/problem+json"
    assert first["id"] not in stranger.text
    assert set(stranger.json()) == {"type", "title", "status", "detail"}

    twice = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        documents=[{"type": "pe_dni", "number": "45678912"},
                   {"type": "pe_dni", "number": "4567-8912"}]))
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["field"] == "documents[1]"
    assert await _count(dbs["registry"], Profile) == before


async def test_near_matches_are_listed_on_create_and_at_duplicates(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    a = await create(client, auth(), given_names="José Gregorio", first_surname="Hernández",
                     second_surname="Márquez", birth_date="1979-10-02")
    # the same person typed differently, birth day and month swapped
    b = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        given_names="Jose Gregorio", first_surname="Hernandez", second_surname="Marquez",
        birth_date="1979-02-10"))
    assert b.status_code == 201
    candidates = b.json()["duplicate_candidates"]
    assert [c["id"] for c in candidates] == [a["id"]]
    assert set(candidates[0]["reasons"]) == {"name", "birth_date_day_month_swapped",
                                             "nationality"}
    # someone else born the same day is not a candidate, nor a profile out of scope
    await create(client, auth(), given_names="Yuleisy", first_surname="Briceño",
                 birth_date="1979-10-02")
    await create(client, auth(org="ong-otra"), given_names="José Gregorio",
                 first_surname="Hernández", second_surname="Márquez", birth_date="1979-10-02")
    dup = await client.get(f"/v1/profiles/{a['id']}/duplicates", headers=auth())
    assert dup.status_code == 200
    assert [c["id"] for c in dup.json()["items"]] == [b.json()["id"]]


async def test_scope_outsiders_get_404_and_roles_without_profile_data_403(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}"
    other = auth(org="ong-otra", **{"If-Match": p["_etag"]})
    other_coord = auth("coordinator", org="ong-otra", **{"If-Match": p["_etag"]})
    far = auth(regions=["PE-CUS"], **{"If-Match": p["_etag"]})
    for headers in (other, other_coord, far):
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.patch(url, json={"second_surname": "X"},
                                   headers=headers)).status_code == 404
        assert (await client.delete(url, headers=headers)).status_code == 404
        assert (await client.get(f"{url}/export", headers=headers)).status_code == 404
        assert (await client.get(f"{url}/audit", headers=headers)).status_code == 404
        assert (await client.get(f"{url}/consents", headers=headers)).status_code == 404
        assert (await client.get(f"{url}/duplicates", headers=headers)).status_code == 404
        check = await client.get(f"{url}/consent-check",
                                 params={"purpose": "contact"}, headers=headers)
        assert check.status_code == 404
        listed = await client.get("/v1/profiles", headers=headers)
        assert p["id"] not in listed.text
    assert (await client.get(f"{url}-nope", headers=auth())).status_code == 404
    # roles that hold no personal data: 403 whatever the profile
    for role, org in (("admin", None), ("ministry_system", "sunedu")):
        resp = await client.get(url, headers=auth(role, org=org, regions=[]))
        assert resp.status_code == 403, (role, resp.text)


async def test_provider_sees_a_profile_only_when_shared_by_consent(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    p = await create(client, auth(permissions=SENSITIVE_READ),
                     consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    url = f"/v1/profiles/{p['id']}"
    provider = auth("provider", org="mtpe-empleo", permissions=SENSITIVE_READ)
    assert (await client.get(url, headers=provider)).status_code == 404
    consent = await share(client, auth, p["id"], "mtpe-empleo")
    shared = await client.get(url, headers=provider)
    assert shared.status_code == 200
    assert "sensitive" not in shared.json()  # the referral consent does not cover it
    # a caseworker of the recipient organisation sees it too, but cannot change it
    recipient = auth(org="mtpe-empleo", **{"If-Match": p["_etag"]})
    assert (await client.get(url, headers=recipient)).status_code == 200
    assert (await client.patch(url, json={"second_surname": "X"},
                               headers=recipient)).status_code == 403
    # a written referral consent that covers sensitive data discloses it to the permitted
    await share(client, auth, p["id"], "mtpe-empleo", sensitive_data=True)
    assert (await client.get(url, headers=provider)).json()["sensitive"] == SENSITIVE | {
        "disability_certificate": None}
    # withdrawal ends the sharing
    for c in (await client.get(f"{url}/consents", headers=auth())).json()["items"]:
        if c["purpose"] == "referral":
            r = await client.post(f"{url}/consents/{c['id']}/withdraw", headers=auth())
            assert r.status_code == 200, r.text
    assert consent["status"] == "granted"
    assert (await client.get(url, headers=provider)).status_code == 404


async def test_sensitive_data_is_encrypted_and_gated(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    permitted = auth(permissions=SENSITIVE_READ)
    without = await client.post("/v1/profiles", headers=auth(), json=profile_payload(
        consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE))
    assert without.status_code == 403
    no_consent = await client.post("/v1/profiles", headers=permitted,
                                   json=profile_payload(sensitive=SENSITIVE))
    assert no_consent.status_code == 422
    assert no_consent.json()["errors"][0]["field"] == "sensitive"
    verbal = await client.post("/v1/profiles", headers=permitted, json=profile_payload(
        sensitive=SENSITIVE, consents=[{**WRITTEN_SENSITIVE_CONSENT,
                                        "evidence": "verbal_witnessed", "witnessed_by": "x"}]))
    assert verbal.status_code == 422

    p = await create(client, permitted, consents=[WRITTEN_SENSITIVE_CONSENT],
                     sensitive=SENSITIVE)
    url = f"/v1/profiles/{p['id']}"
    assert (await client.get(url, headers=permitted)).json()["sensitive"]["notes"] == \
        SENSITIVE["notes"]
    plain = await client.get(url, headers=auth())
    assert "sensitive" not in plain.json()
    assert "violencia" not in plain.text

    async with dbs["registry"].uow() as uow:
        row = (await uow.session.execute(text(
            "SELECT * FROM profiles WHERE id = :id"), {"id": p["id"]})).mappings().one()
    raw = " ".join(str(v) for v in row.values())
    assert row["sensitive_key_id"] == "dev-1"
    assert row["sensitive_ciphertext"]
    for secret in ("violencia", "hipertens", "visual", "single_caregiver", "gender"):
        assert secret not in raw
        assert secret.encode() not in bytes(row["sensitive_ciphertext"])
    events = await events_of(dbs["registry"], p["id"])
    assert "violencia" not in str(events) and "sensitive" not in str(events)


async def test_rectification_of_fields_documents_and_sensitive_data(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    permitted = auth(permissions=SENSITIVE_READ)
    p = await create(client, permitted, district="150132", documents=[CEDULA],
                     consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE)
    url = f"/v1/profiles/{p['id']}"
    stale_district = await client.patch(url, json={"region": "PE-CAL"},
                                        headers=auth(**{"If-Match": p["_etag"]}))
    assert stale_district.status_code == 422
    assert stale_district.json()["errors"][0]["field"] == "district"

    new_docs = [{"type": "ve_cedula", "number": "14567890", "verification": "issuer_checked"},
                {"type": "pe_carne_extranjeria", "number": "002345678"}]
    resp = await client.patch(url, headers=auth(**{"If-Match": p["_etag"]}), json={
        "region": "PE-CAL", "district": "070101", "phone": "+51 912 345 678",
        "documents": new_docs})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert resp.headers["etag"] == '"v2"'
    assert (body["country"], body["region"], body["phone"]) == ("PE", "PE-CAL", "+51912345678")
    assert [(d["type"], d["verification"]) for d in body["documents"]] == [
        ("ve_cedula", "issuer_checked"), ("pe_carne_extranjeria", "self_declared")]
    assert body["documents"][0]["id"] == p["documents"][0]["id"]  # kept, not re-created

    # sensitive data: only with the permission, never announced in events
    no_perm = await client.patch(url, json={"sensitive": None},
                                 headers=auth(**{"If-Match": '"v2"'}))
    assert no_perm.status_code == 403
    cleared = await client.patch(url, json={"sensitive": {"notes": "actualizado"}},
                                 headers=auth(permissions=SENSITIVE_READ,
                                              **{"If-Match": '"v2"'}))
    assert cleared.status_code == 200
    assert cleared.json()["sensitive"]["notes"] == "actualizado"
    assert cleared.headers["etag"] == '"v3"'
    updates = [e for e in await events_of(dbs["registry"], p["id"])
               if e[0] == "profile.updated"]
    assert updates == [("profile.updated", {"changed_fields": [
        "district", "documents", "phone", "region"]})]  # the sensitive change is not told

    # a document registered to someone else cannot be taken over
    other = await create(client, auth(), given_names="Otra",
                         documents=[{"type": "pe_dni", "number": "45678912"}])
    taken = await client.patch(url, headers=auth(**{"If-Match": '"v3"'}), json={
        "documents": [*new_docs, {"type": "pe_dni", "number": "45678912"}]})
    assert taken.status_code == 409
    assert taken.json()["existing_profile_id"] == other["id"]
    assert len((await client.get(url, headers=auth())).json()["documents"]) == 2


@pytest.mark.invalid_request
async def test_cancellation_pseudonymises_and_keeps_statistics(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    org = "ong-arco"
    caseworker = auth(org=org, permissions=SENSITIVE_READ,
                      **{"Idempotency-Key": "arco-1"})
    created = await client.post("/v1/profiles", headers=caseworker, json=profile_payload(
        given_names="Rosángela", first_surname="Ñáñez", phone="987654321",
        documents=[CEDULA], consents=[WRITTEN_SENSITIVE_CONSENT], sensitive=SENSITIVE))
    assert created.status_code == 201
    p = created.json()
    url = f"/v1/profiles/{p['id']}"
    coordinator = auth("coordinator", org=org)
    before = (await client.get("/v1/profiles/statistics", headers=coordinator)).json()

    assert (await client.delete(url, headers=auth(org=org))).status_code == 428
    assert (await client.delete(url, headers=auth(org=org, **{"If-Match": '"v9"'}))
            ).status_code == 412
    gone = await client.delete(url, headers=auth(org=org, **{"If-Match": created.headers[
        "etag"]}))
    assert gone.status_code == 204

    assert (await client.get(url, headers=auth(org=org))).status_code == 410
    assert (await client.get(url, headers=auth())).status_code == 404
    by_name = await client.get("/v1/profiles", params={"q": "Rosangela Nanez"},
                               headers=auth(org=org))
    assert by_name.json()["items"] == []
    by_doc = await client.get("/v1/profiles", params={"document": "V14567890"},
                              headers=auth(org=org))
    assert by_doc.json()["items"] == []

    row = await _raw_profile(dbs["registry"], p["id"])
    assert row.status == "erased"
    for column in ("given_names", "first_surname", "second_surname", "birth_date", "phone",
                   "search_key", "sensitive_ciphertext", "district"):
        assert getattr(row, column) is None, column
    assert (row.sex, row.nationality, row.region, row.population_type,
            row.erased_age_band) == ("female", "VEN", "PE-LMA", "migrant", "35-44")
    async with dbs["registry"].uow() as uow:
        numbers = (await uow.session.scalars(select(IdentityDocument.number).where(
            IdentityDocument.profile_id == p["id"]))).all()
        stored = (await uow.session.execute(select(func.count()).select_from(
            idempotency_records).where(idempotency_records.c.key == "arco-1"))).scalar()
    assert numbers == [None]
    assert stored == 0  # the stored first response held the person's data

    after = (await client.get("/v1/profiles/statistics", headers=coordinator)).json()
    assert after["total"] == before["total"] == 1
    assert after["by_status"] == {"erased": 1}
    assert after["by_age_band"] == {"35-44": 1}

    events = await events_of(dbs["registry"], p["id"])
    assert [e for e, _ in events] == ["profile.created", "consent.granted", "profile.erased"]
    # the document can be registered again: the erased one no longer matches
    again = await client.post("/v1/profiles", headers=auth(org=org),
                              json=profile_payload(documents=[CEDULA]))
    assert again.status_code == 201


@pytest.mark.invalid_request
async def test_merge_moves_documents_consents_and_history(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    survivor = await create(client, auth(), documents=[CEDULA])
    dup = await create(client, auth(), given_names="Maria Jose", phone="912345678",
                       documents=[{"type": "pe_cpp", "number": "009876543"}],
                       consents=[{"purpose": "statistics", "status": "refused",
                                  "evidence": "written"}])
    await client.get(f"/v1/profiles/{dup['id']}", headers=auth())
    url = f"/v1/profiles/{survivor['id']}"
    assert (await client.post(f"{url}/merge", json={"duplicate_id": dup["id"]},
                              headers=auth())).status_code == 428
    assert (await client.post(f"{url}/merge", json={"duplicate_id": survivor["id"]},
                              headers=auth(**{"If-Match": survivor["_etag"]}))
            ).status_code == 409
    foreign = await create(client, auth(org="ong-otra"))
    assert (await client.post(f"{url}/merge", json={"duplicate_id": foreign["id"]},
                              headers=auth(**{"If-Match": survivor["_etag"]}))
            ).status_code == 404

    merged = await client.post(f"{url}/merge", json={"duplicate_id": dup["id"]},
                               headers=auth(**{"If-Match": survivor["_etag"]}))
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert sorted(d["type"] for d in body["documents"]) == ["pe_cpp", "ve_cedula"]
    assert body["phone"] == "+51912345678"      # filled from the duplicate
    assert body["given_names"] == "María José"  # the survivor's own value stays
    assert body["opt_out_statistics"] is True   # an opposition is never lost
    assert merged.headers["etag"] == '"v2"'

    pointer = await client.get(f"/v1/profiles/{dup['id']}", headers=auth())
    assert pointer.status_code == 308
    assert pointer.headers["location"] == url
    assert pointer.json()["merged_into"] == survivor["id"]
    assert pointer.json()["title"] == "Perfil fusionado"
    assert (await client.get(f"/v1/profiles/{dup['id']}",
                             headers=auth(org="ong-otra"))).status_code == 404
    consents = (await client.get(f"{url}/consents", headers=auth())).json()["items"]
    assert [c["purpose"] for c in consents] == ["statistics"]
    history = (await client.get(f"{url}/audit", headers=auth("coordinator"))).json()["items"]
    assert {h["profile_id"] for h in history} == {survivor["id"], dup["id"]}
    assert ("read", dup["id"]) in {(h["action"], h["profile_id"]) for h in history}
    assert [e for e, _ in await events_of(dbs["registry"], dup["id"])][-1] == "profile.merged"
    assert (await events_of(dbs["registry"], dup["id"]))[-1][1] == {
        "merged_into": survivor["id"]}
    check = await client.get(f"/v1/profiles/{dup['id']}/consent-check",
                             params={"purpose": "statistics"}, headers=auth())
    assert check.json()["profile_id"] == survivor["id"]


async def test_audit_is_for_coordinators_and_append_only(
    client: httpx.AsyncClient, auth: TokenFactory, dbs: dict[str, Database]
) -> None:
    p = await create(client, auth())
    url = f"/v1/profiles/{p['id']}/audit"
    assert (await client.get(url, headers=auth())).status_code == 403
    assert (await client.get(url, headers=auth("admin", org=None, regions=[]))
            ).status_code == 403
    for _ in range(3):
        await client.get(f"/v1/profiles/{p['id']}", headers=auth())
    first = await client.get(url, params={"limit": 2}, headers=auth("coordinator"))
    assert first.status_code == 200
    page = first.json()
    assert [e["action"] for e in page["items"]] == ["read", "read"]
    rest = await client.get(url, params={"limit": 50, "cursor": page["next_cursor"]},
                            headers=auth("coordinator"))
    assert [e["action"] for e in rest.json()["items"]] == ["read", "create"]
    assert (await _count(dbs["registry"], AuditEntry, profile_id=p["id"])) == 6

    with pytest.raises(DBAPIError):
        async with dbs["registry"].uow() as uow:
            await uow.session.execute(update(AuditEntry).where(
                AuditEntry.profile_id == p["id"]).values(action="nothing"))
    with pytest.raises(DBAPIError):
        async with dbs["registry"].uow() as uow:
            await uow.session.execute(text("DELETE FROM audit_log"))


async def test_rectified_phone_is_read_in_the_profiles_region(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    quito = auth(regions=["EC-P"])
    p = await create(client, quito, region="EC-P")
    url = f"/v1/profiles/{p['id']}"
    ok = await client.patch(url, json={"phone": "099 123 4567"},
                            headers=auth(regions=["EC-P"], **{"If-Match": p["_etag"]}))
    assert ok.status_code == 200, ok.text
    assert ok.json()["phone"] == "+593991234567"
    bad = await client.patch(url, json={"phone": "12345"},
                             headers=auth(regions=["EC-P"], **{"If-Match": '"v2"'}))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"
