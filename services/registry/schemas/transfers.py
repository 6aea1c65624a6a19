"""Portable records: what a caseworker sends and gets back (issue 21)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.registry.schemas.common import OrgId
from services.registry.schemas.profiles import ImportedFrom
from shared.regions import RegionCode


class PortableRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "destination": "ruta-ec"}})

    destination: OrgId = Field(description="The destination deployment: an id of "
                                           "RUTA_PEER_DEPLOYMENTS named by the person's "
                                           "`transfer` consent.")


class PortableRecordOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "bundle_id": "3f0c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "destination": "ruta-ec",
        "issued_at": "2026-12-04T10:00:00Z", "expires_at": "2027-01-03T10:00:00Z",
        "media_type": "application/jose", "credentials": 1,
        "legal_basis": {"basis": "consent", "consent_id": "0b7d…", "purpose": "transfer"},
        "bundle": "eyJhbGciOiJSU0EtT0FFUC0yNTYi…"}})

    bundle_id: str
    destination: str
    issued_at: datetime
    expires_at: datetime = Field(description="30 days after issue; ask again for a new one "
                                             "while the consent holds.")
    media_type: str
    credentials: int = Field(description="How many verifiable credentials travel in it.")
    legal_basis: dict[str, Any]
    bundle: str = Field(description="Compact JWE (RSA-OAEP-256, A256GCM) holding the "
                                    "signed VP (compact JWS, ES256, typ vp+jwt).")


Bundle = Annotated[str, StringConstraints(min_length=20, max_length=2_000_000,
                                          pattern=r"^[A-Za-z0-9_\-.]+$")]


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "bundle": "eyJhbGciOiJSU0EtT0FFUC0yNTYi…", "region": "EC-P"}})

    bundle: Bundle = Field(description="The compact JWE as prepared by the origin.")
    region: RegionCode = Field(description="Where the person is registered here.")


class ImportedCredential(BaseModel):
    id: str | None
    name: str | None
    kind: str | None
    issuer: str | None
    origin_verification: dict[str, Any] = Field(
        description="The origin's verdict now: valid, invalid, revoked, suspended or "
                    "status_unavailable (the status list could not be reached).")
    flagged: bool = Field(description="Anything but valid: never silently trusted.")
    local_recognition: dict[str, Any] = Field(
        description="Recognition here is its own: the body the route recommends "
                    "(SENESCYT in Ecuador, SUNEDU in Peru).")
    credential: str = Field(description="The VC as issued (vc+jwt).")


class ImportOut(BaseModel):
    bundle_id: str
    profile_id: str
    linked: bool = Field(description="The person was already registered here by the same "
                                     "document: linked, not duplicated.")
    imported_from: ImportedFrom
    legal_basis: dict[str, Any] | None
    credentials: list[ImportedCredential]
    flagged: int
    route: dict[str, Any]
    imported_at: str
    replayed: bool = Field(description="The same bundle imported before: this answer, once.")
    origin_notified: str = Field(
        description="The signed callback to the origin's `POST /v1/inbound/{this deployment}`"
                    ": `notified`, `failed` (importing the same bundle again retries it) or "
                    "`not_configured` (no `inbound_url` or callback secret for that peer).")


class DeploymentOut(BaseModel):
    id: str
    country: str
    issuer: str
    jwks_uri: str
    credential_issuer: str
    inbound: str
