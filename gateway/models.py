from __future__ import annotations

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import TimestampsMixin, VersionedMixin


class Base(DeclarativeBase):
    metadata = MetaData()


class Organisation(TimestampsMixin, VersionedMixin, Base):
    """An NGO, provider, ministry or public employment service that uses the route."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    regions: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")
