"""The event hub: collect the services' outboxes into one ordered feed, fan events out to
webhook subscriptions and to the services that consume them.

Collection never reads "events after position N" from a service (a transaction committing
late with a lower position would be skipped for ever); it takes what the service has not
yet marked relayed, then acknowledges it. Feed positions are handed out under the counter
row's lock, so writers commit in position order and a reader polling ``position > cursor``
never skips one. Everything is at-least-once; the feed dedups by event id and consumers by
their inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import select, update

from gateway.events import metrics
from gateway.events.audience import (
    audience_of,
    delivery_payload,
    may_see,
    subscribed,
)
from gateway.events.models import (
    ConsumerCursor,
    EventAudience,
    FeedCounter,
    FeedEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.clock import utcnow
from shared.db import Database, UnitOfWork
from shared.identity import Identity, Role
from shared.outbox import EventEnvelope, envelope_from_row, with_trace
from shared.peers import Peers
from shared.tracing import continued, untraced

log = structlog.get_logger("ruta.events")

RELAY = Identity(subject="gateway-relay", role=Role.SYSTEM, organisation_id=None)


async def append_events(uow: UnitOfWork, source: str, events: Sequence[EventEnvelope]
                        ) -> list[tuple[int, EventEnvelope]]:
    """Add new events to the feed (ignoring ones already there) and queue their webhook
    deliveries, inside the caller's transaction. Returns what was added, with positions."""
    if not events:
        return []
    ids = [e.event_id for e in events]
    have = set((await uow.session.scalars(
        select(FeedEvent.event_id).where(FeedEvent.event_id.in_(ids)))).all())
    fresh = list({e.event_id: e for e in events if e.event_id not in have}.values())
    if not fresh:
        return []
    top = (await uow.session.execute(
        update(FeedCounter).where(FeedCounter.id == 1)
        .values(value=FeedCounter.value + len(fresh)).returning(FeedCounter.value))).scalar_one()
    first = int(top) - len(fresh) + 1
    now = utcnow()
    added = list(zip(range(first, first + len(fresh)), fresh, strict=True))
    subscriptions = (await uow.session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.status == "active"))).all()
    for position, e in added:
        audience = audience_of(e)
        uow.session.add(FeedEvent(
            position=position, event_id=e.event_id, source=source, type=e.type,
            occurred_at=e.occurred_at, recorded_at=now, subject_type=e.subject_type,
            subject_id=e.subject_id, subject_version=e.subject_version,
            organisation_id=e.organisation_id, regions=list(e.regions),
            data=with_trace(dict(e.data), e.traceparent)))
        for org in sorted(audience):
            uow.session.add(EventAudience(organisation_id=org, position=position))
        for sub in subscriptions:
            if subscribed(sub, e.type) and may_see(sub.owner_role, sub.organisation_id,
                                                   audience):
                uow.session.add(WebhookDelivery(
                    id=str(uuid.uuid4()), subscription_id=sub.id, kind="event",
                    event_id=e.event_id, event_position=position, event_type=e.type,
                    payload=with_trace(delivery_payload(e, position), e.traceparent),
                    status="pending", attempts=0,
                    next_attempt_at=now, created_at=now))
    return added


async def record_events(db: Database, source: str, events: Sequence[EventEnvelope]) -> int:
    async with db.uow() as uow:
        added = await append_events(uow, source, events)
        await uow.commit()
    metrics.events_added(source, added)
    return len(added)


