"""Thin routes of job matching: a person's vacancies and a vacancy's candidates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.referrals.matching import usecases
from services.referrals.matching.rules import MatchingRules
from services.referrals.matching.schemas import CandidateOut, CandidatesOut, VacancyMatchesOut
from shared.deps import DbDep, PeersDep
from shared.errors import problem_responses
from shared.identity import CurrentIdentity

matches_router = APIRouter(prefix="/v1/profiles", tags=["vacancies"])
candidates_router = APIRouter(prefix="/v1/vacancies", tags=["vacancies"])

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$", description="Id (UUID)")]
TopN = Annotated[int, Query(ge=1, le=100, description="How many of the best to return.")]
NO_STORE = {"Cache-Control": "no-store"}
RANKING_DOC = ("Requirement by requirement: `met`, `missing` (not held; `next_step` names "
               "the programme or pathway that obtains it) or `blocked` (held but not usable "
               "yet: a degree not recognised, a lapsed work authorisation, a licence waiting "
               "for the degree; `next_step` unblocks it). The rules are data "
               "(`rules_version`). ")


def _rules(request: Request) -> MatchingRules:
    rules: MatchingRules = request.app.state.matching_rules
    return rules


def _json(body: VacancyMatchesOut | CandidatesOut | CandidateOut) -> Response:
    return Response(body.model_dump_json().encode(), media_type="application/json",
                    headers=NO_STORE)


@matches_router.get(
    "/{profile_id}/vacancy-matches", operation_id="vacancy_matches_list",
    response_model=VacancyMatchesOut, responses=problem_responses(401, 403, 404, 410, 422,
                                                                  503, 504),
    summary="Open vacancies within this person's reach, best first, each explained",
    description=RANKING_DOC + "Within reach: open, in the person's country, in an "
    "occupation of the same ISCO-08 sub-major group as one of hers. Order: same region "
    "first, then closeness of the occupation, then fewer blocked, then fewer missing, then "
    "vacancy id. The person is read as you (registry, credentials): one you may not see "
    "is 404.")
async def vacancy_matches(profile_id: IdPath, identity: CurrentIdentity, db: DbDep,
                          peers: PeersDep, request: Request, limit: TopN = 20) -> Response:
    return _json(await usecases.vacancy_matches(
        db=db, peers=peers, identity=identity, rules=_rules(request), profile_id=profile_id,
        limit=limit))


@candidates_router.get(
    "/{vacancy_id}/candidates", operation_id="vacancy_candidates_list",
    response_model=CandidatesOut, responses=problem_responses(401, 403, 404, 422),
    summary="People who consented to be matched with your organisation, best first",
    description=RANKING_DOC + "Only the vacancy's organisation; only people who granted it "
    "consent for purpose `job_matching`, in the vacancy's country and occupational "
    "sub-major group. Order: fewer blocked, fewer missing, closeness of the occupation, "
    "same region first, more years in the occupation, then profile id. Minimised: profile "
    "id, initials, region and the explanation.")
async def vacancy_candidates(vacancy_id: IdPath, identity: CurrentIdentity, db: DbDep,
                             request: Request, limit: TopN = 20) -> Response:
    return _json(await usecases.candidates(db=db, identity=identity, rules=_rules(request),
                                           vacancy_id=vacancy_id, limit=limit))


@candidates_router.get(
    "/{vacancy_id}/candidates/{profile_id}", operation_id="vacancy_candidates_read",
    response_model=CandidateOut, responses=problem_responses(401, 403, 404, 422),
    summary="One candidate of your vacancy, explained (404 unless she consented)")
async def vacancy_candidate(vacancy_id: IdPath, profile_id: IdPath, identity: CurrentIdentity,
                            db: DbDep, request: Request) -> Response:
    """Her rank and explanation for this vacancy; 404 when she is not a candidate (no
    `job_matching` consent to your organisation, or out of the vacancy's reach)."""
    return _json(await usecases.candidate(db=db, identity=identity, rules=_rules(request),
                                          vacancy_id=vacancy_id, profile_id=profile_id))


routers = [matches_router, candidates_router]
