"""The registry's public payloads. Inputs forbid unknown fields (422): read-only fields such as
``organisation_id`` or ``status`` can never be mass-assigned."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.registry import documents as docs
from services.registry.documents import DocumentType, Verification
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.regions import RegionCode, country_of

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
GivenNames = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200)]
Alpha3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
IscoCode = Annotated[str, StringConstraints(pattern=r"^\d{1,4}$")]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9._:-]+$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=100)]


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


class ConsentPurpose(StrEnum):
    REGISTRATION = "registration"
    REFERRAL = "referral"                      # sharing with a named organisation/programme
    CREDENTIAL_SHARING = "credential_sharing"  # issuing/exporting verifiable credentials
    STATISTICS = "statistics"
    CONTACT = "contact"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Evidence(StrEnum):
    WRITTEN = "written"
    DIGITAL_SIGNATURE = "digital_signature"
    VERBAL_WITNESSED = "verbal_witnessed"


WRITTEN_EVIDENCE = frozenset({Evidence.WRITTEN, Evidence.DIGITAL_SIGNATURE})


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


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- documents ---------------------------------------------------------------------------
class DocumentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "type": "ve_cedula", "number": "V-12.345.678", "expiry_date": "2030-05-31",
            "verification": "seen", "authorises_work": False}},
    )

    type: DocumentType = Field(description=(
        "pe_dni (8 digits), pe_cpp, pe_ptp, pe_carne_extranjeria, "
        "pe_carne_solicitante_refugio, ec_cedula (10 digits, check digit), ec_visa_virte, "
        "ve_cedula (V/E + digits), ve_passport, passport (issuing_country required)"))
    number: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="As written on the document; stored normalised (upper case, no spaces, "
                    "dots or dashes).")
    issuing_country: Alpha3 | None = Field(
        default=None, validate_default=True,
        description="ISO 3166-1 alpha-3; implied by national document types, required for "
                    "`passport`.")
    expiry_date: date | None = None
    verification: Verification = Verification.SELF_DECLARED
    authorises_work: StrictBool | None = Field(
        default=None, description="Whether this document authorises its holder to work.")

    @field_validator("number")
    @classmethod
    def _number(cls, value: str, info: ValidationInfo) -> str:
        doc_type = info.data.get("type")
        if doc_type is None:
            return docs.normalise_number(value)
        number, _, errors = docs.validate(doc_type, value, None)
        for field, text in errors:
            if field == "number":
                raise InvalidValue(text)
        return number

    @field_validator("issuing_country")
    @classmethod
    def _country(cls, value: str | None, info: ValidationInfo) -> str | None:
        doc_type = info.data.get("type")
        if doc_type is None:
            return value
        rule = docs.RULES[doc_type]
        if value is None and rule.country is None:
            raise InvalidValue(docs.COUNTRY_REQUIRED)
        if value is not None and rule.country is not None and value != rule.country:
            raise InvalidValue(docs.COUNTRY_MISMATCH)
        return value or rule.country


class DocumentOut(BaseModel):
    id: str
    type: DocumentType
    number: str | None
    issuing_country: str
    expiry_date: date | None
    verification: Verification
    authorises_work: bool | None
    expired: bool
    accepted_for_identification: bool = Field(
        description="In force, or a passport expired no more than five years ago.")
    created_at: datetime


# --- consents ----------------------------------------------------------------------------
_RECIPIENT_REQUIRED = Text(
    "El consentimiento para derivación debe nombrar la organización o el programa receptor",
    "A referral consent must name the receiving organisation or programme")
_WRITTEN_REQUIRED = Text(
    "Los datos sensibles requieren consentimiento por escrito o firma digital (Ley 29733)",
    "Sensitive data needs written or digitally signed consent (Ley 29733)")
_WITNESS_REQUIRED = Text("El consentimiento verbal requiere el nombre del testigo",
                         "Verbal consent needs the witness")
_PAST_VALIDITY = Text("La vigencia debe terminar en el futuro",
                      "The validity must end in the future")


class ConsentIn(BaseModel):
    """One decision of the person. ``status`` is the decision taken now (granted or refused);
    withdrawal is a later transition (``…/consents/{id}/withdraw``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "purpose": "referral", "status": "granted", "recipient_organisation_id":
            "mtpe-empleo", "evidence": "written", "evidence_reference": "FORM-2026-0042",
            "valid_until": "2027-12-31T23:59:59Z"}},
    )

    purpose: ConsentPurpose
    status: Literal["granted", "refused"] = "granted"
    recipient_organisation_id: OrgId | None = Field(
        default=None, description="Organisation that may receive the data (referral: "
                                  "required unless a programme is named).")
    programme_id: OrgId | None = None
    sensitive_data: StrictBool = Field(
        default=False, description="The consent covers sensitive data (violence, health, "
                                   "disability, protection): written evidence required.")
    evidence: Evidence
    evidence_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                         max_length=200)] | None = Field(
        default=None, description="Where the signed form or recording is filed; no personal "
                                  "data.")
    witnessed_by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=200)] | None = None
    valid_until: datetime | None = None

    @field_validator("valid_until")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        value = _utc(value)
        if value is not None and value <= datetime.now(UTC):
            raise InvalidValue(_PAST_VALIDITY)
        return value

    @model_validator(mode="after")
    def _rules(self) -> ConsentIn:
        if (self.purpose is ConsentPurpose.REFERRAL and self.recipient_organisation_id is None
                and self.programme_id is None):
            raise InvalidValue(_RECIPIENT_REQUIRED)
        if self.sensitive_data and self.evidence not in WRITTEN_EVIDENCE:
            raise InvalidValue(_WRITTEN_REQUIRED)
        if self.evidence is Evidence.VERBAL_WITNESSED and not self.witnessed_by:
            raise InvalidValue(_WITNESS_REQUIRED)
        return self


