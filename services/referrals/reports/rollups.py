"""Monthly rollups of the indicators (issue 22 item 4; ``docs/decisions/0013-report-rollups.md``).

Why: a year's report aggregated the raw rows (a join of referrals with ``report_people``,
JSON outcome fields, every measure under GROUPING SETS) in seconds at 1M people / 2M
referrals. Most of that work is the same every time, so it is done once per calendar month:

* ``report_rollup_cells``: per month, region, programme and provider, the one-dimension
  marginals (total, sex, birth year, nationality, population type) of every count and sum
  indicator. Region is part of the key, so the region cells, the country and region filters
  and a coordinator's scope are sums of cells. The birth year (not the band) is kept, so the
  age band is worked out for each report's year: people change band with time and the
  cells follow.
* ``report_rollup_day_cells``: the same cells by day (UTC), for the months a period covers
  only in part (a period starts and ends on any day; decision 0019).
* ``report_rollup_facts``: what does not add up, one narrow row per referral that has any
  of it: the inputs of the medians (kept exactly, so medians are exact) and the deadline
  from which an open referral is overdue (overdue is "as of now"), with its day.
* ``report_rollup_months``: the months built; ``report_rollup_dirty``: months changed since.

A report reads the rollups for the months of its period that are built and unchanged (the
monthly cells for a whole month, the day cells for the days of a month it covers in part),
and the raw rows for everything else (months never built, months changed since their
build), then merges: counts and sums add, medians are taken over
the union of the facts and the raw values. The result equals the raw aggregate at any moment,
whatever the state of the rollups; the rollups only decide how fast it is.

Changes are noticed where they are written: a trigger on ``referrals`` (any insert, update or
delete, bulk ones included) and ORM events on the projection of people
(``projection.store_attributes``) insert a ``report_rollup_dirty`` row for the months they
touch (a person's change: their registration month and the months of their referrals, so
statistics oppositions and changes of region, sex... move the cells). Rows are
only ever inserted, never updated, so concurrent writers never wait on each other; a rebuild
(``refresh``, ``ruta refresh-report-rollups``, or the service's periodic job) deletes exactly
the markers it saw, in the same snapshot as the rows it aggregated (REPEATABLE READ on
PostgreSQL, one writer on SQLite), so a change committed during a rebuild keeps its month
dirty.

Adding an indicator (the expiry and vacancy issues' ones included):

1. add its :class:`~.queries.Measure` to ``queries.referral_measures`` (as today: the raw
   aggregate is the reference);
2. a count or sum: add its name to ``models.rollup_sum_names``; a median: to
   ``models.rollup_median_names`` (its value expression is the measure's own);
3. an Alembic migration adding the column (``models.rollup_column(name)``, Float, NOT NULL
   DEFAULT 0 for a cell, nullable for a fact), and delete the built months in it
   (``DELETE FROM report_rollup_months``) so the next refresh rebuilds them;
4. ``tests/services/reports/test_rollups.py`` then compares it with the raw aggregate.
A measure whose value depends on the moment of the report (like ``referrals.overdue``) is a
fact column holding the moment it starts to count, compared with ``now`` when read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    String,
    and_,
    case,
    cast,
    delete,
    event,
    false,
    func,
    insert,
    inspect,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from services.referrals.lifecycle import COMPLETION_CLOCK, Status
from services.referrals.models import (
    Referral,
    ReportPerson,
    rollup_column,
    rollup_median_names,
    rollup_sum_names,
)
from services.referrals.models import report_rollup_cells as CELLS
from services.referrals.models import report_rollup_day_cells as DAY_CELLS
from services.referrals.models import report_rollup_dirty as DIRTY
from services.referrals.models import report_rollup_facts as FACTS
from services.referrals.models import report_rollup_months as MONTHS
from services.referrals.reports.queries import (
    UNKNOWN,
    Filters,
    Key,
    Measure,
    age_band_of,
    age_band_sql,
    referral_measures,
)
from services.referrals.vacancies.models import Vacancy
from shared.clock import as_utc, utcnow
from shared.db import Database

log = structlog.get_logger("ruta.referrals.reports.rollups")
RP = ReportPerson
REFRESH_INTERVAL_SECONDS = 300.0
LOCK_KEY = 220004  # pg advisory lock namespace of the rollups' months (issue 22 item 4)
OVERDUE = "referrals.overdue"
Range = tuple[datetime | None, datetime | None]


# --- months --------------------------------------------------------------------------------
def month_of(ts: datetime) -> date:
    ts = as_utc(ts)
    return date(ts.year, ts.month, 1)


def month_start(m: date) -> datetime:
    return datetime(m.year, m.month, 1, tzinfo=UTC)


def next_month(m: date) -> date:
    return date(m.year + m.month // 12, m.month % 12 + 1, 1)


def as_month(v: Any) -> date:
    """A month as read back (SQLite may hand a string)."""
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def utc_day(col: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day of an instant, in SQL (a report's bounds are UTC midnights). SQLite keeps
    instants as UTC text, whose first ten characters are the day."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", col), Date)
    return func.substr(col, 1, 10)


# --- changes: which months are no longer what was built -----------------------------------
def _mark(connection: Any, months: set[date]) -> None:
    if months:
        connection.execute(insert(DIRTY), [{"month": m} for m in sorted(months)])


_PERSON_FIELDS = ("organisation_id", "country", "region", "sex", "birth_year", "age_band",
                  "nationality", "population_type", "registered_at", "statistics_opt_out",
                  "erased", "profile_id")


def _person_changed(_mapper: Any, connection: Any, target: ReportPerson) -> None:
    """A person's row inserted, changed in anything a report reads, or deleted: the months
    of their registration (before and after) and of their referrals."""
    state = inspect(target)
    if state.persistent and not state.deleted and not any(
            state.attrs[f].history.has_changes() for f in _PERSON_FIELDS):
        return
    months = {month_of(v) for v in [target.registered_at,
                                     *(state.attrs.registered_at.history.deleted or ())]
              if v is not None}
    pids = {target.profile_id, *(state.attrs.profile_id.history.deleted or ())}
    rows = connection.execute(select(Referral.created_at).where(
        Referral.profile_id.in_(sorted(p for p in pids if p)))).all()
    months |= {month_of(r[0]) for r in rows}
    _mark(connection, months)


# A referral's own writes are marked by a trigger in its database (migration
# ref0012_rollup_marks_by_trigger): no second statement in the writer's round trips, and
# bulk writes are seen too.
event.listen(ReportPerson, "after_insert", _person_changed)
event.listen(ReportPerson, "before_update", _person_changed)
event.listen(ReportPerson, "after_delete", _person_changed)


# --- building a month ---------------------------------------------------------------------
def _age_key() -> ColumnElement[str]:
    return case((RP.birth_year.is_not(None), cast(RP.birth_year, String)),
                (RP.age_band.is_not(None), literal("band:") + RP.age_band),
                else_=UNKNOWN)


def _build_dims() -> list[tuple[str, Any]]:
    return [("", None), ("sex", RP.sex), ("age", _age_key()), ("nationality", RP.nationality),
            ("population_type", RP.population_type)]


def _overdue_from() -> ColumnElement[Any]:
    return case((Referral.status == Status.REQUESTED.value, Referral.due_accept_at),
                (Referral.status.in_([s.value for s in COMPLETION_CLOCK]),
                 Referral.due_complete_at), else_=None)


def _measures(dialect: str, now: datetime) -> dict[str, Measure]:
    return {m.name: m for m in referral_measures(dialect, now, [])}


async def build_month(db: Database, m: date, *, now: datetime | None = None) -> bool:
    """(Re)build one month's cells and facts from the raw rows, and clear the changes seen.
    False when another process is building it (PostgreSQL; it will clear what it saw)."""
    now = now or utcnow()
    lo, hi = month_start(m), month_start(next_month(m))
    async with db.uow() as uow:
        s = uow.session
        if db.is_postgres and db.root is db:  # one snapshot for the markers and the rows
            await s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if db.is_postgres and not await s.scalar(select(func.pg_try_advisory_xact_lock(
                LOCK_KEY, m.year * 12 + m.month))):
            return False
        dialect = s.get_bind().dialect.name
        seen = list((await s.scalars(select(DIRTY.c.id).where(DIRTY.c.month == m))).all())
        await s.execute(delete(CELLS).where(CELLS.c.month == m))
        await s.execute(delete(DAY_CELLS).where(DAY_CELLS.c.day >= m,
                                                DAY_CELLS.c.day < next_month(m)))
        await s.execute(delete(FACTS).where(FACTS.c.month == m))
        measures = _measures(dialect, now)
        sums = [measures[n] for n in rollup_sum_names()]
        keep = RP.statistics_opt_out.is_(False)
        # the day cells from the raw rows, then the month's cells as their sums (one pass
        # over the month's rows, not two)
        keys = ["month", "region", "country", "programme_id", "provider_id", "day", "kind",
                "dim", "value"]
        columns = ["people_registered", *[rollup_column(x.name) for x in sums],
                   "m_referrals_overdue"]
        reg_day = utc_day(RP.registered_at, dialect)
        ref_day = utc_day(Referral.created_at, dialect)
        aggs: list[Any] = [
            func.coalesce(func.count(x.expr) if x.agg == "count" else func.sum(x.expr), 0)
            for x in sums]
        aggs.append(func.count(case((_overdue_from() < now, 1), else_=None)))
        for dim, expr in _build_dims():
            value = expr if expr is not None else literal("")
            group = [RP.region, RP.country] + ([expr] if expr is not None else [])
            people = (select(literal(m), RP.region, RP.country, literal(""), literal(""),
                             reg_day, literal("p"), literal(dim), value, func.count())
                      .where(keep, RP.registered_at >= lo, RP.registered_at < hi)
                      .group_by(*group, reg_day))
            await s.execute(insert(DAY_CELLS).from_select([*keys, "people_registered"], people))
            refs = (select(literal(m), RP.region, RP.country, Referral.programme_id,
                           Referral.provider_id, ref_day, literal("r"), literal(dim), value,
                           *aggs)
                    .select_from(Referral).join(RP, RP.profile_id == Referral.profile_id)
                    # placements by ISCO group read the vacancy's occupation (issue 20)
                    .outerjoin(Vacancy, Vacancy.id == Referral.vacancy_id)
                    .where(keep, Referral.created_at >= lo, Referral.created_at < hi)
                    .group_by(*group, Referral.programme_id, Referral.provider_id, ref_day))
            await s.execute(insert(DAY_CELLS).from_select([*keys, *columns[1:]], refs))
        d = DAY_CELLS.c
        month_keys = [d.region, d.country, d.programme_id, d.provider_id, d.kind, d.dim,
                      d.value]
        await s.execute(insert(CELLS).from_select(
            ["month", *[k for k in keys if k not in ("month", "day")], *columns],
            select(literal(m), *month_keys, *[func.sum(d[c]) for c in columns])
            .where(d.day >= m, d.day < next_month(m)).group_by(*month_keys)))
        medians = [measures[n] for n in rollup_median_names()]
        later = case((_overdue_from() >= now, _overdue_from()), else_=None)
        facts = (select(literal(m), RP.region, RP.country, Referral.programme_id,
                        Referral.provider_id, RP.sex, RP.birth_year, RP.age_band,
                        RP.nationality, RP.population_type, later,
                        *[x.expr for x in medians], ref_day)
                 .select_from(Referral).join(RP, RP.profile_id == Referral.profile_id)
                 .where(keep, Referral.created_at >= lo, Referral.created_at < hi,
                        or_(_overdue_from() >= now,
                            *[x.expr.is_not(None) for x in medians])))
        await s.execute(insert(FACTS).from_select(
            ["month", "region", "country", "programme_id", "provider_id", "sex", "birth_year",
             "age_band", "nationality", "population_type", "overdue_from",
             *[rollup_column(x.name) for x in medians], "day"], facts))
        await s.execute(delete(MONTHS).where(MONTHS.c.month == m))
        await s.execute(insert(MONTHS).values(month=m, built_at=now))
        for i in range(0, len(seen), 1000):
            await s.execute(delete(DIRTY).where(DIRTY.c.id.in_(seen[i:i + 1000])))
        await uow.commit()
    return True


async def stale_months(db: Database) -> list[date]:
    """Months with people or referrals that are not built, and months changed since."""
    async with db.uow() as uow:
        s = uow.session
        built = {as_month(v) for v in (await s.scalars(select(MONTHS.c.month))).all()}
        dirty = {as_month(v) for v in
                 (await s.scalars(select(DIRTY.c.month).distinct())).all()}
        lo_r, hi_r = (await s.execute(select(func.min(Referral.created_at),
                                             func.max(Referral.created_at)))).one()
        lo_p, hi_p = (await s.execute(select(func.min(RP.registered_at),
                                             func.max(RP.registered_at)))).one()
    firsts = [month_of(v) for v in (lo_r, lo_p) if v is not None]
    lasts = [month_of(v) for v in (hi_r, hi_p) if v is not None]
    out = set(dirty)
    if firsts:
        m, last = min(firsts), max(lasts)
        while m <= last:
            if m not in built:
                out.add(m)
            m = next_month(m)
    return sorted(out)


async def refresh(db: Database, *, now: datetime | None = None) -> int:
    """Build every stale month (one transaction each); returns how many were built."""
    built = 0
    for m in await stale_months(db):
        built += await build_month(db, m, now=now)
    return built


async def refresh_periodically(db: Database, interval: float) -> None:
    """The service's job: :func:`refresh` every ``interval`` seconds until cancelled; a failed
    run is logged and retried at the next tick."""
    while True:
        await asyncio.sleep(interval)
        try:
            await refresh(db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next tick retries; reports stay exact meanwhile
            log.warning("report_rollups_refresh_failed", exc_type=type(exc).__name__)


# --- reading ------------------------------------------------------------------------------
@dataclass
class Plan:
    """Where each part of a period is read from: whole months from the monthly cells, the
    days of a month the period covers in part from the day cells (both only for months built
    and unchanged since), and the raw rows for the rest."""

    months: list[date]
    days: list[tuple[date, date]]  # [first, end) days, each within one month
    raw: list[Range]


def _at_midnight(ts: datetime) -> bool:
    return as_utc(ts).time() == time()


async def plan(session: Any, lo: datetime | None, hi: datetime | None, now: datetime
               ) -> Plan:
    """A month is read from the rollups when it is built (no later than ``now``: its overdue
    counts hold from then on) and unchanged since: as a whole when the period covers it, else
    by its days in the period (a report's bounds are UTC midnights; any other bound leaves
    that month to the raw rows)."""
    built = {as_month(v) for v in (await session.scalars(
        select(MONTHS.c.month).where(MONTHS.c.built_at <= now))).all()}
    dirty = {as_month(v) for v in
             (await session.scalars(select(DIRTY.c.month).distinct())).all()}
    months: list[date] = []
    days: list[tuple[date, date]] = []
    covered: list[tuple[datetime, datetime]] = []
    for m in sorted(built - dirty):
        start, end = month_start(m), month_start(next_month(m))
        a = start if lo is None else max(start, lo)
        b = end if hi is None else min(end, hi)
        if a >= b:
            continue
        if (a, b) == (start, end):
            months.append(m)
        elif _at_midnight(a) and _at_midnight(b):
            days.append((as_utc(a).date(), as_utc(b).date()))
        else:
            continue
        covered.append((a, b))
    if not covered:
        return Plan([], [], [(lo, hi)])
    raw: list[Range] = []
    cur: datetime | None = lo
    for i, (a, b) in enumerate(covered):
        if (i == 0 and cur is None) or (cur is not None and a > cur):
            raw.append((cur, a))
        cur = b
    if hi is None or (cur is not None and cur < hi):
        raw.append((cur, hi))
    return Plan(months, days, raw)


def in_ranges(col: Any, ranges: Sequence[Range]) -> ColumnElement[bool]:
    parts = []
    for a, b in ranges:
        conds = ([col >= a] if a is not None else []) + ([col < b] if b is not None else [])
        parts.append(and_(*conds) if conds else true())
    return or_(*parts) if parts else false()


def _key_filters(t: Any, f: Filters, *, referrals: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.regions is not None:
        where.append(t.c.region.in_(sorted(f.regions)) if f.regions else false())
    if f.country:
        where.append(t.c.country == f.country)
    if f.region:
        where.append(t.c.region == f.region)
    if referrals and f.programme_id:
        where.append(t.c.programme_id == f.programme_id)
    if referrals and f.provider_id:
        where.append(t.c.provider_id == f.provider_id)
    return where


def _targets(dim: str, value: str, region: str, end_year: int
             ) -> list[tuple[str | None, str | None]]:
    if dim == "":
        return [(None, None), ("region", region)]
    if dim == "age":
        if value.startswith("band:"):
            band = age_band_of(end_year, None, value[5:])
        elif value == UNKNOWN:
            band = UNKNOWN
        else:
            band = age_band_of(end_year, int(value), None)
        return [("age_band", band)]
    return [(dim, value)]


def _covered(table: Any, months: list[date], days: list[tuple[date, date]]
             ) -> ColumnElement[bool]:
    """The rows of ``table`` (cells or facts) for the plan's months and days."""
    parts: list[ColumnElement[bool]] = []
    if months and table is not DAY_CELLS:
        parts.append(table.c.month.in_(months))
    if table is not CELLS:
        parts += [and_(table.c.month == a.replace(day=1), table.c.day >= a, table.c.day < b)
                  for a, b in days]
    return or_(*parts) if parts else false()


