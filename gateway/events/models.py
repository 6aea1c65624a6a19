"""Tables of the event feed, webhook subscriptions and deliveries, and inbound callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.base import Base
from gateway.identity.models import Organisation
from shared.clock import utcnow
from shared.models import TimestampsMixin, VersionedMixin
from shared.tables import BigIntId


class FeedEvent(Base):
    """The merged, ordered event feed. Positions are handed out under the counter's row lock,
    so they become visible in order: a reader polling ``position > cursor`` never skips."""

    __tablename__ = "events"

    position: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_version: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[str | None] = mapped_column(String(64))
    regions: Mapped[list[str]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventAudience(Base):
    """Which organisations may see an event (owner and, e.g., a referral's provider)."""

    __tablename__ = "event_audience"

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)


class FeedCounter(Base):
    __tablename__ = "feed_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class ConsumerCursor(Base):
    """How far each service consuming events has been sent the feed."""

    __tablename__ = "consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedCursorRebinding(Base):
    """A feed cursor made before cursors named their caller ("legacy", owned by nobody) and
    the caller it was re-bound to when first presented: from then on only that caller may
    present it again (docs/decisions/0006-cursors-bound-to-caller.md)."""

    __tablename__ = "feed_cursor_rebindings"

    # sha256 of the cursor's decoded bytes: one row however its base64 was spelled
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    # CursorCodec.owner: keyed with the cursor secret, so no client id or person in the clear
    owner: Mapped[str] = mapped_column(String(24))
    organisation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(BigInteger)
    rebound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookSubscription(TimestampsMixin, VersionedMixin, Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)  # the client (token subject)
    organisation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    owner_role: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)  # sealed
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="active")
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_subscriptions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="event")  # event, replay, test
    event_id: Mapped[str] = mapped_column(String(36))
    event_position: Mapped[int | None] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      # the retention purge's look-up (gateway/retention.py)
                      Index("ix_webhook_deliveries_done", "status", "delivered_at"))


class DeliveryAttempt(Base):
    """Every attempt, written when it starts (so a worker killed mid-send leaves a trace)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(36), index=True)
    worker_id: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    latency_ms: Mapped[int | None] = mapped_column(Integer)


class InboundSource(TimestampsMixin, VersionedMixin, Base):
    """A ministry system allowed to call back (SUNEDU, MTPE, a professional college)."""

    __tablename__ = "inbound_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[str] = mapped_column(String(64), ForeignKey(Organisation.id))
    secret: Mapped[str] = mapped_column(Text)  # sealed whsec_ secret
    status: Mapped[str] = mapped_column(String(20), default="active")


class InboundMessage(Base):
    """Everything a source sent that passed the signature check, idempotent by webhook-id."""

    __tablename__ = "inbound_messages"

    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    type: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(20))  # processing, applied, rejected, failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(300))
