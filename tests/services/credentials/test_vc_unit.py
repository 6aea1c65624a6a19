"""Focused tests of the VC building blocks: JOSE strictness, data model, status lists, codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.credentials import status_list, vc
from services.credentials.classification import is_isced_f, is_isco_08, isced_f_label
from services.credentials.keys import SigningKey, new_key, public_jwk_of, thumbprint, unseal
from services.credentials.models import Credential
from services.credentials.subject import identity_hash, identity_object, new_salt
from shared.crypto import DecryptionError, Sealer
from shared.settings import Settings
from tests.services.credentials.vcdm import data_model_errors, split_vc_jwt

BASE = "https://ruta.example.org"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def degree(**overrides: Any) -> Credential:
    fields: dict[str, Any] = dict(
        id=str(uuid.uuid4()), profile_id=str(uuid.uuid4()), organisation_id="ong-lima",
        region="PE-LMA", kind="academic_degree", title="Médico Cirujano", status="recognised",
        created_by="cw", field_isced="0912", occupation_isco="2211", level=None,
        language=None, issuer_name="Universidad Central de Venezuela", issuer_country="VE",
        issuer_identifier="UCV", issued_on=date(2015, 7, 20), expires_on=None, evidence=[],
        competency_standard_code=None, competency_standard_name=None, certifying_body=None,
        assessment_date=None, training_module=None, training_hours=None,
        recognition_body="SUNEDU", recognition_resolution="012345-2025-SUNEDU/DIGRAT",
        recognition_date=date(2025, 5, 14), version=3)
    fields.update(overrides)
    return Credential(**fields)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    _row, signing = new_key(Sealer.from_settings(Settings()))
    return signing


def claims_for(credential: Credential | None = None, **kw: Any) -> dict[str, Any]:
    return vc.build_credential(
        credential=credential or degree(),
        holder=identity_object("María José Pérez Rodríguez", None, None),
        vc_id=str(uuid.uuid4()), issued_at=NOW, base_url=BASE,
        status_list_id=str(uuid.uuid4()), status_position=4242, **kw)


def public_of(key: SigningKey) -> dict[str, str]:
    return public_jwk_of(key.private.public_key())


def check(token: str, key: SigningKey, now: datetime = NOW) -> dict[str, Any]:
    parsed = vc.parse(token)
    vc.verify_signature(parsed, public_of(key))
    vc.check_data_model(parsed.claims)
    vc.check_validity_period(parsed.claims, now)
    vc.status_refs(parsed.claims)
    return parsed.claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"x" * 64) -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()),
                     b64(signature)])


# --- building ----------------------------------------------------------------------------

@pytest.mark.parametrize("credential", [
    degree(),
    degree(status="verified_with_issuer", recognition_body=None, expires_on=date(2030, 1, 1)),
    degree(kind="skills_certification", title="Certificado de competencias laborales",
           field_isced=None, competency_standard_code="NCL-GAS-001",
           competency_standard_name="Preparación de alimentos", certifying_body="MTPE",
           assessment_date=date(2025, 3, 10), status="verified_with_issuer",
           recognition_body=None),
    degree(kind="training_completion", title="Emprende Segur@ — SST", issuer_name=None,
           issuer_country=None, issuer_identifier=None, training_module="sst",
           training_hours=12, status="verified_with_issuer", recognition_body=None),
    degree(kind="language", title="DELE", language="es", level="B2", field_isced="023",
           issuer_identifier="https://examenes.cervantes.es", status="verified_with_issuer",
           recognition_body=None),
], ids=["degree", "expiring", "skills", "training", "language"])
def test_built_credentials_follow_the_data_model(credential: Credential) -> None:
    claims = claims_for(credential)
    assert data_model_errors(claims) == []
    assert claims["@context"][:2] == [vc.VC_V2_CONTEXT, vc.OB_V3_CONTEXT]
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    achievement = claims["credentialSubject"]["achievement"]
    assert achievement["name"] == credential.title
    assert credential.id not in json.dumps(claims)  # internal ids stay internal
    assert credential.profile_id not in json.dumps(claims)
    assert {e["statusPurpose"] for e in claims["credentialStatus"]} == {"revocation",
                                                                        "suspension"}
    if credential.expires_on:
        assert claims["validUntil"] == f"{credential.expires_on.isoformat()}T23:59:59Z"
    else:
        assert "validUntil" not in claims


def test_recognised_degree_carries_resolution_and_alignments() -> None:
    claims = claims_for()
    evidence = claims["evidence"][0]
    assert evidence["name"] == "Reconocimiento SUNEDU"
    assert "012345-2025-SUNEDU/DIGRAT" in evidence["description"]
    codes = {a["targetFramework"]: a["targetCode"]
             for a in claims["credentialSubject"]["achievement"]["alignment"]}
    assert codes == {"ISCED-F 2013": "0912", "ISCO-08": "2211"}
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == \
        "María José Pérez Rodríguez"


# --- signing and strict checking --------------------------------------------------------

def test_round_trip_and_header(key: SigningKey) -> None:
    token = vc.sign(claims_for(), key)
    header, _ = split_vc_jwt(token)
    assert header == {"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": key.kid}
    assert check(token, key)["issuer"]["id"] == f"{BASE}/v1/credentials/issuer/profile"


def test_every_single_character_change_is_refused(key: SigningKey) -> None:
    token = vc.sign(claims_for(), key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, ch in enumerate(token):
        if ch == ".":
            continue
        other = alphabet[(alphabet.index(ch) + 1) % 64]
        tampered = token[:i] + other + token[i + 1:]
        with pytest.raises(vc.Invalid):
            check(tampered, key)


def test_another_key_under_the_same_kid_is_refused(key: SigningKey) -> None:
    impostor = SigningKey(key.kid, ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(vc.Invalid) as caught:
        check(vc.sign(claims_for(), impostor), key)
    assert caught.value.reason is vc.Reason.BAD_SIGNATURE


def test_hs256_with_the_public_key_as_secret_is_refused(key: SigningKey) -> None:
    claims = claims_for()
    header = {"alg": "HS256", "typ": "vc+jwt", "cty": "vc", "kid": key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    secret = json.dumps(public_of(key)).encode()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(vc.Invalid) as caught:
        check(f"{signing_input}.{b64(mac)}", key)
    assert caught.value.reason is vc.Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(("header", "reason"), [
    ({"alg": "none", "typ": "vc+jwt", "kid": "k"}, vc.Reason.UNSUPPORTED_ALGORITHM),
    ({"alg": "ES384", "typ": "vc+jwt", "kid": "k"}, vc.Reason.UNSUPPORTED_ALGORITHM),
    ({"typ": "vc+jwt", "kid": "k"}, vc.Reason.UNSUPPORTED_ALGORITHM),
    ({"alg": "ES256", "typ": "JWT", "kid": "k"}, vc.Reason.UNSUPPORTED_TYPE),
    ({"alg": "ES256", "kid": "k"}, vc.Reason.UNSUPPORTED_TYPE),
    ({"alg": "ES256", "typ": "vc+jwt", "cty": "json", "kid": "k"}, vc.Reason.UNSUPPORTED_TYPE),
    ({"alg": "ES256", "typ": "vc+jwt"}, vc.Reason.UNKNOWN_KEY),
    ({"alg": "ES256", "typ": "vc+jwt", "kid": 7}, vc.Reason.UNKNOWN_KEY),
    ({"alg": "ES256", "typ": "vc+jwt", "kid": "k", "jku": "https://evil"}, vc.Reason.MALFORMED),
    ({"alg": "ES256", "typ": "vc+jwt", "kid": "k", "crit": ["exp"]}, vc.Reason.MALFORMED),
])
def test_headers_we_do_not_issue_are_refused(header: dict[str, Any], reason: vc.Reason
                                             ) -> None:
    with pytest.raises(vc.Invalid) as caught:
        vc.parse(forge(header, claims_for()))
    assert caught.value.reason is reason


@pytest.mark.parametrize("token", [
    "", "abc", "a.b", "a.b.c.d", "..", "eyJ.eyJ.", "!!!.###.$$$", "e30.e30.e30",
    "W10.e30.AAAA", "x" * (vc.MAX_VC_CHARS + 1),
])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(vc.Invalid) as caught:
        vc.parse(token)
    assert caught.value.reason in (vc.Reason.MALFORMED, vc.Reason.UNSUPPORTED_ALGORITHM)


def test_validity_window(key: SigningKey) -> None:
    token = vc.sign(claims_for(degree(expires_on=date(2026, 6, 30))), key)
    check(token, key, now=datetime(2026, 6, 30, 23, 0, tzinfo=UTC))
    with pytest.raises(vc.Invalid) as expired:
        check(token, key, now=datetime(2026, 7, 2, tzinfo=UTC))
    assert expired.value.reason is vc.Reason.EXPIRED
    with pytest.raises(vc.Invalid) as early:
        check(token, key, now=NOW - timedelta(hours=1))
    assert early.value.reason is vc.Reason.NOT_YET_VALID


@pytest.mark.parametrize("mutate", [
    lambda c: c.update({"@context": [vc.OB_V3_CONTEXT, vc.VC_V2_CONTEXT]}),
    lambda c: c.update({"@context": "https://www.w3.org/ns/credentials/v2"}),
    lambda c: c.update({"type": ["OpenBadgeCredential"]}),
    lambda c: c.pop("issuer"),
    lambda c: c.update({"issuer": {"name": "x"}}),
    lambda c: c.pop("credentialSubject"),
    lambda c: c.update({"credentialSubject": {}}),
    lambda c: c.update({"validFrom": "2026-03-01"}),
    lambda c: c.update({"validUntil": "2026-03-01 12:00:00"}),
], ids=["context-order", "context-string", "type", "no-issuer", "issuer-no-id", "no-subject",
        "empty-subject", "validFrom-date", "validUntil-space"])
def test_data_model_violations(mutate: Any) -> None:
    claims = claims_for()
    mutate(claims)
    with pytest.raises(vc.Invalid) as caught:
        vc.check_data_model(claims)
        vc.check_validity_period(claims, NOW)
    assert caught.value.reason is vc.Reason.NOT_A_CREDENTIAL
    assert data_model_errors(claims)  # the independent checker agrees


@pytest.mark.parametrize("status", [
    None, [], {"type": "StatusList2021Entry"},
    [{"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
      "statusListIndex": "1", "statusListCredential": "https://elsewhere.example/list"}],
    [{"type": "BitstringStatusListEntry", "statusPurpose": "suspension",
      "statusListIndex": "1", "statusListCredential":
      f"{BASE}/v1/credentials/issuer/status/{uuid.uuid4()}/revocation"}],
    [{"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
      "statusListIndex": 1, "statusListCredential":
      f"{BASE}/v1/credentials/issuer/status/{uuid.uuid4()}/revocation"}],
    [{"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
      "statusListIndex": "131072", "statusListCredential":
      f"{BASE}/v1/credentials/issuer/status/{uuid.uuid4()}/revocation"}],
])
def test_status_entries_must_be_ours(status: Any) -> None:
    claims = claims_for()
    claims["credentialStatus"] = status
    with pytest.raises(vc.Invalid) as caught:
        vc.status_refs(claims)
    assert caught.value.reason is vc.Reason.NO_STATUS


# --- keys --------------------------------------------------------------------------------

def test_private_key_is_sealed_and_bound_to_its_kid() -> None:
    sealer = Sealer.from_settings(Settings())
    row, key = new_key(sealer)
    assert row.kid == key.kid == thumbprint(row.public_jwk)
    assert row.data_key_id == Settings().data_active_key
    assert "PRIVATE" not in row.private_key and row.private_key.startswith("v1:")
    assert "d" not in row.public_jwk
    assert unseal(row, sealer).private.private_numbers() == key.private.private_numbers()
    other_row, _ = new_key(sealer)
    other_row.private_key = row.private_key  # a sealed key copied to another kid
    with pytest.raises(DecryptionError):
        unseal(other_row, sealer)


# --- status lists -------------------------------------------------------------------------

def test_bitstring_encoding() -> None:
    encoded = status_list.encode([0, 9, 131_071])
    assert encoded.startswith("u")
    bits = status_list.decode(encoded)
    assert len(bits) == 16_384  # 131,072 entries: the minimum for group privacy
    assert bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01
    assert [status_list.is_set(bits, i) for i in (0, 1, 9, 10, 131_071)] == \
        [True, False, True, False, True]
    assert status_list.decode(status_list.encode([])) == bytes(16_384)


# --- classifications ----------------------------------------------------------------------

@pytest.mark.parametrize(("code", "ok"), [
    ("09", True), ("091", True), ("0912", True), ("0913", True), ("0114", True),
    ("0588", True), ("058", True), ("0732", True), ("1041", True), ("99", True),
    ("9", False), ("12", False), ("095", False), ("0910", False), ("00000", False),
    ("09a", False), ("008", False),
])
def test_isced_f(code: str, ok: bool) -> None:
    assert is_isced_f(code) is ok


def test_isced_labels_and_isco() -> None:
    assert isced_f_label("0912") == "Health"
    assert isced_f_label("09") == "Health and welfare"
    assert isced_f_label("058") == "Inter-disciplinary: Natural sciences, mathematics and " \
                                   "statistics"
    assert is_isco_08("2211") and is_isco_08("0") and not is_isco_08("22111")


# --- the holder's salted identity hash (issue 16, item 10) ---------------------------------

def test_the_identity_hash_follows_the_documented_recipe() -> None:
    salt = "00112233445566778899aabbccddeeff"
    expected = hashlib.sha256(
        ("MARIA JOSE PEREZ RODRIGUEZ|1990-04-12" + salt).encode("utf-8")).hexdigest()
    assert identity_hash(" María  José Pérez\tRodríguez ", date(1990, 4, 12), salt) \
        == f"sha256${expected}"
    # as a verifier types it off an identity document: no accents, any case
    assert identity_hash("MARIA JOSE PEREZ RODRIGUEZ", date(1990, 4, 12), salt) \
        == identity_hash("maría josé pérez rodríguez", date(1990, 4, 12), salt)
    assert identity_hash("María José Pérez Rodríguez", None, salt) == "sha256$" + \
        hashlib.sha256(("MARIA JOSE PEREZ RODRIGUEZ|" + salt).encode()).hexdigest()


def test_the_hashed_holder_carries_neither_name_nor_salt() -> None:
    salt = new_salt()
    assert len(salt) == 32 and int(salt, 16) >= 0 and new_salt() != salt
    holder = identity_object("María José Pérez Rodríguez", date(1990, 4, 12), salt)
    assert (holder["identityType"], holder["hashed"]) == ("ext:nameAndBirthDate", True)
    assert "salt" not in holder and salt not in str(holder)
