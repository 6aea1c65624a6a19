"""Codes of the international classifications a credential is described with.

- ISCED-F 2013 (UNESCO fields of education and training): broad (2 digits), narrow (3) and
  detailed (4) fields. Broad and narrow fields are listed here; a detailed field is accepted
  when its narrow field exists (detailed fields are the narrow code plus one digit, where
  ``8`` means inter-disciplinary and ``9`` "not elsewhere classified").
- ISCO-08 (ILO occupations): major (1 digit) to unit group (4 digits); validated by shape.
- CEFR levels for language credentials.
"""

from __future__ import annotations

import re

ISCED_F_BROAD: dict[str, str] = {
    "00": "Generic programmes and qualifications",
    "01": "Education",
    "02": "Arts and humanities",
    "03": "Social sciences, journalism and information",
    "04": "Business, administration and law",
    "05": "Natural sciences, mathematics and statistics",
    "06": "Information and Communication Technologies",
    "07": "Engineering, manufacturing and construction",
    "08": "Agriculture, forestry, fisheries and veterinary",
    "09": "Health and welfare",
    "10": "Services",
    "99": "Field unknown",
}

ISCED_F_NARROW: dict[str, str] = {
    "001": "Basic programmes and qualifications",
    "002": "Literacy and numeracy",
    "003": "Personal skills and development",
    "011": "Education",
    "021": "Arts",
    "022": "Humanities (except languages)",
    "023": "Languages",
    "031": "Social and behavioural sciences",
    "032": "Journalism and information",
    "041": "Business and administration",
    "042": "Law",
    "051": "Biological and related sciences",
    "052": "Environment",
    "053": "Physical sciences",
    "054": "Mathematics and statistics",
    "061": "Information and Communication Technologies",
    "071": "Engineering and engineering trades",
    "072": "Manufacturing and processing",
    "073": "Architecture and construction",
    "081": "Agriculture",
    "082": "Forestry",
    "083": "Fisheries",
    "084": "Veterinary",
    "091": "Health",
    "092": "Welfare",
    "101": "Personal services",
    "102": "Hygiene and occupational health services",
    "103": "Security services",
    "104": "Transport services",
    "999": "Field unknown",
}

ISCED_F_URL = "https://uis.unesco.org/en/topic/international-standard-classification-education-isced"
ISCO_08_URL = "https://www.ilo.org/public/english/bureau/stat/isco/isco08/"
CEFR_URL = ("https://www.coe.int/en/web/common-european-framework-reference-languages/"
            "table-1-cefr-3.3-common-reference-levels-global-scale")

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")

_ISCED = re.compile(r"^\d{2,4}$")
_ISCO = re.compile(r"^\d{1,4}$")


def _narrow_exists(code: str) -> bool:
    # xx8: inter-disciplinary programmes within a broad field
    return code in ISCED_F_NARROW or (code[:2] in ISCED_F_BROAD and code[2] == "8"
                                      and code[:2] not in ("00", "99"))


def is_isced_f(code: str) -> bool:
    if not _ISCED.match(code) or code[:2] not in ISCED_F_BROAD:
        return False
    if len(code) == 2:
        return True
    if not _narrow_exists(code[:3]):
        return False
    return len(code) == 3 or code[3] != "0"


def isced_f_label(code: str) -> str:
    """The most specific label we know for a valid code (detailed fields by their narrow)."""
    name = ISCED_F_NARROW.get(code[:3]) if len(code) >= 3 else None
    if name is None and len(code) >= 3 and code[2] == "8":
        name = f"Inter-disciplinary: {ISCED_F_BROAD[code[:2]]}"
    return name or ISCED_F_BROAD[code[:2]]


def is_isco_08(code: str) -> bool:
    return bool(_ISCO.match(code))
