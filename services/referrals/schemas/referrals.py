"""Referrals: making one, moving it along its lifecycle, reading it and its history."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.referrals.lifecycle import ACTION_RULES, Action, ReasonCode, Status
from services.referrals.outcomes import Outcome, OutcomeKind
from services.referrals.schemas.types import (
    Country,
    EntityId,
    Notes,
    Reason,
    RouteType,
    Slug,
    UtcDatetime,
)
from shared.errors import InvalidValue
from shared.i18n import Text


class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "programme_id": "pe-empleo",
        "provider_id": "mtpe-empleo", "notes": "Busca empleo como auxiliar de enfermería; "
        "disponible por las mañanas."}})

    profile_id: EntityId
    programme_id: Slug | None = Field(None, description="Required unless `vacancy_id` is "
                                                        "given.")
    provider_id: Slug | None = Field(None, description="Required unless `vacancy_id` is "
                                                       "given.")
    notes: Notes | None = Field(None, description="For the provider. Personal: emptied when "
                                                  "the person's data is cancelled.")
    credential_id: EntityId | None = Field(
        None, description="Recognition referrals: the degree to recognise (its recognition "
                          "in the credentials service then completes the referral).")
    vacancy_id: EntityId | None = Field(
        None, description="An application: the open vacancy applied to. The referral goes to "
                          "the vacancy's employment service (its `programme_id` and "
                          "`provider_id`; others given must be those); completing it with an "
                          "`employment` outcome fills one of its openings.")

    @model_validator(mode="after")
    def _route_or_vacancy(self) -> ReferralCreate:
        if self.vacancy_id is None and (self.programme_id is None or self.provider_id is None):
            raise InvalidValue(Text("Indique programme_id y provider_id, o vacancy_id",
                                    "Give programme_id and provider_id, or vacancy_id"))
        return self


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
    "vacancy_id": None,
    "due_accept_at": "2026-11-30T14:00:00Z", "due_complete_at": "2027-01-12T14:00:00Z",
    "overdue": False, "at_risk": False, "at_risk_reason": None,
    "accepted_at": "2026-11-24T10:00:00Z", "started_at": None,
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
    vacancy_id: str | None = Field(None, description="The vacancy this referral applies to.")
    due_accept_at: UtcDatetime
    due_complete_at: UtcDatetime
    overdue: StrictBool
    at_risk: StrictBool = Field(
        description="Open, to a programme that needs a valid work authorisation, and the "
                    "person's has lapsed (the registry's `document.expired`); clears when a "
                    "new work-authorising document is recorded. The provider hears "
                    "`referral.at_risk` each time.")
    at_risk_reason: str | None = Field(
        description="Why it is at risk: `work_authorisation_lapsed`; null when not.")
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
