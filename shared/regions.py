"""Programme regions as ISO 3166-2 subdivision codes (PRODUCT.md section 4), from pycountry."""

from __future__ import annotations

import re
import unicodedata
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


# --- names as spreadsheets write them --------------------------------------------------
# Besides pycountry's names (``Lima`` is the Lima region, PE-LIM): the forms NGOs use.
_ALIASES = {"lima metropolitana": "PE-LMA", "lima metropolitana provincia": "PE-LMA",
            "callao": "PE-CAL", "provincia constitucional del callao": "PE-CAL",
            "santo domingo": "EC-SD", "tsachilas": "EC-SD"}
_PREFIXES = ("region ", "departamento de ", "departamento ", "provincia de ", "provincia ",
             "gobierno regional de ")


class RegionNameError(ValueError):
    """A region name that maps to no code, or to several (``text`` lists them)."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", bare).split())


def _names() -> dict[str, str]:
    names = {_fold(s.name): s.code for c in ("PE", "EC")
             for s in pycountry.subdivisions.get(country_code=c)}
    return {**names, **_ALIASES}


_NAMES = _names()
_DISPLAY = {s.code: s.name for c in ("PE", "EC") for s in pycountry.subdivisions.get(
    country_code=c)}


def region_code(name: str) -> str:
    """The ISO 3166-2 code of a region written as a code or a name, whatever its case and
    accents (``Lima Metropolitana`` → PE-LMA, ``Pichincha`` → EC-P). A name that only
    begins one or more names (``San``) is mapped when it begins exactly one; otherwise a
    ``RegionNameError`` lists the candidates, so a person is never put in a guessed region."""
    if name.strip().upper() in REGIONS:
        return name.strip().upper()
    key = _fold(name)
    for prefix in _PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in _NAMES:
            key = key[len(prefix):]
    if key in _NAMES:
        return _NAMES[key]
    words = key.split()
    found = sorted({code for known, code in _NAMES.items() if words and len(words) <= len(
        known.split()) and all(k.startswith(w) for w, k in zip(words, known.split(),
                                                               strict=False))})
    if len(found) == 1:
        return found[0]
    if found:
        listed = ", ".join(f"{_DISPLAY[c]} ({c})" for c in found)
        raise RegionNameError(Text(f"Región ambigua: puede ser {listed}; escriba el nombre "
                                   f"completo o el código",
                                   f"Ambiguous region: it may be {listed}; write the full "
                                   f"name or the code"))
    raise RegionNameError(_UNKNOWN)
