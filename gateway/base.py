"""The one declarative base of the gateway database.

Every room's tables (identity, events) sit on this one metadata: they live in one database,
reference each other (an inbound source belongs to an organisation), and Alembic
(migrations/gateway) autogenerates from it. ``gateway.models`` imports every room's models
so that the metadata is complete.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData()
