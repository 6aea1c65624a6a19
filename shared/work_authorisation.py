"""Which documents authorise work in which country, and when their renewal should start.

The rules are data (``shared/work_authorisation.json``), versioned like the referral
service's recommendation rules, because they change with migration law and a programme
team edits them, not a developer. Both the registry (the document-expiry watch and the
worklist) and the referrals service (renewal first in the recommendations, referrals at
risk) read them, so they live here once: the two services must never disagree on whether
a CPP authorises work.

The file is validated when it is first loaded (every service loads it at start-up through
:func:`rules`): a broken file refuses to start rather than let an authorisation lapse
unnoticed. The caseworker's per-document ``authorises_work`` stays recorded evidence; this
file is the rule, and a disagreement between them is shown, never overwritten.

Day boundaries are the country's: a CPP that expires on 2027-01-10 is still valid on that
day in Lima, whatever the server's clock zone (:func:`today_in`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

RULES_FILE = Path(__file__).with_suffix(".json")

# The country's own time zone decides which day it is there (both countries have one zone
# on the mainland; Galápagos is an hour behind but has no programme region).
COUNTRY_ZONES: dict[str, ZoneInfo] = {"PE": ZoneInfo("America/Lima"),
                                      "EC": ZoneInfo("America/Guayaquil")}

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Country = Annotated[str, StringConstraints(pattern=r"^(PE|EC)$")]


class Standing(StrEnum):
    """Where a document stands as a work authorisation on a given day."""

    VALID = "valid"                      # authorises work, renewal not yet due
    RENEWAL_DUE = "renewal_due"          # authorises work, inside its renewal window
    EXPIRED = "expired"                  # authorised work, lapsed
    NOT_AUTHORISING = "not_authorising"  # never authorises work in that country


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    es: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)


class DocumentRule(BaseModel):
    """One document type: where it authorises work and when to start its renewal."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    document_type: Slug
    name: _Text
    authorises_work_in: list[Country] = Field(min_length=1)
    renewal_window_days: int = Field(ge=1, le=365)
    renewal_programme: Slug | None
    source: str = Field(min_length=10, max_length=600)


class WorkAuthorisationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = Field(ge=1)
    effective_from: date
    description: str
    horizons_days: list[int] = Field(min_length=1, max_length=6)
    documents: list[DocumentRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> WorkAuthorisationRules:
        types = [d.document_type for d in self.documents]
        if len(set(types)) != len(types):
            raise ValueError("a document type is listed twice")
        if any(h < 1 or h > 365 for h in self.horizons_days):
            raise ValueError("horizons must be between 1 and 365 days")
        if sorted(set(self.horizons_days), reverse=True) != self.horizons_days:
            raise ValueError("horizons must be distinct and in decreasing order")
        return self

    def rule_for(self, document_type: str) -> DocumentRule | None:
        return next((d for d in self.documents if d.document_type == document_type), None)

    def authorises_work(self, document_type: str, country: str) -> bool:
        rule = self.rule_for(document_type)
        return rule is not None and country in rule.authorises_work_in

    def work_authorising_types(self, country: str | None = None) -> list[str]:
        return [d.document_type for d in self.documents
                if country is None or country in d.authorises_work_in]

    def standing(self, *, document_type: str, expiry: date | None, country: str,
                 today: date) -> Standing:
        """The document's standing on ``today`` (the country's day, see :func:`today_in`).

        A document without an expiry date never lapses (a national identity card of the
        country); it expires the day after its expiry date.
        """
        rule = self.rule_for(document_type)
        if rule is None or country not in rule.authorises_work_in:
            return Standing.NOT_AUTHORISING
        if expiry is None:
            return Standing.VALID
        left = (expiry - today).days
        if left < 0:
            return Standing.EXPIRED
        if left <= rule.renewal_window_days:
            return Standing.RENEWAL_DUE
        return Standing.VALID

    def horizon_for(self, days_left: int) -> int | None:
        """The smallest horizon that ``days_left`` has reached (60/30/7 → 7 at 5 days)."""
        reached = [h for h in self.horizons_days if days_left <= h]
        return min(reached) if reached else None


def load(path: Path = RULES_FILE) -> WorkAuthorisationRules:
    """Read and validate a rules file; a broken file raises (start-up refuses)."""
    return WorkAuthorisationRules.model_validate(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def rules() -> WorkAuthorisationRules:
    """The deployment's rules, loaded once."""
    return load()


def today_in(country: str, now: datetime | None = None) -> date:
    """Which day it is in ``country`` (America/Lima or America/Guayaquil) at ``now``."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(COUNTRY_ZONES[country]).date()
