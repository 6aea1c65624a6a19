"""Name normalisation, scoring and ranking (services/registry/search.py)."""

from __future__ import annotations

from services.registry import search


def test_normalise_folds_accents_enye_case_and_particles() -> None:
    assert search.normalise("María José", "Núñez", "de la Peña") == "maria jose nunez pena"
    assert search.normalise("  ÁNGEL-DAVID ", None, "Añez") == "angel david anez"
    assert search.normalise(None, "", None) is None


def test_score_ignores_surname_order_and_forgives_a_typo() -> None:
    person = search.normalise("José Gregorio", "Hernández", "Márquez") or ""
    namesake = search.normalise("José Gregorio", "Hernández", "Colmenares") or ""
    query = search.normalise("Jose Gregorio Marquez Hernandes") or ""
    assert search.score(query, person) > 90
    assert search.score(query, person) > search.score(query, namesake)
    assert search.score(search.normalise("Zbigniew Kowalski") or "", person) < \
        search.MATCH_CUTOFF


def test_rank_orders_and_cuts() -> None:
    ranked = search.rank("ana gomez", [("b", "ana gomez"), ("a", "ana gomez"),
                                       ("c", "anabel gomez"), ("d", "pedro quispe")])
    assert [i for _, i in ranked][:2] == ["a", "b"]  # ties by id
    assert "d" not in [i for _, i in ranked]
