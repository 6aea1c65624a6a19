"""Vacancy payloads: what an employment service posts, patches and syncs, and what readers see.

The requirements are a closed, typed document (``extra="forbid"``): the matching reads every
key it may hold, and an unknown key is a mistake to report, not data to keep. Criteria that
Peru's Ley 26772 forbids in job offers (sex, age, nationality, disability, ...) get their own
422 naming the field and the law rather than the generic "unexpected field": the sender must
learn the offer itself is unlawful, not that it misspelt a key.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from services.referrals.schemas.types import Description, Name, UtcDatetime
from shared.deps import IsoDate
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.isco08 import IscoUnitGroup
from shared.refdata import LANGUAGES, member_of
from shared.regions import RegionCode, country_of
from shared.text import OneLineText


class VacancyStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"      # every opening taken by a placement
    CLOSED = "closed"      # withdrawn by its organisation, or past valid_until


class VacancyFlag(StrEnum):
    """What a caseworker should see before referring someone; never a refusal."""

    WAGE_BELOW_MINIMUM = "wage_below_minimum"
    HOURS_OVER_48 = "hours_over_48"


class Currency(StrEnum):
    PEN = "PEN"
    USD = "USD"  # Ecuador's currency


COUNTRY_CURRENCY = {"PE": Currency.PEN, "EC": Currency.USD}

# Keys a job offer may not use to select people (Ley 26772 and its regulation, D.S.
# 002-98-TR: "discriminación por sexo, raza, edad, religión, opinión, origen social,
# condición económica, estado civil, discapacidad, ..."), in the spellings senders use.
DISCRIMINATORY_FIELDS = (
    "sex", "gender", "sexo", "genero", "age", "min_age", "max_age", "age_min", "age_max",
    "edad", "edad_minima", "edad_maxima", "birth_date", "nationality", "nationalities",
    "nacionalidad", "disability", "disabilities", "discapacidad", "marital_status",
    "estado_civil", "religion", "race", "ethnicity", "pregnancy", "appearance",
)
_DISCRIMINATORY = Text(
    "Una oferta de empleo no puede seleccionar por sexo, edad, nacionalidad, discapacidad u "
    "otros motivos prohibidos (Ley 26772, Perú): quite este campo",
    "A job offer may not select people by sex, age, nationality, disability or other "
    "forbidden grounds (Peru's Ley 26772): remove this field")


def _refuse_discriminatory(value: Any) -> Any:
    raise InvalidValue(_DISCRIMINATORY)


# A forbidden key, declared only so its 422 names it and the law; hidden from the schema.
# (Its after-validator never runs, the field validator refuses first; it states that no
# string of it is ever stored: the hostile-text guard test reads it.)
_Forbidden = SkipJsonSchema[Annotated[Any, AfterValidator(_refuse_discriminatory)]]


class _RefusesDiscrimination(BaseModel):
    """Declares the forbidden keys as fields that refuse any value (even null)."""

    sex: _Forbidden = Field(None, exclude=True)
    gender: _Forbidden = Field(None, exclude=True)
    sexo: _Forbidden = Field(None, exclude=True)
    genero: _Forbidden = Field(None, exclude=True)
    age: _Forbidden = Field(None, exclude=True)
    min_age: _Forbidden = Field(None, exclude=True)
    max_age: _Forbidden = Field(None, exclude=True)
    age_min: _Forbidden = Field(None, exclude=True)
    age_max: _Forbidden = Field(None, exclude=True)
    edad: _Forbidden = Field(None, exclude=True)
    edad_minima: _Forbidden = Field(None, exclude=True)
    edad_maxima: _Forbidden = Field(None, exclude=True)
    birth_date: _Forbidden = Field(None, exclude=True)
    nationality: _Forbidden = Field(None, exclude=True)
    nationalities: _Forbidden = Field(None, exclude=True)
    nacionalidad: _Forbidden = Field(None, exclude=True)
    disability: _Forbidden = Field(None, exclude=True)
    disabilities: _Forbidden = Field(None, exclude=True)
    discapacidad: _Forbidden = Field(None, exclude=True)
    marital_status: _Forbidden = Field(None, exclude=True)
    estado_civil: _Forbidden = Field(None, exclude=True)
    religion: _Forbidden = Field(None, exclude=True)
    race: _Forbidden = Field(None, exclude=True)
    ethnicity: _Forbidden = Field(None, exclude=True)
    pregnancy: _Forbidden = Field(None, exclude=True)
    appearance: _Forbidden = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _no_forbidden_null(cls, data: Any) -> Any:
        # A present key is refused whatever its value: ``"age": null`` still selects by age
        # in the sender's mind, and field validators do not run on the default.
        if isinstance(data, dict):
            for key in DISCRIMINATORY_FIELDS:
                if key in data and data[key] is None:
                    data = {**data, key: False}
        return data

    @field_validator(*DISCRIMINATORY_FIELDS, mode="before")
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        return _refuse_discriminatory(value)


Isced = Annotated[str, StringConstraints(pattern=r"^\d{2,4}$")]
IscoCode = Annotated[str, StringConstraints(pattern=r"^\d{1,4}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                  OneLineText]
_LANGUAGE_639_1 = Text("Idioma desconocido: use un código ISO 639-1 (p. ej. es, en, qu)",
                       "Unknown language: use an ISO 639-1 code (e.g. es, en, qu)")
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$"),
                     AfterValidator(member_of(LANGUAGES, _LANGUAGE_639_1))]
Cefr = Annotated[str, StringConstraints(pattern=r"^(A1|A2|B1|B2|C1|C2)$")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DegreeRequirement(_Closed):
    """A degree recognised in the vacancy's country (SUNEDU in Peru, SENESCYT in Ecuador)."""

    field_isced: Isced = Field(description="ISCED-F 2013 field (2-4 digits), matched by "
                                           "prefix: 09 health covers 0913 nursing.")


