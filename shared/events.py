"""Events between services: the thin envelope, and the inbox that consumes them exactly once.

Producers write events to their outbox in the business transaction (``UnitOfWork.emit``).
A relay (the gateway's, see the events issue) delivers them at least once to each service's
``POST /internal/events``; the consumer records the event id in its inbox in the same
transaction as the handler's effects, so a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from shared.db import Database, UnitOfWork, utcnow
from shared.errors import Forbidden
from shared.http import DbDep
from shared.identity import CurrentIdentity, Role
from shared.tables import inbox_events


class EventEnvelope(BaseModel):
    """What every event carries: ids and changed field names, never personal data."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(max_length=36)
    type: str = Field(max_length=64)
    occurred_at: datetime
    subject_type: str = Field(max_length=40)
    subject_id: str = Field(max_length=64)
    subject_version: int | None = None
    organisation_id: str | None = None
    regions: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


Handler = Callable[[UnitOfWork, EventEnvelope], Awaitable[None]]


class EventConsumer:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers

    async def consume(self, *, db: Database, event: EventEnvelope) -> bool:
        """Handle one event once. Returns False when it was already handled (or is ignored)."""
        handler = self.handlers.get(event.type)
        if handler is None:
            return False
        async with db.uow() as uow:
            seen = await uow.session.scalar(
                select(inbox_events.c.event_id).where(inbox_events.c.event_id == event.event_id))
            if seen is not None:
                return False
            await handler(uow, event)
            await uow.session.execute(inbox_events.insert().values(
                event_id=event.event_id, type=event.type, handled_at=utcnow()))
            await uow.commit()
        return True


def event_router(consumer: EventConsumer) -> APIRouter:
    """``POST /internal/events``: reachable only with a system assertion (never routed by the
    gateway's public table)."""
    router = APIRouter(prefix="/internal", include_in_schema=False)

    @router.post("/events")
    async def receive(event: EventEnvelope, identity: CurrentIdentity,
                      db: DbDep) -> dict[str, bool]:
        if identity.role is not Role.SYSTEM:
            raise Forbidden()
        return {"handled": await consumer.consume(db=db, event=event)}

    return router
