"""Closed-loop outcomes: what a completed referral records, typed per kind of route.

The kind a referral needs comes from its programme (``outcome_kind``; by default its route
type's). Fields listed in :data:`PERSONAL_FIELDS` identify the person (an employer, a
resolution or college registration number...): they are emptied when the person's profile is
erased, while what reports count (formal contract or not, modules, amounts...) stays.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from shared.errors import InvalidValue
from shared.i18n import Text
from shared.text import OneLineText

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                  OneLineText]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 OneLineText]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2),
                  PlainSerializer(float, return_type=float, when_used="json")]


class OutcomeKind(StrEnum):
    EMPLOYMENT = "employment"
    RECOGNITION = "recognition"
    EXAM = "exam"
    LICENSING = "licensing"
    ENTREPRENEURSHIP = "entrepreneurship"
    CERTIFICATION = "certification"
    REGULARISATION = "regularisation"


DEFAULT_OUTCOME: dict[str, OutcomeKind] = {
    "public_employment_service": OutcomeKind.EMPLOYMENT,
    "degree_recognition": OutcomeKind.RECOGNITION,
    "professional_licensing": OutcomeKind.LICENSING,
    "entrepreneurship": OutcomeKind.ENTREPRENEURSHIP,
    "skills_certification": OutcomeKind.CERTIFICATION,
    "regularisation": OutcomeKind.REGULARISATION,
}


class Currency(StrEnum):
    PEN = "PEN"
    USD = "USD"  # Ecuador's currency


class Module(StrEnum):
    """Emprende Segur@ modules."""

    BUSINESS_MANAGEMENT = "business_management"
    FINANCIAL_EDUCATION = "financial_education"
    SST = "sst"  # seguridad y salud en el trabajo


_FUTURE = Text("La fecha no puede ser futura", "The date cannot be in the future")


def _not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise InvalidValue(_FUTURE)
    return value


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmploymentOutcome(_Outcome):
    """A job placement (public employment service)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "employment", "employer": "Clínica San Felipe S.A.", "job_title":
        "Médico general", "occupation_isco": "2211", "formal_contract": True,
        "monthly_wage": 4500.0, "currency": "PEN", "start_date": "2026-03-01"}})

    type: Literal["employment"]
    employer: Short = Field(description="Personal (emptied on erasure).")
    job_title: Short = Field(description="Personal (emptied on erasure).")
    occupation_isco: Annotated[str, StringConstraints(pattern=r"^\d{1,4}$")] | None = None
    formal_contract: StrictBool = Field(description="A written contract with social security.")
    monthly_wage: Money | None = Field(None, description="Personal (emptied on erasure).")
    currency: Currency | None = None
    start_date: date | None = None

    @model_validator(mode="after")
    def _wage_currency(self) -> EmploymentOutcome:
        if self.monthly_wage is not None and self.currency is None:
            raise InvalidValue(Text("Indique la moneda del salario", "Give the wage's currency"))
        return self


class RecognitionOutcome(_Outcome):
    """A foreign degree recognised (SUNEDU) or registered (SENESCYT)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "recognition", "resolution_number": "012345-2025-SUNEDU/DIGRAT",
        "resolution_date": "2025-05-14"}})

    type: Literal["recognition"]
    resolution_number: Code | None = Field(None, description="Personal (emptied on erasure).")
    resolution_date: date | None = None
    credential_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,36}$")] | None = \
        Field(None, description="The recognised credential, when the decision came through "
                                "the credentials service.")

    _dated = field_validator("resolution_date")(_not_future)

    @model_validator(mode="after")
    def _evidence(self) -> RecognitionOutcome:
        if self.credential_id is None and (self.resolution_number is None
                                           or self.resolution_date is None):
            raise InvalidValue(Text("Indique el número y la fecha de la resolución",
                                    "Give the resolution's number and date"))
        return self


class ExamOutcome(_Outcome):
    """A national exam passed (ENAM)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "exam", "exam_date": "2025-08-10", "score": 13.5}})

    type: Literal["exam"]
    exam_date: date
    score: float | None = Field(None, ge=0, le=100, description="Personal (emptied on "
                                                                 "erasure).")

    _dated = field_validator("exam_date")(_not_future)


