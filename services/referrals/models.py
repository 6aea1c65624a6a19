from __future__ import annotations

from sqlalchemy import JSON, Boolean, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import TimestampsMixin, VersionedMixin


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
