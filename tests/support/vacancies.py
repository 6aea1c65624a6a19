"""Vacancy payloads and an employment service's calls, through the embedded gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from shared.work_authorisation import today_in
from tests.support.tokens import TokenFactory

PES = "mtpe-empleo"  # the public employment service of Lima (PE-LMA, PE-CAL)


def vacancy(**overrides: Any) -> dict[str, Any]:
    # the vacancy's own country's day (a vacancy valid from "today" in UTC is not valid yet
    # in Lima between 00:00 and 05:00 UTC, and matching rightly leaves it out)
    today = today_in(str(overrides.get("region", "PE-LMA"))[:2])
    body: dict[str, Any] = {
        "title": "Enfermera(o) asistencial", "description": "Hospitalización, turnos rotativos.",
        "employer_name": "Hospital Nacional Arzobispo Loayza", "occupation_isco": "2221",
        "region": "PE-LMA", "district": "150101", "openings": 2, "formal_contract": True,
        "wage_min": 3200, "wage_max": 3800, "currency": "PEN", "hours_per_week": 36,
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=60)).isoformat(),
        "requirements": {"work_authorisation": True, "degree": {"field_isced": "0913"},
                         "professional_licence": {"field_isced": "0913"},
                         "min_experience_years": 1, "languages": [{"code": "es"}]}}
    body.update(overrides)
    return body


class EmploymentService:
    """A public employment service's machine client (role ``provider``, its scopes)."""

    def __init__(self, client: httpx.AsyncClient, auth: TokenFactory, org: str = PES,
                 **token: Any) -> None:
        self.client = client
        self.headers = auth("provider", org=org, subject=f"system-{org}", **token)

    def h(self, **extra: str) -> dict[str, str]:
        return {**self.headers, **extra}

    async def post(self, **overrides: Any) -> httpx.Response:
        return await self.client.post("/v1/vacancies", json=vacancy(**overrides),
                                      headers=self.h())

    async def posted(self, **overrides: Any) -> dict[str, Any]:
        resp = await self.post(**overrides)
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        body["_etag"] = resp.headers["etag"]
        return body
