"""Route recommendations: eligibility rules kept as data (the pure engine that applies them is
``eligibility.py``).

The rules live in ``recommendation_rules.json`` (versioned; a programme manager edits it, a
deployment ships it). The file is validated with pydantic when the service starts: a broken
file refuses to start rather than recommend wrongly. Each rule names one programme and has:

* ``applies_if`` — checks that make the programme *relevant* to the person (e.g. "has a
  foreign degree not yet recognised"); relevant programmes come first;
* ``requires`` — checks the person must meet to be *eligible* (age, region, documents,
  apostille...); each unmet one is a missing requirement with a code and a message in
  Spanish and English ("título no apostillado");
* ``boosts`` — signals that raise the score (interest, a regulated health profession...);
* ``base_score`` — the programme's weight before boosts.

Which documents authorise work, and when their renewal should start, is not here but in
``shared/work_authorisation.json`` (one rule in one place, read by the registry's watch too).
The ``regularisation`` section says how a lapsed or lapsing authorisation shows: the renewal
programme first, and the programmes that check ``work_authorisation`` marked ``blocked_by``
it (see :func:`~services.referrals.eligibility.recommend`).

Order: relevant first, then by score (highest first), eligible before not, then programme id.
The engine is a pure function of the person's facts (read from the registry, the credentials
service and this service's referrals) and the catalogue: no I/O, unit-tested with personas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from services.referrals.catalogue import PROGRAMMES
from shared import work_authorisation
from shared.i18n import Text
from shared.refdata import NATIONALITY_DOC, NationalityCode

RULES_FILE = Path(__file__).with_name("recommendation_rules.json")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Isced = Annotated[str, StringConstraints(pattern=r"^\d{2,4}$")]
Isco = Annotated[str, StringConstraints(pattern=r"^\d{1,4}$")]
Sentence = Annotated[str, StringConstraints(min_length=1, max_length=300)]

POPULATION_TYPES = ("migrant", "refugee", "asylum_seeker", "host_community", "returnee")
CREDENTIAL_KINDS = ("academic_degree", "professional_licence", "skills_certification",
                    "training_completion", "language")
CREDENTIAL_STATUSES = ("self_declared", "document_seen", "apostilled", "verified_with_issuer",
                       "recognised", "rejected", "suspended", "revoked")
REFERRAL_STATUSES = ("open", "requested", "accepted", "in_progress", "on_hold", "completed",
                     "failed", "rejected", "cancelled")
OPEN_STATUSES = frozenset({"requested", "accepted", "in_progress", "on_hold"})
# A credential that was refused or withdrawn counts for nothing unless a check asks for it.
DEAD_CREDENTIAL = frozenset({"rejected", "revoked"})
# ISO 3166-1: a programme's country (alpha-2) and the documents it issues (alpha-3).
ALPHA3 = {"PE": "PER", "EC": "ECU"}


class RulesError(Exception):
    """The rules file is missing, not JSON, or does not validate: the service must not start."""


# --- the file's shape ------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Strict):
    es: Sentence
    en: Sentence

    @property
    def text(self) -> Text:
        return Text(self.es, self.en)


class Coded(_Strict):
    """A finding: a machine-readable code and what it means in Spanish and English."""

    code: Slug
    es: Sentence
    en: Sentence

    @property
    def text(self) -> Text:
        return Text(self.es, self.en)


class _Cond(_Strict):
    negate: bool = False


class InProgrammeRegions(_Cond):
    """The person lives in one of the programme's regions."""

    type: Literal["in_programme_regions"]


class MinAge(_Cond):
    type: Literal["min_age"]
    value: int = Field(ge=0, le=120)


class MaxAge(_Cond):
    type: Literal["max_age"]
    value: int = Field(ge=0, le=120)


class PopulationType(_Cond):
    type: Literal["population_type"]
    values: list[Literal["migrant", "refugee", "asylum_seeker", "host_community",
                         "returnee"]] = Field(min_length=1)


class Nationality(_Cond):
    type: Literal["nationality"]
    values: list[NationalityCode] = Field(min_length=1, description=NATIONALITY_DOC)


class IdentityDocument(_Cond):
    """A document accepted for identification (in force, or a passport expired ≤ 5 years)."""

    type: Literal["identity_document"]


class WorkAuthorisation(_Cond):
    """A document in force on the country's day, issued by the programme's country, of a
    type that authorises work there (``shared/work_authorisation.json``; the caseworker's
    ``authorises_work`` mark is evidence, shown when it disagrees, never the rule)."""

    type: Literal["work_authorisation"]


class WorkAuthorisationRenewal(_Cond):
    """A work-authorising document whose renewal this programme handles
    (``renewal_programme`` in ``shared/work_authorisation.json``) has lapsed or is in its
    renewal window, and no other document authorises work in the programme's country."""

    type: Literal["work_authorisation_renewal"]


class CredentialCond(_Cond):
    """The person holds a credential matching every given filter. Fields and occupations
    match by prefix (ISCED-F ``09`` covers ``0912`` medicine and ``0913`` nursing)."""

    type: Literal["credential"]
    kinds: list[Literal["academic_degree", "professional_licence", "skills_certification",
                        "training_completion", "language"]] = Field(default_factory=list)
    fields_isced: list[Isced] = Field(default_factory=list)
    occupations_isco: list[Isco] = Field(default_factory=list)
    statuses: list[Literal["self_declared", "document_seen", "apostilled",
                           "verified_with_issuer", "recognised", "rejected", "suspended",
                           "revoked"]] = Field(default_factory=list)
    foreign: bool | None = Field(None, description="Issued outside the programme's country "
                                                   "(an unknown issuer counts as foreign).")


