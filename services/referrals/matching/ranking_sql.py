"""The engine's SQL twin: the same findings (``engine.py``), written as SQL, so the database
ranks and returns only the top ``limit`` rows and the engine explains just those.

Why: a vacancy in a common occupation has tens of thousands of consenting people within reach
among a million, and a person in a common occupation thousands of open vacancies among
100,000. Judging all of them in Python for every request was the cost (decision 0016, with
the benchmark's figures); the database computes the same finding codes from columns kept for
it, orders by the engine's total order and stops at ``limit``.

One rule, two writings: every requirement below mirrors the engine's method of the same name,
finding code for finding code (the codes map to met / missing / blocked through
``rules.json``, as in the engine). ``tests/services/referrals/test_ranking_sql.py`` runs
random people against random vacancies through both on SQLite and PostgreSQL and requires
the same codes and the same order.

* Candidates (the vacancy is fixed; people vary): one index range on ``match_candidates``
  (organisation, country, ISCO sub-major range) gives each consenting person within reach
  with the scalar facts ranking needs; credential facts are correlated lookups on
  ``match_credentials`` by profile id.
* A person's vacancies (the person is fixed; vacancies vary): the person's facts become
  constants (the prefixes her degrees, licences and certifications cover) compared with the
  vacancy's flattened requirement columns (``req_*``, written with ``requirements``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)

from services.referrals.eligibility import CredentialFact
from services.referrals.matching.engine import DEAD, PersonFacts, VacancyFacts
from services.referrals.matching.models import MatchCandidate, MatchCredential
from services.referrals.matching.rules import MatchingRules
from services.referrals.vacancies.models import Vacancy

Expr = ColumnElement[Any]


def sub_major_range(isco: str) -> tuple[str, str]:
    """The 4-digit codes of ``isco``'s sub-major group (2 digits) as [low, high)."""
    g = isco[:2]
    return g, g[0] + chr(ord(g[1]) + 1)


def prefixes(code: str | None) -> list[str]:
    """Every non-empty prefix of ``code``: ``x.startswith(p)`` for a fixed ``x`` is
    ``p IN prefixes(x)`` in SQL, whatever column ``p`` is."""
    return [code[:n] for n in range(1, len(code) + 1)] if code else []


def _starts_with(column: Any, prefix: str) -> Expr:
    """``column.startswith(prefix)`` without LIKE (no escaping, same on both databases)."""
    return func.substr(column, 1, len(prefix)) == prefix


def _related_to(column: Any, code: str) -> Expr:
    """engine._related(column, code): one is a prefix of the other."""
    return or_(column.in_(prefixes(code)), _starts_with(column, code))


def _holds(column: Any, token: str) -> Expr:
    """A ``|a|b|`` list column holds ``token`` (digits or ISO letters: nothing to escape);
    false when the column is NULL."""
    return func.coalesce(column.like(f"%|{token}|%"), False)


def _outcome_counts(rules: MatchingRules, kind: str, code: Expr) -> tuple[Expr, Expr]:
    """(blocked, missing) as 0/1 for a finding code computed in SQL."""
    findings = rules.requirements[kind]  # type: ignore[index]
    blocked = [c for c, f in findings.items() if f.outcome == "blocked"]
    missing = [c for c, f in findings.items() if f.outcome == "missing"]
    return (case((code.in_(blocked), 1), else_=0) if blocked else literal(0),
            case((code.in_(missing), 1), else_=0) if missing else literal(0))


def _sum(values: Sequence[Expr]) -> Expr:
    total: Expr = literal(0, Integer)
    for v in values:
        total = total + v
    return total


