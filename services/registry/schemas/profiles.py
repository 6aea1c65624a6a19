"""A person's profile: sensitive data, registration, rectification, reads, summaries,
near matches and merges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

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

from services.registry.schemas.common import (
    DisabilityType,
    GenderIdentity,
    GivenNames,
    IscoCode,
    Name,
    PopulationType,
    ProtectionNeed,
    Sex,
    ShortText,
    check_birth_date,
    check_district,
    normalise_email,
    normalise_phone,
)
from services.registry.schemas.consents import ConsentIn
from services.registry.schemas.documents import DocumentIn, DocumentOut
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.isco08 import IscoUnitGroup
from shared.refdata import LANGUAGES_DOC, NATIONALITY_DOC, LanguageCode, NationalityCode
from shared.regions import RegionCode
from shared.text import MultiLineText, OneLineText


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
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                    MultiLineText] | None = None


# --- profiles ----------------------------------------------------------------------------
class Experience(BaseModel):
    """Years worked in one occupation: what a vacancy's experience requirement is checked
    against (job matching, issue 20), beside the overall ``years_experience``."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"example": {"isco": "2221", "years": 8}})

    isco: IscoUnitGroup = Field(description="ISCO-08 unit group (4 digits), e.g. 2221 "
                                            "nursing professionals.")
    years: int = Field(ge=0, le=70)


class _ProfileFields(BaseModel):
    """Fields shared by create and rectification, validated the same way."""

    gender_identity: GenderIdentity | None = None
    district: Annotated[str, StringConstraints(pattern=r"^\d{4}(\d{2})?$")] | None = Field(
        default=None, description="Peru: INEI ubigeo (6 digits); Ecuador: INEC canton (4) or "
                                  "parish (6). Must lie in `region`.")
    phone: Annotated[str, StringConstraints(min_length=5, max_length=30),
                     OneLineText] | None = Field(
        default=None, description="Stored as E.164; national numbers are read in the "
                                  "region's country.")
    email: Annotated[str, StringConstraints(min_length=3, max_length=254),
                     OneLineText] | None = None
    languages: list[LanguageCode] | None = Field(default=None, max_length=10,
                                                 description=LANGUAGES_DOC)
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
    experience: list[Experience] | None = Field(
        default=None, max_length=20,
        description="Years of experience per occupation (ISCO-08 unit group), one entry per "
                    "occupation; job matching reads it.")

    @field_validator("experience")
    @classmethod
    def _one_entry_per_occupation(cls, value: list[Experience] | None
                                  ) -> list[Experience] | None:
        if value is not None and len({e.isco for e in value}) != len(value):
            raise InvalidValue(Text("una sola entrada por ocupación",
                                    "one entry per occupation"))
        return value

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


EXAMPLE_CREATE: dict[str, Any] = {
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
    "experience": [{"isco": "2221", "years": 8}],
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
    nationality: NationalityCode = Field(description=NATIONALITY_DOC)
    population_type: PopulationType
    region: RegionCode = Field(description="ISO 3166-2 subdivision, e.g. PE-LMA, EC-P")

    @field_validator("birth_date")
    @classmethod
    def _birth(cls, value: date) -> date:
        return check_birth_date(value)


# Bases listed last contribute their fields first: the core fields (region among them) are
# validated before _ProfileFields', whose validators read the region.
class ProfileCreate(_ProfileFields, _CreateCore):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE_CREATE})

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
    nationality: NationalityCode | None = Field(None, description=NATIONALITY_DOC)
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


class ImportedFrom(BaseModel):
    """Where a person imported from a peer deployment came from (issue 21): the caseworker
    reading the profile sees it without looking up the transfer."""

    deployment: str = Field(description="The peer deployment's id (`RUTA_PEER_DEPLOYMENTS`).")
    profile_id: str = Field(description="The person's profile id at that deployment.")


class ProfileOut(BaseModel):
    """A profile as its reader may see it. ``sensitive`` is present only for callers with the
    ``sensitive:read`` permission (and only when the person's consent covers that reader)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        **{k: v for k, v in EXAMPLE_CREATE.items() if k not in ("documents", "consents")},
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
    experience: list[Experience] | None = Field(
        default=None, description="Years of experience per ISCO-08 unit group.")
    opt_out_statistics: bool = Field(description="ARCO opposition: excluded from statistics.")
    opt_out_contact: bool = Field(description="ARCO opposition: not to be contacted.")
    documents: list[DocumentOut]
    sensitive: SensitiveData | None = Field(
        default=None, description="Only with `sensitive:read`; absent otherwise.")
    imported_from: ImportedFrom | None = Field(
        default=None, description="Provenance: the peer deployment and original profile id "
                                  "of the latest import of this person "
                                  "(`POST /v1/transfers/import`); null if never imported.")
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

    duplicate_id: Annotated[str, StringConstraints(min_length=1, max_length=64),
                            OneLineText] = Field(
        description="The profile merged into this one (it then answers with a pointer).")
    duplicate_version: int | None = Field(
        default=None, ge=1, description="The duplicate's version you checked (optional "
                                        "extra guard: 412 if it changed since).")
