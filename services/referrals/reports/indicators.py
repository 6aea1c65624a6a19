"""Computes one indicators report: the cells of every measure for the filters and scope,
suppressed and rendered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import literal, select

from services.referrals.models import Programme
from services.referrals.reports.cells import cells_postgres, cells_python
from services.referrals.reports.queries import (
    DIMENSIONS,
    RATES,
    Filters,
    Measure,
    referral_measures,
    referrals_query,
    registered_query,
)
from services.referrals.reports.rendering import Indicator, render_indicator
from services.referrals.reports.suppression import Table, equations
from shared.clock import utcnow
from shared.db import Database


async def compute(db: Database, f: Filters, *, threshold: int, now: datetime | None = None
                  ) -> dict[str, Any]:
    now = now or utcnow()
    end_year = (f.date_to or now.date()).year
    async with db.uow() as uow:
        session = uow.session
        dialect = uow.session.get_bind().dialect.name
        q = select(Programme.id).order_by(Programme.id)
        if f.programme_id:
            q = q.where(Programme.id == f.programme_id)
        programmes = list((await session.scalars(q)).all())
        ref_measures = referral_measures(dialect, now, programmes)
        reg_measures = [Measure("people_registered", literal(1))]
        cells_of = cells_postgres if dialect == "postgresql" else cells_python
        cells = await cells_of(session, registered_query(f, end_year), reg_measures)
        cells.update(await cells_of(session, referrals_query(f, end_year, ref_measures),
                                    ref_measures))
    indicators = [Indicator("people_registered", "count")]
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