# --- candidates: the vacancy fixed, people vary ------------------------------------------
class _PeopleSide:
    """The engine's judge with the vacancy as constants and the person as columns."""

    def __init__(self, rules: MatchingRules, vacancy: VacancyFacts, day: date,
                 row: Any) -> None:
        self.rules, self.v, self.day = rules, vacancy, day
        self.usable = list(rules.usable_credential_statuses)
        self.stuck = list(rules.blocked_credential_statuses)
        self.mc = row  # one person within reach: the grouped columns of ``match_candidates``

    def _status(self, c: Any) -> Expr:
        """credential_fact(): a live credential past its expiry counts as suspended."""
        return case((and_(c.expires_on.is_not(None), c.expires_on < self.day), "suspended"),
                    else_=c.status)

    def _credential(self, kind: str, *conditions: Callable[[Any], Expr]) -> Expr:
        """EXISTS a live credential of the person of ``kind`` meeting every condition (each
        a function of the credentials table's columns)."""
        c = MatchCredential.__table__.alias()
        return exists().where(c.c.profile_id == self.mc.profile_id, c.c.kind == kind,
                              c.c.status.not_in(sorted(DEAD)),
                              *[cond(c.c) for cond in conditions])

    def _degree_fields(self, c: Any) -> Expr:
        fields = self.v.requirements.degree_fields_isced
        if not fields:
            return true()
        return or_(*(and_(c.field_isced.is_not(None), _starts_with(c.field_isced, f))
                     for f in fields))

    def degree_code(self) -> Expr:
        def counts_here(c: Any) -> Expr:
            return or_(self._status(c) == "recognised", and_(
                self._status(c).in_(self.usable), c.issuer_country == self.v.country))

        def not_stuck(c: Any) -> Expr:
            return self._status(c).not_in(self.stuck)

        fields = self._degree_fields
        return case(
            (self._credential("academic_degree", fields, counts_here), "degree_recognised"),
            (~self._credential("academic_degree", fields), "degree_absent"),
            (~self._credential("academic_degree", fields, not_stuck), "degree_suspended"),
            else_="degree_not_recognised")

    def licence_code(self) -> Expr:
        lf = self.v.requirements.licence_field_isced

        def relevant(c: Any) -> Expr:
            about = and_(c.occupation_isco.is_not(None), _related_to(c.occupation_isco,
                                                                     self.v.isco))
            if lf is None:
                return about
            return or_(about, and_(c.field_isced.is_not(None), _starts_with(c.field_isced, lf)))

        degree = self.degree_code()
        return case(
            (self._credential("professional_licence", relevant,
                              lambda c: self._status(c).in_(self.usable)), "licence_in_force"),
            (and_(self._credential("professional_licence", relevant),
                  ~self._credential("professional_licence", relevant,
                                    lambda c: self._status(c).not_in(self.stuck))),
             "licence_suspended"),
            (degree.in_(["degree_not_recognised", "degree_suspended"]),
             "licence_waits_for_degree"),
            else_="licence_missing")

    def skills_code(self, wanted: Sequence[str]) -> Expr:
        def about(code: str) -> Any:
            return lambda c: and_(c.occupation_isco.is_not(None),
                                  _starts_with(c.occupation_isco, code))

        any_ = [self._credential("skills_certification", about(s)) for s in wanted]
        usable = [self._credential("skills_certification", about(s),
                                   lambda c: self._status(c).in_(self.usable)) for s in wanted]
        return case((~and_(*any_), "skills_not_certified"),
                    (~and_(*usable), "skills_certification_pending"),
                    else_="skills_certified")

    def experience_years(self, tier_: Expr, related_years: Expr) -> Expr:
        mc = self.mc
        return case((related_years.is_not(None), related_years),
                    (and_(mc.years_experience.is_not(None), tier_ == 0), mc.years_experience),
                    else_=0)

    def experience_code(self, years: Expr, wanted: int) -> Expr:
        mc = self.mc
        return case((and_(~mc.declared_experience, mc.years_experience.is_(None)),
                     "experience_undeclared"),
                    (years >= wanted, "experience_enough"), else_="experience_short")

    def languages_code(self, wanted: Sequence[str]) -> Expr:
        spoken = and_(*(_holds(self.mc.languages, lang) for lang in wanted))
        return case((spoken, "languages_spoken"), else_="language_missing")

    def work_code(self) -> Expr:
        mc = self.mc
        return case((mc.wa_until.is_(None), "work_authorisation_absent"),
                    (mc.wa_until >= self.day, "work_authorisation_in_force"),
                    else_="work_authorisation_lapsed")


