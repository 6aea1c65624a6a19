"""The gateway's side of retention (shared/retention.py): the merged feed's catch-up window,
webhook deliveries, inbound callbacks and access-token signing keys, and the moment up to
which every consumer has been sent the feed (which bounds the services' outbox purge).

``categories`` lists every category of the databases this process reaches: the gateway's
own, and each service database's idempotency records and outbox.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, func, select

from gateway.events.models import (
    ConsumerCursor,
    DeliveryAttempt,
    EventAudience,
    FeedEvent,
    InboundMessage,
    WebhookDelivery,
)
from gateway.identity.models import SigningKey
from shared.clock import as_utc, utcnow
from shared.db import Database
from shared.retention import (
    Category,
    idempotency_category,
    outbox_category,
    registered,
    run_forever,
)
from shared.settings import SERVICES, Settings

_events = cast(Table, FeedEvent.__table__)
_audience = cast(Table, EventAudience.__table__)
_deliveries = cast(Table, WebhookDelivery.__table__)
_attempts = cast(Table, DeliveryAttempt.__table__)
_inbound = cast(Table, InboundMessage.__table__)
_signing_keys = cast(Table, SigningKey.__table__)


async def consumed_up_to(gateway: Database) -> tuple[int, datetime]:
    """The lowest feed position every consuming service has been sent, and when the first
    event after it was recorded (now when there is none): outbox rows relayed before that
    moment are in the feed *and* handed to every consumer. A service with no cursor yet has
    been sent nothing."""
    async with gateway.uow() as uow:
        cursors = {c: p for c, p in (await uow.session.execute(
            select(ConsumerCursor.consumer, ConsumerCursor.position))).all()}
        lowest = min(int(cursors.get(f"service:{s}", 0)) for s in SERVICES)
        first_pending = await uow.session.scalar(
            select(func.min(FeedEvent.recorded_at)).where(FeedEvent.position > lowest))
    return lowest, as_utc(first_pending) if first_pending else utcnow()


def gateway_categories(settings: Settings, consumed: int) -> list[Category]:
    feed_window = timedelta(days=settings.retention_feed_days)
    webhook_age = timedelta(days=settings.retention_webhook_days)
    inbound_age = timedelta(days=settings.retention_inbound_days)
    # a retired key signs nothing more; its last token expires one TTL later, and the JWKS
    # keeps publishing it for two (gateway/identity/keys.py)
    key_age = (timedelta(seconds=2 * settings.access_token_ttl_seconds)
               + timedelta(days=settings.retention_signing_key_grace_days))

    def feed(now: datetime) -> ColumnElement[bool]:
        return (_events.c.recorded_at < now - feed_window) & (_events.c.position <= consumed)

    def deliveries(now: datetime) -> ColumnElement[bool]:
        cutoff = now - webhook_age
        return (((_deliveries.c.status == "delivered") & (_deliveries.c.delivered_at < cutoff))
                | ((_deliveries.c.status == "failed") & (_deliveries.c.created_at < cutoff)))

    def inbound(now: datetime) -> ColumnElement[bool]:
        return (_inbound.c.received_at < now - inbound_age) & (_inbound.c.result != "processing")

    def signing_keys(now: datetime) -> ColumnElement[bool]:
        return _signing_keys.c.retired_at.is_not(None) & (_signing_keys.c.retired_at
                                                          < now - key_age)

    return [
        idempotency_category("gateway", settings),
        Category("feed_events", "gateway", _events, feed, dependents=[(_audience, "position")]),
        Category("webhook_deliveries", "gateway", _deliveries, deliveries,
                 dependents=[(_attempts, "delivery_id")]),
        Category("inbound_messages", "gateway", _inbound, inbound),
        Category("signing_keys", "gateway", _signing_keys, signing_keys),
    ]


async def categories(settings: Settings, databases: dict[str, Database]) -> list[Category]:
    """Every category of ``databases`` (which must include the gateway's), with those the
    composition root registered (the registry's audit log): the services' outboxes wait on
    the feed's consumers, so they need the gateway's cursors."""
    consumed, handled_before = await consumed_up_to(databases["gateway"])
    out = gateway_categories(settings, consumed)
    for name in SERVICES:
        if name in databases:
            out += [idempotency_category(name, settings),
                    outbox_category(name, settings, handled_before)]
    return out + registered(settings, databases)


def purge_task(settings: Settings, databases: dict[str, Database]) -> list[asyncio.Task[None]]:
    """The scheduled purge where this process runs background work (``ruta worker``, or the
    embedded shape with ``background_tasks``); none when ``retention_purge_enabled`` is off."""
    if not settings.retention_purge_enabled:
        return []

    async def categories_now() -> list[Category]:
        return await categories(settings, databases)

    return [asyncio.create_task(run_forever(databases, categories_now, settings),
                                name="retention-purge")]

