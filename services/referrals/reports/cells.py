"""Count, sum and median cells (a total and one per value of each dimension) of every measure:
PostgreSQL computes them in one statement (:func:`~.queries.grouped`); SQLite, the embedded
shape's small data, aggregates the same row-level query here."""

from __future__ import annotations

import statistics as pystats
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select

from services.referrals.reports.queries import DIMENSIONS, UNKNOWN, Key, Measure, grouped


async def cells_postgres(session: Any, inner: Select[Any] | CompoundSelect,
                         measures: Sequence[Measure], *, branches: int = 1
                         ) -> dict[Key, float]:
    n = len(DIMENSIONS)
    which = {(1 << n) - 1: None, **{((1 << n) - 1) ^ (1 << (n - 1 - i)): d
                                    for i, d in enumerate(DIMENSIONS)}}
    cells: dict[Key, float] = {}
    for row in (await session.execute(grouped(inner, measures, branches=branches))
                ).mappings():
        dim = which[row["g"]]
        value = None if dim is None else str(row[dim] if row[dim] is not None else UNKNOWN)
        for m in measures:
            v = row[m.name]
            if v is not None and (m.agg != "count" or v):
                cells[(m.name, dim, value)] = float(v)
    return cells


async def cells_python(session: Any, inner: Select[Any] | CompoundSelect,
                       measures: Sequence[Measure], *, branches: int = 1
                       ) -> dict[Key, float]:
    """``branches``: PostgreSQL's (:func:`~.queries.grouped`); one pass here."""
    counts: dict[Key, float] = defaultdict(float)
    values: dict[Key, list[float]] = defaultdict(list)
    for row in (await session.execute(inner)).mappings():
        keys: list[tuple[str | None, str | None]] = [(None, None)] + [
            (d, str(row[d] if row[d] is not None else UNKNOWN)) for d in DIMENSIONS]
        for m in measures:
            v = row[m.name]
            if v is None:
                continue
            for dim, value in keys:
                if m.agg == "count":
                    counts[(m.name, dim, value)] += 1
                elif m.agg == "sum":
                    counts[(m.name, dim, value)] += float(v)
                else:
                    values[(m.name, dim, value)].append(float(v))
    cells = dict(counts)
    cells.update({k: float(pystats.median(vs)) for k, vs in values.items()})
    return cells
