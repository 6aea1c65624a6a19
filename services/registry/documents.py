"""Identity documents: the types people on the route carry, their formats and check digits.

Numbers are normalised before anything else (upper case; spaces, dots, dashes and slashes
removed) so ``V-12.345.678`` and ``v12345678`` are the same document. Formats are strict
where the issuer publishes one (Peru's DNI: 8 digits; Ecuador's cédula: 10 digits with a
province code and a modulo-10 check digit) and permissive, but bounded, where numbering is
not public or has changed over time (Peru's migration cards, visas, passports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.i18n import Text


class DocumentType(StrEnum):
    PE_DNI = "pe_dni"                        # Documento Nacional de Identidad (Peru)
    PE_CPP = "pe_cpp"                        # Carné de Permiso Temporal de Permanencia
    PE_PTP = "pe_ptp"                        # Permiso Temporal de Permanencia (earlier scheme)
    PE_CARNE_EXTRANJERIA = "pe_carne_extranjeria"
    PE_CARNE_REFUGIO = "pe_carne_solicitante_refugio"  # carné de solicitante de refugio
    EC_CEDULA = "ec_cedula"                  # cédula de identidad (Ecuador)
    EC_VISA_VIRTE = "ec_visa_virte"          # Visa de Residencia Temporal de Excepción
    VE_CEDULA = "ve_cedula"                  # cédula de identidad (Venezuela)
    VE_PASSPORT = "ve_passport"
    PASSPORT = "passport"                    # any other country's passport


class Verification(StrEnum):
    SEEN = "seen"                    # the original was shown to the caseworker
    SCANNED = "scanned"              # a copy is on file with the organisation
    SELF_DECLARED = "self_declared"  # the person said so; nothing was shown
    ISSUER_CHECKED = "issuer_checked"  # checked against the issuer (RENIEC, Migraciones...)


@dataclass(frozen=True)
class TypeRule:
    country: str | None   # issuing country (ISO alpha-3), None when the document says it
    pattern: re.Pattern[str]
    passport: bool = False
    example: str = ""


_R = re.compile
RULES: dict[DocumentType, TypeRule] = {
    DocumentType.PE_DNI: TypeRule("PER", _R(r"^\d{8}$"), example="45678912"),
    DocumentType.PE_CPP: TypeRule("PER", _R(r"^[A-Z0-9]{6,12}$"), example="001234567"),
    DocumentType.PE_PTP: TypeRule("PER", _R(r"^[A-Z0-9]{6,12}$"), example="000456789"),
    DocumentType.PE_CARNE_EXTRANJERIA: TypeRule("PER", _R(r"^[A-Z0-9]{6,12}$"),
                                                example="002345678"),
    DocumentType.PE_CARNE_REFUGIO: TypeRule("PER", _R(r"^[A-Z0-9]{5,15}$"),
                                            example="SR2023001234"),
    DocumentType.EC_CEDULA: TypeRule("ECU", _R(r"^\d{10}$"), example="1710034065"),
    DocumentType.EC_VISA_VIRTE: TypeRule("ECU", _R(r"^[A-Z0-9]{5,20}$"), example="VIRTE2023123"),
    DocumentType.VE_CEDULA: TypeRule("VEN", _R(r"^[VE]\d{5,9}$"), example="V12345678"),
    DocumentType.VE_PASSPORT: TypeRule("VEN", _R(r"^[A-Z0-9]{6,12}$"), passport=True,
                                       example="123456789"),
    DocumentType.PASSPORT: TypeRule(None, _R(r"^[A-Z0-9]{5,20}$"), passport=True,
                                    example="AB1234567"),
}

# Passports expired up to five years are still accepted for identification in Peru and
# Ecuador (the usual situation of Venezuelans who cannot renew theirs).
PASSPORT_GRACE_YEARS = 5

_SEPARATORS = re.compile(r"[\s.\-/_]+")

INVALID_FORMAT = Text("Número de documento con formato no válido para este tipo",
                      "Document number format is not valid for this type")
INVALID_CHECK_DIGIT = Text("Número de cédula no válido (dígito verificador o provincia)",
                           "Invalid cédula number (check digit or province code)")
COUNTRY_REQUIRED = Text("Indique el país emisor del pasaporte (ISO 3166-1 alfa-3)",
                        "Give the passport's issuing country (ISO 3166-1 alpha-3)")
COUNTRY_MISMATCH = Text("El país emisor no corresponde a este tipo de documento",
                        "The issuing country does not match this document type")


def normalise_number(raw: str) -> str:
    return _SEPARATORS.sub("", raw).upper()


def normalise_for(doc_type: DocumentType, raw: str) -> str:
    number = normalise_number(raw)
    if doc_type is DocumentType.VE_CEDULA and number.isdigit():
        number = "V" + number  # a bare number is a Venezuelan national's cédula
    if doc_type is DocumentType.VE_CEDULA and len(number) > 1:
        number = number[0] + number[1:].lstrip("0")  # V-012345678 == V12345678
    return number


def ecuador_cedula_valid(number: str) -> bool:
    """Registro Civil's rule: 2-digit province (01-24, or 30 for people registered abroad),
    third digit below 6 (natural persons), modulo-10 check digit with weights 2,1,2,1..."""
    if len(number) != 10 or not number.isdigit():
        return False
    province = int(number[:2])
    if not (1 <= province <= 24 or province == 30):
        return False
    if int(number[2]) >= 6:
        return False
    total = 0
    for i, ch in enumerate(number[:9]):
        v = int(ch) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10 == int(number[9])


def validate(doc_type: DocumentType, raw_number: str, issuing_country: str | None
             ) -> tuple[str, str, list[tuple[str, Text]]]:
    """Normalised ``(number, issuing_country, errors)``; errors name the offending field."""
    rule = RULES[doc_type]
    number = normalise_for(doc_type, raw_number)
    errors: list[tuple[str, Text]] = []
    if not rule.pattern.match(number):
        errors.append(("number", INVALID_FORMAT))
    elif doc_type is DocumentType.EC_CEDULA and not ecuador_cedula_valid(number):
        errors.append(("number", INVALID_CHECK_DIGIT))
    country = issuing_country or rule.country
    if country is None:
        errors.append(("issuing_country", COUNTRY_REQUIRED))
        country = ""
    elif rule.country is not None and country != rule.country:
        errors.append(("issuing_country", COUNTRY_MISMATCH))
    return number, country, errors


def is_passport(doc_type: DocumentType) -> bool:
    return RULES[doc_type].passport


def accepted_for_identification(doc_type: DocumentType, expiry: date | None,
                                today: date | None = None) -> bool:
    """In force, or a passport expired no more than five years ago."""
    if expiry is None:
        return True
    today = today or date.today()
    if expiry >= today:
        return True
    if is_passport(doc_type):
        try:
            limit = expiry.replace(year=expiry.year + PASSPORT_GRACE_YEARS)
        except ValueError:  # 29 February
            limit = expiry.replace(year=expiry.year + PASSPORT_GRACE_YEARS, day=28)
        return today <= limit
    return False


def search_variants(raw: str) -> list[str]:
    """What a typed document number may be stored as (``12345678`` may be ``V12345678``)."""
    number = normalise_number(raw)
    out = [number]
    if number.isdigit():
        out += ["V" + number.lstrip("0"), "E" + number.lstrip("0")]
    elif number[:1] in ("V", "E") and number[1:].isdigit():
        out.append(number[0] + number[1:].lstrip("0"))
    return list(dict.fromkeys(v for v in out if v))