async def rollup_cells(session: Any, f: Filters, p: Plan, end_year: int,
                       programmes: Sequence[str], ref_measures: Sequence[Measure]
                       ) -> dict[Key, float]:
    """The count and sum cells of the plan's months and days (built, unchanged), as
    :func:`~.cells.cells_postgres` would give them for the same rows."""
    cells: dict[Key, float] = {}
    tables = [t for t, used in ((CELLS, p.months), (DAY_CELLS, p.days)) if used]
    if not tables:
        return cells
    wanted = {m.name for m in ref_measures}
    names = [n for n in [*rollup_sum_names(), OVERDUE] if n in wanted]
    progs = set(programmes)
    for kind, cols in (("p", ["people_registered"]), ("r", names)):
        columns = [c if kind == "p" else rollup_column(c) for c in cols]
        src = union_all(*[
            select(t.c.dim, t.c.value, t.c.region, t.c.programme_id,
                   *[t.c[c] for c in columns])
            .where(_covered(t, p.months, p.days), t.c.kind == kind,
                   *_key_filters(t, f, referrals=kind == "r"))
            for t in tables]).subquery("c")
        q = (select(src.c.dim, src.c.value, src.c.region, src.c.programme_id,
                    *[func.sum(src.c[c]) for c in columns])
             .group_by(src.c.dim, src.c.value, src.c.region, src.c.programme_id))
        for row in (await session.execute(q)).all():
            dim, value, region, programme = row[0], row[1], row[2], row[3]
            values = list(zip(cols, row[4:], strict=True))
            if kind == "r" and programme in progs:
                values.append((f"referrals.programme.{programme}", row[4]))
            for target in _targets(dim, value, region, end_year):
                for name, v in values:
                    if v:
                        key = (name, *target)
                        cells[key] = cells.get(key, 0.0) + float(v)
    # a sum is present wherever its count is (as in the raw aggregate), even when it is 0
    for m in ref_measures:
        if m.agg == "sum" and m.count_of:
            for (_name, d, v) in [k for k in cells if k[0] == m.count_of]:
                cells.setdefault((m.name, d, v), 0.0)
    return cells


def facts_query(f: Filters, p: Plan, end_year: int, measures: Sequence[Measure],
                now: datetime) -> Any:
    """Rows shaped like ``queries.referrals_query`` (dimensions, then ``measures``) from the
    facts of the plan's months and days: the medians' values and the overdue not counted in
    the cells; NULL for what the cells sum."""
    t = FACTS.c
    cols: list[Any] = [t.sex.label("sex"),
                       age_band_sql(end_year, t.birth_year, t.age_band).label("age_band"),
                       t.nationality.label("nationality"),
                       t.population_type.label("population_type"), t.region.label("region")]
    for m in measures:
        if m.name == OVERDUE:
            cols.append(case((t.overdue_from < now, literal(1)), else_=None).label(m.name))
        elif m.agg == "median":
            cols.append(t[rollup_column(m.name)].label(m.name))
        else:  # summed in the cells
            cols.append(cast(null(), Float).label(m.name))
    return select(*cols).where(_covered(FACTS, p.months, p.days),
                               *_key_filters(FACTS, f, referrals=True))


def merge(into: dict[Key, float], more: dict[Key, float]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0.0) + v