class ConsentOut(BaseModel):
    id: str
    profile_id: str
    purpose: ConsentPurpose
    status: ConsentStatus = Field(description="Expired when granted and past valid_until.")
    recipient_organisation_id: str | None
    programme_id: str | None
    sensitive_data: bool
    evidence: Evidence
    evidence_reference: str | None
    witnessed_by: str | None
    valid_until: datetime | None
    recorded_by: str
    recorded_by_organisation_id: str | None
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    version: int


class ConsentCheckOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "purpose": "referral",
        "recipient": "mtpe-empleo", "granted": True,
        "consent_id": "0b7d9d3e-8a0e-4a43-9c55-6f3c2a1d4e5f"}})

    profile_id: str
    purpose: ConsentPurpose
    recipient: str | None
    granted: bool
    consent_id: str | None


# --- sensitive data ----------------------------------------------------------------------
class SensitiveData(BaseModel):
    """Encrypted at rest; read and written only with the ``sensitive:read`` permission; never
    in events, logs or partner exports. Needs the person's written consent (purpose
    ``registration`` with ``sensitive_data: true``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "gender_based_violence": True, "health_conditions": ["diabetes tipo 2"],
            "disability_types": ["visual"], "disability_certificate": False,
            "protection_needs": ["single_caregiver"], "notes": "Derivar con acompañamiento."}},
    )

    gender_based_violence: StrictBool | None = None
    health_conditions: list[ShortText] = Field(default_factory=list, max_length=20)
    disability_types: list[DisabilityType] = Field(default_factory=list, max_length=6)
    disability_certificate: StrictBool | None = Field(
        default=None, description="CONADIS (Peru) or MSP (Ecuador) certificate.")
    protection_needs: list[ProtectionNeed] = Field(default_factory=list, max_length=9)
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


# --- profiles ----------------------------------------------------------------------------
class _ProfileFields(BaseModel):
    """Fields shared by create and rectification, validated the same way."""

    gender_identity: GenderIdentity | None = None
    district: Annotated[str, StringConstraints(pattern=r"^\d{4}(\d{2})?$")] | None = Field(
        default=None, description="Peru: INEI ubigeo (6 digits); Ecuador: INEC canton (4) or "
                                  "parish (6). Must lie in `region`.")
    phone: Annotated[str, StringConstraints(min_length=5, max_length=30)] | None = Field(
        default=None, description="Stored as E.164; national numbers are read in the "
                                  "region's country.")
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = None
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]] | None = Field(
        default=None, max_length=10, description="ISO 639 codes, e.g. [\"es\", \"en\"].")
    education_level: int | None = Field(default=None, ge=0, le=8,
                                        description="ISCED 2011 level (0-8).")
    education_field: Annotated[str, StringConstraints(pattern=r"^\d{2,4}$")] | None = Field(
        default=None, description="ISCED-F 2013 field code (2-4 digits), e.g. 0912 medicine.")
    occupation_current: IscoCode | None = Field(default=None, description="ISCO-08 code.")
    occupation_training: IscoCode | None = Field(
        default=None, description="ISCO-08 code of the profession of training.")
    occupation_desired: IscoCode | None = Field(default=None, description="ISCO-08 code.")
    years_experience: int | None = Field(default=None, ge=0, le=70)
    skills: list[ShortText] | None = Field(default=None, max_length=50)
    interest_employment: StrictBool | None = None
    interest_self_employment: StrictBool | None = None

    @field_validator("district")
    @classmethod
    def _district(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            check_district(info.data.get("region"), value)
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        region = info.data.get("region")
        if region is None and "region" not in cls.model_fields_required() \
                and not value.strip().startswith("+"):
            return value.strip()  # rectification: read in the profile's region (service)
        return normalise_phone(value, region)

    @classmethod
    def model_fields_required(cls) -> set[str]:
        return {n for n, f in cls.model_fields.items() if f.is_required()}

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalise_email(value)

    @field_validator("languages", "skills")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


_EXAMPLE_CREATE: dict[str, Any] = {
    "given_names": "María José",
    "first_surname": "Pérez",
    "second_surname": "Rodríguez",
    "birth_date": "1990-04-12",
    "sex": "female",
    "nationality": "VEN",
    "population_type": "migrant",
    "region": "PE-LMA",
    "district": "150132",
    "phone": "+51 987 654 321",
    "email": "maria.perez@example.org",
    "languages": ["es"],
    "education_level": 7,
    "education_field": "0912",
    "occupation_training": "2211",
    "occupation_desired": "2211",
    "years_experience": 8,
    "skills": ["atención primaria", "vacunación"],
    "interest_employment": True,
    "documents": [{"type": "ve_cedula", "number": "V-12.345.678", "verification": "seen"},
                  {"type": "pe_cpp", "number": "001234567", "expiry_date": "2027-06-30",
                   "verification": "seen", "authorises_work": True}],
    "consents": [{"purpose": "registration", "status": "granted", "evidence": "written",
                  "evidence_reference": "FORM-2026-0042"}],
}


class _CreateCore(BaseModel):
    given_names: GivenNames
    first_surname: Name
    second_surname: Name | None = None
    birth_date: date
    sex: Sex
    nationality: Alpha3 = Field(description="ISO 3166-1 alpha-3, e.g. VEN")
    population_type: PopulationType
    region: RegionCode = Field(description="ISO 3166-2 subdivision, e.g. PE-LMA, EC-P")

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, value: date) -> date:
        return check_birth_date(value)


# Bases listed last contribute their fields first: the core fields (region among them) are
# validated before _ProfileFields', whose validators read the region.
class ProfileCreate(_ProfileFields, _CreateCore):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": _EXAMPLE_CREATE})

    documents: list[DocumentIn] = Field(default_factory=list, max_length=10)
    consents: list[ConsentIn] = Field(default_factory=list, max_length=10,
                                      description="Decisions recorded at registration.")
    sensitive: SensitiveData | None = Field(
        default=None, description="Needs `sensitive:read` and a written registration consent "
                                  "with `sensitive_data: true` (here or already on file).")


class _UpdateCore(BaseModel):
    given_names: GivenNames | None = None
    first_surname: Name | None = None
    second_surname: Name | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    nationality: Alpha3 | None = None
    population_type: PopulationType | None = None
    region: RegionCode | None = None

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, value: date | None) -> date | None:
        return None if value is None else check_birth_date(value)


class ProfileUpdate(_ProfileFields, _UpdateCore):
    """Rectification (ARCO): only the fields sent change; unknown or read-only fields are 422.
    ``documents``, when sent, replaces the person's documents; ``sensitive: null`` erases the
    sensitive record."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"second_surname": "Rodríguez de Pérez",
                                       "region": "PE-CAL", "district": "070101"}},
    )

    documents: list[DocumentIn] | None = Field(default=None, max_length=10)
    sensitive: SensitiveData | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> ProfileUpdate:
        for name in ("given_names", "first_surname", "birth_date", "sex", "nationality",
                     "population_type", "region", "documents"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidValue(Text("El campo {field} no puede quedar vacío",
                                        "The field {field} cannot be emptied"), field=name)
        return self


class ProfileOut(BaseModel):
    """A profile as its reader may see it. ``sensitive`` is present only for callers with the
    ``sensitive:read`` permission (and only when the person's consent covers that reader)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        **{k: v for k, v in _EXAMPLE_CREATE.items() if k not in ("documents", "consents")},
        "phone": "+51987654321", "id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
        "organisation_id": "ong-lima", "country": "PE", "status": "active", "version": 1,
        "age_band": "35-44", "gender_identity": None, "occupation_current": None,
        "interest_self_employment": None, "opt_out_statistics": False,
        "opt_out_contact": False, "created_at": "2026-11-23T14:00:00Z",
        "updated_at": "2026-11-23T14:00:00Z",
        "documents": [{"id": "2b0d9d3e-8a0e-4a43-9c55-6f3c2a1d4e5f", "type": "ve_cedula",
                       "number": "V12345678", "issuing_country": "VEN", "expiry_date": None,
                       "verification": "seen", "authorises_work": None, "expired": False,
                       "accepted_for_identification": True,
                       "created_at": "2026-11-23T14:00:00Z"}]}})

    id: str
    organisation_id: str
    status: str
    version: int
    given_names: str | None
    first_surname: str | None
    second_surname: str | None
    birth_date: date | None
    age_band: str | None
    sex: Sex
    gender_identity: GenderIdentity | None
    nationality: str
    population_type: PopulationType
    country: str
    region: str
    district: str | None
    phone: str | None
    email: str | None
    languages: list[str] | None
    education_level: int | None
    education_field: str | None
    occupation_current: str | None
    occupation_training: str | None
    occupation_desired: str | None
    years_experience: int | None
    skills: list[str] | None
    interest_employment: bool | None
    interest_self_employment: bool | None
    opt_out_statistics: bool = Field(description="ARCO opposition: excluded from statistics.")
    opt_out_contact: bool = Field(description="ARCO opposition: not to be contacted.")
    documents: list[DocumentOut]
    sensitive: SensitiveData | None = Field(
        default=None, description="Only with `sensitive:read`; absent otherwise.")
    created_at: datetime
    updated_at: datetime


class DuplicateCandidate(BaseModel):
    id: str
    score: float = Field(description="Name similarity 0-100.")
    reasons: list[Literal["name", "birth_date", "birth_date_day_month_swapped",
                          "nationality"]]
    given_names: str | None = None
    first_surname: str | None = None
    second_surname: str | None = None
    birth_date: date | None = None
    nationality: str | None = None
    region: str | None = None


class ProfileCreated(ProfileOut):
    duplicate_candidates: list[DuplicateCandidate] = Field(
        description="Near matches you may see (name, birth date, nationality): check them "
                    "before going on; merge with POST …/{id}/merge.")


class ProfileSummary(BaseModel):
    id: str
    organisation_id: str
    status: str
    version: int
    given_names: str | None
    first_surname: str | None
    second_surname: str | None
    birth_date: date | None
    sex: Sex
    nationality: str
    population_type: PopulationType
    region: str
    score: float | None = Field(None, description="Name match 0-100 when searching by `q`.")


class DuplicatesOut(BaseModel):
    items: list[DuplicateCandidate]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "duplicate_id": "9a1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "duplicate_version": 2}})

    duplicate_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The profile merged into this one (it then answers with a pointer).")
    duplicate_version: int | None = Field(
        default=None, ge=1, description="The duplicate's version you checked (optional "
                                        "extra guard: 412 if it changed since).")


class AuditEntryOut(BaseModel):
    id: int
    profile_id: str
    at: datetime
    action: str
    actor_subject: str
    actor_role: str
    actor_organisation_id: str | None
    fields: list[str]
    request_id: str | None


class StatisticsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "total": 806, "by_sex": {"female": 537, "male": 269},
        "by_age_band": {"18-24": 120, "25-34": 310, "35-44": 240, "45-59": 120, "60+": 16},
        "by_nationality": {"VEN": 760, "PER": 46},
        "by_population_type": {"migrant": 600, "refugee": 150, "host_community": 56},
        "by_region": {"PE-LMA": 700, "PE-CAL": 106}, "by_status": {"active": 800,
                                                                   "erased": 6},
        "generated_at": "2026-11-23T14:00:00Z"}})

    total: int
    by_sex: dict[str, int]
    by_age_band: dict[str, int]
    by_nationality: dict[str, int]
    by_population_type: dict[str, int]
    by_region: dict[str, int]
    by_status: dict[str, int]
    generated_at: datetime


class BulkIn(BaseModel):
    """Each item is validated on its own: one invalid person never sinks the batch."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "items": [_EXAMPLE_CREATE]}})

    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 profiles (ProfileCreate).",
        # Each item should be a ProfileCreate, but an invalid one is reported in its result
        # (status "invalid"), never a 422 of the batch: the contract says so.
        json_schema_extra={"items": {"anyOf": [{"$ref": "#/components/schemas/ProfileCreate"},
                                               {"type": "object"}]}})


