"""The inbox: a service consumes each event exactly once.

A relay (the gateway's) delivers events at least once to each service's
``POST /internal/events``; the consumer records the event id in its inbox in the same
transaction as its handlers' effects, so a redelivery changes nothing. Several handlers may
subscribe to one event type (the referrals workflow and the reports' projection both follow
``profile.erased``): they run in the order they were added, in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from shared.clock import utcnow
from shared.db import Database, UnitOfWork
from shared.deps import DbDep
from shared.identity import CurrentIdentity
from shared.outbox import EventEnvelope, require_system
from shared.tables import inbox_events
from shared.tracing import continued

Handler = Callable[[UnitOfWork, EventEnvelope], Awaitable[Any]]


class EventConsumer:
    """Handlers by event type; each type keeps a list, so adding never overrides."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def add(self, types: str | Iterable[str], handler: Handler) -> EventConsumer:
        for kind in [types] if isinstance(types, str) else types:
            self._handlers.setdefault(kind, []).append(handler)
        return self

    @property
    def types(self) -> list[str]:
        return sorted(self._handlers)

    def handlers_for(self, kind: str) -> list[Handler]:
        return list(self._handlers.get(kind, ()))

    async def consume(self, *, db: Database, event: EventEnvelope) -> bool:
        """Handle one event once. Returns False when it was already handled (or is ignored)."""
        handlers = self._handlers.get(event.type)
        if not handlers:
            return False
        with continued(event.traceparent, f"consume {event.type}", event_type=event.type):
            return await self._consume(db, event, handlers)

    async def _consume(self, db: Database, event: EventEnvelope, handlers: list[Handler]
                       ) -> bool:
        async with db.uow() as uow:
            seen = await uow.session.scalar(
                select(inbox_events.c.event_id).where(inbox_events.c.event_id == event.event_id))
            if seen is not None:
                return False
            for handler in handlers:
                await handler(uow, event)
            await uow.session.execute(inbox_events.insert().values(
                event_id=event.event_id, type=event.type, handled_at=utcnow()))
            await uow.commit()
        return True


def event_router(consumer: EventConsumer) -> APIRouter:
    """``POST /internal/events``: reachable only with a system assertion (never routed by the
    gateway's public table)."""
    router = APIRouter(prefix="/internal", include_in_schema=False)

    @router.get("/events/types")
    async def consumed_types(identity: CurrentIdentity) -> dict[str, list[str]]:
        require_system(identity)
        return {"types": consumer.types}

    @router.post("/events")
    async def receive(event: EventEnvelope, identity: CurrentIdentity,
                      db: DbDep) -> dict[str, bool]:
        require_system(identity)
        return {"handled": await consumer.consume(db=db, event=event)}

    return router
