"""Tables of the referrals database: the route catalogue, referrals with their history, and
pathways with their steps.

What a referral keeps about the person is ids and copies needed for object-level checks and
reports (the profile's organisation and region): never names or documents. The personal
free text it may hold (the referrer's notes, reasons of transitions, personal fields of an
outcome such as the employer) is emptied when the person's profile is erased; statuses,
programmes, dates and regions stay, so counts still add up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
