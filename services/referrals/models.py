"""Tables of the referrals database: the route catalogue, referrals with their history, and
pathways with their steps.

What a referral keeps about the person is ids and copies needed for object-level checks and
reports (the profile's organisation and region): never names or documents. The personal
free text it may hold (the referrer's notes, reasons of transitions, personal fields of an
outcome such as the employer) is emptied when the person's profile is erased; statuses,
programmes, dates and regions stay, so counts still add up.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.referrals.lifecycle import Status
from services.referrals.outcomes import Currency, Module
from shared.models import IdMixin, TimestampsMixin, VersionedMixin
from shared.tables import BigIntId


class Base(DeclarativeBase):
    metadata = MetaData()


class Programme(TimestampsMixin, VersionedMixin, Base):
    """A route of the catalogue (a public service a person can be referred to)."""

    __tablename__ = "programmes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # stable slug
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    route_type: Mapped[str] = mapped_column(String(40), index=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    regions: Mapped[list[str]] = mapped_column(JSON)
    operator: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What a completed referral must record (employment, recognition, exam, licensing,
    # entrepreneurship, certification); by default the route type's.
    outcome_kind: Mapped[str] = mapped_column(String(30), server_default="employment")
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    description_en: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class Provider(TimestampsMixin, VersionedMixin, Base):
    """The body that delivers programmes in some regions, with its service levels."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # stable slug
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    regions: Mapped[list[str]] = mapped_column(JSON)
    sla_accept_days: Mapped[int] = mapped_column(Integer)
    sla_complete_days: Mapped[int] = mapped_column(Integer)
    sla_working_days: Mapped[bool] = mapped_column(Boolean, default=True)
    required_documents: Mapped[list[str]] = mapped_column(JSON)
    # Open referrals it can take at once; None: no limit.
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProviderProgramme(Base):
    """Which programmes a provider delivers."""

    __tablename__ = "provider_programmes"

    provider_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    programme_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("programmes.id"), primary_key=True, index=True)


