"""The vacancy table, in the referrals database because applying to a vacancy *is* a
referral (the placement is that referral's employment outcome): filling an opening and
recording the placement happen in one transaction, with no second service to agree with.

A vacancy holds no personal data: an employer and a job, never a person. Its requirements
are the typed, closed document of :class:`services.referrals.vacancies.schemas.Requirements`
kept as JSON (they are read whole, matched in Python and never queried by key); what a
query needs (occupation, region, status, dates) has its own column and index.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.referrals.models import Base
from shared.models import IdMixin, TimestampsMixin, VersionedMixin


class Vacancy(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """An offer of work published by a public employment service organisation."""

    __tablename__ = "vacancies"
    __table_args__ = (
        # The employment service's own id: bulk sync and inbound callbacks upsert by it.
        UniqueConstraint("organisation_id", "external_id", name="uq_vacancies_external"),
        Index("ix_vacancies_status_region", "status", "region"),
        Index("ix_vacancies_status_valid_until", "status", "valid_until"),
        Index("ix_vacancies_occupation", "occupation_isco"),
        # a person's matches: open vacancies of her country in her ISCO sub-major groups
        Index("ix_vacancies_matching", "country", "status", "occupation_isco"),
        Index("ix_vacancies_created", "created_at", "id"),
    )

    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    # The employment service's route this vacancy is applied to through: a referral to
    # this programme and provider (the poster's own, found when it is posted).
    programme_id: Mapped[str] = mapped_column(String(64), ForeignKey("programmes.id"))
    provider_id: Mapped[str] = mapped_column(String(64), ForeignKey("providers.id"))
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    employer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # ISCO-08 unit group (4 digits); the first digit is the major group of the indicators.
    occupation_isco: Mapped[str] = mapped_column(String(4))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(6))
    district: Mapped[str | None] = mapped_column(String(6), nullable=True)
    openings: Mapped[int] = mapped_column(Integer)
    # Openings not yet filled by a placement (a completed referral with an employment
    # outcome); 0 makes the vacancy ``filled``.
    openings_remaining: Mapped[int] = mapped_column(Integer)
    formal_contract: Mapped[bool] = mapped_column(Boolean)
    wage_min: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False),
                                                   nullable=True)
    wage_max: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False),
                                                   nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    hours_per_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    requirements: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What a caseworker should know before referring someone (wage under the minimum,
    # over 48 hours a week): computed on every write, never a reason to refuse.
    flags: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    # The requirements flattened for the ranking statement (matching/ranking_sql.py), written
    # whenever ``requirements`` is: lists as ``|a|b|`` with their count of distinct items.
    req_work_authorisation: Mapped[bool] = mapped_column(Boolean, default=False)
    req_degree_field: Mapped[str | None] = mapped_column(String(8), nullable=True)
    req_licence: Mapped[bool] = mapped_column(Boolean, default=False)
    req_licence_field: Mapped[str | None] = mapped_column(String(8), nullable=True)
    req_min_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    req_skills: Mapped[str | None] = mapped_column(String(200), nullable=True)
    req_skills_count: Mapped[int] = mapped_column(Integer, default=0)
    req_languages: Mapped[str | None] = mapped_column(String(200), nullable=True)
    req_languages_count: Mapped[int] = mapped_column(Integer, default=0)
    filled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @validates("requirements")
    def _flatten(self, _key: str, value: dict[str, Any]) -> dict[str, Any]:
        for column, flat in requirement_columns(value or {}).items():
            setattr(self, column, flat)
        return value


def _listed(items: list[str]) -> tuple[str | None, int]:
    distinct = sorted(set(items))
    return ("|" + "|".join(distinct) + "|" if distinct else None), len(distinct)


def requirement_columns(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``req_*`` columns of a requirements document (``schemas.Requirements``)."""
    degree, licence = raw.get("degree"), raw.get("professional_licence")
    skills, n_skills = _listed([s["occupation_isco"] for s in raw.get("certified_skills") or []
                                if isinstance(s, dict) and s.get("occupation_isco")])
    languages, n_languages = _listed([x["code"] for x in raw.get("languages") or []
                                      if isinstance(x, dict) and x.get("code")])
    return {
        "req_work_authorisation": raw.get("work_authorisation") is True,
        "req_degree_field": degree.get("field_isced") if isinstance(degree, dict) else None,
        "req_licence": isinstance(licence, dict),
        "req_licence_field": licence.get("field_isced") if isinstance(licence, dict) else None,
        "req_min_years": raw.get("min_experience_years") or None,
        "req_skills": skills, "req_skills_count": n_skills,
        "req_languages": languages, "req_languages_count": n_languages,
    }
