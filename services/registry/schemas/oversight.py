"""What oversight reads: the audit log, non-identifying statistics and the ARCO export."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class AuditEntryOut(BaseModel):
    id: int
    profile_id: str
    at: datetime
    action: str
    actor_subject: str
    actor_role: str
    actor_organisation_id: str | None
    fields: list[str]
    request_id: str | None


class AccessDenialOut(BaseModel):
    """Attempts of one caller on one route against this person on one day, refused as
    outside their scope (404). Never what they sent: no body, no query values."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "id": 12, "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
        "organisation_id": "ong-otra", "client_id": "integracion-ong-otra",
        "role": "ngo_partner", "method": "GET", "route": "/v1/profiles/{profile_id}",
        "day": "2026-12-04", "first_at": "2026-12-04T09:12:03Z",
        "last_at": "2026-12-04T09:14:40Z", "attempts": 50}})

    id: int
    profile_id: str
    organisation_id: str
    client_id: str
    role: str
    method: str
    route: str
    day: date
    first_at: datetime
    last_at: datetime
    attempts: int


class StatisticsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "total": 806, "by_sex": {"female": 537, "male": 269},
        "by_age_band": {"18-24": 120, "25-34": 310, "35-44": 240, "45-59": 120, "60+": 16},
        "by_nationality": {"VEN": 760, "PER": 46},
        "by_population_type": {"migrant": 600, "refugee": 150, "host_community": 56},
        "by_region": {"PE-LMA": 700, "PE-CAL": 106}, "by_status": {"active": 800,
                                                                   "erased": 6},
        "generated_at": "2026-11-23T14:00:00Z"}})

    total: int
    by_sex: dict[str, int]
    by_age_band: dict[str, int]
    by_nationality: dict[str, int]
    by_population_type: dict[str, int]
    by_region: dict[str, int]
    by_status: dict[str, int]
    generated_at: datetime


class ExportSection(BaseModel):
    status: Literal["ok", "unavailable"]
    items: list[dict[str, Any]] | None = None


class ExportOut(BaseModel):
    """ARCO access: everything the system holds on the person, machine-readable."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "format": "ruta-arco-export/1", "generated_at": "2026-11-23T14:00:00Z",
        "profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f", "sensitive_included": False,
        "registry": {"profile": {"id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
                     "consents": [], "merged_profile_ids": [], "access_log": []},
        "credentials": {"status": "unavailable"},
        "referrals": {"status": "ok", "items": []}}})

    format: str
    generated_at: datetime
    profile_id: str
    sensitive_included: bool
    registry: dict[str, Any]
    credentials: ExportSection
    referrals: ExportSection