class LicenceRequirement(_Closed):
    """A professional licence (colegiatura): a credential of kind ``professional_licence``."""

    field_isced: Isced = Field(description="ISCED-F 2013 field of the licence, e.g. 0913 "
                                           "nursing (Colegio de Enfermeros del Perú).")


class SkillRequirement(_Closed):
    """A certified skill: a credential of kind ``skills_certification``."""

    occupation_isco: IscoCode = Field(description="ISCO-08 code (1-4 digits) the "
                                                  "certification is for, matched by prefix.")
    label: Label | None = Field(None, description="How the employment service names it.")


class LanguageRequirement(_Closed):
    code: Language = Field(description="ISO 639-1.")
    level: Cefr | None = Field(None, description="Minimum CEFR level, if any.")


class Requirements(_RefusesDiscrimination):
    """What a candidate needs. Closed: only these keys exist, and each is typed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "work_authorisation": True, "degree": {"field_isced": "0913"},
        "professional_licence": {"field_isced": "0913"}, "certified_skills": [],
        "min_experience_years": 1, "languages": [{"code": "es", "level": "B2"}]}})

    work_authorisation: StrictBool = Field(False, description="A document that authorises "
                                                              "work in the country.")
    degree: DegreeRequirement | None = Field(None, description="A recognised degree.")
    professional_licence: LicenceRequirement | None = Field(
        None, description="A professional licence (colegiatura).")
    certified_skills: list[SkillRequirement] = Field(default_factory=list, max_length=20)
    min_experience_years: int = Field(0, ge=0, le=50, description="Years of experience in "
                                                                  "the occupation.")
    languages: list[LanguageRequirement] = Field(default_factory=list, max_length=10)

    @field_validator("languages")
    @classmethod
    def _languages_once(cls, v: list[LanguageRequirement]) -> list[LanguageRequirement]:
        if len({item.code for item in v}) != len(v):
            raise InvalidValue(Text("Idioma repetido", "Repeated language"))
        return v


Wage = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2),
                 PlainSerializer(float, return_type=float, when_used="json")]
Openings = Annotated[int, Field(ge=1, le=10000)]
Hours = Annotated[int, Field(ge=1, le=168)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                              pattern=r"^[A-Za-z0-9._:/-]+$")]
District = Annotated[str, StringConstraints(pattern=r"^\d{4,6}$")]

_WAGE_RANGE = Text("wage_min no puede superar wage_max", "wage_min cannot exceed wage_max")
_DATES = Text("valid_until no puede ser anterior a valid_from",
              "valid_until cannot be before valid_from")
_CURRENCY = Text("La moneda debe ser la del país de la región (PEN en Perú, USD en Ecuador)",
                 "The currency must be the region's country's (PEN in Peru, USD in Ecuador)")
_DISTRICT = Text("El distrito debe ser de la región (Perú: ubigeo de 6 dígitos; Ecuador: "
                 "código INEC de 4 o 6 dígitos)",
                 "The district must be in the region (Peru: 6-digit ubigeo; Ecuador: 4 or "
                 "6-digit INEC code)")
_OPENINGS_TAKEN = Text("No puede haber menos vacantes que colocaciones ya registradas",
                       "Openings cannot be fewer than the placements already recorded")

_VACANCY_EXAMPLE: dict[str, Any] = {
    "external_id": "EP-2026-004512", "title": "Enfermera(o) asistencial",
    "description": "Atención en hospitalización, turnos rotativos.",
    "employer_name": "Hospital Nacional Arzobispo Loayza", "occupation_isco": "2221",
    "region": "PE-LMA", "district": "150101", "openings": 3, "formal_contract": True,
    "wage_min": 3200.0, "wage_max": 3800.0, "currency": "PEN", "hours_per_week": 36,
    "valid_from": "2026-12-01", "valid_until": "2027-01-31",
    "requirements": {"work_authorisation": True, "degree": {"field_isced": "0913"},
                     "professional_licence": {"field_isced": "0913"},
                     "certified_skills": [], "min_experience_years": 1,
                     "languages": [{"code": "es", "level": "B2"}]}}


class _VacancyFields(_RefusesDiscrimination):
    model_config = ConfigDict(extra="forbid")

    title: Name
    description: Description | None = None
    employer_name: Name | None = Field(None, description="Public: the employer's trade name.")
    occupation_isco: IscoUnitGroup
    region: RegionCode
    district: District | None = Field(None, description="Peru: INEI ubigeo (6 digits); "
                                                        "Ecuador: INEC canton or parish.")
    openings: Openings
    formal_contract: StrictBool = Field(description="A written contract with social "
                                                    "security.")
    wage_min: Wage | None = Field(None, description="Monthly, in `currency`.")
    wage_max: Wage | None = Field(None, description="Monthly, in `currency`.")
    currency: Currency = Field(description="The region's country's: PEN (Peru), USD "
                                           "(Ecuador).")
    hours_per_week: Hours | None = None
    valid_from: IsoDate
    valid_until: IsoDate = Field(description="Last day it is open (the country's day); "
                                             "it closes by itself after it.")
    requirements: Requirements = Field(default_factory=Requirements)

    @model_validator(mode="after")
    def _coherent(self) -> _VacancyFields:
        check_coherence(self.region, self.district, self.currency, self.wage_min,
                        self.wage_max, self.valid_from, self.valid_until)
        return self


def check_coherence(region: str, district: str | None, currency: str,
                    wage_min: Decimal | float | None, wage_max: Decimal | float | None,
                    valid_from: date, valid_until: date) -> None:
    """The cross-field rules, also applied to a PATCH merged onto the stored vacancy."""
    country = country_of(region)
    if currency != COUNTRY_CURRENCY[country]:
        raise InvalidValue(_CURRENCY)
    if district is not None:
        prefix = district_prefix(region)
        ok = district.startswith(prefix) and (len(district) == 6 if country == "PE"
                                              else len(district) in (4, 6))
        if not ok:
            raise InvalidValue(_DISTRICT)
    if wage_min is not None and wage_max is not None and wage_min > wage_max:
        raise InvalidValue(_WAGE_RANGE)
    if valid_until < valid_from:
        raise InvalidValue(_DATES)


# Region → first digits of its districts (Peru's INEI ubigeo department, Lima Metropolitana
# the province 1501; Ecuador's INEC province).
_DISTRICT_PREFIX = {
    "PE-AMA": "01", "PE-ANC": "02", "PE-APU": "03", "PE-ARE": "04", "PE-AYA": "05",
    "PE-CAJ": "06", "PE-CAL": "07", "PE-CUS": "08", "PE-HUV": "09", "PE-HUC": "10",
    "PE-ICA": "11", "PE-JUN": "12", "PE-LAL": "13", "PE-LAM": "14", "PE-LIM": "15",
    "PE-LMA": "1501", "PE-LOR": "16", "PE-MDD": "17", "PE-MOQ": "18", "PE-PAS": "19",
    "PE-PIU": "20", "PE-PUN": "21", "PE-SAM": "22", "PE-TAC": "23", "PE-TUM": "24",
    "PE-UCA": "25", "EC-A": "01", "EC-B": "02", "EC-F": "03", "EC-C": "04", "EC-X": "05",
    "EC-H": "06", "EC-O": "07", "EC-E": "08", "EC-G": "09", "EC-I": "10", "EC-L": "11",
    "EC-R": "12", "EC-M": "13", "EC-S": "14", "EC-N": "15", "EC-Y": "16", "EC-P": "17",
    "EC-T": "18", "EC-Z": "19", "EC-W": "20", "EC-U": "21", "EC-D": "22", "EC-SD": "23",
    "EC-SE": "24",
}


def district_prefix(region: str) -> str:
    return _DISTRICT_PREFIX.get(region, "--")


class VacancyCreate(_VacancyFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": _VACANCY_EXAMPLE})

    external_id: ExternalId | None = Field(
        None, description="The employment service's own id; bulk sync and inbound callbacks "
                          "upsert by it (unique within the organisation).")


class VacancyPatch(_RefusesDiscrimination):
    """Fields to change; absent fields stay. ``status`` may only become ``closed`` here
    (``filled`` follows from placements)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "openings": 4, "wage_min": 3400.0, "valid_until": "2027-02-28"}})

    title: Name | None = None
    description: Description | None = None
    employer_name: Name | None = None
    occupation_isco: IscoUnitGroup | None = None
    district: District | None = None
    openings: Openings | None = None
    formal_contract: StrictBool | None = None
    wage_min: Wage | None = None
    wage_max: Wage | None = None
    hours_per_week: Hours | None = None
    valid_from: IsoDate | None = None
    valid_until: IsoDate | None = None
    requirements: Requirements | None = None
    status: VacancyStatus | None = Field(None, description="Only `closed` (withdraw it).")

    @field_validator("status")
    @classmethod
    def _only_close(cls, v: VacancyStatus | None) -> VacancyStatus | None:
        if v is not None and v != VacancyStatus.CLOSED:
            raise InvalidValue(Text("Solo se puede cerrar una vacante (closed); filled resulta "
                                    "de las colocaciones", "A vacancy can only be closed "
                                    "here; filled follows from placements"))
        return v


class VacancyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        **_VACANCY_EXAMPLE, "id": "9b2f6c1e-7a4d-4c2b-8e1f-3d5a6b7c8d9e",
        "organisation_id": "mtpe-empleo", "programme_id": "pe-empleo",
        "provider_id": "mtpe-empleo", "country": "PE", "openings_remaining": 3,
        "status": "open", "flags": [], "version": 1, "created_at": "2026-11-30T14:00:00Z",
        "updated_at": "2026-11-30T14:00:00Z", "filled_at": None, "closed_at": None}})

    id: str
    organisation_id: str
    programme_id: str = Field(description="Apply through a referral to this programme…")
    provider_id: str = Field(description="…and this provider (the posting service's).")
    external_id: str | None
    title: str
    description: str | None
    employer_name: str | None
    occupation_isco: str
    country: str
    region: str
    district: str | None
    openings: int
    openings_remaining: int
    formal_contract: bool
    wage_min: float | None
    wage_max: float | None
    currency: Currency
    hours_per_week: int | None
    valid_from: date
    valid_until: date
    status: VacancyStatus
    requirements: Requirements
    flags: list[VacancyFlag] = Field(description="For caseworkers: a wage under the "
                                                 "country's monthly minimum, over 48 hours "
                                                 "a week.")
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    filled_at: UtcDatetime | None
    closed_at: UtcDatetime | None


