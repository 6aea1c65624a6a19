"""Programme regions as ISO 3166-2 subdivision codes (PRODUCT.md section 4), from pycountry."""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import AfterValidator, WithJsonSchema

from shared.i18n import Text
from shared.refdata import member_of

# Every first-level subdivision of Peru and Ecuador, so finer programmes can grow into them.
PERU = frozenset(s.code for s in pycountry.subdivisions.get(country_code="PE"))
ECUADOR = frozenset(s.code for s in pycountry.subdivisions.get(country_code="EC"))
REGIONS = PERU | ECUADOR


def country_of(region: str) -> str:
    return region.split("-", 1)[0]


_UNKNOWN = Text("Región desconocida: use un código ISO 3166-2 de Perú o Ecuador (p. ej. PE-LMA, "
                "EC-P)",
                "Unknown region: use an ISO 3166-2 code of Peru or Ecuador (e.g. PE-LMA, EC-P)")

RegionCode = Annotated[str, AfterValidator(member_of(REGIONS, _UNKNOWN)), WithJsonSchema({
    "type": "string", "enum": sorted(REGIONS),
    "description": "ISO 3166-2 subdivision of Peru or Ecuador, e.g. PE-LMA, EC-P."})]
