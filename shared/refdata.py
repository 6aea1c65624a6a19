"""Reference codes from a kept library (pycountry's ISO tables), never hand-written sets.

Nationalities are ISO 3166-1 alpha-3 plus the ICAO Doc 9303 codes for people without one;
languages are ISO 639-3 (Wayuu ``guc`` and Warao ``wba`` exist only there), with the ISO
639-1 two-letter forms the API has always taken (``es``, ``en``) still accepted as sent.
An unknown code is a 422 naming the field (``InvalidValue`` in a pydantic validator).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated

import pycountry
from pydantic import AfterValidator, StringConstraints

from shared.errors import InvalidValue
from shared.i18n import Text

# ICAO Doc 9303 part 3: stateless person, refugee (1951 Convention), unspecified nationality.
ICAO_NATIONALITIES = {"XXA": "stateless", "XXB": "refugee", "XXX": "unspecified"}

COUNTRIES_ALPHA2 = frozenset(c.alpha_2 for c in pycountry.countries)
COUNTRIES_ALPHA3 = frozenset(c.alpha_3 for c in pycountry.countries)
NATIONALITIES = COUNTRIES_ALPHA3 | frozenset(ICAO_NATIONALITIES)
LANGUAGES = frozenset(lang.alpha_3 for lang in pycountry.languages) | frozenset(
    lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def member_of(codes: Collection[str], text: Text) -> Callable[[str], str]:
    """A validator that lets through only the given codes (422 with ``text`` otherwise)."""

    def check(value: str) -> str:
        if value not in codes:
            raise InvalidValue(text)
        return value

    return check


_NATIONALITY = Text(
    "Nacionalidad desconocida: use un código ISO 3166-1 alfa-3 (p. ej. VEN) o XXA (apátrida), "
    "XXB (refugiado), XXX (no especificada)",
    "Unknown nationality: use an ISO 3166-1 alpha-3 code (e.g. VEN) or XXA (stateless), "
    "XXB (refugee), XXX (unspecified)")
_COUNTRY3 = Text("País desconocido: use un código ISO 3166-1 alfa-3 (p. ej. VEN, PER)",
                 "Unknown country: use an ISO 3166-1 alpha-3 code (e.g. VEN, PER)")
_COUNTRY2 = Text("País desconocido: use un código ISO 3166-1 alfa-2 (p. ej. VE, PE)",
                 "Unknown country: use an ISO 3166-1 alpha-2 code (e.g. VE, PE)")
_LANGUAGE = Text("Idioma desconocido: use un código ISO 639-3 (p. ej. spa, guc, wba) o ISO 639-1 "
                 "(p. ej. es, en)",
                 "Unknown language: use an ISO 639-3 code (e.g. spa, guc, wba) or an ISO 639-1 "
                 "one (e.g. es, en)")

NationalityCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                            AfterValidator(member_of(NATIONALITIES, _NATIONALITY))]
CountryAlpha3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                          AfterValidator(member_of(COUNTRIES_ALPHA3, _COUNTRY3))]
CountryAlpha2 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"),
                          AfterValidator(member_of(COUNTRIES_ALPHA2, _COUNTRY2))]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$"),
                         AfterValidator(member_of(LANGUAGES, _LANGUAGE))]

NATIONALITY_DOC = ("ISO 3166-1 alpha-3 (e.g. VEN), or ICAO XXA stateless, XXB refugee, "
                   "XXX unspecified.")
LANGUAGES_DOC = ("ISO 639-3 codes (e.g. spa, guc Wayuu, wba Warao); the ISO 639-1 two-letter "
                 "form is accepted where one exists (e.g. es, en) and kept as sent.")
