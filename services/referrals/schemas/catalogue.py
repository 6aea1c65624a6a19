"""The route catalogue's payloads: programmes and providers."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from services.referrals.outcomes import OutcomeKind
from services.referrals.schemas.types import (
    Country,
    Description,
    Name,
    OrgId,
    RouteType,
    Slug,
    UtcDatetime,
    regions_in_country,
    unique_items,
)
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.regions import RegionCode


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

    _unique_regions = field_validator("regions")(unique_items)

    @model_validator(mode="after")
    def _country(self) -> ProgrammeCreate:
        regions_in_country(self.country, self.regions)
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

    _unique_regions = field_validator("regions")(unique_items)

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

    _unique_lists = field_validator("regions", "programme_ids", "required_documents")(unique_items)

    @model_validator(mode="after")
    def _country(self) -> ProviderCreate:
        regions_in_country(self.country, self.regions)
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

    _unique_lists = field_validator("regions", "programme_ids", "required_documents")(unique_items)

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