class VacancyPage(BaseModel):
    items: list[VacancyOut]
    next_cursor: str | None = None


class VacancyUpsert(VacancyCreate):
    """A vacancy as the employment service's system sends it: its own ``external_id`` is
    required (created the first time, updated after), and ``status: closed`` withdraws it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        **_VACANCY_EXAMPLE, "status": "open"}})

    external_id: ExternalId = Field(description="The employment service's own id (unique "
                                                "within the organisation).")
    status: Literal["open", "closed"] | None = Field(
        None, description="`closed` withdraws it; `filled` follows from placements.")


class FieldError(BaseModel):
    """One refused field of a batch item, as the 422 problem's ``errors`` name them."""

    field: str
    message: str


class BulkIn(BaseModel):
    """Each item is judged on its own: an invalid vacancy never sinks the batch."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "items": [_VACANCY_EXAMPLE]}})

    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=500, description=(
            "Up to 500 vacancies: each a VacancyCreate whose `external_id` is required, plus "
            "an optional `status` (`open`, or `closed` to withdraw it)."),
        # An invalid item is reported in its result (status "invalid"), never a 422 of the
        # batch.
        json_schema_extra={"items": {"anyOf": [{"$ref": "#/components/schemas/VacancyCreate"},
                                               {"type": "object"}]}})


class BulkItemResult(BaseModel):
    index: int
    status: Literal["created", "updated", "unchanged", "invalid"]
    id: str | None = None
    errors: list[FieldError] | None = None


class BulkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "created": 1, "updated": 1, "unchanged": 0, "invalid": 1, "results": [
            {"index": 0, "status": "created", "id": "9b2f6c1e-7a4d-4c2b-8e1f-3d5a6b7c8d9e"},
            {"index": 1, "status": "updated", "id": "0c3f6c1e-7a4d-4c2b-8e1f-3d5a6b7c8d9e"},
            {"index": 2, "status": "invalid", "errors": [
                {"field": "requirements.max_age", "message": "Una oferta de empleo no puede "
                 "seleccionar por sexo, edad, nacionalidad, discapacidad u otros motivos "
                 "prohibidos (Ley 26772, Perú): quite este campo"}]}]}})

    created: int
    updated: int
    unchanged: int
    invalid: int
    results: list[BulkItemResult]

    @classmethod
    def summarise(cls, results: list[BulkItemResult]) -> BulkOut:
        def count(status: str) -> int:
            return sum(1 for r in results if r.status == status)

        return cls(created=count("created"), updated=count("updated"),
                   unchanged=count("unchanged"), invalid=count("invalid"), results=results)
