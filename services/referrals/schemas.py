from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RouteType(StrEnum):
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    DEGREE_RECOGNITION = "degree_recognition"
    PROFESSIONAL_LICENSING = "professional_licensing"
    ENTREPRENEURSHIP = "entrepreneurship"
    SKILLS_CERTIFICATION = "skills_certification"


class Country(StrEnum):
    PE = "PE"
    EC = "EC"


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"example": {
            "id": "pe-sunedu-reconocimiento", "name": "Reconocimiento de grados y títulos "
            "extranjeros (SUNEDU)", "name_en": "Foreign degree recognition (SUNEDU)",
            "route_type": "degree_recognition", "country": "PE", "operator": "SUNEDU",
            "regions": ["PE-LMA", "PE-CAL"], "active": True, "version": 1}},
    )

    id: str
    name: str
    name_en: str
    route_type: RouteType
    country: Country
    operator: str
    regions: list[str]
    active: bool
    version: int
