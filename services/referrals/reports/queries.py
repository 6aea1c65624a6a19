"""The row-level queries behind the indicators: one row per person registered, one per
referral created, each with the person's dimensions and one column per measure (NULL where
it does not apply); and, for PostgreSQL, the one statement that aggregates them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from services.referrals.lifecycle import Status
from services.referrals.models import Referral, ReportPerson, WorkAuthorisation
from services.referrals.outcomes import Currency, Module
from services.referrals.sla import overdue_clause
from services.referrals.vacancies.models import Vacancy

DIMENSIONS = ("sex", "age_band", "nationality", "population_type", "region")
ISCO_MAJOR_GROUPS = tuple("0123456789")  # ISCO-08 major groups (shared/isco08.json)
AGE_BANDS = ("0-17", "18-24", "25-34", "35-44", "45-59", "60+")
UNKNOWN = "unknown"
RP = ReportPerson


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


def age_band_sql(end_year: int, birth_year: Any = RP.birth_year, age_band: Any = RP.age_band
                 ) -> ColumnElement[str]:
    """The age reached in ``end_year``, in bands; a cancelled person's band frozen at
    cancellation when the year is gone. (Columns of ``report_people`` or of the rollups'
    facts.)"""
    whens = [(birth_year > end_year - upper, label)
             for upper, label in zip((18, 25, 35, 45, 60), AGE_BANDS, strict=False)]
    return case((birth_year.is_(None), func.coalesce(age_band, UNKNOWN)), *whens,
                else_="60+")


def age_band_of(end_year: int, birth_year: int | None, age_band: str | None) -> str:
    """:func:`age_band_sql` in Python (the rollups' cells keep the birth year)."""
    if birth_year is None:
        return age_band or UNKNOWN
    for upper, label in zip((18, 25, 35, 45, 60), AGE_BANDS, strict=False):
        if birth_year > end_year - upper:
            return label
    return "60+"


def dimension_columns(end_year: int) -> list[ColumnElement[Any]]:
    return [RP.sex.label("sex"), age_band_sql(end_year).label("age_band"),
            RP.nationality.label("nationality"), RP.population_type.label("population_type"),
            RP.region.label("region")]


def days_to_close(dialect: str) -> ColumnElement[Any]:
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
          Measure("days_to_completion.median", when(completed, days_to_close(dialect)), "median",
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
    # Placements by ISCO-08 major group: the vacancy's occupation when the job came through
    # an application, else the one the outcome recorded (issue 20); "unknown" without either,
    # so the groups partition the jobs.
    major = func.substr(func.coalesce(Vacancy.occupation_isco,
                                      out["occupation_isco"].as_string()), 1, 1)
    m += [Measure(f"jobs.isco_major.{g}", when(and_(done("employment"), major == g)))
          for g in ISCO_MAJOR_GROUPS]
    m += [Measure("jobs.isco_major.unknown", when(and_(done("employment"), major.is_(None)))),
          Measure("jobs.through_vacancy", when(and_(done("employment"),
                                                    Referral.vacancy_id.is_not(None))))]
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
FAMILIES = (("referrals", "referrals.status."), ("referrals", "referrals.programme."),
            ("jobs", "jobs.isco_major."))


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
    return select(*dimension_columns(end_year), literal(1).label("people_registered")).where(*where)


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
    return (select(*dimension_columns(end_year), *[m.expr.label(m.name) for m in measures])
            .select_from(Referral).join(RP, RP.profile_id == Referral.profile_id)
            .outerjoin(Vacancy, Vacancy.id == Referral.vacancy_id)
            .where(*where))


_D = WorkAuthorisation
# One row per person and country: the latest expiry over the person's work-authorising
# documents (``work_authorisations`` keeps one row per document); a document that never
# lapses (NULL) wins, which MAX alone would skip.
LATEST_AUTHORISATION = (
    select(_D.profile_id, _D.country,
           case((func.count() > func.count(_D.expiry_date), null()),
                else_=func.max(_D.expiry_date)).label("expiry_date"))
    .group_by(_D.profile_id, _D.country)
    .subquery("wa"))
WA = LATEST_AUTHORISATION.c
LAPSING_DAYS = 30


def work_authorisation_measures(today: dict[str, date]) -> list[Measure]:
    """People whose work authorisation lapses within 30 days, and people whose has lapsed,
    on each country's day (``today``: country → its date). The latest expiry among the
    person's work-authorising documents counts (``LATEST_AUTHORISATION``), so a renewed CPP
    is not a lapse."""
    lapsed = or_(*[and_(WA.country == c, WA.expiry_date < d) for c, d in today.items()])
    lapsing = or_(*[and_(WA.country == c, WA.expiry_date >= d,
                         WA.expiry_date <= d + timedelta(days=LAPSING_DAYS))
                    for c, d in today.items()])
    return [Measure("work_authorisation.lapsing_30d", case((lapsing, literal(1)), else_=None)),
            Measure("work_authorisation.lapsed", case((lapsed, literal(1)), else_=None))]


def work_authorisation_query(f: Filters, end_year: int, measures: Sequence[Measure]
                             ) -> Select[Any]:
    """One row per person registered in the period (as ``people_registered``) whose work
    authorisation the registry's document events made known; cancelled people do not
    count (their authorisation is no one's concern any more)."""
    lo, hi = f.bounds()
    where = [*f.people(), RP.erased.is_(False)]
    if lo is not None:
        where.append(RP.registered_at >= lo)
    if hi is not None:
        where.append(RP.registered_at < hi)
    return (select(*dimension_columns(end_year), *[m.expr.label(m.name) for m in measures])
            .select_from(RP)
            .join(LATEST_AUTHORISATION, and_(WA.profile_id == RP.profile_id,
                                             WA.country == RP.country))
            .where(*where))


Key = tuple[str, str | None, str | None]  # (indicator, dimension or None for the total, value)


def grouped(inner: Select[Any] | CompoundSelect, measures: Sequence[Measure], *,
            branches: int = 1) -> Select[Any] | CompoundSelect:
    """PostgreSQL: every total and one-dimension cell of every measure in one statement.

    ``branches`` > 1 divides the grouping sets among that many branches of a ``UNION ALL``,
    each aggregating the same rows, which PostgreSQL can run side by side (Parallel Append).
    Ordered-set aggregates (the medians) under ``GROUPING SETS`` otherwise run in one process,
    one sort of every row per set: 0.7 s of a year's report from the rollups at 1M people,
    about 0.4 s in three branches (decision 0019). ``g`` is the same bitmask in either form
    (``grouping()`` of the five dimensions: 1 where not grouped)."""
    sub = inner.subquery("r")
    aggs: list[ColumnElement[Any]] = []
    for m in measures:
        c = sub.c[m.name]
        if m.agg == "count":
            aggs.append(func.count(c).label(m.name))
        elif m.agg == "sum":
            aggs.append(func.sum(c).label(m.name))
        else:
            aggs.append(func.percentile_cont(0.5).within_group(c).label(m.name))
    cols = [sub.c[d] for d in DIMENSIONS]
    if branches <= 1:
        return (select(func.grouping(*cols).label("g"), *cols, *aggs)
                .group_by(func.grouping_sets(*cols, literal_column("()"))))
    sets: list[str | None] = [*DIMENSIONS, None]  # None: the total
    size = -(-len(sets) // branches)
    parts = []
    for chunk in (sets[i:i + size] for i in range(0, len(sets), size)):
        bits: ColumnElement[Any] = literal(0)
        for i, d in enumerate(DIMENSIONS):
            bit = 1 << (len(DIMENSIONS) - 1 - i)
            bits = bits + (func.grouping(sub.c[d]) * bit if d in chunk else literal(bit))
        dims = [sub.c[d] if d in chunk else cast(null(), sub.c[d].type).label(d)
                for d in DIMENSIONS]
        parts.append(select(bits.label("g"), *dims, *aggs).group_by(func.grouping_sets(
            *[sub.c[d] if d is not None else literal_column("()") for d in chunk])))
    return union_all(*parts)
