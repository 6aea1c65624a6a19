"""The reports' projection of people: only non-identifying attributes, from the registry's
system-only endpoints; rebuilt from scratch when it starts late, with the same figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select

from services.referrals.models import ReportPerson
from services.referrals.reports.projection import rebuild
from shared.db import Database
from shared.identity import Role
from tests.support.referrals import assertion
from tests.support.reports import generate, report_client, settle
from tests.support.tokens import TokenFactory

ATTRIBUTES = {"id", "organisation_id", "country", "region", "sex", "birth_year", "age_band",
              "nationality", "population_type", "registered_at", "statistics_opt_out",
              "status", "merged_into"}


async def test_rebuild_gives_the_same_report(dbs: dict[str, Database], auth: TokenFactory,
                                             tmp_path: Path) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pop = await generate(c, auth, dbs, seed=21, people=50)
        await settle(app, dbs, pop)
        admin = auth("admin", org=None)
        before = (await c.get("/v1/reports/indicators", headers=admin)).json()
        async with dbs["referrals"].uow() as uow:
            await uow.session.execute(delete(ReportPerson))
            uow.session.add(ReportPerson(  # someone the registry does not know
                profile_id="ffffffff-0000-0000-0000-000000000000", organisation_id="x",
                country="PE", region="PE-LMA", sex="female", birth_year=1990,
                nationality="VEN", population_type="migrant",
                registered_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
            await uow.commit()
        peers = app.state.upstreams["referrals"].app.state.peers
        # the registry may also hold people other tests committed: they come too
        assert await rebuild(dbs["referrals"], peers, page=7) >= len(pop.people)
        async with dbs["referrals"].uow() as uow:
            assert await uow.session.get(ReportPerson, "ffffffff-0000-0000-0000-000000000000"
                                         ) is None
        await settle(app, dbs, pop)
        async with dbs["referrals"].uow() as uow:
            rows = await uow.session.scalar(select(func.count()).select_from(ReportPerson))
        assert rows == len(pop.people)
        after = (await c.get("/v1/reports/indicators", headers=admin)).json()
    for b, a in zip(before["indicators"], after["indicators"], strict=True):
        assert (b["name"], b["total"], b["by"]) == (a["name"], a["total"], a["by"])


@pytest.mark.invalid_request
async def test_attributes_are_for_services_only_and_never_identify(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pop = await generate(c, auth, dbs, seed=2, people=6, referral_share=0)
        registry = app.state.upstreams["registry"].app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=registry),
                                     base_url="http://registry.internal") as r:
            pid = pop.people[0].id
            one = await r.get(f"/internal/profiles/{pid}/attributes", headers=assertion())
            assert one.status_code == 200, one.text
            assert set(one.json()) == ATTRIBUTES
            assert one.json()["birth_year"] == pop.people[0].birth.year
            page = await r.get("/internal/profiles/attributes", params={"limit": 4},
                               headers=assertion())
            assert len(page.json()["items"]) == 4 and page.json()["next_after"]
            for role in (Role.COORDINATOR, Role.ADMIN, Role.CASEWORKER):
                h = assertion(role, org="ong-lima", regions=("PE-LMA",))
                assert (await r.get(f"/internal/profiles/{pid}/attributes",
                                    headers=h)).status_code == 403
                assert (await r.get("/internal/profiles/attributes",
                                    headers=h)).status_code == 403
        # the gateway never routes /internal
        assert (await c.get(f"/internal/profiles/{pid}/attributes",
                            headers=auth("admin", org=None))).status_code == 404


async def test_a_merged_duplicate_leaves_the_projection_and_its_referrals_follow(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pop = await generate(c, auth, dbs, seed=4, people=8, referral_share=1.0)
        await settle(app, dbs, pop)
        admin = auth("admin", org=None)
        before = (await c.get("/v1/reports/indicators", headers=admin)).json()
        cw = auth("caseworker", org="ong-lima", regions=["PE-LMA", "PE-CAL", "PE-CUS"])
        survivor, dup = [p for p in pop.people if not p.opt_out and not p.erased][:2]
        etag = (await c.get(f"/v1/profiles/{survivor.id}", headers=cw)).headers["etag"]
        merged = await c.post(f"/v1/profiles/{survivor.id}/merge", json={
            "duplicate_id": dup.id}, headers={**cw, "If-Match": etag})
        assert merged.status_code == 200, merged.text
        await settle(app, dbs, pop)
        async with dbs["referrals"].uow() as uow:
            assert await uow.session.get(ReportPerson, dup.id) is None
            assert await uow.session.get(ReportPerson, survivor.id) is not None
        after = (await c.get("/v1/reports/indicators", headers=admin)).json()
    totals = [{i["name"]: i["total"] for i in b["indicators"]} for b in (before, after)]
    assert totals[1]["people_registered"] == totals[0]["people_registered"] - 1
    assert totals[1]["referrals"] == totals[0]["referrals"]  # they follow the survivor
