from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.errors import InvalidValue
from shared.i18n import Text
from shared.regions import RegionCode

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"


class PopulationType(StrEnum):
    MIGRANT = "migrant"
    REFUGEE = "refugee"
    ASYLUM_SEEKER = "asylum_seeker"
    HOST_COMMUNITY = "host_community"
    RETURNEE = "returnee"


class ProfileCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "given_names": "María José",
                "first_surname": "Pérez",
                "second_surname": "Rodríguez",
                "birth_date": "1990-04-12",
                "sex": "female",
                "nationality": "VEN",
                "population_type": "migrant",
                "region": "PE-LMA",
            }
        },
    )

    given_names: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=200)]
    first_surname: Name
    second_surname: Name | None = None
    birth_date: date
    sex: Sex
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 3166-1 alpha-3, e.g. VEN"
    )
    population_type: PopulationType
    region: RegionCode

    @model_validator(mode="after")
    def _birth_date_plausible(self) -> ProfileCreate:
        today = date.today()
        if self.birth_date > today or self.birth_date.year < today.year - 120:
            raise InvalidValue(Text("Fecha de nacimiento no plausible",
                                    "Implausible birth date"))
        return self


class ProfileUpdate(BaseModel):
    """Rectification (ARCO): only the fields sent change; unknown or read-only fields are 422."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"second_surname": "Rodríguez de Pérez",
                                       "region": "PE-CAL"}},
    )

    given_names: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=200)] | None = None
    first_surname: Name | None = None
    second_surname: Name | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    population_type: PopulationType | None = None
    region: RegionCode | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> ProfileUpdate:
        for name in ("given_names", "first_surname", "birth_date", "sex", "nationality",
                     "population_type", "region"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise InvalidValue(Text("El campo {field} no puede quedar vacío",
                                        "The field {field} cannot be emptied"), field=name)
        return self


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organisation_id: str
    given_names: str | None
    first_surname: str | None
    second_surname: str | None
    birth_date: date | None
    sex: Sex
    nationality: str
    population_type: PopulationType
    country: str
    region: str
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
