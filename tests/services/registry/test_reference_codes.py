"""Reference codes come from pycountry's ISO tables, not hand-written sets: ICAO's XXA/XXB/XXX
and every ISO 3166-1 nationality, ISO 639-3 languages (Wayuu, Warao), the ISO 3166-2 regions
of Peru and Ecuador; an unknown code is a 422 naming the field, and statistics group by them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.referrals.rules import Nationality
from shared.regions import ECUADOR, PERU
from tests.support.payloads import profile_payload
from tests.support.registry import create
from tests.support.tokens import TokenFactory


@pytest.mark.parametrize(("overrides", "field"), [
    ({"nationality": "XYZ"}, "nationality"),
    ({"languages": ["es", "zz"]}, "languages[1]"),
    ({"languages": ["qqq"]}, "languages[0]"),
    ({"region": "PE-XYZ"}, "region"),
    ({"documents": [{"type": "passport", "number": "AB123456", "issuing_country": "ZZZ"}]},
     "documents[0].issuing_country"),
])
@pytest.mark.invalid_request
async def test_unknown_codes_are_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, overrides: dict[str, Any], field: str
) -> None:
    resp = await client.post("/v1/profiles", json=profile_payload(**overrides),
                             headers=auth(**{"Accept-Language": "en"}))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    errors = resp.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].startswith("Unknown")


@pytest.mark.invalid_request
async def test_a_rectification_with_an_unknown_code_is_a_422(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    p = await create(client, auth())
    resp = await client.patch(f"/v1/profiles/{p['id']}", json={"nationality": "XYZ"},
                              headers=auth(**{"If-Match": p["_etag"]}))
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["nationality"]


@pytest.mark.parametrize(("nationality", "languages", "region"), [
    ("XXA", ["guc", "spa"], "PE-LMA"),  # stateless, Wayuu
    ("XXB", ["wba", "es"], "EC-SD"),  # refugee, Warao
    ("XXX", ["en"], "PE-CAL"),  # unspecified
    ("COL", ["quy"], "EC-P"),
    ("HTI", ["hat", "fr"], "PE-CUS"),
])
async def test_iso_and_icao_codes_are_accepted_as_sent(
    client: httpx.AsyncClient, auth: TokenFactory, nationality: str, languages: list[str],
    region: str
) -> None:
    p = await create(client, auth(regions=[region]), nationality=nationality,
                     languages=languages, region=region)
    assert (p["nationality"], p["languages"], p["region"]) == (nationality, languages, region)


def test_the_regions_the_product_names_are_pycountry_subdivisions() -> None:
    assert {"PE-LMA", "PE-CAL", "PE-CUS", "PE-LAL", "PE-LAM", "PE-PIU", "PE-LIM"} <= PERU
    assert {"EC-P", "EC-G", "EC-A", "EC-M", "EC-SD", "EC-T", "EC-O"} <= ECUADOR
    assert (len(PERU), len(ECUADOR)) == (26, 24)


def test_eligibility_rules_take_only_known_nationalities() -> None:
    assert Nationality.model_validate({"type": "nationality", "values": ["VEN", "XXB"]})
    with pytest.raises(ValueError, match="Unknown nationality"):
        Nationality.model_validate({"type": "nationality", "values": ["VEN", "XYZ"]})


async def test_statistics_group_by_the_icao_codes(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    org = "ong-apatridia"
    for nationality in ("XXA", "XXA", "XXB", "VEN"):
        await create(client, auth(org=org), nationality=nationality)
    resp = await client.get("/v1/profiles/statistics", headers=auth("coordinator", org=org))
    assert resp.status_code == 200
    assert resp.json()["by_nationality"] == {"VEN": 1, "XXA": 2, "XXB": 1}
