"""Tables every service database has: idempotency records and the event outbox.

Core tables on their own MetaData, so each service's Alembic environment creates them next to
its own models and each service keeps them in its own database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

shared_metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for a log.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

idempotency_records = Table(
    "idempotency_records",
    shared_metadata,
    Column("client_id", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotency_records_expires_at", "expires_at"),
)

outbox_events = Table(
    "outbox_events",
    shared_metadata,
    Column("position", BigIntId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("subject_type", String(40), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("subject_version", Integer, nullable=True),
    Column("organisation_id", String(64), nullable=True),
    Column("regions", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    # Set when the gateway's relay has copied the event into the feed. The relay takes what
    # is not relayed yet, never "what is after position N": a transaction that commits late
    # with a lower position is still picked up (no hole in the feed).
    Column("relayed_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_events_type", "type"),
    Index("ix_outbox_events_pending", "relayed_at", "position"),
)

# Events this service has already handled (the inbox): written in the same transaction as the
# handler's effects, so a redelivered event changes nothing the second time.
inbox_events = Table(
    "inbox_events",
    shared_metadata,
    Column("event_id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)
