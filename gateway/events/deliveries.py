"""Use cases on a subscription's deliveries: a test ping, a replay, the delivery log.

They only queue deliveries: the delivery worker sends them, signed, like any other.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gateway.events.audience import audience_of, delivery_payload, may_see, subscribed
from gateway.events.errors import DeliveryNotFound, SubscriptionDisabled
from gateway.events.models import WebhookDelivery, WebhookSubscription
from gateway.events.repository import EventsRepository
from gateway.events.schemas import DeliveryOut, ReplayIn
from gateway.events.subscriptions import load_owned_subscription
from shared.clock import utcnow
from shared.db import Database
from shared.errors import ValidationFailed
from shared.i18n import Text
from shared.identity import Identity
from shared.outbox import envelope_from_row, with_trace
from shared.pagination import CursorCodec, Page

REPLAY_LIMIT = 10_000


async def queue_test(*, db: Database, identity: Identity, sub_id: str) -> DeliveryOut:
    async with db.uow() as uow:
        repo = EventsRepository(uow.session)
        sub = await load_owned_subscription(repo, identity, sub_id)
        if sub.status != "active":
            raise SubscriptionDisabled()
        now = utcnow()
        event_id = str(uuid.uuid4())
        payload = {"type": "webhook.test", "timestamp": now.isoformat().replace("+00:00", "Z"),
                   "data": {"subscription_id": sub.id}}
        d = WebhookDelivery(id=str(uuid.uuid4()), subscription_id=sub.id, kind="test",
                            event_id=event_id, event_type="webhook.test", payload=payload,
                            status="pending", attempts=0, next_attempt_at=now, created_at=now)
        repo.add(d)
        await uow.session.flush()
        out = DeliveryOut.model_validate(d)
        await uow.commit()
    return out


async def replay(*, db: Database, identity: Identity, sub_id: str, data: ReplayIn) -> int:
    """Send again one delivery, or every event since a time that this subscription matches."""
    if (data.delivery_id is None) == (data.since is None):
        raise ValidationFailed([("body", Text("Indique delivery_id o since (uno de los dos)",
                                              "Give delivery_id or since (exactly one)"))])
    now = utcnow()
    async with db.uow() as uow:
        repo = EventsRepository(uow.session)
        sub = await load_owned_subscription(repo, identity, sub_id)
        if data.delivery_id is not None:
            count = await _replay_delivery(repo, sub, data.delivery_id, now)
        else:
            assert data.since is not None
            count = await _replay_since(repo, sub, data.since, now)
        await uow.commit()
    return count


async def _replay_delivery(repo: EventsRepository, sub: WebhookSubscription,
                           delivery_id: str, now: datetime) -> int:
    old = await repo.delivery(delivery_id)
    if old is None or old.subscription_id != sub.id:
        raise DeliveryNotFound()
    repo.add(WebhookDelivery(
        id=str(uuid.uuid4()), subscription_id=sub.id, kind="replay",
        event_id=old.event_id, event_position=old.event_position,
        event_type=old.event_type, payload=old.payload, status="pending", attempts=0,
        next_attempt_at=now, created_at=now))
    return 1


async def _replay_since(repo: EventsRepository, sub: WebhookSubscription, since: datetime,
                        now: datetime) -> int:
    count = 0
    for r in await repo.feed_recorded_since(since, limit=REPLAY_LIMIT):
        env = envelope_from_row(r)
        if subscribed(sub, r.type) and may_see(sub.owner_role, sub.organisation_id,
                                               audience_of(env)):
            repo.add(WebhookDelivery(
                id=str(uuid.uuid4()), subscription_id=sub.id, kind="replay",
                event_id=r.event_id, event_position=r.position, event_type=r.type,
                payload=with_trace(delivery_payload(env, r.position), env.traceparent),
                status="pending",
                attempts=0, next_attempt_at=now, created_at=now))
            count += 1
    return count


async def list_deliveries(*, db: Database, identity: Identity, cursors: CursorCodec,
                          sub_id: str, status: str | None, cursor: str | None, limit: int
                          ) -> Page[DeliveryOut]:
    filters = {"sub": sub_id, "status": status}
    before = cursors.decode(cursor, "deliveries", filters, caller=identity) if cursor else None
    async with db.uow() as uow:
        repo = EventsRepository(uow.session)
        await load_owned_subscription(repo, identity, sub_id)
        rows = await repo.deliveries(sub_id=sub_id, status=status,
                                     after=before[0] if before else None, limit=limit + 1)
        items = [DeliveryOut.model_validate(d) for d in rows[:limit]]
    nxt = (cursors.encode("deliveries", filters, [items[-1].id], caller=identity)
           if len(rows) > limit else None)
    return Page(items=items, next_cursor=nxt)
