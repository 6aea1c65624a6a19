"""Document formats and check digits, normalisation, validity for identification and search
variants (services/registry/documents.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry import documents as docs
from services.registry.documents import DocumentType
from services.registry.synthetic import ec_cedula


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
