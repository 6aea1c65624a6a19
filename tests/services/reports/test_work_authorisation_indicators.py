"""Issue 19 item 5: people whose work authorisation lapses within 30 days, and people whose
has lapsed, by the usual dimensions with small-cell suppression. The authorisations come
from the registry's document events delivered to the referrals inbox; the people are rows
of the reports' projection (fed by profile events, tested in test_projection.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.referrals.models import ReportPerson
from shared.db import Database
from shared.work_authorisation import today_in
from tests.support.referrals import assertion
from tests.support.reports import report_client
from tests.support.tokens import TokenFactory

LAPSING = "work_authorisation.lapsing_30d"
LAPSED = "work_authorisation.lapsed"


def _person(sex: str = "female", *, region: str = "PE-LMA", **extra: Any) -> ReportPerson:
    values: dict[str, Any] = {
        "profile_id": str(uuid.uuid4()), "organisation_id": "ong-lima", "country":
        region[:2], "region": region, "sex": sex, "birth_year": 1990, "age_band": None,
        "nationality": "VEN", "population_type": "migrant",
        "registered_at": datetime.now(UTC) - timedelta(days=30),
        "statistics_opt_out": False, "erased": False, "updated_at": datetime.now(UTC)}
    values.update(extra)
    return ReportPerson(**values)


def _event(kind: str, p: ReportPerson, days_left: int, document_type: str = "pe_cpp"
           ) -> dict[str, Any]:
    expiry = today_in(p.country) + timedelta(days=days_left)
    return {"event_id": str(uuid.uuid4()), "type": kind,
            "occurred_at": datetime.now(UTC).isoformat(), "subject_type": "document",
            "subject_id": str(uuid.uuid4()), "subject_version": 1,
            "organisation_id": p.organisation_id, "regions": [p.region],
            "data": {"profile_id": p.profile_id, "document_type": document_type,
                     "expiry_date": expiry.isoformat(), "authorises_work": True,
                     "days_left": days_left, "horizon_days": 30, "country": p.country}}


def _corrected(p: ReportPerson, first: int, then: int) -> list[dict[str, Any]]:
    """One document recorded, its expiry corrected (same document), then its lapse."""
    events = [_event("document.recorded", p, first), _event("document.recorded", p, then),
              _event("document.expired", p, then)]
    for e in events:
        e["subject_id"] = events[0]["subject_id"]
    return events


def _indicator(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in body["indicators"] if i["name"] == name)
    return found


async def test_lapsing_and_lapsed_authorisations_by_dimension_with_suppression(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    lapsing_women = [_person() for _ in range(4)]
    lapsing_man = _person("male")
    later = _person()                      # lapses in 45 days: not yet counted
    lapsed = [_person() for _ in range(2)]
    corrected = _person()                  # a CPP recorded, its expiry corrected: lapsed
    renewed = _person()                    # lapsed, then a new CPP recorded
    erased = _person(erased=True)          # cancelled: nobody's concern any more
    opted_out = _person(statistics_opt_out=True)
    callao = _person(region="PE-CAL")      # outside a Lima coordinator's regions
    quito = _person(region="EC-P")         # a VIRTE lapsed in Ecuador
    people = [*lapsing_women, lapsing_man, later, *lapsed, corrected, renewed, erased, opted_out,
              callao, quito]
    events = [*[_event("document.expiring", p, 20) for p in lapsing_women],
              _event("document.expiring", lapsing_man, 7), _event("document.expiring",
                                                                   later, 45),
              *[_event("document.expired", p, -3) for p in lapsed],
              *_corrected(corrected, 700, -3),
              _event("document.expired", renewed, -10),
              _event("document.recorded", renewed, 700),
              _event("document.expired", erased, -1), _event("document.expired", opted_out, -1),
              _event("document.expired", callao, -1),
              _event("document.expired", quito, -2, "ec_visa_virte")]

    async with report_client(dbs, tmp_path, min_cell=3) as (app, c):
        async with dbs["referrals"].uow() as uow:
            uow.session.add_all(people)
            await uow.commit()
        service = app.state.upstreams["referrals"].app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service),
                                     base_url="http://referrals.internal") as internal:
            for envelope in events:
                resp = await internal.post("/internal/events", json=envelope,
                                           headers=assertion())
                assert resp.status_code == 200, resp.text

        body = (await c.get("/v1/reports/indicators",
                            headers=auth("admin", org=None))).json()
        lapsing, gone = _indicator(body, LAPSING), _indicator(body, LAPSED)
        assert lapsing["kind"] == "count" and lapsing["total"] == 5
        # one man among five: his cell is hidden, and the women's too (5 - 4 = 1)
        assert lapsing["by"]["sex"] == {"female": None, "male": None}
        assert sorted(lapsing["suppressed"]) == ["sex:female", "sex:male"]
        assert lapsing["by"]["region"] == {"PE-LMA": 5}
        assert lapsing["by"]["age_band"] == {"35-44": 5}
        # three in Lima, one in Callao and one in Quito (both hidden: neither can be
        # recovered from the total, so Lima shows)
        assert gone["total"] == 5
        assert gone["by"]["region"] == {"PE-LMA": 3, "PE-CAL": None, "EC-P": None}
        assert gone["by"]["nationality"] == {"VEN": 5}

        coordinator = auth("coordinator", org="ong-lima", regions=["PE-LMA"])
        mine = (await c.get("/v1/reports/indicators", headers=coordinator)).json()
        assert _indicator(mine, LAPSED)["total"] == 3
        assert _indicator(mine, LAPSED)["by"]["population_type"] == {"migrant": 3}
        assert _indicator(mine, LAPSING)["total"] == 5

        csv = (await c.get("/v1/reports/indicators", headers={
            **coordinator, "Accept": "text/csv"})).text
        assert f"{LAPSED},total,,3" in csv.splitlines()
        assert f"{LAPSING},sex,male,suppressed" in csv.splitlines()
