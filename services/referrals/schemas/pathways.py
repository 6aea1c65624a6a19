"""Pathways (multi-step routes from a template) and the templates themselves."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from services.referrals.lifecycle import Status
from services.referrals.pathways import PathwayAction, PathwayStatus, StepStatus
from services.referrals.schemas.types import (
    Country,
    EntityId,
    Notes,
    Reason,
    Slug,
    UtcDatetime,
)
from shared.errors import InvalidValue
from shared.i18n import Text


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
