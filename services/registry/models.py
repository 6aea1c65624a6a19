"""The registry's tables: profiles, their identity documents, consents and the audit log.

Personal columns are nullable because cancellation (ARCO) empties them while the row stays,
pseudonymised, for statistics. Relationships are ``lazy="raise"``: every query says what it
loads, so no read path pays for an N+1 by accident.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.registry.search import normalise
from shared.clock import utcnow
from shared.models import IdMixin, TimestampsMixin, VersionedMixin, new_id
from shared.tables import BigIntId


class Base(DeclarativeBase):
    metadata = MetaData()


class ProfileStatus:
    ACTIVE = "active"
    MERGED = "merged"
    ERASED = "erased"


class Profile(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A person registered once on the route. Personal columns are emptied on cancellation."""

    __tablename__ = "profiles"

    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    given_names: Mapped[str | None] = mapped_column(String(200))
    first_surname: Mapped[str | None] = mapped_column(String(100))
    second_surname: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(10))
    gender_identity: Mapped[str | None] = mapped_column(String(30))
    nationality: Mapped[str] = mapped_column(String(3))
    population_type: Mapped[str] = mapped_column(String(30))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(6))
    district: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    languages: Mapped[list[str] | None] = mapped_column(JSON)
    education_level: Mapped[int | None] = mapped_column(Integer)
    education_field: Mapped[str | None] = mapped_column(String(4))
    occupation_current: Mapped[str | None] = mapped_column(String(4))
    occupation_training: Mapped[str | None] = mapped_column(String(4))
    occupation_desired: Mapped[str | None] = mapped_column(String(4))
    years_experience: Mapped[int | None] = mapped_column(Integer)
    skills: Mapped[list[str] | None] = mapped_column(JSON)
    interest_employment: Mapped[bool | None] = mapped_column(Boolean)
    interest_self_employment: Mapped[bool | None] = mapped_column(Boolean)
    # ARCO opposition: kept on the row (not only in the consents) so statistics stay one query.
    opt_out_statistics: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=text("false"))
    opt_out_contact: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=text("false"))
    status: Mapped[str] = mapped_column(String(20), default=ProfileStatus.ACTIVE)
    created_by: Mapped[str] = mapped_column(String(200))
    # Normalised full name (services/registry/search.py), maintained on every write.
    search_key: Mapped[str | None] = mapped_column(String(400))
    # AES-GCM sealed JSON of the sensitive record and the id of the key that sealed it.
    sensitive_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    sensitive_key_id: Mapped[str | None] = mapped_column(String(64))
    merged_into: Mapped[str | None] = mapped_column(String(36), index=True)
    # The age band at cancellation, when the birth date is emptied (statistics keep it).
    erased_age_band: Mapped[str | None] = mapped_column(String(8))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    documents: Mapped[list[IdentityDocument]] = relationship(
        back_populates="profile", lazy="raise", order_by="IdentityDocument.created_at")

    __table_args__ = (
        Index("ix_profiles_region_status", "region", "status"),
        # PostgreSQL: trigram index for fuzzy names (pg_trgm); elsewhere a plain index.
        Index("ix_profiles_search_key", "search_key", postgresql_using="gin",
              postgresql_ops={"search_key": "gin_trgm_ops"}),
    )


@event.listens_for(Profile, "before_insert")
@event.listens_for(Profile, "before_update")
def _maintain_search_key(_mapper: Any, _conn: Any, target: Profile) -> None:
    if target.status == ProfileStatus.ACTIVE:
        target.search_key = normalise(target.given_names, target.first_surname,
                                      target.second_surname)
    else:
        target.search_key = None


class IdentityDocument(Base):
    __tablename__ = "identity_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(40))
    # Normalised number; emptied on cancellation so the document can never match again.
    number: Mapped[str | None] = mapped_column(String(30), index=True)
    issuing_country: Mapped[str] = mapped_column(String(3))
    expiry_date: Mapped[date | None] = mapped_column(Date)
    verification: Mapped[str] = mapped_column(String(20))
    authorises_work: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    profile: Mapped[Profile] = relationship(back_populates="documents", lazy="raise")

    __table_args__ = (
        UniqueConstraint("doc_type", "issuing_country", "number",
                         name="uq_identity_documents_number"),
    )


class Consent(IdMixin, VersionedMixin, Base):
    """One decision of the person about one purpose (ISO/IEC TS 27560 ideas): what, for whom,
    granted or refused, how it was evidenced, until when; withdrawn later by status change."""

    __tablename__ = "consents"

    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    recipient_organisation_id: Mapped[str | None] = mapped_column(String(64))
    programme_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    sensitive_data: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=text("false"))
    evidence: Mapped[str] = mapped_column(String(20))
    evidence_reference: Mapped[str | None] = mapped_column(String(200))
    witnessed_by: Mapped[str | None] = mapped_column(String(200))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_organisation_id: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_consents_recipient", "recipient_organisation_id", "purpose", "status"),
    )


class AuditEntry(Base):
    """Who did what to which profile, when, under which request. Append-only: the migration
    installs triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(30))
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_organisation_id: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_audit_log_profile", "profile_id", "id"),)


profiles_table = cast(Table, Profile.__table__)
documents_table = cast(Table, IdentityDocument.__table__)
consents_table = cast(Table, Consent.__table__)
audit_table = cast(Table, AuditEntry.__table__)
