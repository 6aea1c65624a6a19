from __future__ import annotations

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import IdMixin, TimestampsMixin, VersionedMixin


class Base(DeclarativeBase):
    metadata = MetaData()


class Credential(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A degree, licence, certification or training completion held by a person."""

    __tablename__ = "credentials"

    profile_id: Mapped[str] = mapped_column(String(36), index=True)
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    region: Mapped[str | None] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(30), default="self_declared")
    created_by: Mapped[str] = mapped_column(String(200))
