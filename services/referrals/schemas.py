"""The referrals service's public payloads. Inputs forbid unknown fields (422): read-only
fields such as ``status``, ``provider_organisation_id`` or ``version`` can never be
mass-assigned."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.referrals.lifecycle import ACTION_RULES, Action, ReasonCode, Status
from services.referrals.outcomes import Outcome, OutcomeKind
from services.referrals.pathways import PathwayAction, PathwayStatus, StepStatus
from shared.clock import as_utc
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.regions import RegionCode, country_of

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9._:-]+$")]
EntityId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,36}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200,
                                        pattern=ONE_LINE)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=2000, pattern=MULTI_LINE)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000,
                                         pattern=MULTI_LINE)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000,
                                          pattern=MULTI_LINE)]


class RouteType(StrEnum):
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    DEGREE_RECOGNITION = "degree_recognition"
    PROFESSIONAL_LICENSING = "professional_licensing"
    ENTREPRENEURSHIP = "entrepreneurship"
    SKILLS_CERTIFICATION = "skills_certification"


class Country(StrEnum):
    PE = "PE"
    EC = "EC"


_REGION_COUNTRY = Text("Todas las regiones deben ser del país del programa",
                       "Every region must be in the programme's country")
_REPEATED = Text("Elemento repetido", "Repeated item")


def _unique(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise InvalidValue(_REPEATED)
    return values


def _regions_in(country: str | None, regions: list[str] | None) -> None:
    if country is not None and regions is not None and any(
            country_of(r) != country for r in regions):
        raise InvalidValue(_REGION_COUNTRY)


# --- catalogue -------------------------------------------------------------------------------
class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "id": "pe-bootcamp-digital", "name": "Bootcamp de competencias digitales",
        "name_en": "Digital skills bootcamp", "route_type": "skills_certification",
        "country": "PE", "operator": "MTPE — Programa Nacional para la Empleabilidad",
        "regions": ["PE-LMA", "PE-CAL"], "outcome_kind": "certification",
        "description": "Piloto con población migrante y nacional."}})

    id: Slug = Field(description="Stable slug, e.g. pe-empleo.")
    name: Name
    name_en: Name
    route_type: RouteType
    country: Country
    operator: Name
    regions: list[RegionCode] = Field(min_length=1, max_length=30)
    outcome_kind: OutcomeKind | None = Field(
        None, description="What completion records; default: the route type's "
                          "(employment, recognition, licensing, entrepreneurship, "
                          "certification).")
    description: Description | None = None
    description_en: Description | None = None
    active: StrictBool = True

    _unique_regions = field_validator("regions")(_unique)

    @model_validator(mode="after")
    def _country(self) -> ProgrammeCreate:
        _regions_in(self.country, self.regions)
        return self


class ProgrammeUpdate(BaseModel):
    """Only the fields sent change. ``id``, ``route_type`` and ``country`` never change
    (referrals copy them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "regions": ["PE-LMA", "PE-CAL", "PE-PIU"], "active": True}})

    name: Name | None = None
    name_en: Name | None = None
    operator: Name | None = None
    regions: list[RegionCode] | None = Field(None, min_length=1, max_length=30)
    outcome_kind: OutcomeKind | None = None
    description: Description | None = None
    description_en: Description | None = None
    active: StrictBool | None = None

    _unique_regions = field_validator("regions")(_unique)

    @model_validator(mode="after")
    def _required_stay_set(self) -> ProgrammeUpdate:
        for name in ("name", "name_en", "operator", "regions", "outcome_kind", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidValue(Text("El campo {field} no puede quedar vacío",
                                        "The field {field} cannot be emptied"), field=name)
        return self


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"example": {
            "id": "pe-sunedu-reconocimiento", "name": "Reconocimiento de grados y títulos "
            "extranjeros (SUNEDU)", "name_en": "Foreign degree recognition (SUNEDU)",
            "route_type": "degree_recognition", "country": "PE", "operator": "SUNEDU",
            "regions": ["PE-LMA", "PE-CAL"], "outcome_kind": "recognition",
            "description": None, "description_en": None, "active": True, "version": 1,
            "created_at": "2026-11-23T14:00:00Z", "updated_at": "2026-11-23T14:00:00Z"}},
    )

    id: str
    name: str
    name_en: str
    route_type: RouteType
    country: Country
    operator: str
    regions: list[str]
    outcome_kind: OutcomeKind
    description: str | None
    description_en: str | None
    active: StrictBool
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


