"""Events between services: the thin envelope, and the inbox that consumes them exactly once.

Producers write events to their outbox in the business transaction (``UnitOfWork.emit``).
A relay (the gateway's, see the events issue) delivers them at least once to each service's
``POST /internal/events``; the consumer records the event id in its inbox in the same
transaction as the handler's effects, so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from shared.db import Database, UnitOfWork, as_utc, utcnow
from shared.errors import Forbidden
from shared.http import DbDep
from shared.identity import CurrentIdentity, Role
from shared.tables import inbox_events, outbox_events


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

    @router.get("/events/types")
    async def consumed_types(identity: CurrentIdentity) -> dict[str, list[str]]:
        if identity.role is not Role.SYSTEM:
            raise Forbidden()
        return {"types": sorted(consumer.handlers)}

    @router.post("/events")
    async def receive(event: EventEnvelope, identity: CurrentIdentity,
                      db: DbDep) -> dict[str, bool]:
        if identity.role is not Role.SYSTEM:
            raise Forbidden()
        return {"handled": await consumer.consume(db=db, event=event)}

    return router


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_ids: list[str] = Field(max_length=1000)


def outbox_router() -> APIRouter:
    """``/internal/outbox``: what the gateway's relay collects (system assertion only)."""
    router = APIRouter(prefix="/internal/outbox", include_in_schema=False)

    async def unrelayed(db: Database, limit: int) -> list[Any]:
        async with db.uow() as uow:
            return list((await uow.session.execute(
                select(outbox_events).where(outbox_events.c.relayed_at.is_(None))
                .order_by(outbox_events.c.position).limit(max(1, min(limit, 1000))))).all())

    @router.get("")
    async def pending(identity: CurrentIdentity, db: DbDep, limit: int = 500,
                      wait: Annotated[float, Query(ge=0, le=30)] = 0
                      ) -> dict[str, list[dict[str, Any]]]:
        """Events not yet relayed; with ``wait`` and none pending, a long poll: answers as
        soon as this process commits one, or after ``wait`` seconds."""
        if identity.role is not Role.SYSTEM:
            raise Forbidden()
        with db.root.outbox_signal.watch() as committed:
            rows = await unrelayed(db, limit)
            if not rows and wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(committed, wait)
                rows = await unrelayed(db, limit)
        return {"events": [
            EventEnvelope(event_id=r.event_id, type=r.type, occurred_at=as_utc(r.occurred_at),
                          subject_type=r.subject_type, subject_id=r.subject_id,
                          subject_version=r.subject_version, organisation_id=r.organisation_id,
                          regions=list(r.regions or []), data=dict(r.data or {})
                          ).model_dump(mode="json")
            for r in rows]}

    @router.post("/ack")
    async def ack(body: AckIn, identity: CurrentIdentity, db: DbDep) -> dict[str, int]:
        if identity.role is not Role.SYSTEM:
            raise Forbidden()
        async with db.uow() as uow:
            result = await uow.session.execute(
                update(outbox_events).where(outbox_events.c.event_id.in_(body.event_ids),
                                            outbox_events.c.relayed_at.is_(None))
                .values(relayed_at=utcnow()))
            await uow.commit()
        return {"acknowledged": int(result.rowcount or 0)}  # type: ignore[attr-defined]

    return router