def candidates_statement(*, rules: MatchingRules, vacancy: VacancyFacts, organisation_id: str,
                         day: date, now: datetime, limit: int,
                         profile_id: str | None = None) -> Select[Any]:
    """The consenting people within the vacancy's reach in the engine's candidate order
    (``engine.candidate_order``), at most ``limit``: profile_id, blocked, missing, tier,
    same_region, experience_years, position. With ``profile_id``: that person's row and
    ``position`` among all (one row or none)."""
    mc = MatchCandidate
    lo, hi = sub_major_range(vacancy.isco)
    # One index range (organisation, country, ISCO sub-major group) read by a covering index:
    # a person's rows within reach grouped into one, her scalar facts (the same on each of
    # her rows) among the grouped columns — no second visit to the table.
    scalars = (mc.profile_id, mc.region, mc.years_experience, mc.declared_experience,
               mc.wa_until, mc.languages)
    reach = (select(
        *scalars,
        func.min(case((mc.isco == vacancy.isco, 0),
                      (and_(func.length(mc.isco) >= 3,
                            func.substr(mc.isco, 1, 3) == vacancy.isco[:3]), 1),
                      else_=2)).label("tier"),
        func.max(case((and_(mc.years.is_not(None), _related_to(mc.isco, vacancy.isco)),
                       mc.years))).label("related_years"))
        .where(mc.organisation_id == organisation_id, mc.country == vacancy.country,
               mc.isco >= lo, mc.isco < hi,
               or_(mc.valid_until.is_(None), mc.valid_until > now))
        .group_by(*scalars).subquery("reach"))
    row = reach.c
    side = _PeopleSide(rules, vacancy, day, row)
    tier_ = row.tier
    years = side.experience_years(tier_, row.related_years)
    req = vacancy.requirements
    counts: list[tuple[Expr, Expr]] = []
    if req.work_authorisation:
        counts.append(_outcome_counts(rules, "work_authorisation", side.work_code()))
    if req.degree_fields_isced:
        counts.append(_outcome_counts(rules, "degree", side.degree_code()))
    if req.licence or req.licence_field_isced:
        counts.append(_outcome_counts(rules, "licence", side.licence_code()))
    if req.certified_skills:
        counts.append(_outcome_counts(rules, "certified_skills",
                                      side.skills_code(req.certified_skills)))
    if req.min_years_experience:
        counts.append(_outcome_counts(rules, "experience",
                                      side.experience_code(years, req.min_years_experience)))
    if req.languages:
        counts.append(_outcome_counts(rules, "languages", side.languages_code(req.languages)))
    blocked = _sum([b for b, _ in counts])
    missing = _sum([m for _, m in counts])
    elsewhere = case((row.region == vacancy.region, 0), else_=1)
    # a vacancy that asks nothing has constant counts: left out of the order (a constant
    # there would read as a column position once compiled with literal values)
    order = ((blocked, missing) if counts else ()) + (
        tier_, elsewhere, years.desc(), row.profile_id)
    ranked = select(row.profile_id, blocked.label("blocked"), missing.label("missing"),
                    tier_.label("tier"), (1 - elsewhere).label("same_region"),
                    years.label("experience_years"))
    if profile_id is None:
        return ranked.order_by(*order).limit(limit)
    numbered = ranked.add_columns(
        func.row_number().over(order_by=list(order)).label("position")).subquery("numbered")
    return select(numbered).where(numbered.c.profile_id == profile_id)


