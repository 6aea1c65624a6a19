"""The caseworker's worklist as answered, and what an action on one item sends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.registry.worklist import Kind
from shared.deps import IsoDate
from shared.text import OneLineText


class NextStep(BaseModel):
    code: str = Field(description="What to do, as a code: `start_renewal`, "
                                  "`refer_to_regularisation`, `follow_up_provider`, "
                                  "`renew_consent`, `review_transfer`.")
    text: str = Field(description="The same for a person, in the request's language.")


class WorklistItemOut(BaseModel):
    id: str
    kind: Kind
    profile_id: str
    region: str
    country: Literal["PE", "EC"]
    subject_type: Literal["document", "referral", "consent", "transfer"]
    subject_id: str
    due_date: date = Field(description="The day it is about (expiry, deadline), in the "
                                       "country's calendar.")
    days_left: int = Field(description="From the country's today to `due_date` (negative "
                                       "once past).")
    status: Literal["open", "acknowledged"]
    snoozed_until: date | None
    assigned_to: str | None
    details: dict[str, Any] = Field(description="By kind: the document type and renewal "
                                                "programme, the referral's programme and "
                                                "phase, the consent's purpose.")
    next_step: NextStep
    version: int
    updated_at: datetime


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: IsoDate = Field(description="Hidden until this day (the country's), at most a "
                                       "year ahead.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: Annotated[str, StringConstraints(min_length=1, max_length=200,
                                               strip_whitespace=True), OneLineText] = Field(
        description="The caseworker (their subject, as in their token) who takes it.")
