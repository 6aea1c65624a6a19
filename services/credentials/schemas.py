from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class CredentialKind(StrEnum):
    ACADEMIC_DEGREE = "academic_degree"
    PROFESSIONAL_LICENCE = "professional_licence"
    SKILLS_CERTIFICATION = "skills_certification"
    TRAINING_COMPLETION = "training_completion"
    LANGUAGE = "language"


class CredentialCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {
            "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "kind": "academic_degree",
            "title": "Médico Cirujano"}},
    )

    profile_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    kind: CredentialKind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2,
                                            max_length=300)]


class CredentialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    profile_id: str
    organisation_id: str
    kind: CredentialKind
    title: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
