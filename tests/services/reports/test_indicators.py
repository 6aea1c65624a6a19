"""``GET /v1/reports/indicators``: every figure against a seeded synthetic population computed
here in plain Python; small-cell suppression (primary and secondary) and the statistics
opposition; CSV with the same numbers; who sees what."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.referrals.reports.queries import DIMENSIONS
from services.referrals.reports.suppression import Table, equations
from shared.db import Database
from tests.support.reports import (
    Cells,
    expected_cells,
    generate,
    report_cells,
    report_client,
    settle,
)
from tests.support.tokens import TokenFactory

COORDINATOR = {"role": "coordinator", "org": "ong-lima"}


def _compare(report: dict[str, Any], expected: Cells) -> int:
    """Every cell of the report against the expected one; returns how many were checked."""
    got = report_cells(report)
    kinds = {i["name"]: i["kind"] for i in report["indicators"]}
    checked = 0
    for ind in report["indicators"]:
        name, kind = ind["name"], ind["kind"]
        keys = [(name, None, None)] + [(name, d, v) for d, vs in ind["by"].items() for v in vs]
        for key in keys:
            checked += 1
            if kind == "rate":
                num, den = {"completion_rate": ("referrals.status.completed", "referrals"),
                            "jobs.formal_contract.share": ("jobs.formal_contract", "jobs")}[name]
                d = expected.get((den, key[1], key[2]), 0)
                want = round(expected.get((num, key[1], key[2]), 0) / d, 4) if d else None
                assert got.get(key) == want, (key, got.get(key), want)
            elif kind in ("median", "sum") and key not in expected:  # nothing to aggregate
                assert got.get(key) == (0 if kind == "sum" else None), key
            elif kind in ("median", "sum"):
                assert got.get(key) == pytest.approx(round(expected[key], 2), abs=0.011), key
            else:
                assert got.get(key, 0) == expected.get(key, 0), (key, got.get(key),
                                                                  expected.get(key))
    # nothing expected is missing from the report
    for key, value in expected.items():
        if kinds.get(key[0]) == "count" and value:
            assert key in got, key
    return checked


async def test_every_figure_matches_a_synthetic_population(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pop = await generate(c, auth, dbs, seed=8, people=300)
        await settle(app, dbs, pop)
        admin = auth("admin", org=None)
        resp = await c.get("/v1/reports/indicators", headers=admin)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["threshold"] == 0
        assert body["dimensions"] == list(DIMENSIONS)
        checked = _compare(body, expected_cells(pop))
        assert checked > 500
        totals = {i["name"]: i["total"] for i in body["indicators"]}
        assert totals["people_registered"] == sum(not p.opt_out for p in pop.people)
        assert totals["referrals.status.completed"] > 0 and totals["jobs"] > 0
        assert totals["referrals.overdue"] > 0 and totals["seed_capital.PEN"] > 0

        # a programme filter, a coordinator of some regions, a period
        one = await c.get("/v1/reports/indicators", params={"programme_id": "pe-empleo"},
                          headers=admin)
        _compare(one.json(), expected_cells(pop, programme="pe-empleo"))
        coord = await c.get("/v1/reports/indicators",
                            headers=auth(**COORDINATOR, regions=["PE-CUS"]))
        assert coord.status_code == 200, coord.text
        assert coord.json()["scope"] == {"regions": ["PE-CUS"]}
        _compare(coord.json(), expected_cells(pop, regions={"PE-CUS"}))
        assert set(coord.json()["indicators"][0]["by"]["region"]) == {"PE-CUS"}
        today = date.today()
        same = await c.get("/v1/reports/indicators", headers=admin,
                           params={"from": today.isoformat(), "to": today.isoformat()})
        _compare(same.json(), expected_cells(pop))
        before = await c.get("/v1/reports/indicators", headers=admin, params={
            "to": (today - timedelta(days=1)).isoformat()})
        assert all(i["total"] in (0, None) for i in before.json()["indicators"])


async def test_small_cells_are_suppressed_and_oppositions_left_out(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    async with report_client(dbs, tmp_path, min_cell=5) as (app, c):
        pop = await generate(c, auth, dbs, seed=5, people=120, referral_share=0.5)
        await settle(app, dbs, pop)
        body = (await c.get("/v1/reports/indicators", headers=auth("admin", org=None))).json()
    assert body["threshold"] == 5
    expected = expected_cells(pop)
    opted = [p for p in pop.people if p.opt_out]
    assert opted and body["indicators"][0]["total"] == len(pop.people) - len(opted)
    hidden_somewhere = 0
    for ind in body["indicators"]:
        if ind["kind"] != "count":
            continue
        for dim, cells in ind["by"].items():
            visible = {v: n for v, n in cells.items() if n is not None}
            hidden = [v for v, n in cells.items() if n is None]
            assert sorted(hidden) == sorted(s.split(":", 1)[1] for s in ind["suppressed"]
                                            if s.startswith(f"{dim}:"))
            for v, n in visible.items():  # visible cells are exact and never small
                assert n == expected[(ind["name"], dim, v)] and n >= 5
            for v in hidden:  # primary: every small cell is hidden
                assert expected[(ind["name"], dim, v)] > 0
            small = [v for v in cells if 0 < expected[(ind["name"], dim, v)] < 5]
            assert set(small) <= set(hidden)
            # secondary: a visible total never leaves exactly one hidden cell to subtract
            if ind["total"] is not None:
                assert len(hidden) != 1, (ind["name"], dim, cells)
            hidden_somewhere += len(hidden)
        if ind["total"] is None:
            assert 0 < expected[(ind["name"], None, None)] < 5 or "total" in ind["suppressed"]
    assert hidden_somewhere > 0
    # the family of statuses: one hidden status total would be total − the others
    statuses = [i for i in body["indicators"] if i["name"].startswith("referrals.status.")]
    if body["indicators"][1]["total"] is not None:
        assert sum(i["total"] is None and i["total"] != 0 for i in statuses
                   if expected.get((i["name"], None, None), 0) > 0) != 1
    # money and medians hide with their counts
    by_name = {i["name"]: i for i in body["indicators"]}
    for cur in ("PEN", "USD"):
        count, amount = by_name[f"seed_capital.{cur}"], by_name[f"seed_capital.{cur}.amount"]
        for dim in DIMENSIONS:
            for v, n in count["by"][dim].items():
                assert (n is None) == (amount["by"][dim][v] is None)


def test_secondary_suppression_rule() -> None:
    """One hidden cell in an equation pulls the next smallest; a hidden total pulls a cell."""
    cells = {("x", None, None): 30.0, ("x", "sex", "female"): 20.0,
             ("x", "sex", "male"): 7.0, ("x", "sex", "intersex"): 3.0,
             ("x", "region", "PE-LMA"): 30.0}
    t = Table(cells, 5)
    t.primary(["x"])
    assert t.hidden == {("x", "sex", "intersex")}
    t.secondary(equations(cells, ["x"]))
    assert t.hidden == {("x", "sex", "intersex"), ("x", "sex", "male")}
    small = {("y", None, None): 3.0, ("y", "sex", "female"): 3.0}
    t = Table(small, 5)
    t.primary(["y"])
    t.secondary(equations(small, ["y"]))
    assert t.hidden == {("y", None, None), ("y", "sex", "female")}


async def test_csv_has_a_header_and_the_json_numbers(
    dbs: dict[str, Database], auth: TokenFactory, tmp_path: Path
) -> None:
    async with report_client(dbs, tmp_path, min_cell=3) as (app, c):
        pop = await generate(c, auth, dbs, seed=3, people=60)
        await settle(app, dbs, pop)
        h = auth("admin", org=None)
        body = (await c.get("/v1/reports/indicators", headers=h)).json()
        resp = await c.get("/v1/reports/indicators", headers={**h, "Accept": "text/csv"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["indicator", "dimension", "value", "count"]
    lines = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    n = 0
    for ind in body["indicators"]:
        cells = [("total", "", ind["total"], "total")] + [
            (d, v, x, f"{d}:{v}") for d, vs in ind["by"].items() for v, x in vs.items()]
        for dim, value, x, key in cells:
            shown = lines[(ind["name"], dim, value)]
            if key in ind["suppressed"]:
                assert shown == "suppressed"
            else:
                assert shown == ("" if x is None else str(x))
            n += 1
    assert n == len(rows) - 1


async def test_who_sees_what(dbs: dict[str, Database], auth: TokenFactory,
                             tmp_path: Path) -> None:
    async with report_client(dbs, tmp_path, min_cell=0) as (app, c):
        pop = await generate(c, auth, dbs, seed=11, people=40, referral_share=0.3)
        await settle(app, dbs, pop)
        url = "/v1/reports/indicators"
        for role in ("caseworker", "provider", "ngo_partner", "ministry_system"):
            assert (await c.get(url, headers=auth(role))).status_code == 403, role
        lima = auth(**COORDINATOR, regions=["PE-LMA"])
        body = (await c.get(url, headers=lima)).json()
        regions = {r for i in body["indicators"] for r in i["by"]["region"]}
        assert regions <= {"PE-LMA"}
        assert body["indicators"][0]["total"] == sum(
            not p.opt_out and p.region == "PE-LMA" for p in pop.people)
        assert (await c.get(url, params={"region": "PE-CUS"}, headers=lima)).status_code == 403
        assert (await c.get(url, params={"country": "EC"}, headers=lima)).status_code == 403
        quito = auth(**COORDINATOR, regions=["EC-P"])
        assert (await c.get(url, headers=quito)).json()["indicators"][0]["total"] == 0
        admin = (await c.get(url, headers=auth("admin", org=None))).json()
        assert admin["indicators"][0]["total"] == sum(not p.opt_out for p in pop.people)
        bad = await c.get(url, params={"from": "2026-02-01", "to": "2026-01-01"},
                          headers=auth("admin", org=None))
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"
