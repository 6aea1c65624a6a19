"""The pure engine that applies the recommendation rules (``rules.py``) to a person's facts:
for each programme, whether it is relevant and the person eligible, with the reasons, the
missing requirements and a score. No I/O: the facts are read from the registry, the
credentials service and this service's referrals by the caller, and the engine is
unit-tested with personas (``tests/services/referrals/test_rules.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.referrals.rules import (
    ALPHA3,
    DEAD_CREDENTIAL,
    OPEN_STATUSES,
    AnyOf,
    CredentialCond,
    Education,
    IdentityDocument,
    InProgrammeRegions,
    Interest,
    MaxAge,
    MinAge,
    Nationality,
    Occupation,
    PopulationType,
    ReferralCond,
    Rule,
    RuleSet,
    WorkAuthorisation,
)
from shared.i18n import Text


# --- the facts the engine reads ----------------------------------------------------------------
@dataclass(frozen=True)
class DocumentFact:
    type: str
    issuing_country: str | None = None
    authorises_work: bool | None = None
    expired: bool = False
    accepted_for_identification: bool = True


@dataclass(frozen=True)
class CredentialFact:
    kind: str
    status: str
    field_isced: str | None = None
    occupation_isco: str | None = None
    issuer_country: str | None = None  # ISO alpha-2, as the credentials service keeps it
    id: str | None = None


@dataclass(frozen=True)
class Facts:
    """What the rules may look at. No names, no documents' numbers."""

    region: str
    age: int | None
    population_type: str | None = None
    nationality: str | None = None
    documents: Sequence[DocumentFact] = ()
    education_level: int | None = None
    education_field: str | None = None
    occupations: Sequence[str] = ()
    interest_employment: bool | None = None
    interest_self_employment: bool | None = None
    credentials: Sequence[CredentialFact] = ()
    # programme id → statuses of the person's referrals to it
    referrals: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def country(self) -> str:
        return self.region.split("-", 1)[0]


@dataclass(frozen=True)
class ProgrammeInfo:
    id: str
    country: str
    regions: Sequence[str]
    active: bool = True


@dataclass(frozen=True)
class Finding:
    code: str
    text: Text


@dataclass(frozen=True)
class Recommendation:
    programme_id: str
    relevant: bool
    eligible: bool
    score: int
    reasons: list[Finding]
    missing: list[Finding]
    referral_status: str | None


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- the engine ----------------------------------------------------------------------------
class _Context:
    def __init__(self, rules: RuleSet, facts: Facts, programme: ProgrammeInfo) -> None:
        self.rules = rules
        self.facts = facts
        self.programme = programme


def _prefix(value: str | None, prefixes: Sequence[str]) -> bool:
    return value is not None and any(value.startswith(p) for p in prefixes)


def _credential_matches(c: CredentialFact, cond: CredentialCond, ctx: _Context) -> bool:
    if cond.statuses:
        if c.status not in cond.statuses:
            return False
    elif c.status in DEAD_CREDENTIAL:
        return False
    if cond.kinds and c.kind not in cond.kinds:
        return False
    if cond.fields_isced and not _prefix(c.field_isced, cond.fields_isced):
        return False
    if cond.occupations_isco and not _prefix(c.occupation_isco, cond.occupations_isco):
        return False
    if cond.foreign is not None:
        foreign = c.issuer_country is None or c.issuer_country != ctx.programme.country
        if foreign is not cond.foreign:
            return False
    return True


def _holds(cond: Any, ctx: _Context) -> bool:
    result = _evaluate(cond, ctx)
    return not result if cond.negate else result


def _evaluate(cond: Any, ctx: _Context) -> bool:
    f = ctx.facts
    match cond:
        case InProgrammeRegions():
            return f.region in ctx.programme.regions
        case MinAge():
            return f.age is not None and f.age >= cond.value
        case MaxAge():
            return f.age is not None and f.age <= cond.value
        case PopulationType():
            return f.population_type in cond.values
        case Nationality():
            return f.nationality in cond.values
        case IdentityDocument():
            return any(d.accepted_for_identification for d in f.documents)
        case WorkAuthorisation():
            issuer = ALPHA3.get(ctx.programme.country)
            listed = set(ctx.rules.work_authorising_documents)
            return any(
                not d.expired and d.issuing_country == issuer and (
                    d.authorises_work is True
                    or (d.authorises_work is None and d.type in listed))
                for d in f.documents)
        case CredentialCond():
            return any(_credential_matches(c, cond, ctx) for c in f.credentials)
        case Occupation():
            codes = [*f.occupations, *(c.occupation_isco for c in f.credentials
                                       if c.occupation_isco and c.status not in DEAD_CREDENTIAL)]
            return any(_prefix(code, cond.isco) for code in codes)
        case Education():
            if cond.fields_isced and not _prefix(f.education_field, cond.fields_isced):
                return False
            return cond.min_level is None or (f.education_level is not None
                                              and f.education_level >= cond.min_level)
        case Interest():
            value = (f.interest_employment if cond.value == "employment"
                     else f.interest_self_employment)
            return value is True
        case ReferralCond():
            wanted: set[str] = set(cond.statuses)
            if "open" in wanted:
                wanted |= OPEN_STATUSES
            for ref in cond.programmes:
                pid = ctx.programme.id if ref == "self" else ref
                if f.referrals.get(pid, frozenset()) & wanted:
                    return True
            return False
        case AnyOf():
            return any(_holds(c, ctx) for c in cond.conditions)
    raise TypeError(f"unknown condition {cond!r}")  # pragma: no cover - validated on load


def _referral_status(facts: Facts, programme_id: str) -> str | None:
    statuses = facts.referrals.get(programme_id, frozenset())
    if statuses & OPEN_STATUSES:
        return "open"
    if "completed" in statuses:
        return "completed"
    return None


def evaluate_rule(rules: RuleSet, rule: Rule, facts: Facts, programme: ProgrammeInfo
                  ) -> Recommendation:
    ctx = _Context(rules, facts, programme)
    reasons: list[Finding] = []
    missing: list[Finding] = []
    relevant = True
    for check in rule.applies_if:
        if _holds(check.check, ctx):
            if check.reason is not None:
                reasons.append(Finding(check.reason.code, check.reason.text))
        else:
            relevant = False
            missing.append(Finding(check.missing.code, check.missing.text))
    eligible = relevant
    for check in rule.requires:
        if _holds(check.check, ctx):
            if check.reason is not None:
                reasons.append(Finding(check.reason.code, check.reason.text))
        else:
            eligible = False
            missing.append(Finding(check.missing.code, check.missing.text))
    score = rule.base_score
    for boost in rule.boosts:
        if _holds(boost.check, ctx):
            score += boost.weight
            reasons.append(Finding(boost.reason.code, boost.reason.text))
    return Recommendation(programme_id=programme.id, relevant=relevant, eligible=eligible,
                          score=min(score, 100), reasons=reasons, missing=missing,
                          referral_status=_referral_status(facts, programme.id))


def recommend(rules: RuleSet, facts: Facts, programmes: Mapping[str, ProgrammeInfo]
              ) -> list[Recommendation]:
    """Every active programme of the person's country that has a rule, in order."""
    out = []
    for rule in rules.rules:
        programme = programmes.get(rule.programme)
        if programme is None or not programme.active or programme.country != facts.country:
            continue
        out.append(evaluate_rule(rules, rule, facts, programme))
    out.sort(key=lambda r: (not r.relevant, -r.score, not r.eligible, r.programme_id))
    return out
