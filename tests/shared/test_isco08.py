"""The ISCO-08 data file is the ILO's structure: its published counts, a strict hierarchy,
both languages, and its source named."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.isco08 import IscoUnitGroup, classification, groups, major_group, title, unit_groups


def test_the_published_counts_10_major_43_sub_major_130_minor_436_unit_groups() -> None:
    levels = Counter(g["level"] for g in groups().values())
    assert levels == {"major": 10, "sub_major": 43, "minor": 130, "unit": 436}
    assert len(unit_groups()) == 436
    assert len(classification()["groups"]) == len(groups())  # no code twice
    assert classification()["source"]["counts"] == dict(levels)


def test_every_group_has_its_parent_and_both_titles_and_the_source_is_named() -> None:
    for code, g in groups().items():
        assert code.isdigit() and len(code) == {"major": 1, "sub_major": 2, "minor": 3,
                                                "unit": 4}[g["level"]]
        if len(code) > 1:
            assert code[:-1] in groups(), code
        assert g["en"].strip() and g["es"].strip()
    assert "ilo.org" in classification()["source"]["url"]
    assert title("2221", "en") == "Nursing professionals"
    assert title("2221") == "Profesionales de enfermería"
    assert major_group("2221") == "2"


@pytest.mark.parametrize("code", ["2221", "0110", "9629"])
def test_a_unit_group_is_accepted(code: str) -> None:
    assert TypeAdapter(IscoUnitGroup).validate_python(code) == code


@pytest.mark.parametrize("code", ["2220", "222", "9999", "22210", "abcd"])
def test_anything_else_is_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(IscoUnitGroup).validate_python(code)