_PROVIDER_EXAMPLE: dict[str, Any] = {
    "id": "colegio-medico-peru", "organisation_id": "colegio-medico-peru",
    "name": "Colegio Médico del Perú — Colegiatura y habilitación", "country": "PE",
    "regions": ["PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU"],
    "sla_accept_days": 10, "sla_complete_days": 60, "sla_working_days": True,
    "required_documents": ["identity_document", "recognised_degree", "enam_result"],
    "capacity": None, "programme_ids": ["pe-colegio-medico"]}


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"example": _PROVIDER_EXAMPLE})

    id: Slug
    organisation_id: OrgId = Field(
        description="The organisation whose people and systems act for this provider "
                    "(accept, complete… its referrals).")
    name: Name
    country: Country
    regions: list[RegionCode] = Field(min_length=1, max_length=30,
                                      description="Regions it serves.")
    sla_accept_days: int = Field(ge=1, le=365, description="Days to accept or reject.")
    sla_complete_days: int = Field(ge=1, le=730,
                                   description="Days to complete once accepted.")
    sla_working_days: StrictBool = Field(True, description="SLA days are Monday to Friday.")
    required_documents: list[Slug] = Field(
        default_factory=list, max_length=20,
        description="What the person must bring (codes such as identity_document, "
                    "work_authorisation, apostilled_degree).")
    capacity: int | None = Field(None, ge=1, le=1_000_000,
                                 description="Open referrals it takes at once; null: no "
                                             "limit.")
    programme_ids: list[Slug] = Field(min_length=1, max_length=30)
    active: StrictBool = True

    _unique_lists = field_validator("regions", "programme_ids", "required_documents")(_unique)

    @model_validator(mode="after")
    def _country(self) -> ProviderCreate:
        _regions_in(self.country, self.regions)
        return self