class Occupation(_Cond):
    """An ISCO-08 occupation (current, of training or desired, or of a credential)."""

    type: Literal["occupation"]
    isco: list[Isco] = Field(min_length=1)


class Education(_Cond):
    type: Literal["education"]
    fields_isced: list[Isced] = Field(default_factory=list)
    min_level: int | None = Field(None, ge=0, le=8)


class Interest(_Cond):
    type: Literal["interest"]
    value: Literal["employment", "self_employment"]


class ReferralCond(_Cond):
    """The person has a referral to one of ``programmes`` (``self``: this rule's programme)
    in one of ``statuses`` (``open`` stands for any open status)."""

    type: Literal["referral"]
    programmes: list[Slug] = Field(min_length=1)
    statuses: list[Literal["open", "requested", "accepted", "in_progress", "on_hold",
                           "completed", "failed", "rejected", "cancelled"]] = Field(
        min_length=1)


class AnyOf(_Cond):
    type: Literal["any_of"]
    conditions: list[Condition] = Field(min_length=1)


Condition = Annotated[
    InProgrammeRegions | MinAge | MaxAge | PopulationType | Nationality | IdentityDocument
    | WorkAuthorisation | WorkAuthorisationRenewal | CredentialCond | Occupation | Education
    | Interest | ReferralCond | AnyOf,
    Field(discriminator="type"),
]
AnyOf.model_rebuild()


class Check(_Strict):
    check: Condition
    missing: Coded
    reason: Coded | None = Field(None, description="Shown among the reasons when met.")


class Boost(_Strict):
    check: Condition
    weight: int = Field(ge=1, le=100)
    reason: Coded


class Rule(_Strict):
    programme: Slug
    base_score: int = Field(ge=0, le=100)
    summary: Message | None = None
    applies_if: list[Check] = Field(default_factory=list)
    requires: list[Check] = Field(default_factory=list)
    boosts: list[Boost] = Field(default_factory=list)


# What a message of the ``regularisation`` section may name.
_PLACEHOLDERS = {"document": "CPP", "expiry": "2027-01-10", "recorded": "no",
                 "rule": "sí"}


class Regularisation(_Strict):
    """How a lapsed or lapsing work authorisation shows in the recommendations. Messages may
    name ``{document}`` (its name) and ``{expiry}`` (its expiry date); ``evidence_disagrees``
    also ``{recorded}`` and ``{rule}`` (the caseworker's mark and the rule, as yes/no)."""

    blocked_lapsed: Coded = Field(
        description="On a programme that needs a valid authorisation, when it has lapsed.")
    blocked_renewal_due: Coded = Field(description="The same, while the renewal is due.")
    evidence_disagrees: Coded = Field(description="Among the reasons where a document's "
                                                  "recorded mark disagrees with the rules.")
    yes: Message
    no: Message

    @model_validator(mode="after")
    def _templates(self) -> Regularisation:
        for coded in (self.blocked_lapsed, self.blocked_renewal_due, self.evidence_disagrees):
            for template in (coded.es, coded.en):
                try:
                    template.format(**_PLACEHOLDERS)
                except (KeyError, IndexError, ValueError) as exc:
                    raise ValueError(f"{coded.code}: unknown placeholder in {template!r}"
                                     ) from exc
        return self


class RuleSet(_Strict):
    version: int = Field(ge=1)
    effective_from: date
    description: str | None = None
    regularisation: Regularisation
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        known = {p["id"] for p in PROGRAMMES}
        for doc in work_authorisation.rules().documents:
            if doc.renewal_programme is not None and doc.renewal_programme not in known:
                raise ValueError(f"work authorisation {doc.document_type} names unknown "
                                 f"renewal programme {doc.renewal_programme}")
        seen: set[str] = set()
        for rule in self.rules:
            if rule.programme in seen:
                raise ValueError(f"two rules for programme {rule.programme}")
            if rule.programme not in known:
                raise ValueError(f"rule for unknown programme {rule.programme}")
            seen.add(rule.programme)
            conditions = [c.check for c in rule.applies_if + rule.requires] + [
                b.check for b in rule.boosts]
            for condition in conditions:
                for ref in _referenced_programmes(condition):
                    if ref != "self" and ref not in known:
                        raise ValueError(f"rule {rule.programme} refers to unknown "
                                         f"programme {ref}")
        return self


def needs_work_authorisation(rule: Rule) -> bool:
    """The programme requires a valid work authorisation (a ``work_authorisation`` check
    among its requirements): what a lapsed one blocks, and whose open referrals it puts at
    risk."""
    return any(isinstance(c.check, WorkAuthorisation) and not c.check.negate
               for c in rule.requires)


def _referenced_programmes(cond: Any) -> Iterable[str]:
    if isinstance(cond, ReferralCond):
        yield from cond.programmes
    elif isinstance(cond, AnyOf):
        for c in cond.conditions:
            yield from _referenced_programmes(c)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate the rules file; :class:`RulesError` says precisely what is wrong."""
    path = path or RULES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"cannot read recommendation rules {path}: {exc}") from exc
    except ValueError as exc:
        raise RulesError(f"recommendation rules {path} are not valid JSON: {exc}") from exc
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(f"recommendation rules {path} are invalid: {exc}") from exc
