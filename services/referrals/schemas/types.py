"""Field types and validators shared by the referrals payloads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    StringConstraints,
)

from shared.clock import as_utc
from shared.errors import InvalidValue
from shared.i18n import Text
from shared.regions import country_of
from shared.text import MultiLineText, OneLineText

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9._:-]+$")]
EntityId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,36}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200),
                 OneLineText]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=2000), MultiLineText]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                  MultiLineText]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000),
                   MultiLineText]


class RouteType(StrEnum):
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    DEGREE_RECOGNITION = "degree_recognition"
    PROFESSIONAL_LICENSING = "professional_licensing"
    ENTREPRENEURSHIP = "entrepreneurship"
    SKILLS_CERTIFICATION = "skills_certification"
    REGULARISATION = "regularisation"  # renewing the document that authorises work


class Country(StrEnum):
    PE = "PE"
    EC = "EC"


_REGION_COUNTRY = Text("Todas las regiones deben ser del país del programa",
                       "Every region must be in the programme's country")
_REPEATED = Text("Elemento repetido", "Repeated item")


def unique_items(values: list[str] | None) -> list[str] | None:
    """A list validator: no item twice (422)."""
    if values is not None and len(set(values)) != len(values):
        raise InvalidValue(_REPEATED)
    return values


def regions_in_country(country: str | None, regions: list[str] | None) -> None:
    """Every region in the given country (422)."""
    if country is not None and regions is not None and any(
            country_of(r) != country for r in regions):
        raise InvalidValue(_REGION_COUNTRY)
