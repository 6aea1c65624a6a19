from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import IdMixin, TimestampsMixin, VersionedMixin


class Base(DeclarativeBase):
    metadata = MetaData()


class Profile(IdMixin, TimestampsMixin, VersionedMixin, Base):
    """A person registered once on the route. Personal columns are emptied on cancellation."""

    __tablename__ = "profiles"

    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    given_names: Mapped[str | None] = mapped_column(String(200))
    first_surname: Mapped[str | None] = mapped_column(String(100))
    second_surname: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    nationality: Mapped[str] = mapped_column(String(3))
    population_type: Mapped[str] = mapped_column(String(30))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index("ix_profiles_region_status", "region", "status"),)
