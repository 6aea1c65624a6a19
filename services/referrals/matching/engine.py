"""The pure matching engine: a vacancy's requirements against a person's facts, each judged
``met``, ``missing`` or ``blocked`` with why and the route step that closes the gap (the texts
and steps are data: ``rules.json``), and the two deterministic rankings. No I/O: the callers
read the facts (the registry's profile and the credentials with their recognition states for a
person; the candidates projection for the vacancy side) and hand them over, so the engine is
unit-tested with personas (``tests/services/referrals/test_matching_engine.py``).

Outcomes:

* ``met`` — the person satisfies it today;
* ``missing`` — the person lacks it; ``step`` names what in the route obtains it (none when
  the route has nothing for it, e.g. years of experience);
* ``blocked`` — the person holds something for it that cannot count yet: a degree not
  recognised, a lapsed work authorisation, a suspended credential, or a licence that waits for
  the degree's recognition. ``step`` names what unblocks it.

Occupation fit (``tier``): 0 — the vacancy's ISCO-08 unit group is one of the person's
occupations (current, of training, desired, declared experience, or a live credential's);
1 — same minor group (3 digits); 2 — same sub-major group (2 digits). Anything further is not
within reach and is not listed.

Rankings (total orders, ties broken by id, so the same data always give the same list):

* a person's vacancies: same region first, then occupation tier, then fewer ``blocked``, then
  fewer ``missing``, then vacancy id;
* a vacancy's candidates: fewer ``blocked``, then fewer ``missing``, then occupation tier, then
  same region first, then more years of experience in the occupation, then profile id.

``score`` is the share of requirements met (0–100; 100 when the vacancy asks nothing): it
explains, the order above ranks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.referrals.eligibility import CredentialFact
from services.referrals.matching.rules import MatchingRules, Step
from shared.i18n import Text

WorkStanding = Literal["in_force", "lapsed", "absent"]
DEAD = frozenset({"rejected", "revoked"})


@dataclass(frozen=True)
class Requirements:
    """What a vacancy asks (never sex, age, nationality or disability: refused upstream)."""

    work_authorisation: bool = False
    degree_fields_isced: Sequence[str] = ()  # any of these ISCED-F fields (prefix)
    licence: bool = False                    # colegiatura for the vacancy's occupation
    licence_field_isced: str | None = None   # ... in this ISCED-F field (prefix), if named
    certified_skills: Sequence[str] = ()     # a skills certification for each ISCO code
    min_years_experience: int | None = None
    languages: Sequence[str] = ()            # every one of these (ISO 639-1)


@dataclass(frozen=True)
class VacancyFacts:
    id: str
    isco: str  # ISCO-08 unit group (4 digits)
    country: str
    region: str
    requirements: Requirements = Requirements()


@dataclass(frozen=True)
class PersonFacts:
    """What matching may look at: no names, no documents' numbers."""

    profile_id: str
    region: str
    occupations: Sequence[str] = ()
    experience: Mapping[str, int] = field(default_factory=dict)  # ISCO → years
    years_experience: int | None = None  # overall, when no per-occupation figure
    languages: Sequence[str] | None = None
    work_authorisation: WorkStanding = "absent"
    renewal_programme: str | None = None  # of the lapsed document (work_authorisation.json)
    credentials: Sequence[CredentialFact] = ()

    @property
    def country(self) -> str:
        return self.region.split("-", 1)[0]

    def all_occupations(self) -> set[str]:
        codes = {*self.occupations, *self.experience}
        codes |= {c.occupation_isco for c in self.credentials
                  if c.occupation_isco and c.status not in DEAD}
        return {c for c in codes if c}


@dataclass(frozen=True)
class RequirementResult:
    kind: str
    outcome: str
    code: str
    text: Text
    step: Step | None = None


