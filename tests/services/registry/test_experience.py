"""Issue 20 item 2: the person's side of job matching — experience per occupation (ISCO-08
unit group, years) among the profile's employability fields: registered, read, rectified,
validated (no 500, nothing stored on bad input)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.payloads import profile_payload
from tests.support.tokens import TokenFactory


async def test_experience_per_occupation_is_registered_read_and_rectified(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    body = profile_payload(occupation_training="2221", years_experience=9,
                           experience=[{"isco": "2221", "years": 8},
                                       {"isco": "5322", "years": 1}])
    created = await client.post("/v1/profiles", json=body, headers=auth())
    assert created.status_code == 201, created.text
    assert created.json()["experience"] == [{"isco": "2221", "years": 8},
                                            {"isco": "5322", "years": 1}]
    read = await client.get(created.headers["location"], headers=auth())
    assert read.json()["experience"] == [{"isco": "2221", "years": 8},
                                         {"isco": "5322", "years": 1}]

    patched = await client.patch(
        created.headers["location"], json={"experience": [{"isco": "2221", "years": 9}]},
        headers={**auth(), "If-Match": read.headers["etag"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["experience"] == [{"isco": "2221", "years": 9}]
    again = await client.get(created.headers["location"], headers=auth())
    assert again.json()["experience"] == [{"isco": "2221", "years": 9}]


@pytest.mark.invalid_request
@pytest.mark.parametrize("experience", [
    [{"isco": "22", "years": 3}],                 # not a unit group
    [{"isco": "5555", "years": 3}],               # no such unit group in ISCO-08
    [{"isco": "2221", "years": -1}],
    [{"isco": "2221", "years": 71}],
    [{"isco": "2221", "years": 2}, {"isco": "2221", "years": 3}],  # twice the same occupation
    [{"isco": "2221"}],
    [{"isco": "2221", "years": 2, "employer": "x"}],
])
async def test_bad_experience_is_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, experience: list[dict[str, object]]
) -> None:
    resp = await client.post("/v1/profiles", json=profile_payload(experience=experience),
                             headers=auth())
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].startswith("experience") for e in resp.json()["errors"])
