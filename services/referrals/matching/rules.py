"""Matching rules kept as data (``rules.json``, beside this file): for each kind of vacancy
requirement, what *met*, *missing* and *blocked* mean in Spanish and English, and the route
step (a programme, or a pathway template) that closes each gap, per country.

The file is validated when the service starts, against the catalogue's programmes and the
pathway templates: a broken file refuses to start rather than send a person down a step that
does not exist. A programme manager edits it; each change raises ``version`` (shown in every
answer, so a caseworker can tell which rules explained a match). The pure engine that applies
it is ``engine.py``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from services.referrals.rules import Isco, Sentence, Slug  # the rule files' vocabulary
from shared.i18n import Text

RULES_FILE = Path(__file__).with_name("rules.json")

CountryCode = Literal["PE", "EC"]
RequirementKind = Literal["work_authorisation", "degree", "licence", "certified_skills",
                          "experience", "languages"]
Outcome = Literal["met", "missing", "blocked"]
# The codes the engine reports, by kind (the met one first): the file explains each one.
ENGINE_CODES: dict[str, tuple[str, ...]] = {
    "work_authorisation": ("work_authorisation_in_force", "work_authorisation_absent",
                           "work_authorisation_lapsed"),
    "degree": ("degree_recognised", "degree_absent", "degree_not_recognised",
               "degree_suspended"),
    "licence": ("licence_in_force", "licence_missing", "licence_waits_for_degree",
                "licence_suspended"),
    "certified_skills": ("skills_certified", "skills_not_certified",
                         "skills_certification_pending"),
    "experience": ("experience_enough", "experience_short", "experience_undeclared"),
    "languages": ("languages_spoken", "language_missing"),
}


class MatchingRulesError(Exception):
    """The matching rules file is missing, not JSON or invalid: the service must not start."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    """A route step: a programme of the catalogue, or a pathway template (several steps)."""

    programme: Slug | None = None
    pathway: Slug | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        if (self.programme is None) == (self.pathway is None):
            raise ValueError("a step names exactly one of programme or pathway")
        return self


class LicensingPathway(_Strict):
    """For an occupation (ISCO-08 prefix) in a country, the pathway template that leads to its
    licence (a nurse's licence in Peru: SUNEDU → Colegio de Enfermeros)."""

    isco: Isco
    country: CountryCode
    pathway: Slug


class Finding(_Strict):
    """One way a requirement can turn out, with its text and the step closing the gap."""

    outcome: Outcome
    es: Sentence
    en: Sentence
    steps: dict[CountryCode, Step] = Field(default_factory=dict)
    licensing_pathway: bool = Field(
        False, description="The occupation's licensing pathway, when one is listed, "
                           "comes before ``steps``.")

    @property
    def text(self) -> Text:
        return Text(self.es, self.en)


CredentialStatus = Literal["self_declared", "document_seen", "apostilled",
                           "verified_with_issuer", "recognised", "rejected", "suspended",
                           "revoked"]


class MatchingRules(_Strict):
    version: int = Field(ge=1)
    effective_from: date
    description: str | None = None
    usable_credential_statuses: list[CredentialStatus] = Field(min_length=1)
    pending_credential_statuses: list[CredentialStatus] = Field(default_factory=list)
    blocked_credential_statuses: list[CredentialStatus] = Field(default_factory=list)
    licensing_pathways: list[LicensingPathway] = Field(default_factory=list)
    requirements: dict[RequirementKind, dict[Slug, Finding]]

    @model_validator(mode="after")
    def _complete(self) -> MatchingRules:
        """Every kind is explained, with every code the engine may report."""
        for kind, codes in ENGINE_CODES.items():
            have = self.requirements.get(kind)  # type: ignore[call-overload]
            if have is None:
                raise ValueError(f"requirement {kind} is not explained")
            absent = [c for c in codes if c not in have]
            if absent:
                raise ValueError(f"requirement {kind} lacks {', '.join(absent)}")
            unknown = [c for c in have if c not in codes]
            if unknown:
                raise ValueError(f"requirement {kind} explains unknown {', '.join(unknown)}")
            for code in codes:  # the first code is the met one, the others are gaps
                if (have[code].outcome == "met") != (code == codes[0]):
                    raise ValueError(f"finding {kind}.{code} has the wrong outcome")
        return self

    def finding(self, kind: str, code: str) -> Finding:
        return self.requirements[kind][code]  # type: ignore[index]

    def step_for(self, finding: Finding, country: str, occupation: str) -> Step | None:
        """The step that closes a gap in ``country``: the occupation's licensing pathway when
        the finding asks for it and one is listed (the longest ISCO prefix wins), else the
        finding's step for the country, else none (nothing in the route closes it)."""
        if finding.licensing_pathway:
            fits = [p for p in self.licensing_pathways
                    if p.country == country and occupation.startswith(p.isco)]
            if fits:
                return Step(pathway=max(fits, key=lambda p: len(p.isco)).pathway)
        return finding.steps.get(country)  # type: ignore[call-overload]

    def check_references(self, programmes: Collection[str], templates: Collection[str]
                         ) -> None:
        """Every programme and pathway the rules name exists (programmes: the catalogue's
        and the renewal programmes of ``shared/work_authorisation.json``)."""
        for kind, findings in self.requirements.items():
            for code, f in findings.items():
                for s in f.steps.values():
                    if s.programme is not None and s.programme not in programmes:
                        raise MatchingRulesError(
                            f"matching rule {kind}.{code} names unknown programme {s.programme}")
                    if s.pathway is not None and s.pathway not in templates:
                        raise MatchingRulesError(
                            f"matching rule {kind}.{code} names unknown pathway {s.pathway}")
        for p in self.licensing_pathways:
            if p.pathway not in templates:
                raise MatchingRulesError(f"licensing pathway {p.pathway} is not a template")


def load_matching_rules(path: Path | None = None) -> MatchingRules:
    """Read and validate the file; :class:`MatchingRulesError` says precisely what is wrong."""
    path = path or RULES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MatchingRulesError(f"cannot read matching rules {path}: {exc}") from exc
    except ValueError as exc:
        raise MatchingRulesError(f"matching rules {path} are not valid JSON: {exc}") from exc
    try:
        rules = MatchingRules.model_validate(raw)
    except ValidationError as exc:
        raise MatchingRulesError(f"matching rules {path} are invalid: {exc}") from exc
    return rules
