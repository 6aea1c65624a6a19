"""Recommendations: each route with its reasons and missing requirements."""

from __future__ import annotations

from datetime import datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
)

from services.referrals.schemas.types import (
    Country,
    RouteType,
)


class FindingOut(BaseModel):
    code: str = Field(description="Machine-readable, stable across rule versions.")
    message: str = Field(description="In the request's language (Accept-Language).")


class BlockedByOut(BaseModel):
    """The programme to go through first: the renewal of the person's work authorisation,
    which has lapsed (the programme is then not eligible) or is in its renewal window."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "programme_id": "pe-migraciones-renovacion", "code": "work_authorisation_lapsed",
        "message": "Bloqueado: Carné de Permiso Temporal de Permanencia (CPP) venció el "
                   "2026-11-30; primero la renovación"}})

    programme_id: str = Field(description="The renewal programme, e.g. "
                                          "`pe-migraciones-renovacion`.")
    code: str = Field(description="`work_authorisation_lapsed` or "
                                  "`work_authorisation_renewal_due`.")
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
    blocked_by: BlockedByOut | None = Field(
        None, description="Set on a programme that needs a valid work authorisation while "
                          "the person's has lapsed or is due for renewal: refer to that "
                          "programme first. The renewal itself is then listed first.")
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
            "referral_status": None, "blocked_by": None,
            "provider_ids": ["sunedu"]}]}})

    profile_id: str
    rules_version: int
    generated_at: datetime
    items: list[RecommendationOut]
