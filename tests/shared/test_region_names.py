"""Region names as NGOs write them, mapped to the ISO 3166-2 codes the API takes."""

from __future__ import annotations

import pytest

from shared.regions import RegionNameError, region_code


@pytest.mark.parametrize(("name", "code"), [
    ("Lima", "PE-LIM"), ("Lima Metropolitana", "PE-LMA"), ("LIMA METROPOLITANA", "PE-LMA"),
    ("Municipalidad Metropolitana de Lima", "PE-LMA"), ("Callao", "PE-CAL"),
    ("El Callao", "PE-CAL"), ("Región Cusco", "PE-CUS"), ("cusco", "PE-CUS"),
    ("Junin", "PE-JUN"), ("pichincha", "EC-P"), ("Guayas", "EC-G"),
    ("Provincia de Manabi", "EC-M"), ("Santo Domingo", "EC-SD"), ("PE-LMA", "PE-LMA"),
    ("ec-p", "EC-P"), (" San  Martín ", "PE-SAM"),
])
def test_names_and_codes_map_to_the_iso_code(name: str, code: str) -> None:
    assert region_code(name) == code


def test_an_ambiguous_name_lists_its_candidates() -> None:
    with pytest.raises(RegionNameError) as exc:
        region_code("San")
    message = exc.value.text.render("es")
    for candidate in ("San Martín (PE-SAM)", "Santa Elena (EC-SE)", "EC-SD"):
        assert candidate in message


def test_an_unknown_name_says_what_is_expected() -> None:
    with pytest.raises(RegionNameError) as exc:
        region_code("Caracas")
    assert "PE-LMA" in exc.value.text.render("en")
