"""Issue 20 item 3: the matching rules (data) and the pure engine against personas — no HTTP,
no database. Each requirement is met, missing or blocked, with why and the route step that
closes the gap; the two rankings are total and documented. A broken rules file refuses to
load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from services.referrals.catalogue import PROGRAMMES
from services.referrals.eligibility import CredentialFact
from services.referrals.matching.engine import (
    PersonFacts,
    Requirements,
    VacancyFacts,
    evaluate,
    rank_candidates,
    rank_vacancies,
    tier,
)
from services.referrals.matching.rules import (
    RULES_FILE,
    MatchingRulesError,
    Step,
    load_matching_rules,
)
from services.referrals.pathways import load_templates
from shared.work_authorisation import rules as work_rules

RULES = load_matching_rules()

NURSING_DEGREE_VE = CredentialFact("academic_degree", "verified_with_issuer", field_isced="0913",
                                   occupation_isco="2221", issuer_country="VE", id="deg")
NURSING_DEGREE_RECOGNISED = replace(NURSING_DEGREE_VE, status="recognised")
NURSING_LICENCE = CredentialFact("professional_licence", "verified_with_issuer",
                                 field_isced="0913", occupation_isco="2221",
                                 issuer_country="PE", id="lic")

HOSPITAL = VacancyFacts(
    id="v-hospital", isco="2221", country="PE", region="PE-LMA",
    requirements=Requirements(work_authorisation=True, degree_fields_isced=("0913",),
                              licence=True, min_years_experience=2, languages=("es",)))

NURSE = PersonFacts(profile_id="p-nurse", region="PE-LMA", occupations=("2221",),
                    experience={"2221": 8}, languages=("es",), work_authorisation="in_force",
                    credentials=(NURSING_DEGREE_RECOGNISED,))


def outcomes(m: object) -> dict[str, tuple[str, str, Step | None]]:
    assert m is not None
    return {r.kind: (r.outcome, r.code, r.step) for r in m.requirements}  # type: ignore[attr-defined]


def test_recognised_nurse_without_licence_sees_licence_missing_and_the_nursing_pathway() -> None:
    m = evaluate(RULES, HOSPITAL, NURSE)
    got = outcomes(m)
    assert got["licence"] == ("missing", "licence_missing", Step(pathway="pe-nursing-licensing"))
    assert got["degree"] == ("met", "degree_recognised", None)
    assert got["work_authorisation"][0] == "met"
    assert got["experience"][0] == "met" and got["languages"][0] == "met"
    assert m is not None and m.score == 80 and m.tier == 0
    licence = next(r for r in m.requirements if r.kind == "licence")
    assert licence.text.render("en") == "Licence missing (colegiatura)"
    assert "colegiatura" in licence.text.render("es")


def test_unrecognised_degree_is_blocked_with_sunedu_and_the_licence_waits_for_it() -> None:
    got = outcomes(evaluate(RULES, HOSPITAL, replace(NURSE, credentials=(NURSING_DEGREE_VE,))))
    assert got["degree"] == ("blocked", "degree_not_recognised",
                             Step(programme="pe-sunedu-reconocimiento"))
    assert got["licence"] == ("blocked", "licence_waits_for_degree",
                              Step(pathway="pe-nursing-licensing"))


def test_ecuador_names_senescyt_and_acess() -> None:
    quito = replace(HOSPITAL, country="EC", region="EC-P")
    person = replace(NURSE, region="EC-P", credentials=(NURSING_DEGREE_VE,))
    got = outcomes(evaluate(RULES, quito, person))
    assert got["degree"][2] == Step(programme="ec-senescyt-registro")
    got = outcomes(evaluate(RULES, quito, replace(person, credentials=())))
    assert got["degree"][:2] == ("missing", "degree_absent")
    assert got["licence"] == ("missing", "licence_missing", Step(programme="ec-acess-licencia"))


def test_lapsed_work_authorisation_is_blocked_with_the_documents_renewal_programme() -> None:
    lapsed = replace(NURSE, work_authorisation="lapsed",
                     renewal_programme="pe-migraciones-renovacion")
    assert outcomes(evaluate(RULES, HOSPITAL, lapsed))["work_authorisation"] == (
        "blocked", "work_authorisation_lapsed", Step(programme="pe-migraciones-renovacion"))
    # without a programme of its own, the rules' step for the country
    quito = replace(HOSPITAL, country="EC", region="EC-P")
    ec = replace(lapsed, region="EC-P", renewal_programme=None)
    assert outcomes(evaluate(RULES, quito, ec))["work_authorisation"][2] == Step(
        programme="ec-visa-renovacion")
    absent = outcomes(evaluate(RULES, HOSPITAL, replace(NURSE, work_authorisation="absent")))
    assert absent["work_authorisation"] == ("missing", "work_authorisation_absent", None)


def test_licence_held_counts_and_suspended_blocks() -> None:
    licensed = replace(NURSE, credentials=(NURSING_DEGREE_RECOGNISED, NURSING_LICENCE))
    m = evaluate(RULES, HOSPITAL, licensed)
    assert outcomes(m)["licence"][:2] == ("met", "licence_in_force")
    assert m is not None and m.score == 100
    suspended = replace(NURSE, credentials=(NURSING_DEGREE_RECOGNISED,
                                            replace(NURSING_LICENCE, status="suspended")))
    assert outcomes(evaluate(RULES, HOSPITAL, suspended))["licence"][:2] == (
        "blocked", "licence_suspended")
    revoked = replace(NURSE, credentials=(NURSING_DEGREE_RECOGNISED,
                                          replace(NURSING_LICENCE, status="revoked")))
    assert outcomes(evaluate(RULES, HOSPITAL, revoked))["licence"][0] == "missing"


def test_experience_languages_and_skills() -> None:
    v = replace(HOSPITAL, requirements=Requirements(min_years_experience=10,
                                                    languages=("es", "en"),
                                                    certified_skills=("2221",)))
    got = outcomes(evaluate(RULES, v, NURSE))
    assert got["experience"][:2] == ("missing", "experience_short")
    assert got["languages"][:2] == ("missing", "language_missing")
    assert got["certified_skills"] == ("missing", "skills_not_certified",
                                       Step(programme="pe-certificacion-competencias"))
    undeclared = replace(NURSE, experience={}, years_experience=None)
    assert outcomes(evaluate(RULES, v, undeclared))["experience"][1] == "experience_undeclared"
    overall = replace(NURSE, experience={}, years_experience=12)
    assert outcomes(evaluate(RULES, v, overall))["experience"][0] == "met"
    cert = CredentialFact("skills_certification", "document_seen", occupation_isco="2221")
    pending = replace(NURSE, credentials=(cert,))
    assert outcomes(evaluate(RULES, v, pending))["certified_skills"][:2] == (
        "blocked", "skills_certification_pending")
    done = replace(NURSE, credentials=(replace(cert, status="verified_with_issuer"),))
    assert outcomes(evaluate(RULES, v, done))["certified_skills"][0] == "met"
    two = replace(v, requirements=Requirements(certified_skills=("2221", "3256")))
    assert outcomes(evaluate(RULES, two, done))["certified_skills"][0] == "missing"


def test_reach_is_the_same_country_and_a_related_occupation() -> None:
    assert tier("2221", ["2221"]) == 0
    assert tier("2222", ["2221"]) == 1
    assert tier("2211", ["2221"]) == 2
    assert tier("5223", ["2221"]) is None
    assert evaluate(RULES, replace(HOSPITAL, isco="5223"), NURSE) is None
    assert evaluate(RULES, replace(HOSPITAL, country="EC", region="EC-P"), NURSE) is None
    # an occupation known only from a live credential counts
    by_licence = replace(NURSE, occupations=(), experience={}, credentials=(NURSING_LICENCE,))
    assert evaluate(RULES, HOSPITAL, by_licence) is not None


def test_a_persons_vacancies_rank_region_first_then_fit_then_gaps_then_id() -> None:
    lima_exact = replace(HOSPITAL, id="b")
    lima_exact_twin = replace(HOSPITAL, id="a")
    lima_minor = replace(HOSPITAL, id="c", isco="2222")
    callao_easy = replace(HOSPITAL, id="d", region="PE-CAL", requirements=Requirements())
    lima_easy = replace(HOSPITAL, id="e", requirements=Requirements())
    ranked = rank_vacancies(RULES, NURSE, [callao_easy, lima_minor, lima_exact,
                                           lima_exact_twin, lima_easy,
                                           replace(HOSPITAL, id="f", isco="9112")])
    assert [m.vacancy.id for m in ranked] == ["e", "a", "b", "c", "d"]


def test_a_vacancys_candidates_rank_by_gaps_then_fit_region_and_experience() -> None:
    licensed = replace(NURSE, profile_id="z-licensed",
                       credentials=(NURSING_DEGREE_RECOGNISED, NURSING_LICENCE))
    unlicensed = replace(NURSE, profile_id="a-unlicensed")
    cusco = replace(licensed, profile_id="b-cusco", region="PE-CUS")
    junior = replace(licensed, profile_id="c-junior", experience={"2221": 3})
    blocked = replace(NURSE, profile_id="a-blocked", credentials=(NURSING_DEGREE_VE,))
    cashier = replace(NURSE, profile_id="a-cashier", occupations=("5230",), experience={},
                      credentials=())
    ranked = rank_candidates(RULES, HOSPITAL, [blocked, unlicensed, cusco, junior, cashier,
                                               licensed])
    assert [m.person.profile_id for m in ranked] == [
        "z-licensed", "c-junior", "b-cusco", "a-unlicensed", "a-blocked"]


def test_the_rules_file_names_only_steps_that_exist() -> None:
    programmes = {p["id"] for p in PROGRAMMES} | {
        d.renewal_programme for d in work_rules().documents if d.renewal_programme}
    templates = {t.id for t in load_templates().templates}
    RULES.check_references(programmes, templates)
    with pytest.raises(MatchingRulesError, match="pathway"):
        RULES.check_references(programmes, templates - {"pe-nursing-licensing"})


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["requirements"]["licence"].pop("licence_missing"), "lacks licence_missing"),
    (lambda d: d["requirements"].pop("languages"), "languages is not explained"),
    (lambda d: d["requirements"]["degree"]["degree_absent"].update(outcome="met"),
     "wrong outcome"),
    (lambda d: d["requirements"]["degree"]["degree_absent"].update(
        steps={"PE": {"programme": "x", "pathway": "y"}}), "exactly one"),
])
def test_a_broken_rules_file_refuses_to_load(tmp_path: Path, mutate, message: str) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MatchingRulesError, match=message):
        load_matching_rules(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(MatchingRulesError, match="not valid JSON"):
        load_matching_rules(path)