class FieldError(BaseModel):
    field: str
    message: str


class BulkItemResult(BaseModel):
    index: int
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = None
    existing_profile_id: str | None = Field(
        None, description="Duplicate document: the existing profile, only when you may "
                          "see it.")
    duplicate_of_index: int | None = Field(
        None, description="Duplicate of an earlier item of this same batch.")
    errors: list[FieldError] | None = None


class BulkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "created": 2, "duplicates": 1, "invalid": 1, "results": [
            {"index": 0, "status": "created", "id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
            {"index": 1, "status": "created", "id": "7f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
            {"index": 2, "status": "duplicate",
             "existing_profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
            {"index": 3, "status": "invalid",
             "errors": [{"field": "documents[0].number",
                         "message": "Número de cédula no válido (dígito verificador o "
                                    "provincia)"}]}]}})

    created: int
    duplicates: int
    invalid: int
    results: list[BulkItemResult]


class ExportSection(BaseModel):
    status: Literal["ok", "unavailable"]
    items: list[dict[str, Any]] | None = None


class ExportOut(BaseModel):
    """ARCO access: everything the system holds on the person, machine-readable."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "format": "ruta-arco-export/1", "generated_at": "2026-11-23T14:00:00Z",
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "sensitive_included": False,
        "registry": {"profile": {"id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
                     "consents": [], "merged_profile_ids": [], "access_log": []},
        "credentials": {"status": "unavailable"},
        "referrals": {"status": "ok", "items": []}}})

    format: str
    generated_at: datetime
    profile_id: str
    sensitive_included: bool
    registry: dict[str, Any]
    credentials: ExportSection
    referrals: ExportSection