class Referral(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """One hop of a person's route: referred by an organisation to a provider's programme."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_created", "created_at", "id"),
        Index("ix_referrals_status_due", "status", "due_accept_at", "due_complete_at"),
    )

    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    profile_organisation_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6), index=True)
    country: Mapped[str] = mapped_column(String(2))
    programme_id: Mapped[str] = mapped_column(String(64), ForeignKey("programmes.id"),
                                              index=True)
    route_type: Mapped[str] = mapped_column(String(40), index=True)
    outcome_kind: Mapped[str] = mapped_column(String(30))
    provider_id: Mapped[str] = mapped_column(String(64), ForeignKey("providers.id"),
                                             index=True)
    provider_organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    referring_organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    referring_subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    # "<profile>:<programme>" while the referral is open, else NULL: at most one open
    # referral of a person to a programme, enforced by the database.
    open_key: Mapped[str | None] = mapped_column(String(110), unique=True, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The person's decision that allowed sharing their data with the provider.
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    credential_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    pathway_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("pathways.id"), nullable=True, index=True)
    pathway_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # An application: the vacancy this employment referral applies to (its employment
    # outcome fills one of the vacancy's openings).
    vacancy_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("vacancies.id"), nullable=True, index=True)

    due_accept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_complete_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When referral.overdue was emitted for each deadline (once each, by one replica).
    accept_overdue_notified_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True))
    complete_overdue_notified_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while the person's work authorisation has lapsed and the programme needs one
    # (``work_authorisation_lapsed``); NULL otherwise. The provider hears ``referral.at_risk``
    # when it is set and when it clears (a new work-authorising document recorded).
    at_risk_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    at_risk_document_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at_risk_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReferralTransition(Base):
    """Append-only history: who moved a referral, when, from where to where, and why."""

    __tablename__ = "referral_transitions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(30))
    actor_organisation_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Pathway(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A person's multi-step route instantiated from a template."""

    __tablename__ = "pathways"

    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    profile_organisation_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6), index=True)
    template: Mapped[str] = mapped_column(String(64), index=True)
    template_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # "<profile>:<template>" while active or on hold, else NULL: one live pathway of a kind
    # per person, enforced by the database.
    active_key: Mapped[str | None] = mapped_column(String(110), unique=True, nullable=True)
    current_step: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    credential_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Why it waits: {"code": ..., "step": n, "referral_id": ..., "reason_code": ...}
    held_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PathwayStep(Base):
    __tablename__ = "pathway_steps"

    pathway_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("pathways.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), ForeignKey("programmes.id"))
    provider_id: Mapped[str] = mapped_column(String(64), ForeignKey("providers.id"))
    provider_organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    referral_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportPerson(Base):
    """The reporting side's projection of a person: ids and non-identifying attributes only
    (no name, document, contact, birth date), kept from the registry's events
    (``services/referrals/reports/projection.py``). The birth *year* alone gives the age band at any
    period's end; a cancelled person's year is gone (as in the registry), their band frozen
    at cancellation stays. Merged duplicates have no row (their referrals follow the
    survivor)."""

    __tablename__ = "report_people"
    __table_args__ = (
        Index("ix_report_people_registered", "registered_at"),
        Index("ix_report_people_region", "region"),
    )

    profile_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(6))
    sex: Mapped[str] = mapped_column(String(10))
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    age_band: Mapped[str | None] = mapped_column(String(8), nullable=True)
    nationality: Mapped[str] = mapped_column(String(3))
    population_type: Mapped[str] = mapped_column(String(30))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statistics_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkAuthorisation(Base):
    """Until when each of a person's documents lets them work in a country, as the registry's
    document events tell (``document.recorded``, ``document.expiring``,
    ``document.expired``): one row per document (the events' subject), whose date is the
    one last told, so a caseworker correcting an expiry to an earlier date replaces it (a
    max kept per person would keep the wrong, later date and hide the lapse). Which
    documents authorise work where is the shared rules' (``shared/work_authorisation.json``);
    NULL: a document that never lapses (a national identity card). No document number, only
    its type. It tells whether a lapse is moot (another document still covers the person) and,
    as the latest expiry over the person's documents, feeds the indicators of lapsing and
    lapsed authorisations."""

    __tablename__ = "work_authorisations"
    __table_args__ = (Index("ix_work_authorisations_expiry", "country", "expiry_date"),)

    profile_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_type: Mapped[str] = mapped_column(String(64))
    expiry_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The vacancies sub-package's table is part of this database's metadata (migrations, the
# drift test and the text audit read it from here).
from services.referrals.matching.models import (  # noqa: E402,F401
    MatchConsent,
    MatchOccupation,
    MatchPerson,
)
from services.referrals.vacancies.models import Vacancy  # noqa: E402,F401


# --- report rollups (docs/decisions/0013-report-rollups.md) -------------------------------
def rollup_sum_names() -> list[str]:
    """The count and sum indicators a rollup cell keeps, one column each (``rollup_column``).
    Must list every count/sum measure of ``reports.queries.referral_measures`` except the
    per-programme counts (the cell's key) and ``referrals.overdue`` (as of now: kept per
    referral in ``report_rollup_facts``); ``tests/services/reports/test_rollups.py``
    checks it."""
    names = ["referrals", *[f"referrals.status.{s.value}" for s in Status],
             "jobs", "jobs.formal_contract", *[f"jobs.wage.{c.value}" for c in Currency],
             # placements by ISCO-08 major group and through a vacancy (issue 20)
             *[f"jobs.isco_major.{g}" for g in "0123456789"], "jobs.isco_major.unknown",
             "jobs.through_vacancy",
             "degrees_recognised", "exams_passed", "licences_obtained", "skills_certified"]
    for kind in ("seed_capital", "microcredit"):
        for cur in Currency:
            names += [f"{kind}.{cur.value}", f"{kind}.{cur.value}.amount"]
    names += [f"modules_completed.{m.value}" for m in Module]
    return names


def rollup_median_names() -> list[str]:
    """The medians, whose inputs ``report_rollup_facts`` keeps one value per referral."""
    return ["days_to_completion.median", *[f"jobs.wage.{c.value}.median" for c in Currency]]


def rollup_column(name: str) -> str:
    """``jobs.wage.PEN`` → ``m_jobs_wage_pen``."""
    return "m_" + "".join(ch if ch.isalnum() else "_" for ch in name.lower())


def _rollup_keys() -> list[Column[Any]]:
    return [Column("month", Date, nullable=False), Column("region", String(6), nullable=False),
            Column("country", String(2), nullable=False),
            Column("programme_id", String(64), nullable=False),
            Column("provider_id", String(64), nullable=False)]


def _cell_columns() -> list[Column[Any]]:
    return [
        Column("kind", String(1), nullable=False), Column("dim", String(20), nullable=False),
        Column("value", String(40), nullable=False),
        Column("people_registered", Float, nullable=False, default=0),
        *[Column(rollup_column(n), Float, nullable=False, default=0)
          for n in rollup_sum_names()],
        # open referrals already overdue when the month was built (overdue only grows with
        # time until the referral changes, which marks its month changed)
        Column("m_referrals_overdue", Float, nullable=False, default=0)]


# Marginal cells of one calendar month (UTC) of a region, programme and provider: ``kind``
# "p" (people registered that month) or "r" (referrals created that month); ``dim`` "" for
# the key's total, else sex, age (value: the birth year, "band:<frozen band>" or "unknown"),
# nationality or population_type; one column per count/sum indicator.
report_rollup_cells = Table(
    "report_rollup_cells", Base.metadata, *_rollup_keys(), *_cell_columns(),
    Index("ix_report_rollup_cells_month", "month", "kind"),
)
# The same cells by day (UTC) of the month: a period's partial months at its edges are read
# from these instead of the raw rows (the raw rows of one month cost a join with every person
# and the outcomes' JSON: 0.4 s at 1M people, decision 0019).
report_rollup_day_cells = Table(
    "report_rollup_day_cells", Base.metadata, *_rollup_keys(),
    Column("day", Date, nullable=False), *_cell_columns(),
    Index("ix_report_rollup_day_cells_day", "day", "kind"),
)
# What cannot be summed, one row per referral that has any of it: the inputs of the medians
# and, for an open referral not yet overdue when the month was built, the deadline from which
# it is (overdue is "as of now").
report_rollup_facts = Table(
    "report_rollup_facts", Base.metadata, *_rollup_keys(),
    Column("sex", String(10), nullable=False), Column("birth_year", Integer, nullable=True),
    Column("age_band", String(8), nullable=True), Column("nationality", String(3),
                                                          nullable=False),
    Column("population_type", String(30), nullable=False),
    Column("overdue_from", DateTime(timezone=True), nullable=True),
    *[Column(rollup_column(n), Float, nullable=True) for n in rollup_median_names()],
    Column("day", Date, nullable=False),  # the referral's creation day (UTC)
    Index("ix_report_rollup_facts_month", "month"),
)
# Months whose cells and facts are built (a month absent is computed from the raw rows).
report_rollup_months = Table(
    "report_rollup_months", Base.metadata,
    Column("month", Date, primary_key=True),
    Column("built_at", DateTime(timezone=True), nullable=False),
)
# A change since the month was built, one row per flush that touched it (never updated, so
# writers never wait on each other); the refresh deletes exactly the rows it saw.
report_rollup_dirty = Table(
    "report_rollup_dirty", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", Date, nullable=False, index=True),
)