@dataclass(frozen=True)
class Match:
    vacancy: VacancyFacts
    person: PersonFacts
    tier: int
    same_region: bool
    requirements: list[RequirementResult]
    experience_years: int

    @property
    def blocked(self) -> int:
        return sum(r.outcome == "blocked" for r in self.requirements)

    @property
    def missing(self) -> int:
        return sum(r.outcome == "missing" for r in self.requirements)

    @property
    def score(self) -> int:
        if not self.requirements:
            return 100
        met = sum(r.outcome == "met" for r in self.requirements)
        return met * 100 // len(self.requirements)


# --- occupation fit ---------------------------------------------------------------------
def tier(vacancy_isco: str, occupations: Iterable[str]) -> int | None:
    """0 same unit group, 1 same minor group, 2 same sub-major group; None: out of reach."""
    best: int | None = None
    for code in occupations:
        for t, digits in ((0, 4), (1, 3), (2, 2)):
            if len(code) >= digits and code[:digits] == vacancy_isco[:digits]:
                best = t if best is None else min(best, t)
                break
    return best


def _related(a: str | None, b: str) -> bool:
    return a is not None and (a.startswith(b) or b.startswith(a))


# --- one requirement at a time -----------------------------------------------------------
class _Judge:
    def __init__(self, rules: MatchingRules, vacancy: VacancyFacts, person: PersonFacts) -> None:
        self.rules = rules
        self.vacancy = vacancy
        self.person = person
        self.usable = set(rules.usable_credential_statuses)
        self.pending = set(rules.pending_credential_statuses)
        self.stuck = set(rules.blocked_credential_statuses)

    def result(self, kind: str, code: str, step: Step | None = None) -> RequirementResult:
        f = self.rules.finding(kind, code)
        if step is None and f.outcome != "met":
            step = self.rules.step_for(f, self.vacancy.country, self.vacancy.isco)
        return RequirementResult(kind, f.outcome, code, f.text, step)

    def work_authorisation(self) -> RequirementResult:
        standing = self.person.work_authorisation
        if standing == "in_force":
            return self.result("work_authorisation", "work_authorisation_in_force")
        if standing == "lapsed":
            own = self.person.renewal_programme
            return self.result("work_authorisation", "work_authorisation_lapsed",
                               Step(programme=own) if own else None)
        return self.result("work_authorisation", "work_authorisation_absent")

    def _degrees(self) -> list[CredentialFact]:
        fields = self.vacancy.requirements.degree_fields_isced
        return [c for c in self.person.credentials
                if c.kind == "academic_degree" and c.status not in DEAD
                and (not fields or any(c.field_isced and c.field_isced.startswith(f)
                                       for f in fields))]

    def _counts_here(self, c: CredentialFact) -> bool:
        """Recognised in the country, or issued there and verified."""
        return c.status == "recognised" or (
            c.status in self.usable and c.issuer_country == self.vacancy.country)

    def degree_code(self) -> str:
        degrees = self._degrees()
        if any(self._counts_here(c) for c in degrees):
            return "degree_recognised"
        if not degrees:
            return "degree_absent"
        if all(c.status in self.stuck for c in degrees):
            return "degree_suspended"
        return "degree_not_recognised"

    def degree(self) -> RequirementResult:
        return self.result("degree", self.degree_code())

    def licence(self) -> RequirementResult:
        field = self.vacancy.requirements.licence_field_isced
        licences = [c for c in self.person.credentials
                    if c.kind == "professional_licence" and c.status not in DEAD
                    and (_related(c.occupation_isco, self.vacancy.isco)
                         or (field is not None and c.field_isced is not None
                             and c.field_isced.startswith(field)))]
        if any(c.status in self.usable for c in licences):
            return self.result("licence", "licence_in_force")
        if licences and all(c.status in self.stuck for c in licences):
            return self.result("licence", "licence_suspended")
        if self.degree_code() in ("degree_not_recognised", "degree_suspended"):
            return self.result("licence", "licence_waits_for_degree")
        return self.result("licence", "licence_missing")

    def certified_skills(self, wanted: Sequence[str]) -> RequirementResult:
        """Each skill asked (an ISCO code) needs a certification for it: the worst of them
        decides (not certified, then pending, then certified)."""
        worst = "skills_certified"
        for code in wanted:
            certs = [c for c in self.person.credentials
                     if c.kind == "skills_certification" and c.status not in DEAD
                     and c.occupation_isco is not None and c.occupation_isco.startswith(code)]
            if not certs:
                return self.result("certified_skills", "skills_not_certified")
            if not any(c.status in self.usable for c in certs):
                worst = "skills_certification_pending"
        return self.result("certified_skills", worst)

    def experience_years(self) -> int:
        """Years in the vacancy's occupation: the declared figure for its unit group (or a
        more general code it falls under), else the overall years when the occupation is
        one of the person's, else 0."""
        p = self.person
        related = [y for code, y in p.experience.items() if _related(code, self.vacancy.isco)]
        if related:
            return max(related)
        if p.years_experience is not None and tier(self.vacancy.isco, p.all_occupations()) == 0:
            return p.years_experience
        return 0

    def experience(self, wanted: int) -> RequirementResult:
        p = self.person
        if not p.experience and p.years_experience is None:
            return self.result("experience", "experience_undeclared")
        if self.experience_years() >= wanted:
            return self.result("experience", "experience_enough")
        return self.result("experience", "experience_short")

    def languages(self, wanted: Sequence[str]) -> RequirementResult:
        spoken = set(self.person.languages or ())
        if all(lang in spoken for lang in wanted):
            return self.result("languages", "languages_spoken")
        return self.result("languages", "language_missing")


