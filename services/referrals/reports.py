"""Indicators for programme coordinators (issue 8): ``GET /v1/reports/indicators``.

Where the figures come from, without a cross-database join: the referrals service owns
referrals and their outcomes; the people's non-identifying attributes (sex, birth year,
nationality, population type, region, registration time, statistics opposition, erased)
are kept here in ``report_people``, a projection fed by the registry's events
(:func:`project_profile`, exactly once through the inbox) and rebuilt on demand
(:func:`rebuild`, ``ruta rebuild-report-people``).

Semantics (README, "Reports"):

* people registered: ``registered_at`` in the period;
* referral indicators: the referrals *created* in the period (a cohort) and what became of
  them so far: status, completion, outcomes; ``overdue`` is as of now;
* age band: the age reached in the year of the period's end (``to``, or today);
* people who opposed statistics are left out everywhere; cancelled people still count;
* every count cell (a total or a disaggregated cell) below ``RUTA_REPORT_MIN_CELL`` is
  suppressed, and so is a second cell wherever one suppressed cell could be recovered from
  a published total (:func:`suppress`). A sum, median or rate is hidden with its count.

PostgreSQL computes every cell in one statement (``GROUPING SETS``, ``percentile_cont``);
SQLite (the embedded shape, small) aggregates the same row-level query in Python.
"""

from __future__ import annotations

import csv
import io
import re
import statistics as pystats
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    literal,
    literal_column,
    select,
)
from starlette.responses import Response

from services.referrals.clients import SYSTEM
from services.referrals.lifecycle import Status
from services.referrals.models import Programme, Referral, ReportPerson
from services.referrals.outcomes import Currency, Module
from services.referrals.sla import overdue_clause
from shared.clock import utcnow
from shared.db import Database, UnitOfWork
from shared.deps import DbDep, IsoDate, SettingsDep
from shared.errors import Forbidden, ServiceUnavailable, ValidationFailed, problem_responses
from shared.i18n import Text
from shared.identity import CurrentIdentity, Identity, Role
from shared.outbox import EventEnvelope
from shared.peers import Peers
from shared.regions import RegionCode, country_of

log = structlog.get_logger("ruta.reports")

DIMENSIONS = ("sex", "age_band", "nationality", "population_type", "region")
AGE_BANDS = ("0-17", "18-24", "25-34", "35-44", "45-59", "60+")
UNKNOWN = "unknown"
PROFILE_EVENTS = ("profile.created", "profile.updated", "profile.merged", "profile.erased",
                  "consent.granted", "consent.withdrawn")
RP = ReportPerson
PROFILE_ID = re.compile(r"[A-Za-z0-9-]{1,36}")


# --- the projection ---------------------------------------------------------------------------
def _row_values(a: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "organisation_id": str(a["organisation_id"]), "country": str(a["country"]),
        "region": str(a["region"]), "sex": str(a["sex"]), "birth_year": a.get("birth_year"),
        "age_band": a.get("age_band"), "nationality": str(a["nationality"]),
        "population_type": str(a["population_type"]),
        "registered_at": datetime.fromisoformat(str(a["registered_at"])),
        "statistics_opt_out": bool(a["statistics_opt_out"]),
        "erased": a["status"] == "erased", "updated_at": now,
    }


