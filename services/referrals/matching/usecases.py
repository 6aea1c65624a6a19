"""Matching use cases: a person's vacancies (as anyone who may see the person: the registry
and the credentials service are read as the caller, as for recommendations) and a vacancy's
candidates (its organisation only, from the candidates projection: people who consented to
purpose ``job_matching`` with that organisation; nobody else is listed, and asking for
someone else is a 404).

The database ranks and returns the page (``ranking_sql.py``, the engine's SQL twin, within
reach: open, same country, an occupation in the same ISCO-08 sub-major group — an index range
on the 4-digit code); the pure engine explains the page (``engine.py``; the order is
documented there and in docs/decisions/0014 and 0016)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from services.referrals.clients import Credentials, Registry
from services.referrals.errors import ProfileNotFound
from services.referrals.matching.engine import (
    Match,
    PersonFacts,
    RequirementResult,
    evaluate,
    rank_candidates,
    rank_vacancies,
)
from services.referrals.matching.facts import facts_of_profile, person_facts, vacancy_facts
from services.referrals.matching.models import MatchPerson
from services.referrals.matching.ranking_sql import candidates_statement, vacancies_statement
from services.referrals.matching.rules import MatchingRules
from services.referrals.matching.schemas import (
    FITS,
    CandidateOut,
    CandidatesOut,
    NextStepOut,
    RequirementOut,
    VacancyMatchesOut,
    VacancyMatchOut,
    VacancyRef,
)
from services.referrals.usecases.common import require_caseload
from services.referrals.vacancies.models import Vacancy
from shared.clock import utcnow
from shared.db import Database, UnitOfWork
from shared.errors import NotFound
from shared.i18n import Lang, Text, current_language
from shared.identity import Identity
from shared.peers import Peers
from shared.work_authorisation import today_in


class VacancyNotVisible(NotFound):
    code = "vacancy-not-found"
    detail_text = Text("La vacante no existe o no es de su organización.",
                       "The vacancy does not exist or is not your organisation's.")


class CandidateNotFound(NotFound):
    code = "candidate-not-found"
    detail_text = Text("Esta persona no figura entre los candidatos de la vacante.",
                       "This person is not among the vacancy's candidates.")


def _requirements(results: Sequence[RequirementResult], lang: Lang) -> list[RequirementOut]:
    return [RequirementOut(
        requirement=r.kind, outcome=r.outcome, code=r.code,
        message=r.text.render(lang),
        next_step=NextStepOut(programme=r.step.programme, pathway=r.step.pathway)
        if r.step is not None else None) for r in results]


def _vacancy_ref(v: Any) -> VacancyRef:
    return VacancyRef(id=v.id, organisation_id=v.organisation_id, title=v.title,
                      employer_name=v.employer_name, occupation_isco=v.occupation_isco,
                      region=v.region, openings_remaining=v.openings_remaining,
                      valid_until=v.valid_until)


# --- a person's vacancies ------------------------------------------------------------------
async def vacancy_matches(*, db: Database, peers: Peers, identity: Identity,
                          rules: MatchingRules, profile_id: str, limit: int,
                          today: date | None = None) -> VacancyMatchesOut:
    """The open vacancies within the person's reach, best first, each explained."""
    require_caseload(identity)
    profile = await Registry(peers).profile(identity, profile_id, gone_as_absent=False)
    if profile is None:
        raise ProfileNotFound()
    credentials = await Credentials(peers).of_profile(identity, profile_id)
    region = str(profile["region"])
    country = region.split("-", 1)[0]
    day = today or today_in(country)
    person = person_facts(str(profile["id"]), facts_of_profile(profile, credentials), region,
                          day)
    statement = vacancies_statement(rules=rules, person=person, day=day, limit=limit)
    rows: list[Any] = []
    if statement is not None:
        async with db.uow() as uow:
            ids = list((await uow.session.scalars(statement)).all())
            if ids:
                rows = list((await uow.session.scalars(
                    select(Vacancy).where(Vacancy.id.in_(ids)))).all())
    by_id = {v.id: v for v in rows}
    lang = current_language()
    # the database chose and ordered the page (ranking_sql.py); the engine explains it, in
    # its own order, which is the same (tests/services/referrals/test_ranking_sql.py)
    ranked = rank_vacancies(rules, person, (vacancy_facts(v) for v in rows))[:limit]
    return VacancyMatchesOut(
        profile_id=person.profile_id, rules_version=rules.version, generated_at=utcnow(),
        items=[VacancyMatchOut(order=i, occupation_fit=FITS[m.tier],
                               same_region=m.same_region, score=m.score,
                               requirements=_requirements(m.requirements, lang),
                               vacancy=_vacancy_ref(by_id[m.vacancy.id]))
               for i, m in enumerate(ranked, start=1)])


