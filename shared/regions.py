"""Programme regions as ISO 3166-2 subdivision codes (PRODUCT.md section 4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from shared.errors import InvalidValue
from shared.i18n import Text

# Every first-level subdivision of Peru and Ecuador, so finer programmes can grow into them.
PERU = {
    "PE-AMA", "PE-ANC", "PE-APU", "PE-ARE", "PE-AYA", "PE-CAJ", "PE-CAL", "PE-CUS", "PE-HUV",
    "PE-HUC", "PE-ICA", "PE-JUN", "PE-LAL", "PE-LAM", "PE-LIM", "PE-LMA", "PE-LOR", "PE-MDD",
    "PE-MOQ", "PE-PAS", "PE-PIU", "PE-PUN", "PE-SAM", "PE-TAC", "PE-TUM", "PE-UCA",
}
ECUADOR = {
    "EC-A", "EC-B", "EC-C", "EC-D", "EC-E", "EC-F", "EC-G", "EC-H", "EC-I", "EC-L", "EC-M",
    "EC-N", "EC-O", "EC-P", "EC-R", "EC-S", "EC-SD", "EC-SE", "EC-T", "EC-U", "EC-W", "EC-X",
    "EC-Y", "EC-Z",
}
REGIONS = PERU | ECUADOR


def country_of(region: str) -> str:
    return region.split("-", 1)[0]


def _check(value: str) -> str:
    if value not in REGIONS:
        raise InvalidValue(Text("Región desconocida: use un código ISO 3166-2 de Perú o Ecuador "
                                "(p. ej. PE-LMA, EC-P)",
                                "Unknown region: use an ISO 3166-2 code of Peru or Ecuador "
                                "(e.g. PE-LMA, EC-P)"))
    return value


RegionCode = Annotated[str, AfterValidator(_check)]
