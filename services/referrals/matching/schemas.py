"""Matches and candidates: each vacancy requirement met, missing or blocked, why, and the
route step that closes the gap."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OccupationFit = Literal["unit_group", "minor_group", "sub_major_group"]
FITS: tuple[OccupationFit, ...] = ("unit_group", "minor_group", "sub_major_group")


class NextStepOut(BaseModel):
    """Where the route closes the gap: a programme (refer the person to it) or a pathway
    template (``POST /v1/pathways {profile_id, template}``)."""

    programme: str | None = Field(None, description="Programme id of the catalogue.")
    pathway: str | None = Field(None, description="Pathway template id.")


class RequirementOut(BaseModel):
    requirement: Literal["work_authorisation", "degree", "licence", "certified_skills",
                         "experience", "languages"]
    outcome: Literal["met", "missing", "blocked"] = Field(
        description="`missing`: not held; `blocked`: held but not usable yet (not recognised, "
                    "lapsed, suspended) or waiting on another requirement.")
    code: str = Field(description="Machine-readable, stable across rule versions.")
    message: str = Field(description="Why, in the request's language (Accept-Language).")
    next_step: NextStepOut | None = Field(None, description="The route step that closes the gap; "
                                                        "absent when met or when the route "
                                                        "has none.")


class VacancyRef(BaseModel):
    id: str
    organisation_id: str
    title: str
    employer_name: str | None
    occupation_isco: str
    region: str
    openings_remaining: int
    valid_until: date


class _Explained(BaseModel):
    order: int = Field(description="1 = first.")
    occupation_fit: OccupationFit = Field(
        description="How close the person's occupations are to the vacancy's ISCO-08 unit "
                    "group.")
    same_region: bool
    score: int = Field(ge=0, le=100, description="Share of the requirements met (100 when "
                                                 "none is asked); explains, does not rank.")
    requirements: list[RequirementOut]


class VacancyMatchOut(_Explained):
    vacancy: VacancyRef


EXAMPLE_REQUIREMENTS: list[Any] = [
    {"requirement": "degree", "outcome": "met", "code": "degree_recognised",
     "message": "Título en el campo pedido, reconocido en el país", "next_step": None},
    {"requirement": "licence", "outcome": "missing", "code": "licence_missing",
     "message": "Falta la colegiatura (licencia profesional)",
     "next_step": {"programme": None, "pathway": "pe-nursing-licensing"}}]


class VacancyMatchesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "rules_version": 1,
        "generated_at": "2026-12-04T14:00:00Z",
        "items": [{"order": 1, "occupation_fit": "unit_group", "same_region": True,
                   "score": 50, "requirements": EXAMPLE_REQUIREMENTS,
                   "vacancy": {"id": "0b6c1f7e-2a51-4d0e-9f3c-6a1d2e3f4a5b",
                               "organisation_id": "mtpe-empleo",
                               "title": "Enfermera/o asistencial", "employer_name":
                               "Hospital Nacional", "occupation_isco": "2221",
                               "region": "PE-LMA", "openings_remaining": 3,
                               "valid_until": "2027-01-31"}}]}})

    profile_id: str
    rules_version: int
    generated_at: datetime
    items: list[VacancyMatchOut]


class CandidateOut(_Explained):
    """Minimised: the id (to refer her), initials, region and the explanation; nothing else
    about who the person is."""

    profile_id: str
    initials: str | None = Field(description="Of the given names and first surname.")
    region: str
    experience_years: int = Field(description="Years in the vacancy's occupation.")


class CandidatesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "vacancy_id": "0b6c1f7e-2a51-4d0e-9f3c-6a1d2e3f4a5b", "rules_version": 1,
        "generated_at": "2026-12-04T14:00:00Z",
        "items": [{"order": 1, "occupation_fit": "unit_group", "same_region": True,
                   "score": 100, "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
                   "initials": "M. P.", "region": "PE-LMA", "experience_years": 8,
                   "requirements": EXAMPLE_REQUIREMENTS[:1]}]}})

    vacancy_id: str
    rules_version: int
    generated_at: datetime
    items: list[CandidateOut]