# --- a person's vacancies: the person fixed, vacancies vary ------------------------------
class _VacanciesSide:
    """The engine's judge with the person as constants and the vacancy as columns."""

    def __init__(self, rules: MatchingRules, person: PersonFacts) -> None:
        self.rules, self.p = rules, person
        self.usable = set(rules.usable_credential_statuses)
        self.stuck = set(rules.blocked_credential_statuses)
        live = [c for c in person.credentials if c.status not in DEAD]
        self.degrees = [c for c in live if c.kind == "academic_degree"]
        self.licences = [c for c in live if c.kind == "professional_licence"]
        self.skills = [c for c in live if c.kind == "skills_certification"]

    def _counts_here(self, c: CredentialFact) -> bool:
        return c.status == "recognised" or (c.status in self.usable
                                            and c.issuer_country == self.p.country)

    @staticmethod
    def _fields_covered(creds: Iterable[CredentialFact]) -> list[str]:
        return sorted({p for c in creds for p in prefixes(c.field_isced)})

    def degree_code(self) -> Expr:
        """With the vacancy's one field (``req_degree_field``), or all degrees without it."""
        v = Vacancy
        counting = [c for c in self.degrees if self._counts_here(c)]
        not_stuck = [c for c in self.degrees if c.status not in self.stuck]

        def has(creds: list[CredentialFact]) -> Expr:
            if not creds:
                return false()
            return or_(v.req_degree_field.is_(None),
                       v.req_degree_field.in_(self._fields_covered(creds)))
        return case((has(counting), "degree_recognised"),
                    (~has(self.degrees), "degree_absent"),
                    (~has(not_stuck), "degree_suspended"),
                    else_="degree_not_recognised")

    def licence_code(self) -> Expr:
        v = Vacancy

        def has(creds: list[CredentialFact]) -> Expr:
            out: list[Expr] = []
            for c in creds:
                if c.occupation_isco:
                    out.append(_related_to(v.occupation_isco, c.occupation_isco))
                if c.field_isced:
                    out.append(and_(v.req_licence_field.is_not(None),
                                    v.req_licence_field.in_(prefixes(c.field_isced))))
            return or_(*out) if out else false()
        usable = [c for c in self.licences if c.status in self.usable]
        not_stuck = [c for c in self.licences if c.status not in self.stuck]
        return case((has(usable), "licence_in_force"),
                    (and_(has(self.licences), ~has(not_stuck)), "licence_suspended"),
                    (self.degree_code().in_(["degree_not_recognised", "degree_suspended"]),
                     "licence_waits_for_degree"),
                    else_="licence_missing")

    def skills_code(self) -> Expr:
        """Every asked code (``|c|`` in ``req_skills``) covered ⇔ as many covered tokens as
        asked: the covered codes are the prefixes of the person's certifications."""
        v = Vacancy

        def covered(creds: list[CredentialFact]) -> Expr:
            codes = sorted({p for c in creds for p in prefixes(c.occupation_isco)})
            return _sum([case((_holds(v.req_skills, code), 1), else_=0)
                         for code in codes]) == v.req_skills_count
        usable = [c for c in self.skills if c.status in self.usable]
        return case((~covered(self.skills), "skills_not_certified"),
                    (~covered(usable), "skills_certification_pending"),
                    else_="skills_certified")

    def experience_years(self, tier_: Expr) -> Expr:
        v = Vacancy
        by_years = sorted(self.p.experience.items(), key=lambda kv: -kv[1])
        overall = self.p.years_experience
        whens = [(_related_to(v.occupation_isco, code), years) for code, years in by_years]
        fallback: Expr = (case((tier_ == 0, overall), else_=0) if overall is not None
                          else literal(0, Integer))
        return case(*whens, else_=fallback) if whens else fallback

    def experience_code(self, years: Expr) -> Expr:
        if not self.p.experience and self.p.years_experience is None:
            return literal("experience_undeclared")
        return case((years >= Vacancy.req_min_years, "experience_enough"),
                    else_="experience_short")

    def languages_code(self) -> Expr:
        v = Vacancy
        spoken = sorted(set(self.p.languages or ()))
        count = _sum([case((_holds(v.req_languages, lang), 1), else_=0) for lang in spoken])
        return case((count == v.req_languages_count, "languages_spoken"),
                    else_="language_missing")

    def work_code(self) -> Expr:
        return literal({"in_force": "work_authorisation_in_force",
                        "lapsed": "work_authorisation_lapsed"}.get(
                            self.p.work_authorisation, "work_authorisation_absent"))


def vacancies_statement(*, rules: MatchingRules, person: PersonFacts, day: date, limit: int
                        ) -> Select[Any] | None:
    """The open vacancies within the person's reach in the engine's vacancy order
    (``engine.vacancy_order``), at most ``limit``: id, blocked, missing, tier, same_region.
    None when she has no occupation (nothing is within reach)."""
    v = Vacancy
    codes = sorted(person.all_occupations())
    groups = sorted({c[:2] for c in codes if len(c) >= 2})
    if not groups:
        return None
    units = [c for c in codes if len(c) >= 4]
    minors = sorted({c[:3] for c in codes if len(c) >= 3})
    tier_ = case((v.occupation_isco.in_([u[:4] for u in units] or [""]), 0),
                 (func.substr(v.occupation_isco, 1, 3).in_(minors or [""]), 1), else_=2)
    side = _VacanciesSide(rules, person)
    years = side.experience_years(tier_)

    def when(flag: Any, kind: str, code: Expr) -> tuple[Expr, Expr]:
        b, m = _outcome_counts(rules, kind, code)
        return case((flag, b), else_=0), case((flag, m), else_=0)

    counts = [
        when(v.req_work_authorisation, "work_authorisation", side.work_code()),
        when(v.req_degree_field.is_not(None), "degree", side.degree_code()),
        when(or_(v.req_licence, v.req_licence_field.is_not(None)), "licence",
             side.licence_code()),
        when(v.req_skills_count > 0, "certified_skills", side.skills_code()),
        when(v.req_min_years > 0, "experience", side.experience_code(years)),
        when(v.req_languages_count > 0, "languages", side.languages_code()),
    ]
    blocked = _sum([b for b, _ in counts])
    missing = _sum([m for _, m in counts])
    elsewhere = case((v.region == person.region, 0), else_=1)
    return (select(v.id, blocked.label("blocked"), missing.label("missing"),
                   tier_.label("tier"), (1 - elsewhere).label("same_region"))
            .where(v.status == "open", v.country == person.country,
                   v.valid_from <= day, v.valid_until >= day,
                   or_(*(and_(v.occupation_isco >= lo, v.occupation_isco < hi)
                         for lo, hi in map(sub_major_range, groups))))
            .order_by(elsewhere, tier_, blocked, missing, v.id).limit(limit))  # never constant

