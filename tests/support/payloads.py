"""Request bodies the tests start from."""

from __future__ import annotations

from typing import Any


def profile_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "given_names": "María José", "first_surname": "Pérez", "second_surname": "Rodríguez",
        "birth_date": "1990-04-12", "sex": "female", "nationality": "VEN",
        "population_type": "migrant", "region": "PE-LMA",
    }
    body.update(overrides)
    return body
