"""Tables of the credentials database.

Personal free text (exact title, issuer, resolution numbers, evidence references, reasons)
is emptied when the person's profile is erased; kinds, states and classification codes stay,
so counts still add up.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import IdMixin, TimestampsMixin, VersionedMixin
from shared.tables import BigIntId


class Base(DeclarativeBase):
    metadata = MetaData()


class Credential(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A degree, licence, certification, training completion or language held by a person."""

    __tablename__ = "credentials"

    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    # Copied from the profile when the credential is added: object-level checks need no call.
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(30))
    # The exact title as written on the document (null once the person is erased).
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(30), default="self_declared")
    created_by: Mapped[str] = mapped_column(String(200))

    field_isced: Mapped[str | None] = mapped_column(String(4))
    occupation_isco: Mapped[str | None] = mapped_column(String(4))
    level: Mapped[str | None] = mapped_column(String(60))
    language: Mapped[str | None] = mapped_column(String(3))

    issuer_name: Mapped[str | None] = mapped_column(String(300))
    issuer_country: Mapped[str | None] = mapped_column(String(2))
    issuer_identifier: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"))

    # Skills certification (MTPE / SETEC)
    competency_standard_code: Mapped[str | None] = mapped_column(String(60))
    competency_standard_name: Mapped[str | None] = mapped_column(String(300))
    certifying_body: Mapped[str | None] = mapped_column(String(300))
    assessment_date: Mapped[date | None] = mapped_column(Date)

    # Training completion (Emprende Segur@ modules)
    training_module: Mapped[str | None] = mapped_column(String(40))
    training_hours: Mapped[int | None] = mapped_column(Integer)

    # Recognition of a foreign degree (set by the ``recognise`` transition only)
    recognition_body: Mapped[str | None] = mapped_column(String(40))
    recognition_resolution: Mapped[str | None] = mapped_column(String(100))
    recognition_date: Mapped[date | None] = mapped_column(Date)
    # The organisation that recognised it (the catalogue provider of the recognition
    # programme, e.g. ``sunedu``): only it and admins may suspend or revoke the recognition.
    recognising_organisation_id: Mapped[str | None] = mapped_column(String(64))

    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_from: Mapped[str | None] = mapped_column(String(30))
    # Set when the person's profile is erased: hidden from every read, kept for counts.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_credentials_profile_kind_status", "profile_id", "kind", "status"),
    )


class CredentialTransition(Base):
    """Every change of verification state: who, when, why. Append-only."""

    __tablename__ = "credential_transitions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    credential_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("credentials.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'"))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(30))
    actor_organisation_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IssuerKey(Base):
    """The credentials service's own ES256 keys that sign verifiable credentials.

    The private key is sealed (AES-256-GCM with a data key from RUTA_DATA_KEYS, bound to the
    kid); one key is active, retired keys keep verifying what they signed.
    """

    __tablename__ = "issuer_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key: Mapped[str] = mapped_column(Text)
    data_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StatusList(Base):
    """A Bitstring Status List: one index space, published once per purpose
    (``…/status/{id}/revocation`` and ``…/status/{id}/suspension``)."""

    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatusEntry(Base):
    """A credential's index in a status list, taken (at random) when it is first exported.

    The bits are not stored: they are the credential's state (revoked, suspended) read in the
    same database, so the list can never disagree with the lifecycle.
    """

    __tablename__ = "status_entries"

    credential_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("credentials.id", ondelete="CASCADE"), primary_key=True)
    list_id: Mapped[str] = mapped_column(String(36), ForeignKey("status_lists.id"))
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("list_id", "position", name="uq_status_entries_slot"),)


class VcIssuance(Base):
    """Each exported verifiable credential: which, signed with which key, by whom, when."""

    __tablename__ = "vc_issuances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    credential_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("credentials.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(64), ForeignKey("issuer_keys.kid"))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How the holder was named: ``hash`` (salted, the default) or ``name`` (the person asked).
    subject_disclosure: Mapped[str] = mapped_column(String(10), default="hash",
                                                    server_default="hash")