def evaluate(rules: MatchingRules, vacancy: VacancyFacts, person: PersonFacts) -> Match | None:
    """Every requirement of the vacancy judged for the person, in a fixed order; None when
    the vacancy is out of the person's reach (another country, or an unrelated occupation)."""
    if vacancy.country != person.country:
        return None
    t = tier(vacancy.isco, person.all_occupations())
    if t is None:
        return None
    judge = _Judge(rules, vacancy, person)
    req = vacancy.requirements
    results: list[RequirementResult] = []
    if req.work_authorisation:
        results.append(judge.work_authorisation())
    if req.degree_fields_isced:
        results.append(judge.degree())
    if req.licence or req.licence_field_isced:
        results.append(judge.licence())
    if req.certified_skills:
        results.append(judge.certified_skills(req.certified_skills))
    if req.min_years_experience:
        results.append(judge.experience(req.min_years_experience))
    if req.languages:
        results.append(judge.languages(req.languages))
    return Match(vacancy=vacancy, person=person, tier=t,
                 same_region=vacancy.region == person.region, requirements=results,
                 experience_years=judge.experience_years())


def vacancy_order(m: Match) -> tuple[int, int, int, int, str]:
    return (not m.same_region, m.tier, m.blocked, m.missing, m.vacancy.id)


def candidate_order(m: Match) -> tuple[int, int, int, int, int, str]:
    return (m.blocked, m.missing, m.tier, not m.same_region, -m.experience_years,
            m.person.profile_id)


def rank_vacancies(rules: MatchingRules, person: PersonFacts,
                   vacancies: Iterable[VacancyFacts]) -> list[Match]:
    """The vacancies within the person's reach, best first (see the module's docstring)."""
    matches = [m for v in vacancies if (m := evaluate(rules, v, person)) is not None]
    return sorted(matches, key=vacancy_order)


def rank_candidates(rules: MatchingRules, vacancy: VacancyFacts,
                    people: Iterable[PersonFacts]) -> list[Match]:
    """The people within the vacancy's reach, best first (see the module's docstring)."""
    matches = [m for p in people if (m := evaluate(rules, vacancy, p)) is not None]
    return sorted(matches, key=candidate_order)
