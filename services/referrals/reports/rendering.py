"""How a computed report is shown: each indicator's total and cells, rounded, with the hidden
ones ``null`` and listed in ``suppressed`` (JSON), or one line per cell (CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from services.referrals.reports.queries import DIMENSIONS, Rate
from services.referrals.reports.suppression import Table


@dataclass
class Indicator:
    name: str
    kind: str  # count | sum | median | rate
    count_of: str | None = None
    rate: Rate | None = None


def _round(kind: str, v: float) -> float | int:
    if kind == "count":
        return round(v)
    if kind == "rate":
        return round(v, 4)
    return round(v, 2)


def render_indicator(ind: Indicator, table: Table) -> dict[str, Any]:
    cells, hidden = table.cells, table.hidden

    def cell(dim: str | None, value: str | None) -> tuple[float | int | None, bool]:
        if ind.kind == "count":
            key = (ind.name, dim, value)
            return (None, True) if key in hidden else (_round("count", cells.get(key, 0)), False)
        if ind.kind == "rate":
            assert ind.rate is not None
            num, den = (ind.rate.numerator, dim, value), (ind.rate.denominator, dim, value)
            if num in hidden or den in hidden:
                return None, True
            d = cells.get(den, 0)
            return (_round("rate", cells.get(num, 0) / d) if d else None), False
        assert ind.count_of is not None
        base = (ind.count_of, dim, value)
        if base in hidden:
            return None, True
        v = cells.get((ind.name, dim, value))
        if v is None:
            return (0 if ind.kind == "sum" else None), False
        return _round(ind.kind, v), False

    basis = ind.name if ind.kind == "count" else (
        ind.rate.denominator if ind.rate is not None else ind.count_of)
    total, total_hidden = cell(None, None)
    by: dict[str, dict[str, Any]] = {}
    suppressed = ["total"] if total_hidden else []
    for dim in DIMENSIONS:
        values = sorted({k[2] for k in cells if k[0] == basis and k[1] == dim
                         and k[2] is not None and cells[k] > 0})
        by[dim] = {}
        for value in values:
            v, h = cell(dim, value)
            by[dim][value] = v
            if h:
                suppressed.append(f"{dim}:{value}")
    return {"name": ind.name, "kind": ind.kind, "total": total, "by": by,
            "suppressed": suppressed}


def to_csv(body: dict[str, Any]) -> str:
    """Long format: one line per cell; a suppressed cell reads ``suppressed``; an empty
    count: not defined (a rate or median of nothing)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["indicator", "dimension", "value", "count"])
    for ind in body["indicators"]:
        hidden = set(ind["suppressed"])

        def show(v: Any, key: str, hidden: set[str] = hidden) -> str:
            return "suppressed" if key in hidden else ("" if v is None else str(v))

        w.writerow([ind["name"], "total", "", show(ind["total"], "total")])
        for dim, cells in ind["by"].items():
            for value, v in cells.items():
                w.writerow([ind["name"], dim, value, show(v, f"{dim}:{value}")])
    return out.getvalue()