class ProviderUpdate(BaseModel):
    """Only the fields sent change; ``capacity: null`` removes the limit. ``id``,
    ``organisation_id`` and ``country`` never change (referrals copy them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "sla_complete_days": 45, "capacity": 120}})

    name: Name | None = None
    regions: list[RegionCode] | None = Field(None, min_length=1, max_length=30)
    sla_accept_days: int | None = Field(None, ge=1, le=365)
    sla_complete_days: int | None = Field(None, ge=1, le=730)
    sla_working_days: StrictBool | None = None
    required_documents: list[Slug] | None = Field(None, max_length=20)
    capacity: int | None = Field(None, ge=1, le=1_000_000)
    programme_ids: list[Slug] | None = Field(None, min_length=1, max_length=30)
    active: StrictBool | None = None

    _unique_lists = field_validator("regions", "programme_ids", "required_documents")(_unique)

    @model_validator(mode="after")
    def _required_stay_set(self) -> ProviderUpdate:
        for name in ("name", "regions", "sla_accept_days", "sla_complete_days",
                     "sla_working_days", "required_documents", "programme_ids", "active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidValue(Text("El campo {field} no puede quedar vacío",
                                        "The field {field} cannot be emptied"), field=name)
        return self


class ProviderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        **_PROVIDER_EXAMPLE, "active": True, "version": 1,
        "created_at": "2026-11-23T14:00:00Z", "updated_at": "2026-11-23T14:00:00Z"}})

    id: str
    organisation_id: str
    name: str
    country: Country
    regions: list[str]
    sla_accept_days: int
    sla_complete_days: int
    sla_working_days: StrictBool
    required_documents: list[str]
    capacity: int | None
    programme_ids: list[str]
    active: StrictBool
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


# --- recommendations ---------------------------------------------------------------------------
class FindingOut(BaseModel):
    code: str = Field(description="Machine-readable, stable across rule versions.")
    message: str = Field(description="In the request's language (Accept-Language).")


class ProgrammeRef(BaseModel):
    id: str
    name: str
    route_type: RouteType
    country: Country


class RecommendationOut(BaseModel):
    order: int = Field(description="1 = first recommended.")
    programme: ProgrammeRef
    relevant: StrictBool = Field(description="The programme fits the person's situation.")
    eligible: StrictBool = Field(description="Relevant and every requirement met: refer now.")
    score: int = Field(ge=0, le=100)
    reasons: list[FindingOut]
    missing: list[FindingOut] = Field(description="Unmet requirements, each with its code.")
    referral_status: str | None = Field(
        None, description="`open` or `completed` when the person already has a referral "
                          "to this programme.")
    provider_ids: list[str] = Field(description="Active providers serving the person's "
                                                "region.")


class RecommendationsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "rules_version": 1,
        "generated_at": "2026-11-23T14:00:00Z",
        "items": [{
            "order": 1,
            "programme": {"id": "pe-sunedu-reconocimiento",
                          "name": "Reconocimiento de grados y títulos extranjeros (SUNEDU)",
                          "route_type": "degree_recognition", "country": "PE"},
            "relevant": True, "eligible": False, "score": 95,
            "reasons": [{"code": "foreign_degree",
                         "message": "Título extranjero por reconocer (SUNEDU)"}],
            "missing": [{"code": "degree_not_apostilled",
                         "message": "Título no apostillado"}],
            "referral_status": None, "provider_ids": ["sunedu"]}]}})

    profile_id: str
    rules_version: int
    generated_at: datetime
    items: list[RecommendationOut]


# --- referrals ---------------------------------------------------------------------------------
class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "programme_id": "pe-empleo",
        "provider_id": "mtpe-empleo", "notes": "Busca empleo como auxiliar de enfermería; "
        "disponible por las mañanas."}})

    profile_id: EntityId
    programme_id: Slug
    provider_id: Slug
    notes: Notes | None = Field(None, description="For the provider. Personal: emptied when "
                                                  "the person's data is cancelled.")
    credential_id: EntityId | None = Field(
        None, description="Recognition referrals: the degree to recognise (its recognition "
                          "in the credentials service then completes the referral).")


_REASON_NEEDED = Text("Indique el motivo de esta acción", "Give the reason for this action")
_REASON_CODE_NEEDED = Text("Indique el código de motivo (capacity, not_eligible, "
                           "person_unreachable, person_declined, documents_missing, other)",
                           "Give the reason code (capacity, not_eligible, person_unreachable, "
                           "person_declined, documents_missing, other)")
_REASON_CODE_ONLY = Text("Solo para reject y fail", "Only for reject and fail")
_OUTCOME_NEEDED = Text("Obligatorio solo para complete", "Required for, and only for, complete")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "accept", "reason": "Cita programada"},
        {"action": "reject", "reason": "Sin cupos este mes", "reason_code": "capacity"},
        {"action": "complete", "reason": "Colocado en empleo formal", "outcome": {
            "type": "employment", "employer": "Clínica San Felipe S.A.",
            "job_title": "Médico general", "formal_contract": True, "monthly_wage": 4500.0,
            "currency": "PEN"}},
        {"action": "cancel", "reason": "La persona se mudó a Arequipa"}]})

    action: Action
    reason: Reason | None = Field(None, validate_default=True, description=(
        "Why. Required for reject, fail, hold and cancel. Personal free text: emptied when "
        "the person's data is cancelled."))
    reason_code: ReasonCode | None = Field(None, validate_default=True, description=(
        "Required for (and only for) reject and fail."))
    outcome: Outcome | None = Field(None, validate_default=True, description=(
        "Required for (and only for) complete, of the programme's `outcome_kind`."))

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if v is None and action is not None and ACTION_RULES[action].needs_reason:
            raise InvalidValue(_REASON_NEEDED)
        return v

    @field_validator("reason_code")
    @classmethod
    def _reason_code(cls, v: ReasonCode | None, info: ValidationInfo) -> ReasonCode | None:
        action = info.data.get("action")
        if action is None:
            return v
        needed = ACTION_RULES[action].needs_reason_code
        if v is None and needed:
            raise InvalidValue(_REASON_CODE_NEEDED)
        if v is not None and not needed:
            raise InvalidValue(_REASON_CODE_ONLY)
        return v

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, v: Any, info: ValidationInfo) -> Any:
        action = info.data.get("action")
        if action is not None and (v is None) == ACTION_RULES[action].needs_outcome:
            raise InvalidValue(_OUTCOME_NEEDED)
        return v


_REFERRAL_EXAMPLE: dict[str, Any] = {
    "id": "3a0c8c1e-2f4b-4a55-9c1d-1f2e3d4c5b6a",
    "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
    "programme_id": "pe-sunedu-reconocimiento", "route_type": "degree_recognition",
    "outcome_kind": "recognition", "provider_id": "sunedu",
    "provider_organisation_id": "sunedu", "referring_organisation_id": "ong-lima",
    "referring_subject": "cw-ana", "profile_organisation_id": "ong-lima",
    "country": "PE", "region": "PE-LMA", "status": "accepted", "notes": None,
    "reason_code": None, "outcome": None, "credential_id": None, "consent_id":
    "0b7d9d3e-8a0e-4a43-9c55-6f3c2a1d4e5f", "pathway_id": None, "pathway_step": None,
    "due_accept_at": "2026-11-30T14:00:00Z", "due_complete_at": "2027-01-12T14:00:00Z",
    "overdue": False, "accepted_at": "2026-11-24T10:00:00Z", "started_at": None,
    "closed_at": None, "allowed_actions": ["start", "cancel"], "version": 2,
    "created_at": "2026-11-23T14:00:00Z", "updated_at": "2026-11-24T10:00:00Z"}


class ReferralOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": _REFERRAL_EXAMPLE})

    id: str
    profile_id: str
    programme_id: str
    route_type: RouteType
    outcome_kind: OutcomeKind
    provider_id: str
    provider_organisation_id: str
    referring_organisation_id: str
    referring_subject: str
    profile_organisation_id: str
    country: Country
    region: str
    status: Status
    notes: str | None
    reason_code: ReasonCode | None = Field(description="Of the rejection or failure.")
    outcome: dict[str, Any] | None = Field(description="Recorded on completion.")
    credential_id: str | None
    consent_id: str | None = Field(description="The person's consent that allowed sharing.")
    pathway_id: str | None
    pathway_step: int | None
    due_accept_at: UtcDatetime
    due_complete_at: UtcDatetime
    overdue: StrictBool
    accepted_at: UtcDatetime | None
    started_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    allowed_actions: list[Action] = Field(description="Actions the lifecycle allows now "
                                                      "(your role may allow fewer).")
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_status: Status | None
    to_status: Status
    reason: str | None
    reason_code: ReasonCode | None
    actor: str
    actor_role: str
    actor_organisation_id: str | None
    occurred_at: UtcDatetime


class HistoryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "referral_id": "3a0c8c1e-2f4b-4a55-9c1d-1f2e3d4c5b6a",
        "items": [{"action": "create", "from_status": None, "to_status": "requested",
                   "reason": None, "reason_code": None, "actor": "cw-ana",
                   "actor_role": "caseworker", "actor_organisation_id": "ong-lima",
                   "occurred_at": "2026-11-23T14:00:00Z"},
                  {"action": "accept", "from_status": "requested", "to_status": "accepted",
                   "reason": "Expediente recibido", "reason_code": None,
                   "actor": "sunedu-digrat", "actor_role": "provider",
                   "actor_organisation_id": "sunedu",
                   "occurred_at": "2026-11-24T10:00:00Z"}]}})

    referral_id: str
    items: list[TransitionOut]


# --- pathways ----------------------------------------------------------------------------------
class PathwayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
        "template": "pe-medical-licensing"}})

    profile_id: EntityId
    template: Slug = Field(description="See GET /v1/pathways/templates.")
    providers: dict[Slug, Slug] = Field(
        default_factory=dict, max_length=10,
        description="Programme id → provider id, to choose another provider than the "
                    "template's first serving the person's region.")
    credential_id: EntityId | None = Field(
        None, description="The degree the recognition step is about; by default the "
                          "person's foreign degree in the template's field.")
    notes: Notes | None = Field(None, description="For the first step's provider.")


class PathwayTransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "resume", "reason": "Documentos completos; nueva solicitud"},
        {"action": "cancel", "reason": "La persona prefiere emprender"}]})

    action: PathwayAction
    reason: Reason = Field(description="Why (personal free text: emptied on erasure).")
    provider_id: Slug | None = Field(None, description="resume: another provider for the "
                                                       "held step.")

    @field_validator("provider_id")
    @classmethod
    def _resume_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("action") is not PathwayAction.RESUME:
            raise InvalidValue(Text("Solo para resume", "Only for resume"))
        return v


class StepOut(BaseModel):
    position: int
    programme_id: str
    provider_id: str
    provider_organisation_id: str
    status: StepStatus
    referral_id: str | None
    referral_status: Status | None
    attempts: int
    completed_at: UtcDatetime | None


_PATHWAY_EXAMPLE: dict[str, Any] = {
    "id": "9b7e6d5c-4b3a-4c2d-8e1f-0a9b8c7d6e5f",
    "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "template": "pe-medical-licensing",
    "template_version": 1, "status": "active", "current_step": 1,
    "organisation_id": "ong-lima", "region": "PE-LMA", "credential_id": None,
    "held_reason": None,
    "steps": [
        {"position": 0, "programme_id": "pe-sunedu-reconocimiento", "provider_id": "sunedu",
         "provider_organisation_id": "sunedu", "status": "completed",
         "referral_id": "3a0c8c1e-2f4b-4a55-9c1d-1f2e3d4c5b6a",
         "referral_status": "completed", "attempts": 1,
         "completed_at": "2027-01-05T10:00:00Z"},
        {"position": 1, "programme_id": "pe-enam", "provider_id": "aspefam-enam",
         "provider_organisation_id": "aspefam-enam", "status": "open",
         "referral_id": "4b1d9d2f-3a5c-4b66-8d2e-2a3f4e5d6c7b",
         "referral_status": "requested", "attempts": 1, "completed_at": None}],
    "version": 3, "created_at": "2026-11-23T14:00:00Z",
    "updated_at": "2027-01-05T10:00:00Z", "completed_at": None}


class PathwayOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": _PATHWAY_EXAMPLE})

    id: str
    profile_id: str
    template: str
    template_version: int
    status: PathwayStatus
    current_step: int
    organisation_id: str
    region: str
    credential_id: str | None
    held_reason: dict[str, Any] | None = Field(description=(
        "Why it waits: `code` (step_rejected, step_failed, step_cancelled, consent_missing, "
        "referral_already_open, no_provider), `step`, and `referral_id`, `reason_code` or "
        "the missing consent."))
    steps: list[StepOut]
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    completed_at: UtcDatetime | None


class TemplateStepOut(BaseModel):
    programme_id: str
    providers: list[str]
    recognition: StrictBool


class TemplateOut(BaseModel):
    id: str
    country: Country
    name: str
    steps: list[TemplateStepOut]


class TemplatesOut(BaseModel):
    version: int
    items: list[TemplateOut]
