"""The pure engine that applies the recommendation rules (``rules.py``) to a person's facts:
for each programme, whether it is relevant and the person eligible, with the reasons, the
missing requirements and a score. No I/O: the facts are read from the registry, the
credentials service and this service's referrals by the caller, and the engine is
unit-tested with personas (``tests/services/referrals/test_rules.py``).

Whether a document authorises work is the shared rule's (``shared/work_authorisation.py``),
on the country's day: a lapsed or lapsing authorisation puts its renewal programme first and
marks the programmes that need a valid one ``blocked_by`` it (decision 0009)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    WorkAuthorisationRenewal,
    needs_work_authorisation,
)
from shared import work_authorisation
from shared.i18n import Text
from shared.work_authorisation import Standing


# --- the facts the engine reads ----------------------------------------------------------------
@dataclass(frozen=True)
class DocumentFact:
    type: str
    issuing_country: str | None = None
    authorises_work: bool | None = None
    expired: bool = False
    accepted_for_identification: bool = True
    expiry_date: date | None = None


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
    # the day in the person's country (documents expire by it); None: the server's day
    today: date | None = None

    @property
    def country(self) -> str:
        return self.region.split("-", 1)[0]

    @property
    def day(self) -> date:
        return self.today or date.today()


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
class BlockedBy:
    """The renewal that must come first, and why."""

    programme_id: str
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
    blocked_by: BlockedBy | None = None


# --- work authorisation (shared rules) -----------------------------------------------------
@dataclass(frozen=True)
class Authorisation:
    """A document that authorises work in a country by the shared rules, and where it
    stands on the country's day."""

    document: DocumentFact
    standing: Standing
    renewal_programme: str | None


def authorisations(facts: Facts, country: str) -> list[Authorisation]:
    """The person's documents issued by ``country`` that authorise work there by the rules."""
    table = work_authorisation.rules()
    issuer = ALPHA3.get(country)
    out = []
    for d in facts.documents:
        if d.issuing_country != issuer:
            continue
        standing = table.standing(document_type=d.type, expiry=d.expiry_date, country=country,
                                  today=facts.day)
        if standing is Standing.NOT_AUTHORISING:
            continue
        if d.expired and standing is not Standing.EXPIRED:
            standing = Standing.EXPIRED  # the registry knows it lapsed
        rule = table.rule_for(d.type)
        out.append(Authorisation(d, standing, rule.renewal_programme if rule else None))
    return out


def _valid(a: Authorisation) -> bool:
    return a.standing in (Standing.VALID, Standing.RENEWAL_DUE)


def renewal_due(facts: Facts, country: str) -> list[Authorisation]:
    """The authorisations to renew: lapsed or in their renewal window, when no other one is
    valid beyond its window (a new CPP already recorded makes the old one's lapse moot)."""
    found = authorisations(facts, country)
    if any(a.standing is Standing.VALID for a in found):
        return []
    due = [a for a in found if a.standing in (Standing.RENEWAL_DUE, Standing.EXPIRED)]
    if any(_valid(a) for a in due):  # still covered: only the lapsing ones are due
        due = [a for a in due if a.standing is Standing.RENEWAL_DUE]
    return due


def _document_name(document_type: str, lang: str) -> str:
    rule = work_authorisation.rules().rule_for(document_type)
    if rule is None:
        return document_type
    return rule.name.en if lang == "en" else rule.name.es


def _bilingual(template: Any, **params: Any) -> Text:
    """A rules message with its placeholders filled in each language."""
    def fill(lang: str, text: str) -> str:
        values = {k: (v(lang) if callable(v) else v) for k, v in params.items()}
        return text.format(**values)
    return Text(fill("es", template.es), fill("en", template.en))


def disagreements(rules: RuleSet, facts: Facts, country: str) -> list[Finding]:
    """Documents whose recorded ``authorises_work`` (the caseworker's evidence) is not what
    the rules say: shown, never applied and never overwritten."""
    table = work_authorisation.rules()
    reg = rules.regularisation
    out = []
    for d in facts.documents:
        if d.authorises_work is None:
            continue
        by_rule = table.authorises_work(d.type, country)
        if d.authorises_work is by_rule:
            continue

        def yes_no(flag: bool) -> Any:
            word = reg.yes if flag else reg.no
            return lambda lang: word.en if lang == "en" else word.es
        out.append(Finding(reg.evidence_disagrees.code, _bilingual(
            reg.evidence_disagrees, document=lambda lang, t=d.type: _document_name(t, lang),
            expiry=str(d.expiry_date or ""), recorded=yes_no(d.authorises_work),
            rule=yes_no(by_rule))))
    return out


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
            return any(_valid(a) for a in authorisations(f, ctx.programme.country))
        case WorkAuthorisationRenewal():
            return any(a.renewal_programme == ctx.programme.id
                       for a in renewal_due(f, ctx.programme.country))
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


def _blocked_by(rules: RuleSet, due: Sequence[Authorisation],
                renewals: set[str]) -> BlockedBy | None:
    """What blocks a programme that needs a valid authorisation: the renewal of the
    authorisation that lapsed (or, failing that, the one lapsing soonest)."""
    for a in sorted(due, key=lambda a: (a.standing is not Standing.EXPIRED,
                                        a.document.expiry_date or date.max)):
        if a.renewal_programme not in renewals:
            continue
        lapsed = a.standing is Standing.EXPIRED
        template = (rules.regularisation.blocked_lapsed if lapsed
                    else rules.regularisation.blocked_renewal_due)
        t = a.document.type
        return BlockedBy(a.renewal_programme, template.code, _bilingual(
            template, document=lambda lang, t=t: _document_name(t, lang),
            expiry=str(a.document.expiry_date or "")))
    return None


def recommend(rules: RuleSet, facts: Facts, programmes: Mapping[str, ProgrammeInfo]
              ) -> list[Recommendation]:
    """Every active programme of the person's country that has a rule, in order.

    When the person's work authorisation has lapsed or is in its renewal window, the
    renewal programme comes first whatever the scores, the programmes that need a valid
    authorisation carry ``blocked_by`` it, and a recorded ``authorises_work`` mark that
    disagrees with the rules is shown among their reasons."""
    out = []
    due = renewal_due(facts, facts.country)
    evidence = disagreements(rules, facts, facts.country)
    first: set[str] = set()
    by_rule = {}
    for rule in rules.rules:
        programme = programmes.get(rule.programme)
        if programme is None or not programme.active or programme.country != facts.country:
            continue
        rec = evaluate_rule(rules, rule, facts, programme)
        renews = any(a.renewal_programme == programme.id for a in due)
        if renews and rec.relevant:
            first.add(programme.id)
        by_rule[programme.id] = rule
        out.append(rec)
    for i, rec in enumerate(out):
        rule = by_rule[rec.programme_id]
        if needs_work_authorisation(rule) or rec.programme_id in first:
            blocked = (_blocked_by(rules, due, first) if needs_work_authorisation(rule)
                       else None)
            out[i] = replace(rec, reasons=[*rec.reasons, *evidence], blocked_by=blocked)
    out.sort(key=lambda r: (r.programme_id not in first, not r.relevant, -r.score,
                            not r.eligible, r.programme_id))
    return out
