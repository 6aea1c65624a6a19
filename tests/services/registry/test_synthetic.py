"""The synthetic generator (services/registry/synthetic.py)."""

from __future__ import annotations

from services.registry import search
from services.registry.schemas import ProfileCreate
from services.registry.synthetic import SyntheticPeople


def test_synthetic_people_are_valid_unique_and_reproducible() -> None:
    people = list(SyntheticPeople(seed=11).people(3000))
    assert people[:50] == list(SyntheticPeople(seed=11).people(50))
    keys = set()
    for p in people:
        model = ProfileCreate.model_validate(p)
        for d in model.documents:
            key = (d.type, d.issuing_country, d.number)
            assert key not in keys
            keys.add(key)
    names = [search.normalise(p["given_names"], p["first_surname"]) for p in people]
    assert len(set(names)) < len(names)  # namesakes exist
    assert {p["nationality"] for p in people} == {"VEN", "PER", "ECU"}
