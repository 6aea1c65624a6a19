"""Verifiable credentials end to end: export, public verification, status, keys (issue 6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.credentials import status_list, vc
from services.credentials.keys import IssuerKeys, SigningKey
from services.credentials.usecases import issuance as service
from services.credentials.usecases.verification import verify_vc
from shared.crypto import Sealer
from shared.db import Database
from shared.settings import Settings
from tests.services.credentials.vcdm import data_model_errors, split_vc_jwt
from tests.support.credentials import Flow
from tests.support.tokens import TokenFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def exported(flow: Flow) -> tuple[str, str, str]:
    """A recognised degree with the person's sharing consent: (credential id, etag, VC)."""
    pid, cid, etag = await flow.recognised_degree()
    granted = await flow.consent(pid)
    assert granted.status_code == 201, granted.text
    resp = await flow.export(cid)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/vc+jwt"
    assert resp.headers["cache-control"] == "no-store"
    return cid, etag, resp.text


async def test_round_trip_recognised_export_verify_revoke(flow: Flow) -> None:
    cid, etag, token = await exported(flow)
    answer = await flow.verify(token)
    assert (answer["status"], answer["reason"]) == ("valid", None)
    assert answer["message"] == "La credencial es válida."

    revoked = await flow.decide(cid, etag, "revoke", reason="Título anulado")
    assert revoked.status_code == 200
    answer = await flow.verify(token)
    assert (answer["status"], answer["reason"]) == ("revoked", "revoked")

    # the public status list says the same to any verifier
    entry = split_vc_jwt(token)[1]["credentialStatus"][0]
    assert entry["statusPurpose"] == "revocation"
    path = entry["statusListCredential"].removeprefix("http://127.0.0.1:8000")
    listed = await flow.client.get(path)
    assert listed.status_code == 200, listed.text
    header, list_vc = split_vc_jwt(listed.text)
    assert header["typ"] == "vc+jwt"
    assert (await flow.verify(listed.text))["status"] == "valid"
    subject = list_vc["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    bits = status_list.decode(subject["encodedList"])
    assert status_list.is_set(bits, int(entry["statusListIndex"]))


async def test_suspension_and_reinstatement_show_in_verification(flow: Flow) -> None:
    cid, etag, token = await exported(flow)
    suspended = await flow.decide(cid, etag, "suspend", reason="Habilitación suspendida")
    answer = await flow.verify(token)
    assert (answer["status"], answer["reason"]) == ("suspended", "suspended")
    unsecured = await flow.client.get(
        split_vc_jwt(token)[1]["credentialStatus"][1]["statusListCredential"]
        .removeprefix("http://127.0.0.1:8000"), headers={"Accept": "application/vc"})
    assert unsecured.headers["content-type"] == "application/vc"
    assert unsecured.json()["credentialSubject"]["statusPurpose"] == "suspension"
    await flow.decide(cid, suspended.headers["etag"], "reinstate", reason="Restituida")
    assert (await flow.verify(token))["status"] == "valid"


async def test_exported_vc_follows_the_vc_2_data_model_offline(flow: Flow) -> None:
    _, _, token = await exported(flow)
    header, claims = split_vc_jwt(token)
    assert header["typ"] == "vc+jwt" and header["alg"] == "ES256" and header["cty"] == "vc"
    assert data_model_errors(claims) == []
    assert claims["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "VerifiableCredential" in claims["type"]
    assert claims["issuer"]["id"] == "http://127.0.0.1:8000/v1/credentials/issuer/profile"
    subject = claims["credentialSubject"]
    assert subject["achievement"]["name"] == "Médico Cirujano"
    assert subject["identifier"][0]["hashed"] is True  # no clear name by default
    assert claims["evidence"][0]["name"] == "Reconocimiento SUNEDU"
    # nothing internal: no profile or organisation ids, no document references
    for secret in ("ong-lima", "doc-7f3a", "PE-LMA", "1990-04-12"):
        assert secret not in json.dumps(claims, ensure_ascii=False)
    # not an access token either: no audience, no expiry claim, no role
    assert not {"aud", "exp", "role", "sub", "scope"} & set(claims)


async def test_one_changed_character_is_invalid(flow: Flow) -> None:
    _, _, token = await exported(flow)
    head, payload, signature = token.split(".")
    for tampered in (
        f"{head}.{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{head}.{payload[:10]}{'x' if payload[10] != 'x' else 'y'}{payload[11:]}.{signature}",
        f"{head[:-1]}{'Q' if head[-1] != 'Q' else 'R'}.{payload}.{signature}",
    ):
        answer = await flow.verify(tampered)
        assert answer["status"] == "invalid", tampered


async def test_forgeries_under_our_kid_are_invalid(flow: Flow) -> None:
    _, _, token = await exported(flow)
    header, claims = split_vc_jwt(token)
    impostor = SigningKey(header["kid"], ec.generate_private_key(ec.SECP256R1()))
    answer = await flow.verify(vc.sign(claims, impostor))
    assert (answer["status"], answer["reason"]) == ("invalid", "bad_signature")

    jwks = (await flow.client.get("/v1/credentials/issuer/jwks.json")).json()
    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    hs_header = {**header, "alg": "HS256"}
    signing_input = f"{b64(json.dumps(hs_header).encode())}.{token.split('.')[1]}"
    for secret in (json.dumps(public).encode(), public["x"].encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        answer = await flow.verify(f"{signing_input}.{b64(mac)}")
        assert (answer["status"], answer["reason"]) == ("invalid", "unsupported_algorithm")

    none_alg = f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{token.split('.')[1]}."
    assert (await flow.verify(none_alg))["status"] == "invalid"

    unknown = SigningKey("not-our-kid", impostor.private)
    assert (await flow.verify(vc.sign(claims, unknown)))["reason"] == "unknown_key"


async def test_old_vcs_still_verify_after_key_rotation(
    flow: Flow, dbs: dict[str, Database], settings: Settings
) -> None:
    cid, _, old = await exported(flow)
    old_kid = split_vc_jwt(old)[0]["kid"]
    new_kid = await service.rotate_issuer_key(db=dbs["credentials"], settings=settings)
    assert new_kid != old_kid

    fresh = await flow.export(cid)
    assert split_vc_jwt(fresh.text)[0]["kid"] == new_kid
    assert (await flow.verify(old))["status"] == "valid"
    assert (await flow.verify(fresh.text))["status"] == "valid"
    kids = [k["kid"] for k in (await flow.client.get(
        "/v1/credentials/issuer/jwks.json")).json()["keys"]]
    assert {old_kid, new_kid} <= set(kids)
    profile = (await flow.client.get("/v1/credentials/issuer/profile")).json()
    assert {m["id"].rsplit("#", 1)[1] for m in profile["verificationMethod"]} >= {old_kid,
                                                                                    new_kid}


async def test_a_vc_is_never_a_bearer_token(flow: Flow) -> None:
    cid, _, token = await exported(flow)
    for path in (f"/v1/credentials/{cid}", "/v1/credentials", "/v1/profiles"):
        resp = await flow.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, path
        assert resp.headers["content-type"] == "application/problem+json"


async def test_export_needs_a_vouched_credential_and_the_sharing_consent(flow: Flow) -> None:
    pid = await flow.profile()
    created = await flow.credential(pid)
    unverified = await flow.export(created.json()["id"])
    assert unverified.status_code == 409
    assert unverified.json()["type"] == "/problems/credential-not-verified"

    _, cid, _ = await flow.recognised_degree(pid)
    no_consent = await flow.export(cid, **{"Accept-Language": "en"})
    assert no_consent.status_code == 409
    assert no_consent.json()["type"] == "/problems/consent-required"
    assert no_consent.json()["missing_consent"] == "credential_sharing"
    assert "credential_sharing" in no_consent.json()["detail"]

    refused = await flow.consent(pid, status="refused")
    assert refused.status_code == 201, refused.text
    assert (await flow.export(cid)).status_code == 409

    assert (await flow.consent(pid)).status_code == 201
    assert (await flow.export(cid)).status_code == 200


@pytest.mark.invalid_request
async def test_verification_is_public_bounded_and_never_a_500(
    flow: Flow, client: httpx.AsyncClient
) -> None:
    for body in ({"credential": "not-a-jwt"}, {"credential": "a.b.c"},
                 {"credential": "eyJhbGciOiJub25lIn0.e30."}, {"credential": " "}):
        resp = await client.post("/v1/credentials/verify", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "invalid"
        assert set(resp.json()) == {"status", "reason", "message", "checked_at"}
    for body in ({}, {"credential": 5}, {"credential": "x", "extra": 1}, [],
                 {"credential": "x" * 40_000}, {"credential": ""}):
        resp = await client.post("/v1/credentials/verify", json=body)
        assert resp.status_code == 422, body
        assert resp.headers["content-type"] == "application/problem+json"
    english = await client.post("/v1/credentials/verify", json={"credential": "x.y.z"},
                                headers={"Accept-Language": "en"})
    assert english.json()["message"] == "Not a well-formed compact JOSE credential."


async def test_expired_and_not_yet_valid_vcs(
    flow: Flow, dbs: dict[str, Database], settings: Settings
) -> None:
    _, _, token = await exported(flow)
    _, claims = split_vc_jwt(token)
    async with dbs["credentials"].uow() as uow:
        key = await IssuerKeys(uow.session, Sealer.from_settings(settings)).active()
    expired: dict[str, Any] = {**claims, "validUntil": "2020-01-01T00:00:00Z"}
    answer = await flow.verify(vc.sign(expired, key))
    assert (answer["status"], answer["reason"]) == ("invalid", "expired")
    later = datetime.now(UTC) + timedelta(days=2)
    future = {**claims, "validFrom": later.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert (await flow.verify(vc.sign(future, key)))["reason"] == "not_yet_valid"
    not_vc = {**claims, "@context": ["https://www.w3.org/2018/credentials/v1"]}
    assert (await flow.verify(vc.sign(not_vc, key)))["reason"] == \
        "not_a_verifiable_credential"
    # the service function itself, at a chosen time
    out = await verify_vc(db=dbs["credentials"], token=token,
                          now=datetime.now(UTC) - timedelta(days=1))
    assert out.reason == "not_yet_valid"


@pytest.mark.invalid_request
async def test_issuer_documents_are_public_and_hold_no_secrets(
    flow: Flow, client: httpx.AsyncClient
) -> None:
    await exported(flow)
    jwks = await client.get("/v1/credentials/issuer/jwks.json")
    assert jwks.status_code == 200
    for key in jwks.json()["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert key["alg"] == "ES256" and key["crv"] == "P-256"
    gateway_keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert not {k["kid"] for k in gateway_keys} & {k["kid"] for k in jwks.json()["keys"]}
    profile = await client.get("/v1/credentials/issuer/profile")
    assert profile.status_code == 200 and profile.json()["type"] == ["Profile"]
    missing = await client.get(
        "/v1/credentials/issuer/status/00000000-0000-4000-8000-000000000000/revocation")
    assert missing.status_code == 404
    assert (await client.get(
        "/v1/credentials/issuer/status/00000000-0000-4000-8000-000000000000/other")
            ).status_code == 422


async def test_export_twice_reuses_the_status_index(flow: Flow, auth: TokenFactory) -> None:
    cid, _, first = await exported(flow)
    second = (await flow.export(cid)).text
    a, b = split_vc_jwt(first)[1], split_vc_jwt(second)[1]
    assert a["id"] != b["id"]
    assert a["credentialStatus"] == b["credentialStatus"]
    other_org = await flow.client.get(f"/v1/credentials/{cid}/vc", headers=auth(org="x"))
    assert other_org.status_code == 404


async def test_an_expired_licence_is_not_exported(flow: Flow) -> None:
    pid = await flow.profile()
    created = await flow.credential(pid, kind="professional_licence",
                                    title="Habilitación profesional", issued_on="2010-01-01",
                                    expires_on="2020-12-31")
    await flow.walk(created.json()["id"], created.headers["etag"], ("verify_with_issuer", {}))
    assert (await flow.consent(pid)).status_code == 201
    resp = await flow.export(created.json()["id"])
    assert resp.status_code == 409
    assert resp.json()["type"] == "/problems/credential-expired"
    assert "2020-12-31" in resp.json()["detail"]


# --- the holder named by a salted hash (issue 16, item 10) ---------------------------------

def _recipe(name: str, birth_date: str, salt: str) -> str:
    """The documented recipe, written out as a verifier would (README, OpenAPI)."""
    import unicodedata
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name)
                   if not unicodedata.combining(ch))
    identity = " ".join(bare.upper().split()) + "|" + birth_date
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()


async def test_the_export_names_the_holder_by_a_salted_hash_by_default(flow: Flow) -> None:
    pid, cid, _ = await flow.recognised_degree()
    assert (await flow.consent(pid)).status_code == 201
    first = await flow.export(cid)
    assert first.status_code == 200, first.text
    salt = first.headers["ruta-subject-salt"]
    assert len(salt) == 32 and all(ch in "0123456789abcdef" for ch in salt)
    claims = split_vc_jwt(first.text)[1]
    assert "Pérez" not in first.text and "María" not in json.dumps(claims, ensure_ascii=False)
    assert salt not in json.dumps(claims)  # the salt is the holder's, not in the signed VC
    holder = claims["credentialSubject"]["identifier"][0]
    assert (holder["identityType"], holder["hashed"]) == ("ext:nameAndBirthDate", True)
    # a verifier shown the salt recomputes the hash from the identity document
    assert holder["identityHash"] == _recipe("MARÍA JOSÉ PÉREZ RODRÍGUEZ", "1990-04-12", salt)
    assert (await flow.verify(first.text))["status"] == "valid"
    assert data_model_errors(claims) == []

    second = await flow.export(cid)
    assert second.headers["ruta-subject-salt"] != salt
    assert split_vc_jwt(second.text)[1]["credentialSubject"]["identifier"][0][
        "identityHash"] != holder["identityHash"]


async def test_the_clear_name_only_when_the_person_asks(flow: Flow) -> None:
    pid, cid, _ = await flow.recognised_degree()
    assert (await flow.consent(pid)).status_code == 201
    named = await flow.client.get(f"/v1/credentials/{cid}/vc", params={"subject": "name"},
                                  headers=flow.h())
    assert named.status_code == 200, named.text
    assert "ruta-subject-salt" not in named.headers
    holder = split_vc_jwt(named.text)[1]["credentialSubject"]["identifier"][0]
    assert holder == {"type": "IdentityObject", "identityType": "name", "hashed": False,
                      "identityHash": "María José Pérez Rodríguez"}
    assert (await flow.verify(named.text))["status"] == "valid"


@pytest.mark.invalid_request
async def test_an_unknown_subject_option_is_422(flow: Flow) -> None:
    pid, cid, _ = await flow.recognised_degree()
    assert (await flow.consent(pid)).status_code == 201
    bad = await flow.client.get(f"/v1/credentials/{cid}/vc", params={"subject": "both"},
                                headers=flow.h())
    assert bad.status_code == 422, bad.text
    assert "subject" in bad.json()["errors"][0]["field"]
