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
    func,
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
    # [{"isco": unit group, "years": n}]: experience per occupation, read by job matching
    experience: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
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
        # PostgreSQL: the name's tokens, what a name search intersects (search.py, reg0011)
        Index("ix_profiles_name_tokens", func.string_to_array(text("search_key"),
                                                              text("' '")),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
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
        # the document-expiry watch reads a window of expiry dates (services/registry/watch.py)
        Index("ix_identity_documents_expiry", "expiry_date"),
    )


class Consent(IdMixin, VersionedMixin, Base):
    """One decision of the person about one purpose (ISO/IEC TS 27560 ideas): what, for whom,
    granted or refused, how it was evidenced, until when; withdrawn later by status change."""

    __tablename__ = "consents"

    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    recipient_organisation_id: Mapped[str | None] = mapped_column(String(64))
    # purpose "transfer": the other country's deployment the record may travel to (issue 21)
    recipient_deployment_id: Mapped[str | None] = mapped_column(String(64))
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
        # the watch's consent_expiring items read a window of expiry moments
        Index("ix_consents_valid_until", "valid_until"),
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

    __table_args__ = (Index("ix_audit_log_profile", "profile_id", "id"),
                      Index("ix_audit_log_at", "at"))


class AuditPurgeWindow(Base):
    """The only way past the audit log's append-only triggers: the retention purge writes
    the end of the retention period here, deletes the entries older than it and removes the
    row, all in one transaction (services/registry/retention.py), so no other transaction
    ever sees a window open. The triggers refuse every other DELETE, and every UPDATE."""

    __tablename__ = "audit_purge_window"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    purge_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessDenial(Base):
    """Who was refused a person of another scope (a 404 outside scope), on which route: the
    owning organisation's security audit (``GET /v1/profiles/{id}/access-denials``). One row
    per (person, day, prober organisation, prober, role, method, route template) counting
    the attempts, so a thousand probes are one row, not a thousand: the table grows with
    the distinct routes a prober tries, never with how often. Never the request's body or
    query values. Written only for a person who exists (services.registry.denials)."""

    __tablename__ = "access_denials"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(36))
    day: Mapped[date] = mapped_column(Date)
    prober_organisation_id: Mapped[str] = mapped_column(String(64))
    prober_subject: Mapped[str] = mapped_column(String(200))
    prober_role: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(200))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("profile_id", "day", "prober_organisation_id", "prober_subject",
                         "prober_role", "method", "route", name="uq_access_denials_probe"),
        Index("ix_access_denials_profile", "profile_id", "id"),
    )


class DeploymentKey(Base):
    """This deployment's own keys for portable records: ``sig`` signs the bundles it sends,
    ``enc`` receives the bundles encrypted to it. Private halves sealed with the data keys;
    a retired key stays published (and, for ``enc``, able to decrypt) so bundles made
    before a rotation still open (docs/decisions/0011)."""

    __tablename__ = "deployment_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    use: Mapped[str] = mapped_column(String(3))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key: Mapped[str] = mapped_column(String(8000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Transfer(Base):
    """One portable record, as prepared here (``out``) or imported here (``in``): the legal
    basis it travelled under and, for an import, where the person came from. Unique by
    (direction, bundle id): a replayed bundle imports once."""

    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    direction: Mapped[str] = mapped_column(String(3))
    bundle_id: Mapped[str] = mapped_column(String(64))
    peer_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    peer_profile_id: Mapped[str | None] = mapped_column(String(64))
    consent_id: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_organisation_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("direction", "bundle_id", name="uq_transfers_bundle"),
    )


class NameToken(Base):
    """One token of the names active profiles carry (PostgreSQL): what a typo'd token of a
    name search is corrected against, by trigrams, before the token intersection finds the
    people (services/registry/search.py). A trigger on ``profiles`` (reg0011) maintains it
    on every write of ``search_key`` and drops a token with its last holder, so an erased
    person's rare surname does not stay behind. Empty and unused on SQLite."""

    __tablename__ = "name_tokens"

    token: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (
        Index("ix_name_tokens_trgm", "token", postgresql_using="gin",
              postgresql_ops={"token": "gin_trgm_ops"}),
    )


class DocumentWatchMark(Base):
    """The document-expiry watch announced this document at this horizon for this expiry date
    (``horizon_days`` 0: expired). Inserted in the transaction that stores the event, and the
    unique key is the claim: a replica or a restart that finds the mark announces nothing, so
    each event goes out once. A new expiry date (a renewal on the same document) watches
    afresh."""

    __tablename__ = "document_watch_marks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(36))
    expiry_date: Mapped[date] = mapped_column(Date)
    horizon_days: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[str] = mapped_column(String(36))
    announced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # the expiry date first: a run's marks are all near today, so their index entries
        # go to a few hot pages, not all over the index (bench/document_watch.py)
        UniqueConstraint("expiry_date", "document_id", "horizon_days",
                         name="uq_document_watch_marks"),
    )


class WorklistItem(VersionedMixin, Base):
    """Something a caseworker must act on about one person (``GET /v1/worklist``), fed by the
    watch and by other services' events (docs/decisions/0008). ``dedupe_key`` makes each
    source write one item per thing (a document's expiry, a referral's deadline), updated
    rather than repeated. Visibility is the person's (services.registry.access)."""

    __tablename__ = "worklist_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(30))
    profile_id: Mapped[str] = mapped_column(String(36))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    # the day it is about (expiry, deadline) in the country's calendar
    due_date: Mapped[date] = mapped_column(Date)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))  # open, acknowledged, resolved
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    assigned_to: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_worklist_items_status_due", "status", "due_date", "id"),
    )


class RenewalInProgress(Base):
    """A referral to a renewal or regularisation programme (the rules file's
    ``renewal_programme``), as the referrals service's events tell it: while one is open the
    person's document reminders stay off the worklist."""

    __tablename__ = "renewals_in_progress"

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    open: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


profiles_table = cast(Table, Profile.__table__)
documents_table = cast(Table, IdentityDocument.__table__)
consents_table = cast(Table, Consent.__table__)
audit_table = cast(Table, AuditEntry.__table__)
access_denials_table = cast(Table, AccessDenial.__table__)
name_tokens_table = cast(Table, NameToken.__table__)


watch_marks_table = cast(Table, DocumentWatchMark.__table__)
worklist_table = cast(Table, WorklistItem.__table__)
renewals_table = cast(Table, RenewalInProgress.__table__)
transfers_table = cast(Table, Transfer.__table__)
