"""Tables of organisations, their machine clients and the gateway's signing keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.base import Base
from shared.clock import utcnow
from shared.models import TimestampsMixin, VersionedMixin


class Organisation(TimestampsMixin, VersionedMixin, Base):
    """An NGO, provider, ministry or public employment service that uses the route."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    regions: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")


class Client(TimestampsMixin, VersionedMixin, Base):
    """A machine client (OAuth2 client credentials) of one organisation.

    Secrets are stored as argon2 hashes only. During a rotation the previous secret keeps
    working until ``previous_secret_expires_at`` so a partner can roll its deployments.
    """

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the OAuth client_id
    organisation_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON)
    secret_hash: Mapped[str] = mapped_column(String(200))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by: Mapped[str] = mapped_column(String(200))


class SigningKey(Base):
    """An ES256 key for access tokens. The private half is sealed with the data keys."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10), default="ES256")
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
