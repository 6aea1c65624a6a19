"""Computes one indicators report: the cells of every measure for the filters and scope,
suppressed and rendered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, text, union_all

from services.referrals.models import Programme, Referral, ReportPerson
from services.referrals.reports import rollups
from services.referrals.reports.cells import cells_postgres, cells_python
from services.referrals.reports.queries import (
    DIMENSIONS,
    RATES,
    Filters,
    Measure,
    referral_measures,
    referrals_query,
    registered_query,
    work_authorisation_measures,
    work_authorisation_query,
)
from services.referrals.reports.rendering import Indicator, render_indicator
from services.referrals.reports.suppression import Table, equations
from shared.clock import utcnow
from shared.db import Database
from shared.work_authorisation import COUNTRY_ZONES, today_in


async def compute(db: Database, f: Filters, *, threshold: int, now: datetime | None = None,
                  use_rollups: bool = True) -> dict[str, Any]:
    """``use_rollups=False``: everything from the raw rows (the reference the rollups must
    equal; tests and the benchmark compare the two)."""
    now = now or utcnow()
    end_year = (f.date_to or now.date()).year
    async with db.uow() as uow:
        session = uow.session
        if db.is_postgres and db.root is db:  # the rollups and the raw rows of one snapshot
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if db.is_postgres:
            # statements over the rollups take tenths of a second: compiling them (JIT, on by
            # default above a cost these reach) took 0.1-0.2 s more in every process
            await session.execute(text("SET LOCAL jit = off"))
        dialect = uow.session.get_bind().dialect.name
        q = select(Programme.id).order_by(Programme.id)
        if f.programme_id:
            q = q.where(Programme.id == f.programme_id)
        programmes = list((await session.scalars(q)).all())
        ref_measures = referral_measures(dialect, now, programmes)
        reg_measures = [Measure("people_registered", literal(1))]
        cells_of = cells_postgres if dialect == "postgresql" else cells_python
        lo, hi = f.bounds()
        plan = (await rollups.plan(session, lo, hi, now) if use_rollups
                else rollups.Plan([], [], [(lo, hi)]))
        # counts, sums and the overdue known at the build: whole months from the rollups'
        # cells, the rest of the period from the raw rows; the medians and the rest of overdue
        # in one narrow statement over the union of those raw rows and the rollups' facts
        summed = [m for m in ref_measures if m.agg != "median"]
        per_row = [m for m in ref_measures if m.agg == "median" or m.name == rollups.OVERDUE]
        raw_summed = [m for m in summed if m.name != rollups.OVERDUE]
        cells = await rollups.rollup_cells(session, f, plan, end_year, programmes, summed)
        parts: list[Any] = []
        if plan.raw:
            rollups.merge(cells, await cells_of(
                session, registered_query(f, end_year).where(
                    rollups.in_ranges(ReportPerson.registered_at, plan.raw)), reg_measures))
            rollups.merge(cells, await cells_of(
                session, referrals_query(f, end_year, raw_summed).where(
                    rollups.in_ranges(Referral.created_at, plan.raw)), raw_summed))
            parts.append(referrals_query(f, end_year, per_row).where(
                rollups.in_ranges(Referral.created_at, plan.raw)))
        if plan.months or plan.days:
            parts.append(rollups.facts_query(f, plan, end_year, per_row, now))
        inner: Any = parts[0]
        if len(parts) > 1:
            inner = union_all(*parts)
        # the medians' sorts in three branches PostgreSQL may run side by side (decision 0019)
        rollups.merge(cells, await cells_of(session, inner, per_row, branches=3))
        # as of today in each country, from the people's work authorisations (never rolled up:
        # a lapse moves with the day, not with a write)
        wa_measures = work_authorisation_measures(
            {c: today_in(c, now) for c in COUNTRY_ZONES})
        cells.update(await cells_of(session, work_authorisation_query(f, end_year, wa_measures),
                                    wa_measures))
    indicators = [Indicator("people_registered", "count")]
    indicators += [Indicator(m.name, m.agg) for m in wa_measures]
    indicators += [Indicator(m.name, m.agg, m.count_of) for m in ref_measures]
    indicators += [Indicator(r.name, "rate", rate=r) for r in RATES]
    counts = [i.name for i in indicators if i.kind == "count"]
    table = Table(cells, threshold)
    table.primary(counts)
    table.secondary(equations(cells, counts))
    body = {
        "period": {"from": f.date_from, "to": f.date_to, "age_at_year": end_year},
        "filters": {"country": f.country, "region": f.region,
                    "programme_id": f.programme_id, "provider_id": f.provider_id},
        "scope": {"regions": sorted(f.regions) if f.regions is not None else "all"},
        "threshold": threshold,
        "dimensions": list(DIMENSIONS),
        "indicators": [render_indicator(i, table) for i in indicators],
        "generated_at": now,
    }
    return body