# --- a vacancy's candidates ----------------------------------------------------------------
async def _own_vacancy(db: Database, identity: Identity, vacancy_id: str) -> Any:
    """The vacancy when it is the caller's organisation's; 404 otherwise (never 403: another
    organisation's vacancy is not confirmed to exist)."""
    async with db.uow() as uow:
        v = await uow.session.get(Vacancy, vacancy_id)
    if v is None or identity.organisation_id is None \
            or v.organisation_id != identity.organisation_id:
        raise VacancyNotVisible()
    return v


async def _people(uow: UnitOfWork, ids: Sequence[str]) -> dict[str, MatchPerson]:
    """The ranked people's kept facts, read in the ranking's own transaction."""
    if not ids:
        return {}
    rows = (await uow.session.scalars(
        select(MatchPerson).where(MatchPerson.profile_id.in_(list(ids))))).all()
    return {r.profile_id: r for r in rows}


def _candidate_out(order: int, m: Match, row: MatchPerson, lang: Lang) -> CandidateOut:
    return CandidateOut(order=order, occupation_fit=FITS[m.tier], same_region=m.same_region,
                        score=m.score, requirements=_requirements(m.requirements, lang),
                        profile_id=row.profile_id, initials=row.initials, region=row.region,
                        experience_years=m.experience_years)


def _facts(row: MatchPerson, day: date) -> PersonFacts:
    return person_facts(row.profile_id, row.facts, row.region, day)


async def candidates(*, db: Database, identity: Identity, rules: MatchingRules,
                     vacancy_id: str, limit: int, today: date | None = None) -> CandidatesOut:
    """The consenting people within the vacancy's reach, best first, each explained."""
    v = await _own_vacancy(db, identity, vacancy_id)
    day = today or today_in(v.country)
    statement = candidates_statement(rules=rules, vacancy=vacancy_facts(v),
                                     organisation_id=v.organisation_id, day=day,
                                     now=utcnow(), limit=limit)
    async with db.uow() as uow:
        ids = [r.profile_id for r in (await uow.session.execute(statement)).all()]
        by_id = await _people(uow, ids)
    lang = current_language()
    ranked = rank_candidates(rules, vacancy_facts(v),
                             [_facts(by_id[i], day) for i in ids if i in by_id])
    return CandidatesOut(vacancy_id=v.id, rules_version=rules.version, generated_at=utcnow(),
                         items=[_candidate_out(i, m, by_id[m.person.profile_id], lang)
                                for i, m in enumerate(ranked, start=1)])


async def candidate(*, db: Database, identity: Identity, rules: MatchingRules,
                    vacancy_id: str, profile_id: str, today: date | None = None
                    ) -> CandidateOut:
    """One candidate's explanation; 404 for anyone not among the vacancy's candidates (no
    consent to this organisation, out of reach): nothing confirms that she exists."""
    v = await _own_vacancy(db, identity, vacancy_id)
    day = today or today_in(v.country)
    statement = candidates_statement(rules=rules, vacancy=vacancy_facts(v),
                                     organisation_id=v.organisation_id, day=day,
                                     now=utcnow(), limit=1, profile_id=profile_id)
    async with db.uow() as uow:
        found = (await uow.session.execute(statement)).first()
        row = (await _people(uow, [profile_id])).get(profile_id) if found is not None \
            else None
    match = evaluate(rules, vacancy_facts(v), _facts(row, day)) if row is not None else None
    if found is None or row is None or match is None:
        raise CandidateNotFound()
    return _candidate_out(int(found.position), match, row, current_language())
