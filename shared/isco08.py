"""ISCO-08, the ILO's International Standard Classification of Occupations, as data.

No library kept by this project ships it, so ``shared/isco08.json`` holds its structure
(10 major groups, 43 sub-major, 130 minor and 436 unit groups) with the English titles of
the ILO's publication and the Spanish ones of its official translation (CIUO-08), naming
its source. ``tests/shared/test_isco08.py`` checks the published counts and the hierarchy.

A vacancy names a *unit group* (4 digits): the level employment services code their offers
at, and the one the indicators roll up to major groups (the first digit). Shared because
the referrals service (vacancies) and any service describing occupations must agree.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from shared.errors import InvalidValue
from shared.i18n import Text

DATA_FILE = Path(__file__).with_suffix(".json")
LEVELS = {1: "major", 2: "sub_major", 3: "minor", 4: "unit"}


@lru_cache(maxsize=1)
def classification() -> dict[str, Any]:
    """The file as read (cached: it never changes while the process runs)."""
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def groups() -> dict[str, dict[str, str]]:
    """Every group by code: ``{"2221": {"level": "unit", "en": ..., "es": ...}}``."""
    return {g["code"]: g for g in classification()["groups"]}


def unit_groups() -> frozenset[str]:
    return frozenset(c for c, g in groups().items() if g["level"] == "unit")


def title(code: str, lang: str = "es") -> str:
    """The group's title in ``lang`` (``es`` or ``en``); KeyError for an unknown code."""
    return groups()[code]["en" if lang == "en" else "es"]


def major_group(code: str) -> str:
    return code[:1]


_UNKNOWN_UNIT = Text(
    "Ocupación desconocida: use un grupo primario CIUO-08 de 4 dígitos (p. ej. 2221 "
    "Profesionales de enfermería)",
    "Unknown occupation: use a 4-digit ISCO-08 unit group (e.g. 2221 Nursing professionals)")


def _unit_group(value: str) -> str:
    if value not in unit_groups():
        raise InvalidValue(_UNKNOWN_UNIT)
    return value


IscoUnitGroup = Annotated[str, StringConstraints(pattern=r"^\d{4}$"),
                          AfterValidator(_unit_group),
                          WithJsonSchema({"type": "string", "pattern": r"^\d{4}$",
                                          "description": "ISCO-08 unit group (4 digits), "
                                                         "e.g. 2221 Nursing professionals.",
                                          "examples": ["2221"]})]
