"""Queries of the feed, webhook subscriptions and deliveries, and inbound callbacks, for the
use cases. Runs queries and never commits: the use case owns the transaction. (The hub and
the delivery worker, which move events rather than answer requests, keep their own.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.models import (
    EventAudience,
    FeedCursorRebinding,
    FeedEvent,
    InboundMessage,
    InboundSource,
    WebhookDelivery,
    WebhookSubscription,
)


class EventsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def feed(self, *, after: int, types: Sequence[str], audience: str | None,
                   limit: int) -> list[Any]:
        """Events after a position, oldest first; with ``audience``, only those that
        organisation may see (None: every event, for an administrator). Rows, not ORM
        objects: a page is read-only, and building 100 mapped objects was most of a poll's
        CPU (docs/decisions/0017)."""
        q = select(*FeedEvent.__table__.c).where(FeedEvent.position > after)
        if types:
            q = q.where(FeedEvent.type.in_(types))
        if audience is not None:
            q = q.join(EventAudience, and_(EventAudience.position == FeedEvent.position,
                                           EventAudience.organisation_id == audience))
        return list((await self.session.execute(
            q.order_by(FeedEvent.position).limit(limit))).all())

    async def feed_recorded_since(self, since: datetime, *, limit: int) -> list[FeedEvent]:
        return list((await self.session.scalars(
            select(FeedEvent).where(FeedEvent.recorded_at >= since)
            .order_by(FeedEvent.position).limit(limit))).all())

    async def rebind_legacy_cursor(self, *, digest: str, owner: str,
                                   organisation_id: str | None, position: int,
                                   now: datetime) -> str:
        """Who a legacy feed cursor belongs to: ``owner`` if nobody had presented it yet (the
        row is written now), else whoever did first. Two callers presenting it at once agree:
        the insert does nothing on a conflict and the read sees the winner's row."""
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        await self.session.execute(dialect.insert(FeedCursorRebinding).values(
            digest=digest, owner=owner, organisation_id=organisation_id, position=position,
            rebound_at=now).on_conflict_do_nothing(index_elements=["digest"]))
        holder = await self.session.scalar(select(FeedCursorRebinding.owner).where(
            FeedCursorRebinding.digest == digest))
        return str(holder)

    async def subscription(self, sub_id: str) -> WebhookSubscription | None:
        return await self.session.get(WebhookSubscription, sub_id)

    async def subscriptions(self, *, organisation_id: str | None, limit: int
                            ) -> list[WebhookSubscription]:
        """Oldest first; with ``organisation_id``, only that organisation's (None: all)."""
        q = select(WebhookSubscription).order_by(WebhookSubscription.created_at).limit(limit)
        if organisation_id is not None:
            q = q.where(WebhookSubscription.organisation_id == organisation_id)
        return list((await self.session.scalars(q)).all())

    async def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id)

    async def deliveries(self, *, sub_id: str, status: str | None, after: str | None,
                         limit: int) -> list[WebhookDelivery]:
        q = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)
        if status:
            q = q.where(WebhookDelivery.status == status)
        if after:
            q = q.where(WebhookDelivery.id > after)
        return list((await self.session.scalars(
            q.order_by(WebhookDelivery.id).limit(limit))).all())

    async def source(self, source_id: str) -> InboundSource | None:
        return await self.session.get(InboundSource, source_id)

    async def sources(self) -> list[InboundSource]:
        return list(await self.session.scalars(select(InboundSource).order_by(InboundSource.id)))

    async def inbound_message(self, source_id: str, webhook_id: str) -> InboundMessage | None:
        return await self.session.get(InboundMessage, (source_id, webhook_id))

    def add(self, obj: object) -> None:
        self.session.add(obj)
