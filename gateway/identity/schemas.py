"""Request and response bodies of organisations, machine clients, tokens and /v1/me."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from shared.clock import UtcDateTime
from shared.identity import Role
from shared.regions import RegionCode, country_of
from shared.text import OneLineText

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200),
                 OneLineText]


class OrganisationKind(StrEnum):
    NGO = "ngo"
    PROVIDER = "provider"
    MINISTRY = "ministry"
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    INTERNATIONAL_ORGANISATION = "international_organisation"


class Country(StrEnum):
    PE = "PE"
    EC = "EC"


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "id": "ong-lima", "name": "Asociación Manos Unidas por Venezuela", "kind": "ngo",
        "country": "PE", "regions": ["PE-LMA", "PE-CAL"]}})

    id: Slug
    name: Name
    kind: OrganisationKind
    country: Country
    regions: list[RegionCode] = Field(min_length=1, max_length=40)

    @field_validator("regions")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return sorted(set(v))


class OrganisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "name": "Manos Unidas (Lima y Callao)", "regions": ["PE-LMA", "PE-CAL"]}})

    name: Name | None = None
    regions: list[RegionCode] | None = Field(None, min_length=1, max_length=40)
    status: Annotated[str, StringConstraints(pattern=r"^(active|suspended)$")] | None = None


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: OrganisationKind
    country: Country
    regions: list[str]
    status: str
    version: int
    created_at: UtcDateTime


def regions_fit_country(regions: list[str], country: str) -> bool:
    return all(country_of(r) == country for r in regions)


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "name": "Sistema de integración ONG Lima", "organisation_id": "ong-lima",
        "role": "ngo_partner", "regions": ["PE-LMA"]}})

    name: Name
    organisation_id: Slug | None = Field(None, description="Required except for admin clients")
    role: Role
    scopes: list[Annotated[str, StringConstraints(max_length=40), OneLineText]] | None = Field(
        None, description="Defaults to every scope the role may hold")
    regions: list[RegionCode] = Field(default_factory=list, max_length=40,
                                      description="Empty: all of the organisation's regions")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str = Field(validation_alias=AliasChoices("id", "client_id"))
    name: str
    organisation_id: str | None
    role: Role
    scopes: list[str]
    regions: list[str]
    status: str
    previous_secret_expires_at: UtcDateTime | None
    version: int
    created_at: UtcDateTime


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown once; store it now. Only a hash is kept.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int
    scope: str


class Me(BaseModel):
    subject: str
    kind: str
    role: str
    organisation_id: str | None
    regions: list[str]
    permissions: list[str]
    scopes: list[str] | None
