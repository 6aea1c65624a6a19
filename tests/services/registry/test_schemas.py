"""Payload rules beyond types: documents imply their country, consents their evidence, and
phones, districts and e-mails are normalised against the region (services/registry/schemas)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registry.documents import DocumentType
from services.registry.schemas import ConsentIn, DocumentIn, ProfileCreate


def test_document_schema_reports_the_field_and_implies_the_country() -> None:
    d = DocumentIn(type=DocumentType.EC_CEDULA, number="171003406-5")
    assert (d.number, d.issuing_country) == ("1710034065", "ECU")
    with pytest.raises(ValidationError) as exc:
        DocumentIn(type=DocumentType.PASSPORT, number="AB123456")
    assert [e["loc"] for e in exc.value.errors()] == [("issuing_country",)]
    with pytest.raises(ValidationError) as exc:
        DocumentIn(type=DocumentType.PE_DNI, number="45678912", issuing_country="VEN")
    assert [e["loc"] for e in exc.value.errors()] == [("issuing_country",)]


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
