"""Dates in query strings are bounded: an absurd range is a 422 naming the parameter, never a
500 (issue 16, finding 4: `from=0001-01-01&to=9999-12-31` overflowed the indicators)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.tokens import TokenFactory

CASES = [
    ("/v1/reports/indicators", {"from": "0001-01-01", "to": "9999-12-31"}, ("admin", None),
     "from"),
    ("/v1/reports/indicators", {"from": "2024-01-01", "to": "9999-12-31"}, ("admin", None),
     "to"),
    ("/v1/referrals", {"created_to": "9999-12-31"}, ("caseworker", "ong-lima"), "created_to"),
    ("/v1/profiles/statistics", {"registered_from": "0001-01-01"}, ("admin", None),
     "registered_from"),
]


@pytest.mark.invalid_request
@pytest.mark.parametrize(("path", "params", "caller", "field"), CASES)
async def test_an_absurd_date_is_422_naming_the_parameter(
    client: httpx.AsyncClient, auth: TokenFactory, path: str, params: dict[str, str],
    caller: tuple[str, str | None], field: str,
) -> None:
    resp = await client.get(path, params=params, headers=auth(caller[0], org=caller[1]))
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert field in [e["field"].split(".")[-1] for e in resp.json()["errors"]]


async def test_a_real_period_still_answers(client: httpx.AsyncClient,
                                           auth: TokenFactory) -> None:
    resp = await client.get("/v1/reports/indicators",
                            params={"from": "1900-01-01", "to": "2100-12-31"},
                            headers=auth("admin", org=None))
    assert resp.status_code == 200, resp.text
