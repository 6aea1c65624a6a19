"""The candidates projection: the people who consented to be matched with an organisation's
vacancies (purpose ``job_matching``), kept from the registry's and the credentials service's
events (``projection.py``) so a vacancy's candidates are ranked without asking the registry
about each person. Only what matching reads and the initials shown; a person without a live
``job_matching`` consent has no row at all.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.referrals.models import Base


class MatchPerson(Base):
    __tablename__ = "match_people"
    __table_args__ = (Index("ix_match_people_country_region", "country", "region"),)

    profile_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(6))
    initials: Mapped[str | None] = mapped_column(String(12), nullable=True)
    years_experience: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # occupations, experience, languages, work documents (type, expiry), credentials' facts
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatchConsent(Base):
    """The person may be listed among ``organisation_id``'s candidates (until ``valid_until``)."""

    __tablename__ = "match_consents"
    __table_args__ = (Index("ix_match_consents_profile", "profile_id"),)

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("match_people.profile_id", ondelete="CASCADE"),
        primary_key=True)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class MatchOccupation(Base):
    """One of the person's occupations (ISCO-08 code): a vacancy finds the people within its
    reach (same sub-major group) by an index range on ``isco``."""

    __tablename__ = "match_occupations"
    __table_args__ = (Index("ix_match_occupations_isco", "isco", "profile_id"),)

    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("match_people.profile_id", ondelete="CASCADE"),
        primary_key=True)
    isco: Mapped[str] = mapped_column(String(4), primary_key=True)


REACH_COLUMNS = ("organisation_id", "country", "isco", "profile_id", "valid_until", "region",
                 "years", "years_experience", "declared_experience", "wa_until", "languages")


class MatchCandidate(Base):
    """What ranking a vacancy's candidates reads, one row per consent and occupation code:
    a vacancy's organisation, country and ISCO sub-major range are one index range, and the
    row carries the person's scalar facts so the ranking statement needs no other table but
    ``match_credentials`` (decision 0016). Rewritten with the person's other rows."""

    __tablename__ = "match_candidates"
    __table_args__ = (
        Index("ix_match_candidates_profile", "profile_id"),
        # covering: a vacancy's reach is read from the index alone (an index-only scan on
        # PostgreSQL), however large a share of the table a common occupation is
        Index("ix_match_candidates_reach", *REACH_COLUMNS),
    )

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    isco: Mapped[str] = mapped_column(String(4), primary_key=True)
    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("match_people.profile_id", ondelete="CASCADE"),
        primary_key=True)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)
    region: Mapped[str] = mapped_column(String(6))
    # declared years in this code (experience), else NULL
    years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    years_experience: Mapped[int | None] = mapped_column(Integer, nullable=True)
    declared_experience: Mapped[bool] = mapped_column(Boolean)
    # the latest expiry of a document authorising work in the country (9999-12-31 when it
    # does not expire); NULL: none. In force on a day when >= that day, else lapsed.
    wa_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    languages: Mapped[str | None] = mapped_column(String(200), nullable=True)  # |es|en|


class MatchCredential(Base):
    """A live credential of a consenting person, as matching judges it (kind, recognition
    state, ISCED field, ISCO occupation, issuing country, expiry)."""

    __tablename__ = "match_credentials"

    profile_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("match_people.profile_id", ondelete="CASCADE"),
        primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(32))
    field_isced: Mapped[str | None] = mapped_column(String(8), nullable=True)
    occupation_isco: Mapped[str | None] = mapped_column(String(4), nullable=True)
    issuer_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
