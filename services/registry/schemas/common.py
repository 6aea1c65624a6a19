"""Field types, enumerations and validators shared by the registry's payloads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import StringConstraints

from shared.errors import InvalidValue
from shared.i18n import Text
from shared.refdata import CountryAlpha3
from shared.regions import country_of
from shared.text import IdentityText

# Identity text: controls, bidi and zero-width characters refused, stored in NFC (shared.text).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 IdentityText]
GivenNames = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200), IdentityText]
Alpha3 = CountryAlpha3  # ISO 3166-1 alpha-3, checked against pycountry
IscoCode = Annotated[str, StringConstraints(pattern=r"^\d{1,4}$")]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9._:-]+$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=100), IdentityText]


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"


class GenderIdentity(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    TRANS_WOMAN = "trans_woman"
    TRANS_MAN = "trans_man"
    NON_BINARY = "non_binary"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


class PopulationType(StrEnum):
    MIGRANT = "migrant"
    REFUGEE = "refugee"
    ASYLUM_SEEKER = "asylum_seeker"
    HOST_COMMUNITY = "host_community"
    RETURNEE = "returnee"



class DisabilityType(StrEnum):
    PHYSICAL = "physical"
    VISUAL = "visual"
    HEARING = "hearing"
    INTELLECTUAL = "intellectual"
    PSYCHOSOCIAL = "psychosocial"
    MULTIPLE = "multiple"


class ProtectionNeed(StrEnum):
    UNACCOMPANIED_MINOR = "unaccompanied_minor"
    SINGLE_CAREGIVER = "single_caregiver"
    SURVIVOR_OF_TRAFFICKING = "survivor_of_trafficking"
    AT_RISK_OF_EVICTION = "at_risk_of_eviction"
    PREGNANT_OR_LACTATING = "pregnant_or_lactating"
    LGBTIQ_AT_RISK = "lgbtiq_at_risk"
    OLDER_PERSON_AT_RISK = "older_person_at_risk"
    SERIOUS_MEDICAL_CONDITION = "serious_medical_condition"
    OTHER = "other"


AGE_BANDS = ("0-17", "18-24", "25-34", "35-44", "45-59", "60+")

# --- places ------------------------------------------------------------------------------
# First digits of the finer place codes, by ISO 3166-2 region: Peru's INEI ubigeo (department
# 2 digits; Lima Metropolitana is province 1501 of department 15) and Ecuador's INEC codes
# (province 2 digits, canton 4, parish 6).
UBIGEO_PREFIX = {
    "PE-AMA": "01", "PE-ANC": "02", "PE-APU": "03", "PE-ARE": "04", "PE-AYA": "05",
    "PE-CAJ": "06", "PE-CAL": "07", "PE-CUS": "08", "PE-HUV": "09", "PE-HUC": "10",
    "PE-ICA": "11", "PE-JUN": "12", "PE-LAL": "13", "PE-LAM": "14", "PE-LIM": "15",
    "PE-LMA": "1501", "PE-LOR": "16", "PE-MDD": "17", "PE-MOQ": "18", "PE-PAS": "19",
    "PE-PIU": "20", "PE-PUN": "21", "PE-SAM": "22", "PE-TAC": "23", "PE-TUM": "24",
    "PE-UCA": "25",
}
EC_PROVINCE = {
    "EC-A": "01", "EC-B": "02", "EC-F": "03", "EC-C": "04", "EC-X": "05", "EC-H": "06",
    "EC-O": "07", "EC-E": "08", "EC-G": "09", "EC-I": "10", "EC-L": "11", "EC-R": "12",
    "EC-M": "13", "EC-S": "14", "EC-N": "15", "EC-Y": "16", "EC-P": "17", "EC-T": "18",
    "EC-Z": "19", "EC-W": "20", "EC-U": "21", "EC-D": "22", "EC-SD": "23", "EC-SE": "24",
}

_DISTRICT_MISMATCH = Text(
    "El distrito no corresponde a la región (Perú: ubigeo INEI de 6 dígitos; Ecuador: código "
    "INEC de cantón, 4 dígitos, o parroquia, 6)",
    "The district does not belong to the region (Peru: 6-digit INEI ubigeo; Ecuador: INEC "
    "canton code, 4 digits, or parish, 6)")
_BAD_PHONE = Text("Teléfono no válido: use el formato internacional E.164 (p. ej. "
                  "+51987654321)", "Invalid phone: use the international E.164 format "
                  "(e.g. +51987654321)")
_BAD_EMAIL = Text("Correo electrónico no válido", "Invalid e-mail address")
_BAD_BIRTH = Text("Fecha de nacimiento no plausible", "Implausible birth date")


def check_district(region: str | None, district: str) -> None:
    if region is None:
        return
    if region.startswith("PE-"):
        prefix = UBIGEO_PREFIX.get(region, "")
        ok = len(district) == 6 and district.startswith(prefix)
        if region == "PE-LIM":
            ok = ok and not district.startswith("1501")
    else:
        prefix = EC_PROVINCE.get(region, "")
        ok = len(district) in (4, 6) and district.startswith(prefix)
    if not ok:
        raise InvalidValue(_DISTRICT_MISMATCH)


def normalise_phone(value: str, region: str | None) -> str:
    default = country_of(region) if region else None
    try:
        number = phonenumbers.parse(value, default)
    except phonenumbers.NumberParseException:
        raise InvalidValue(_BAD_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(_BAD_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidValue(_BAD_EMAIL) from None


def check_birth_date(value: date) -> date:
    today = date.today()
    if value > today or value.year < today.year - 120:
        raise InvalidValue(_BAD_BIRTH)
    return value



def assume_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