async def store_attributes(uow: UnitOfWork, profile_id: str, a: dict[str, Any] | None) -> None:
    """Upsert (or drop: unknown or merged into another) one person's row."""
    row = await uow.session.get(RP, profile_id)
    if a is None or a.get("status") not in ("active", "erased"):
        if row is not None:
            await uow.session.delete(row)
        return
    values = _row_values(a, utcnow())
    if row is None:
        uow.session.add(RP(profile_id=profile_id, **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)


async def fetch_attributes(peers: Peers, profile_id: str) -> dict[str, Any] | None:
    """The person's attributes; None when the registry has no such person (an id that
    cannot be one is not asked for: a malformed event must not stall the feed)."""
    if not PROFILE_ID.fullmatch(profile_id):
        return None
    resp = await peers.request("registry", "GET", f"/internal/profiles/{profile_id}/attributes",
                               identity=SYSTEM)
    if resp.status_code in (404, 422):
        return None
    if resp.status_code != 200:  # the event is retried by the dispatcher
        raise ServiceUnavailable()
    body: dict[str, Any] = resp.json()
    return body


async def project_profile(uow: UnitOfWork, event: EventEnvelope, peers: Peers) -> None:
    """Any registry event about a person: refresh their row (and a merge's survivor)."""
    if event.subject_type != "profile":
        return
    ids = [event.subject_id]
    survivor = event.data.get("merged_into")
    if isinstance(survivor, str) and 0 < len(survivor) <= 36:
        ids.append(survivor)
    for pid in ids:
        await store_attributes(uow, pid, await fetch_attributes(peers, pid))


async def rebuild(db: Database, peers: Peers, *, page: int = 1000) -> int:
    """Backfill the projection from the registry (``ruta rebuild-report-people``): every
    person, page by page; a page and its upserts commit together. Rows of people the
    registry no longer lists as active or cancelled are removed."""
    after, seen = "", 0
    while True:
        resp = await peers.request("registry", "GET", "/internal/profiles/attributes",
                                   identity=SYSTEM, params={"after": after, "limit": page})
        if resp.status_code != 200:
            raise ServiceUnavailable()
        body = resp.json()
        items: list[dict[str, Any]] = body["items"]
        async with db.uow() as uow:
            if items:
                # people between the previous page's last id and this page's last are exactly
                # this page's: drop rows in that range the registry did not list
                listed = {a["id"] for a in items}
                stale = (await uow.session.scalars(select(RP.profile_id).where(
                    RP.profile_id > after, RP.profile_id <= items[-1]["id"]))).all()
                for pid in set(stale) - listed:
                    await uow.session.execute(delete(RP).where(RP.profile_id == pid))
            elif after:
                await uow.session.execute(delete(RP).where(RP.profile_id > after))
            else:
                await uow.session.execute(delete(RP))
            for a in items:
                await store_attributes(uow, a["id"], a)
            await uow.commit()
        seen += len(items)
        if body.get("next_after") is None:
            if items:
                async with db.uow() as uow:
                    await uow.session.execute(delete(RP).where(RP.profile_id > items[-1]["id"]))
                    await uow.commit()
            return seen
        after = body["next_after"]


# --- indicators ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    """One column of the row-level query: NULL where it does not apply. ``agg``: count (rows
    where not NULL), sum or median of the value; ``count_of``: the count a sum/median is
    shown or hidden with."""

    name: str
    expr: ColumnElement[Any]
    agg: str = "count"
    count_of: str | None = None


@dataclass(frozen=True)
class Rate:
    name: str
    numerator: str
    denominator: str


def age_band_sql(end_year: int) -> ColumnElement[str]:
    """The age reached in ``end_year``, in bands; a cancelled person's band frozen at
    cancellation when the year is gone."""
    whens = [(RP.birth_year > end_year - upper, label)
             for upper, label in zip((18, 25, 35, 45, 60), AGE_BANDS, strict=False)]
    return case((RP.birth_year.is_(None), func.coalesce(RP.age_band, UNKNOWN)), *whens,
                else_="60+")


def _dims(end_year: int) -> list[ColumnElement[Any]]:
    return [RP.sex.label("sex"), age_band_sql(end_year).label("age_band"),
            RP.nationality.label("nationality"), RP.population_type.label("population_type"),
            RP.region.label("region")]


def _days(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", Referral.closed_at - Referral.created_at) / 86400.0
    return cast(func.julianday(Referral.closed_at) - func.julianday(Referral.created_at),
                Float)


def referral_measures(dialect: str, now: datetime, programmes: Sequence[str]) -> list[Measure]:
    one = literal(1)
    completed = Referral.status == Status.COMPLETED.value
    out = Referral.outcome

    def done(kind: str) -> ColumnElement[bool]:
        return and_(completed, Referral.outcome_kind == kind)

    def when(cond: ColumnElement[bool], value: ColumnElement[Any] = one) -> ColumnElement[Any]:
        return case((cond, value), else_=None)

    m = [Measure("referrals", one)]
    m += [Measure(f"referrals.status.{s.value}", when(Referral.status == s.value))
          for s in Status]
    m += [Measure(f"referrals.programme.{p}", when(Referral.programme_id == p))
          for p in programmes]
    m += [Measure("referrals.overdue", when(overdue_clause(now))),
          Measure("days_to_completion.median", when(completed, _days(dialect)), "median",
                  "referrals.status.completed"),
          Measure("jobs", when(done("employment"))),
          Measure("jobs.formal_contract", when(and_(
              done("employment"), out["formal_contract"].as_boolean().is_(True))))]
    for cur in Currency:
        has_wage = and_(done("employment"), out["currency"].as_string() == cur.value,
                        out["monthly_wage"].as_float().is_not(None))
        m += [Measure(f"jobs.wage.{cur.value}", when(has_wage)),
              Measure(f"jobs.wage.{cur.value}.median",
                      when(has_wage, out["monthly_wage"].as_float()), "median",
                      f"jobs.wage.{cur.value}")]
    m += [Measure("degrees_recognised", when(done("recognition"))),
          Measure("exams_passed", when(done("exam"))),
          Measure("licences_obtained", when(done("licensing"))),
          Measure("skills_certified", when(done("certification")))]
    for kind in ("seed_capital", "microcredit"):
        for cur in Currency:
            given = and_(done("entrepreneurship"),
                         out[f"{kind}_currency"].as_string() == cur.value,
                         out[f"{kind}_amount"].as_float().is_not(None))
            m += [Measure(f"{kind}.{cur.value}", when(given)),
                  Measure(f"{kind}.{cur.value}.amount",
                          when(given, out[f"{kind}_amount"].as_float()), "sum",
                          f"{kind}.{cur.value}")]
    for mod in Module:
        m.append(Measure(f"modules_completed.{mod.value}", when(and_(
            done("entrepreneurship"),
            out["modules_completed"].as_string().contains(f'"{mod.value}"')))))
    return m


RATES = (Rate("completion_rate", "referrals.status.completed", "referrals"),
         Rate("jobs.formal_contract.share", "jobs.formal_contract", "jobs"))
# Count indicators that partition another (their cells add up to the parent's).
FAMILIES = (("referrals", "referrals.status."), ("referrals", "referrals.programme."))


@dataclass
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    country: str | None = None
    region: str | None = None
    programme_id: str | None = None
    provider_id: str | None = None
    regions: frozenset[str] | None = None  # the caller's scope; None: everything

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        lo = datetime.combine(self.date_from, time(), UTC) if self.date_from else None
        hi = (datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
              if self.date_to else None)
        return lo, hi

    def people(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [RP.statistics_opt_out.is_(False)]
        if self.regions is not None:
            where.append(RP.region.in_(sorted(self.regions)) if self.regions else false())
        if self.country:
            where.append(RP.country == self.country)
        if self.region:
            where.append(RP.region == self.region)
        return where


def registered_query(f: Filters, end_year: int) -> Select[Any]:
    lo, hi = f.bounds()
    where = f.people()
    if lo is not None:
        where.append(RP.registered_at >= lo)
    if hi is not None:
        where.append(RP.registered_at < hi)
    return select(*_dims(end_year), literal(1).label("people_registered")).where(*where)


def referrals_query(f: Filters, end_year: int, measures: Sequence[Measure]) -> Select[Any]:
    lo, hi = f.bounds()
    where = f.people()
    if lo is not None:
        where.append(Referral.created_at >= lo)
    if hi is not None:
        where.append(Referral.created_at < hi)
    if f.programme_id:
        where.append(Referral.programme_id == f.programme_id)
    if f.provider_id:
        where.append(Referral.provider_id == f.provider_id)
    return (select(*_dims(end_year), *[m.expr.label(m.name) for m in measures])
            .select_from(Referral).join(RP, RP.profile_id == Referral.profile_id)
            .where(*where))


Key = tuple[str, str | None, str | None]  # (indicator, dimension or None for the total, value)


def grouped(inner: Select[Any], measures: Sequence[Measure]) -> Select[Any]:
    """PostgreSQL: every total and one-dimension cell of every measure in one statement."""
    sub = inner.subquery("r")
    cols = [sub.c[d] for d in DIMENSIONS]
    aggs: list[ColumnElement[Any]] = []
    for m in measures:
        c = sub.c[m.name]
        if m.agg == "count":
            aggs.append(func.count(c).label(m.name))
        elif m.agg == "sum":
            aggs.append(func.sum(c).label(m.name))
        else:
            aggs.append(func.percentile_cont(0.5).within_group(c).label(m.name))
    return (select(func.grouping(*cols).label("g"), *cols, *aggs)
            .group_by(func.grouping_sets(*cols, literal_column("()"))))


async def _cells_postgres(session: Any, inner: Select[Any], measures: Sequence[Measure]
                          ) -> dict[Key, float]:
    n = len(DIMENSIONS)
    which = {(1 << n) - 1: None, **{((1 << n) - 1) ^ (1 << (n - 1 - i)): d
                                    for i, d in enumerate(DIMENSIONS)}}
    cells: dict[Key, float] = {}
    for row in (await session.execute(grouped(inner, measures))).mappings():
        dim = which[row["g"]]
        value = None if dim is None else str(row[dim] if row[dim] is not None else UNKNOWN)
        for m in measures:
            v = row[m.name]
            if v is not None and (m.agg != "count" or v):
                cells[(m.name, dim, value)] = float(v)
    return cells


async def _cells_python(session: Any, inner: Select[Any], measures: Sequence[Measure]
                        ) -> dict[Key, float]:
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


# --- suppression ------------------------------------------------------------------------------
@dataclass
class Table:
    """Count cells of every count indicator and the equations that tie them together."""

    cells: dict[Key, float]
    threshold: int
    hidden: set[Key] = field(default_factory=set)

    def primary(self, counts: Iterable[str]) -> None:
        names = set(counts)
        self.hidden = {k for k, v in self.cells.items()
                       if k[0] in names and 0 < v < self.threshold}

    def secondary(self, equations: list[tuple[Key, list[Key]]]) -> None:
        """Each equation ``total = Σ members`` must hide none or at least two of its cells:
        with exactly one hidden it could be recovered by subtraction, so the smallest visible
        non-zero member (else the total) is hidden too. Repeated until nothing changes."""
        changed = True
        while changed:
            changed = False
            for total, members in equations:
                present = [k for k in [total, *members] if self.cells.get(k, 0) > 0]
                unknown = [k for k in present if k in self.hidden]
                if len(unknown) != 1:
                    continue
                candidates = sorted((self.cells[k], str(k), k) for k in present
                                    if k not in self.hidden and k != total)
                pick = candidates[0][2] if candidates else (
                    total if total not in self.hidden and self.cells.get(total, 0) > 0
                    else None)
                if pick is not None:
                    self.hidden.add(pick)
                    changed = True


def equations(cells: dict[Key, float], counts: Sequence[str]) -> list[tuple[Key, list[Key]]]:
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, dim, value in cells:
        if dim is not None and value is not None:
            values[(name, dim)].add(value)
    eqs: list[tuple[Key, list[Key]]] = []
    for name in counts:
        for dim in DIMENSIONS:
            eqs.append(((name, None, None),
                        [(name, dim, v) for v in sorted(values.get((name, dim), ()))]))
    for parent, prefix in FAMILIES:
        kids = [n for n in counts if n.startswith(prefix)]
        eqs.append(((parent, None, None), [(k, None, None) for k in kids]))
        for dim in DIMENSIONS:
            for v in sorted(values.get((parent, dim), ())):
                eqs.append(((parent, dim, v), [(k, dim, v) for k in kids]))
    return eqs


# --- the report -------------------------------------------------------------------------------
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
        cells_of = _cells_postgres if dialect == "postgresql" else _cells_python
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
        "indicators": [_render(i, table) for i in indicators],
        "generated_at": now,
    }
    return body


def _render(ind: Indicator, table: Table) -> dict[str, Any]:
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


# --- HTTP ---------------------------------------------------------------------------------------
router = APIRouter(prefix="/v1/reports", tags=["reports"])

_OUTSIDE = Text("Ese filtro queda fuera de sus regiones.",
                "That filter is outside your regions.")
_NO_REGIONS = Text("Su identidad no tiene regiones asignadas.",
                   "Your identity has no regions assigned.")
Slug = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


def scope_of(identity: Identity, f: Filters) -> Filters:
    """Coordinators: their regions (and those regions' countries); admins: everything."""
    if identity.role is Role.ADMIN:
        return f
    if identity.role is not Role.COORDINATOR:
        raise Forbidden()
    if not identity.regions:
        raise Forbidden(_NO_REGIONS)
    if f.region is not None and f.region not in identity.regions:
        raise Forbidden(_OUTSIDE)
    if f.country is not None and f.country not in {country_of(r) for r in identity.regions}:
        raise Forbidden(_OUTSIDE)
    f.regions = frozenset(identity.regions)
    return f


@router.get(
    "/indicators",
    responses={**problem_responses(401, 403, 422),
               200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="Indicators for programme coordinators (JSON, or CSV with Accept: text/csv)",
    description=(
        "People registered in the period, and the referrals created in it: by programme and "
        "status, completion rate and median days to completion, overdue (now), and outcomes "
        "(jobs and formal-contract share, median wage per currency, degrees recognised, "
        "exams passed, licences, skills certified, seed capital and interest-free "
        "microcredit per currency — count and total —, Emprende Segur@ modules). Each "
        "indicator has a `total` and `by` sex, age band (0-17, 18-24, 25-34, 35-44, 45-59, "
        "60+; age reached in the period's last year), nationality, population type and "
        "region. Cells counting fewer than `threshold` people are `null` and listed in "
        "`suppressed`, with a second cell wherever subtraction from a total would reveal "
        "one. People who opposed statistics are excluded; cancelled people still count. "
        "Coordinators see their regions; admins everything. `Accept: text/csv`: long "
        "format `indicator,dimension,value,count` (suppressed cells read `suppressed`)."),
)
async def indicators(
    request: Request, identity: CurrentIdentity, db: DbDep, settings: SettingsDep,
    date_from: Annotated[IsoDate | None, Query(alias="from", description="First day")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to", description="Last day (inclusive)")
                       ] = None,
    country: Annotated[str | None, Query(pattern=r"^(PE|EC)$")] = None,
    region: RegionCode | None = None,
    programme_id: Slug = None,
    provider_id: Slug = None,
) -> Response:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed([("to", Text("Debe ser igual o posterior a «from»",
                                            "Must be on or after 'from'"))])
    f = scope_of(identity, Filters(date_from, date_to, country, region, programme_id,
                                   provider_id))
    body = await compute(db, f, threshold=settings.report_min_cell)
    headers = {"Cache-Control": "no-store"}
    if "text/csv" in request.headers.get("accept", ""):
        return Response(to_csv(body), media_type="text/csv; charset=utf-8",
                        headers={**headers, "Content-Disposition":
                                 'attachment; filename="indicators.csv"'})
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)