class EventHub:
    """Moves events: services' outboxes → feed → consuming services (and webhook queue)."""

    def __init__(self, db: Database, peers: Peers, sources: Iterable[str]) -> None:
        self.db = db
        self.peers = peers
        self.sources = list(sources)
        self._consumed: dict[str, set[str]] = {}
        # set when the relay added events to the feed: the dispatcher and the delivery worker
        # of this process wake at once instead of polling the feed
        self.wake_dispatch = asyncio.Event()
        self.wake_delivery = asyncio.Event()

    async def relay_once(self, source: str, limit: int = 500, wait: float = 0) -> int:
        """Collect ``source``'s unrelayed events; with ``wait``, a long poll of its outbox."""
        params: dict[str, Any] = {"limit": limit}
        if wait:
            params["wait"] = wait
        with untraced():
            resp = await self.peers.request(source, "GET", "/internal/outbox",
                                            identity=RELAY, params=params)
            resp.raise_for_status()
            events = [EventEnvelope.model_validate(e) for e in resp.json()["events"]]
            metrics.outbox_polled(source, events)
            if not events:
                return 0
            added = await record_events(self.db, source, events)
            ack = await self.peers.request(source, "POST", "/internal/outbox/ack",
                                           identity=RELAY,
                                           json={"event_ids": [e.event_id for e in events]})
            ack.raise_for_status()
        return added

    async def consumed_types(self, service: str) -> set[str]:
        if service not in self._consumed:
            resp = await self.peers.request(service, "GET", "/internal/events/types",
                                            identity=RELAY)
            self._consumed[service] = set(resp.json()["types"]) if resp.status_code == 200 \
                else set()
        return self._consumed[service]

    async def dispatch_once(self, service: str, limit: int = 200) -> int:
        """Send a consuming service the feed events it handles, in order, at least once."""
        types = await self.consumed_types(service)
        consumer = f"service:{service}"
        async with self.db.uow() as uow:
            cursor = await uow.session.get(ConsumerCursor, consumer)
            start = cursor.position if cursor else 0
            # the counter first: every position up to it is committed (it moves with them)
            top = int(await uow.session.scalar(
                select(FeedCounter.value).where(FeedCounter.id == 1)) or 0)
            rows = [] if not types else list((await uow.session.scalars(
                select(FeedEvent).where(FeedEvent.position > start, FeedEvent.position <= top,
                                        FeedEvent.type.in_(sorted(types)))
                .order_by(FeedEvent.position).limit(limit))).all())
        last = start
        sent = 0
        for row in rows:
            envelope = envelope_from_row(row)
            with continued(envelope.traceparent, f"dispatch {row.type}", consumer=service):
                resp = await self.peers.request(service, "POST", "/internal/events",
                                                identity=RELAY,
                                                json=envelope.model_dump(mode="json"))
            if resp.status_code >= 300:
                log.warning("event_dispatch_failed", consumer=service, status=resp.status_code,
                            event_type=row.type)
                break
            last = row.position
            sent += 1
        else:
            if len(rows) < limit:
                last = max(last, top)  # nothing else of interest up to the counter
        if last != start:
            await self._save_cursor(consumer, start, last)
        metrics.consumer_at(service, last)
        return sent

    async def _save_cursor(self, consumer: str, start: int, last: int) -> None:
        async with self.db.uow() as uow:
            cursor = await uow.session.get(ConsumerCursor, consumer)
            if cursor is None:
                uow.session.add(ConsumerCursor(consumer=consumer, position=last,
                                               updated_at=utcnow()))
            elif cursor.position < last:
                cursor.position = last
                cursor.updated_at = utcnow()
            await uow.commit()

    async def relay_all(self) -> int:
        return sum([await self.relay_once(source) for source in self.sources])

    async def dispatch_all(self) -> int:
        return sum([await self.dispatch_once(service) for service in self.sources])

    async def run_once(self) -> int:
        return await self.relay_all() + await self.dispatch_all()

    async def run_forever(self, interval: float = 0.2, idle: float = 2.0) -> None:
        """One relay loop per service and one dispatch loop: a slow consumer never delays the
        feed, a quiet service never delays a busy one. Idle, the relay long-polls each outbox
        (woken by the service's commits) and the dispatcher waits for the relay: an idle
        system costs a few requests every ``idle`` seconds, not a poll of everything every
        ``interval`` (measured: that poll took ~6% of a core and lengthened the tail of
        requests that landed on it). ``interval`` is the pause after an error."""
        await asyncio.gather(*(self._relay_loop(s, interval, idle) for s in self.sources),
                             self._dispatch_loop(interval, idle))

    async def _relay_loop(self, source: str, interval: float, idle: float) -> None:
        while True:
            try:
                added = await self.relay_once(source, wait=idle)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.relay_failed(source)
                log.warning("event_hub_error", loop="relay", source=source,
                            error=type(exc).__name__)
                await asyncio.sleep(interval)
                continue
            if added:
                self.wake_dispatch.set()
                self.wake_delivery.set()

    async def _dispatch_loop(self, interval: float, idle: float) -> None:
        while True:
            self.wake_dispatch.clear()
            try:
                moved = await self.dispatch_all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event_hub_error", loop="dispatch", error=type(exc).__name__)
                await asyncio.sleep(interval)
                continue
            if not moved:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake_dispatch.wait(), idle)
