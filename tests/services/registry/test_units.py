"""Focused unit tests: document formats and check digits, name normalisation and ranking,
encryption of sensitive data, consent decisions, age bands, the synthetic generator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.registry import documents as docs
from services.registry import search
from services.registry.crypto import SensitiveCipher, SensitiveDataCorrupt, SensitiveKeyUnavailable
from services.registry.documents import DocumentType
from services.registry.schemas import ConsentIn, DocumentIn, ProfileCreate
from services.registry.service import age_band, decide, effective_status
from services.registry.synthetic import SyntheticPeople, ec_cedula

# --- documents ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1710034065", "0926687856", "0102030400", "3000000004"])
def test_valid_ecuadorian_cedulas(number: str) -> None:
    assert docs.ecuador_cedula_valid(number)


@pytest.mark.parametrize("number", [
    "1710034066",   # wrong check digit
    "2510034065",   # province 25 does not exist
    "1770034065",   # third digit 7: not a natural person
    "171003406",    # nine digits
    "17100340AB",
])
def test_invalid_ecuadorian_cedulas(number: str) -> None:
    assert not docs.ecuador_cedula_valid(number)


@given(province=st.sampled_from([*range(1, 25), 30]), body=st.integers(0, 10**7))
@settings(max_examples=200, deadline=None)
def test_every_generated_cedula_passes_and_one_digit_off_fails(province: int, body: int
                                                               ) -> None:
    number = ec_cedula(province, body)
    assert docs.ecuador_cedula_valid(number)
    wrong = number[:9] + str((int(number[9]) + 1) % 10)
    assert not docs.ecuador_cedula_valid(wrong)


@pytest.mark.parametrize(("doc_type", "raw", "expected"), [
    (DocumentType.VE_CEDULA, "V-12.345.678", "V12345678"),
    (DocumentType.VE_CEDULA, "12 345 678", "V12345678"),
    (DocumentType.VE_CEDULA, "e-81.234.567", "E81234567"),
    (DocumentType.VE_CEDULA, "V-012.345.678", "V12345678"),
    (DocumentType.PE_DNI, "4567 8912", "45678912"),
    (DocumentType.PE_CPP, "001-234-567", "001234567"),
    (DocumentType.PASSPORT, "ab 123/4567", "AB1234567"),
])
def test_numbers_are_normalised(doc_type: DocumentType, raw: str, expected: str) -> None:
    number, _, errors = docs.validate(doc_type, raw, "COL" if doc_type is
                                      DocumentType.PASSPORT else None)
    assert errors == []
    assert number == expected


@pytest.mark.parametrize(("doc_type", "raw"), [
    (DocumentType.PE_DNI, "1234567"),        # 7 digits
    (DocumentType.PE_DNI, "123456789"),      # 9 digits
    (DocumentType.PE_DNI, "1234567A"),
    (DocumentType.VE_CEDULA, "X12345678"),
    (DocumentType.PE_CPP, "12345"),
    (DocumentType.EC_CEDULA, "1710034066"),
])
def test_bad_numbers_are_refused(doc_type: DocumentType, raw: str) -> None:
    _, _, errors = docs.validate(doc_type, raw, None)
    assert [f for f, _ in errors] == ["number"]


def test_document_schema_reports_the_field_and_implies_the_country() -> None:
    d = DocumentIn(type=DocumentType.EC_CEDULA, number="171003406-5")
    assert (d.number, d.issuing_country) == ("1710034065", "ECU")
    with pytest.raises(ValidationError) as exc:
        DocumentIn(type=DocumentType.PASSPORT, number="AB123456")
    assert [e["loc"] for e in exc.value.errors()] == [("issuing_country",)]
    with pytest.raises(ValidationError) as exc:
        DocumentIn(type=DocumentType.PE_DNI, number="45678912", issuing_country="VEN")
    assert [e["loc"] for e in exc.value.errors()] == [("issuing_country",)]


def test_expired_passport_is_accepted_for_five_years_other_documents_are_not() -> None:
    today = date(2026, 6, 1)
    passport = DocumentType.VE_PASSPORT
    assert docs.accepted_for_identification(passport, date(2022, 1, 1), today)
    assert docs.accepted_for_identification(passport, date(2021, 6, 1), today)
    assert not docs.accepted_for_identification(passport, date(2021, 5, 31), today)
    assert docs.accepted_for_identification(DocumentType.PE_CPP, None, today)
    assert not docs.accepted_for_identification(DocumentType.PE_CPP, date(2026, 5, 31), today)
    assert docs.accepted_for_identification(passport, date(2020, 2, 29), date(2025, 2, 28))


def test_document_search_variants() -> None:
    assert docs.search_variants("12.345.678") == ["12345678", "V12345678", "E12345678"]
    assert docs.search_variants("v-012345678") == ["V012345678", "V12345678"]


# --- names -------------------------------------------------------------------------------


def test_normalise_folds_accents_enye_case_and_particles() -> None:
    assert search.normalise("María José", "Núñez", "de la Peña") == "maria jose nunez pena"
    assert search.normalise("  ÁNGEL-DAVID ", None, "Añez") == "angel david anez"
    assert search.normalise(None, "", None) is None


def test_score_ignores_surname_order_and_forgives_a_typo() -> None:
    person = search.normalise("José Gregorio", "Hernández", "Márquez") or ""
    namesake = search.normalise("José Gregorio", "Hernández", "Colmenares") or ""
    query = search.normalise("Jose Gregorio Marquez Hernandes") or ""
    assert search.score(query, person) > 90
    assert search.score(query, person) > search.score(query, namesake)
    assert search.score(search.normalise("Zbigniew Kowalski") or "", person) < \
        search.MATCH_CUTOFF


def test_rank_orders_and_cuts() -> None:
    ranked = search.rank("ana gomez", [("b", "ana gomez"), ("a", "ana gomez"),
                                       ("c", "anabel gomez"), ("d", "pedro quispe")])
    assert [i for _, i in ranked][:2] == ["a", "b"]  # ties by id
    assert "d" not in [i for _, i in ranked]


# --- sensitive data encryption -----------------------------------------------------------
KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


def test_cipher_round_trip_binds_the_profile_and_records_the_key() -> None:
    cipher = SensitiveCipher({"a": KEY_A}, "a")
    key_id, blob = cipher.encrypt("p-1", {"gender_based_violence": True})
    assert key_id == "a"
    assert b"gender" not in blob
    assert cipher.decrypt("p-1", key_id, blob) == {"gender_based_violence": True}
    with pytest.raises(SensitiveDataCorrupt):
        cipher.decrypt("p-2", key_id, blob)  # copied to another person's row
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SensitiveDataCorrupt):
        cipher.decrypt("p-1", key_id, tampered)


def test_cipher_rotation_reads_old_keys_writes_the_active_one() -> None:
    old = SensitiveCipher({"a": KEY_A}, "a")
    _, blob = old.encrypt("p-1", {"notes": "x"})
    rotated = SensitiveCipher({"a": KEY_A, "b": KEY_B}, "b")
    assert rotated.decrypt("p-1", "a", blob) == {"notes": "x"}
    assert rotated.encrypt("p-1", {"notes": "x"})[0] == "b"
    with pytest.raises(SensitiveKeyUnavailable):
        SensitiveCipher({"b": KEY_B}, "b").decrypt("p-1", "a", blob)


# --- consents ----------------------------------------------------------------------------
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _consent(cid: str, purpose: str, status: str, minutes: int, recipient: str | None = None,
             valid_until: datetime | None = None, programme: str | None = None
             ) -> SimpleNamespace:
    return SimpleNamespace(id=cid, purpose=purpose, status=status,
                           recipient_organisation_id=recipient, programme_id=programme,
                           valid_until=valid_until,
                           recorded_at=NOW - timedelta(minutes=minutes))


def test_latest_specific_decision_wins() -> None:
    grant = _consent("1", "referral", "granted", 30, "mtpe")
    assert decide([grant], "referral", "mtpe", None, NOW) is grant
    assert decide([grant], "referral", "otra", None, NOW) is None
    refusal = _consent("2", "referral", "refused", 10, "mtpe")
    assert decide([grant, refusal], "referral", "mtpe", None, NOW) is None
    general = _consent("3", "contact", "granted", 30)
    specific_no = _consent("4", "contact", "refused", 40, "ong-x")
    assert decide([general, specific_no], "contact", "ong-x", None, NOW) is None
    assert decide([general, specific_no], "contact", "ong-y", None, NOW) is general


def test_expired_grant_is_not_a_grant() -> None:
    c = _consent("1", "statistics", "granted", 60, valid_until=NOW - timedelta(seconds=1))
    assert effective_status(c, NOW) == "expired"
    assert decide([c], "statistics", None, None, NOW) is None


def test_referral_consent_must_name_a_recipient_and_sensitive_needs_writing() -> None:
    with pytest.raises(ValidationError):
        ConsentIn.model_validate({"purpose": "referral", "evidence": "written"})
    with pytest.raises(ValidationError):
        ConsentIn.model_validate({"purpose": "registration", "evidence": "verbal_witnessed",
                                  "witnessed_by": "Ana (promotora)", "sensitive_data": True})
    with pytest.raises(ValidationError):
        ConsentIn.model_validate({"purpose": "contact", "evidence": "verbal_witnessed"})
    ok = ConsentIn.model_validate({"purpose": "contact", "evidence": "verbal_witnessed",
                                   "witnessed_by": "Ana (promotora)"})
    assert ok.status == "granted"


# --- profile schema and helpers ----------------------------------------------------------


def test_age_bands() -> None:
    today = date(2026, 6, 1)
    assert age_band(date(2008, 6, 2), today) == "0-17"
    assert age_band(date(2008, 6, 1), today) == "18-24"
    assert age_band(date(1991, 6, 1), today) == "35-44"
    assert age_band(date(1966, 6, 2), today) == "45-59"
    assert age_band(date(1966, 6, 1), today) == "60+"
    assert age_band(None, today) is None


def test_phone_district_and_email_are_normalised_against_the_region() -> None:
    p = ProfileCreate.model_validate({
        "given_names": "Ana", "first_surname": "Gómez", "birth_date": "1990-01-01",
        "sex": "female", "nationality": "VEN", "population_type": "migrant",
        "region": "EC-P", "district": "1701", "phone": "099 123 4567",
        "email": "Ana.Gomez@Example.ORG"})
    assert p.phone == "+593991234567"
    assert p.email == "Ana.Gomez@example.org"
    with pytest.raises(ValidationError) as exc:
        ProfileCreate.model_validate({
            "given_names": "Ana", "first_surname": "Gómez", "birth_date": "1990-01-01",
            "sex": "female", "nationality": "VEN", "population_type": "migrant",
            "region": "PE-LIM", "district": "150101", "phone": "123"})
    assert {e["loc"][0] for e in exc.value.errors()} == {"district", "phone"}


def test_synthetic_people_are_valid_unique_and_reproducible() -> None:
    people = list(SyntheticPeople(seed=11).people(3000))
    assert people[:50] == list(SyntheticPeople(seed=11).people(50))
    keys = set()
    for p in people:
        model = ProfileCreate.model_validate(p)
        for d in model.documents:
            key = (d.type, d.issuing_country, d.number)
            assert key not in keys
            keys.add(key)
    names = [search.normalise(p["given_names"], p["first_surname"]) for p in people]
    assert len(set(names)) < len(names)  # namesakes exist
    assert {p["nationality"] for p in people} == {"VEN", "PER", "ECU"}
