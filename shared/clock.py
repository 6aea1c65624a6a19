"""Time as the system stores it: aware UTC datetimes, on SQLite too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored datetime here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# A response field read from the database: always with its offset (RFC 3339), on SQLite too.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
