"""What the credentials API answers: a credential, its history, a verification verdict, the
issuer's keys. Built from the rows (``CredentialOut.of``), never from a request."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.credentials.lifecycle import Action, Status, allowed_actions
from services.credentials.models import Credential
from services.credentials.schemas import CredentialKind, EvidenceRef, TrainingModule
from shared.clock import as_utc

# SQLite hands datetimes back naive; every stored datetime is UTC and is answered as such.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class IssuerOut(BaseModel):
    name: str | None
    country: str | None
    identifier: str | None


class SkillsCertificationOut(BaseModel):
    competency_standard_code: str
    competency_standard_name: str | None
    certifying_body: str | None
    assessment_date: date | None


class TrainingOut(BaseModel):
    module: TrainingModule
    hours: int | None


class RecognitionOut(BaseModel):
    body: str
    resolution_number: str | None
    resolution_date: date | None
    organisation_id: str | None = Field(
        description="The recognising authority's organisation (e.g. `sunedu`): only it, "
                    "through its provider or ministry clients or its signed callbacks, and "
                    "admins may suspend or revoke the recognition.")


class CredentialOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "0d8f0c5e-58c4-4b0e-8a7e-0b6b9f3d2a11",
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "organisation_id": "ong-lima",
        "region": "PE-LMA", "kind": "academic_degree", "title": "Médico Cirujano",
        "field_isced": "0912", "occupation_isco": "2211", "level": None, "language": None,
        "issuer": {"name": "Universidad Central de Venezuela", "country": "VE",
                   "identifier": "UCV"},
        "issued_on": "2015-07-20", "expires_on": None,
        "evidence": [{"document_id": "doc-7f3a", "type": "diploma"}],
        "skills_certification": None, "training": None,
        "recognition": {"body": "SUNEDU", "resolution_number": "012345-2025-SUNEDU/DIGRAT",
                        "resolution_date": "2025-05-14", "organisation_id": "sunedu"},
        "status": "recognised", "status_changed_at": "2025-05-20T15:04:05Z",
        "allowed_actions": ["suspend", "revoke"], "version": 5,
        "created_at": "2025-04-01T10:00:00Z", "updated_at": "2025-05-20T15:04:05Z"}})

    id: str
    profile_id: str
    organisation_id: str
    region: str | None
    kind: CredentialKind
    title: str | None
    field_isced: str | None
    occupation_isco: str | None
    level: str | None
    language: str | None
    issuer: IssuerOut | None
    issued_on: date | None
    expires_on: date | None
    evidence: list[EvidenceRef]
    skills_certification: SkillsCertificationOut | None
    training: TrainingOut | None
    recognition: RecognitionOut | None
    status: Status
    status_changed_at: UtcDatetime | None
    allowed_actions: list[Action] = Field(
        description="Actions the lifecycle allows from the current status.")
    version: int
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @classmethod
    def of(cls, c: Credential) -> CredentialOut:
        status = Status(c.status)
        return cls(
            id=c.id, profile_id=c.profile_id, organisation_id=c.organisation_id,
            region=c.region, kind=CredentialKind(c.kind), title=c.title,
            field_isced=c.field_isced, occupation_isco=c.occupation_isco, level=c.level,
            language=c.language,
            issuer=(IssuerOut(name=c.issuer_name, country=c.issuer_country,
                              identifier=c.issuer_identifier)
                    if c.issuer_name or c.issuer_country or c.issuer_identifier else None),
            issued_on=c.issued_on, expires_on=c.expires_on,
            evidence=[EvidenceRef.model_validate(e) for e in c.evidence or []],
            skills_certification=(
                SkillsCertificationOut(
                    competency_standard_code=c.competency_standard_code,
                    competency_standard_name=c.competency_standard_name,
                    certifying_body=c.certifying_body, assessment_date=c.assessment_date)
                if c.competency_standard_code else None),
            training=(TrainingOut(module=TrainingModule(c.training_module),
                                  hours=c.training_hours)
                      if c.training_module else None),
            recognition=(RecognitionOut(body=c.recognition_body,
                                        resolution_number=c.recognition_resolution,
                                        resolution_date=c.recognition_date,
                                        organisation_id=c.recognising_organisation_id)
                         if c.recognition_body else None),
            status=status, status_changed_at=c.status_changed_at,
            allowed_actions=allowed_actions(status), version=c.version,
            created_at=c.created_at, updated_at=c.updated_at,
        )


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": {
        "action": "recognise", "from_status": "apostilled", "to_status": "recognised",
        "reason": "Resolución de SUNEDU presentada",
        "details": {"recognition": {"body": "SUNEDU",
                                    "resolution_number": "012345-2025-SUNEDU/DIGRAT",
                                    "resolution_date": "2025-05-14"}},
        "actor": "cw-ana", "actor_role": "caseworker", "actor_organisation_id": "ong-lima",
        "occurred_at": "2025-05-20T15:04:05Z"}})

    action: str
    from_status: Status | None
    to_status: Status
    reason: str | None
    details: dict[str, Any]
    actor: str
    actor_role: str
    actor_organisation_id: str | None
    occurred_at: UtcDatetime


class HistoryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "credential_id": "0d8f0c5e-58c4-4b0e-8a7e-0b6b9f3d2a11",
        "items": [{"action": "declare", "from_status": None, "to_status": "self_declared",
                   "reason": None, "details": {}, "actor": "cw-ana", "actor_role": "caseworker",
                   "actor_organisation_id": "ong-lima", "occurred_at": "2025-04-01T10:00:00Z"},
                  {"action": "see_document", "from_status": "self_declared",
                   "to_status": "document_seen", "reason": "Diploma original revisado",
                   "details": {}, "actor": "cw-ana", "actor_role": "caseworker",
                   "actor_organisation_id": "ong-lima", "occurred_at": "2025-04-02T09:30:00Z"}],
    }})

    credential_id: str
    items: list[TransitionOut]


class VerificationStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    # a peer deployment's credential whose status list could not be fetched or checked
    STATUS_UNAVAILABLE = "status_unavailable"


class VerifyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "valid", "reason": None, "message": "La credencial es válida.",
         "checked_at": "2026-01-10T12:00:00Z"},
        {"status": "invalid", "reason": "bad_signature",
         "message": "La firma no corresponde al emisor.", "checked_at": "2026-01-10T12:00:00Z"},
        {"status": "revoked", "reason": "revoked", "message": "El emisor revocó la credencial.",
         "checked_at": "2026-01-10T12:00:00Z"},
    ]})

    status: VerificationStatus
    reason: str | None = Field(description="Machine-readable reason: malformed, "
                                           "unsupported_type, unsupported_algorithm, "
                                           "unknown_key, bad_signature, "
                                           "not_a_verifiable_credential, not_yet_valid, "
                                           "expired, status_unavailable, revoked, suspended.")
    message: str
    checked_at: datetime


class JwksOut(BaseModel):
    """The issuer's public keys: current and retired (retired keys keep verifying)."""

    model_config = ConfigDict(json_schema_extra={"example": {"keys": [
        {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
         "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "alg": "ES256", "use": "sig"}]}})

    keys: list[dict[str, str]]