class LicensingOutcome(_Outcome):
    """Registered with a professional college (colegiatura) and licensed to practise."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "licensing", "college_registration_number": "CMP 098765",
        "valid_until": "2027-12-31"}})

    type: Literal["licensing"]
    college_registration_number: Code = Field(description="Personal (emptied on erasure).")
    valid_until: date | None = Field(None, description="End of the habilitación.")


class EntrepreneurshipOutcome(_Outcome):
    """Emprende Segur@: training, bonuses, capital, credit and formalisation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "entrepreneurship", "cohort": "Lima-2026-1",
        "modules_completed": ["business_management", "financial_education", "sst"],
        "business_plan_presented": True, "attendance_bonus": True,
        "connectivity_bonus": False, "seed_capital_amount": 1500.0,
        "seed_capital_currency": "PEN", "microcredit_amount": 2000.0,
        "microcredit_currency": "PEN", "microcredit_lender": "Caja Municipal Huancayo",
        "formalised": True, "business_name": "Arepas Doña Rosa"}})

    type: Literal["entrepreneurship"]
    cohort: Code
    modules_completed: list[Module] = Field(max_length=3)
    business_plan_presented: StrictBool
    attendance_bonus: StrictBool = False
    connectivity_bonus: StrictBool = False
    seed_capital_amount: Money | None = None
    seed_capital_currency: Currency | None = None
    microcredit_amount: Money | None = Field(None, description="Interest-free microcredit.")
    microcredit_currency: Currency | None = None
    microcredit_lender: Short | None = None
    formalised: StrictBool = Field(description="The business is registered (RUC/RISE).")
    business_name: Short | None = Field(None, description="Personal (emptied on erasure).")

    @field_validator("modules_completed")
    @classmethod
    def _unique(cls, value: list[Module]) -> list[Module]:
        if len(set(value)) != len(value):
            raise InvalidValue(Text("Módulo repetido", "Repeated module"))
        return value

    @model_validator(mode="after")
    def _currencies(self) -> EntrepreneurshipOutcome:
        if self.seed_capital_amount is not None and self.seed_capital_currency is None:
            raise InvalidValue(Text("Indique la moneda del capital semilla",
                                    "Give the seed capital's currency"))
        if self.microcredit_amount is not None and (self.microcredit_currency is None
                                                    or self.microcredit_lender is None):
            raise InvalidValue(Text("Indique la moneda y la entidad del microcrédito",
                                    "Give the microcredit's currency and lender"))
        return self


class CertificationOutcome(_Outcome):
    """Occupational skills certified (MTPE, SETEC)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "certification", "competency_standard": "Cocina peruana básica",
        "certificate_number": "MTPE-CL-2025-00123", "issued_on": "2025-10-02"}})

    type: Literal["certification"]
    competency_standard: Short
    certificate_number: Code | None = Field(None, description="Personal (emptied on "
                                                              "erasure).")
    issued_on: date | None = None

    _dated = field_validator("issued_on")(_not_future)


class RegularisationOutcome(_Outcome):
    """A work-authorising document renewed or issued (Migraciones' CPP or carné, Ecuador's
    VIRTE). The new document itself is recorded in the registry, where its expiry counts;
    this says what the route achieved."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "regularisation", "document_type": "pe_cpp", "valid_until": "2028-01-31",
        "procedure_number": "MIGRA-2026-0045678"}})

    type: Literal["regularisation"]
    document_type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] \
        = Field(description="The document obtained, e.g. `pe_cpp`, `ec_visa_virte`.")
    valid_until: date | None = Field(None, description="The new document's expiry.")
    procedure_number: Code | None = Field(None, description="Personal (emptied on erasure).")


Outcome = Annotated[
    EmploymentOutcome | RecognitionOutcome | ExamOutcome | LicensingOutcome
    | EntrepreneurshipOutcome | CertificationOutcome | RegularisationOutcome,
    Field(discriminator="type"),
]
OUTCOME_ADAPTER: TypeAdapter[Any] = TypeAdapter(Outcome)

PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    OutcomeKind.EMPLOYMENT: ("employer", "job_title", "monthly_wage", "start_date"),
    OutcomeKind.RECOGNITION: ("resolution_number",),
    OutcomeKind.EXAM: ("score",),
    OutcomeKind.LICENSING: ("college_registration_number",),
    OutcomeKind.ENTREPRENEURSHIP: ("business_name",),
    OutcomeKind.CERTIFICATION: ("certificate_number",),
    OutcomeKind.REGULARISATION: ("procedure_number",),
}


def pseudonymise(outcome: dict[str, Any] | None) -> dict[str, Any] | None:
    """The outcome without the fields that identify the person (kept: what reports count)."""
    if not outcome:
        return outcome
    personal = PERSONAL_FIELDS.get(str(outcome.get("type")), ())
    return {k: (None if k in personal else v) for k, v in outcome.items()}
