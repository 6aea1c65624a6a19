"""Pathway templates: a person's multi-step route as data (``pathway_templates.json``).

A template is an ordered list of steps, each a programme with the providers that may deliver
it (the first one serving the person's region is chosen unless the caseworker names another).
Instantiating a template opens the first step as a referral; completing a step's referral
opens the next one in the same transaction; a rejected, failed or cancelled step holds the
pathway until the caseworker resumes it (a new referral for the same step) or cancels it.
A step marked ``recognition`` is also completed by the credentials service's decision that
the person's degree is recognised (event ``credential.status_changed``).

The file is validated when the service starts, against the seeded catalogue: a template that
names an unknown programme or a provider that does not deliver it refuses to start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from services.referrals.catalogue import PROGRAMMES, PROVIDERS

TEMPLATES_FILE = Path(__file__).with_name("pathway_templates.json")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Isced = Annotated[str, StringConstraints(pattern=r"^\d{2,4}$")]


class PathwayStatus(StrEnum):
    ACTIVE = "active"        # a step's referral is open
    ON_HOLD = "on_hold"      # a step was rejected, failed or cancelled, or needs consent
    COMPLETED = "completed"  # every step completed
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    COMPLETED = "completed"
    FAILED = "failed"        # its last referral was rejected, failed or cancelled
    CANCELLED = "cancelled"  # the pathway was cancelled before it completed


class PathwayAction(StrEnum):
    RESUME = "resume"
    CANCEL = "cancel"


LIVE = frozenset({PathwayStatus.ACTIVE, PathwayStatus.ON_HOLD})


class TemplatesError(Exception):
    """The templates file is missing or invalid: the service must not start."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Name(_Strict):
    es: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class StepTemplate(_Strict):
    programme: Slug
    providers: list[Slug] = Field(min_length=1)
    recognition: bool = False


class Template(_Strict):
    id: Slug
    country: Literal["PE", "EC"]
    name: Name
    degree_fields_isced: list[Isced] = Field(
        default_factory=list, description="Which degree the recognition step is about.")
    steps: list[StepTemplate] = Field(min_length=1, max_length=10)


class TemplateSet(_Strict):
    version: int = Field(ge=1)
    templates: list[Template] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TemplateSet:
        programmes = {p["id"]: p for p in PROGRAMMES}
        delivers = {p["id"]: set(p["programme_ids"]) for p in PROVIDERS}
        seen: set[str] = set()
        for t in self.templates:
            if t.id in seen:
                raise ValueError(f"two templates named {t.id}")
            seen.add(t.id)
            for step in t.steps:
                programme = programmes.get(step.programme)
                if programme is None:
                    raise ValueError(f"template {t.id}: unknown programme {step.programme}")
                if programme["country"] != t.country:
                    raise ValueError(f"template {t.id}: {step.programme} is not in {t.country}")
                for provider in step.providers:
                    if step.programme not in delivers.get(provider, set()):
                        raise ValueError(f"template {t.id}: provider {provider} does not "
                                         f"deliver {step.programme}")
        return self

    def get(self, template_id: str) -> Template | None:
        return next((t for t in self.templates if t.id == template_id), None)


def load_templates(path: Path | None = None) -> TemplateSet:
    path = path or TEMPLATES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplatesError(f"cannot read pathway templates {path}: {exc}") from exc
    except ValueError as exc:
        raise TemplatesError(f"pathway templates {path} are not valid JSON: {exc}") from exc
    try:
        return TemplateSet.model_validate(raw)
    except ValidationError as exc:
        raise TemplatesError(f"pathway templates {path} are invalid: {exc}") from exc


def choose_provider(candidates: Sequence[str], serving: dict[str, Sequence[str]], region: str,
                    ) -> str | None:
    """The first candidate provider (by the template's order) that serves ``region``.
    ``serving``: provider id → its regions, for the active providers only."""
    for provider in candidates:
        if region in serving.get(provider, ()):
            return provider
    return None
