"""The event outbox: events written in the business transaction, relayed after it commits.

Producers queue events on the unit of work (``uow.emit``); :func:`insert_events` stores them in
the service's own ``outbox_events`` table in the same transaction as the change, so an event
exists exactly when its change does. The gateway's relay collects them through
``GET /internal/outbox`` (a long poll woken by :class:`OutboxSignal`) and acknowledges them.
Envelopes carry ids and changed field names, never personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import as_utc, utcnow
from shared.errors import Forbidden
from shared.identity import CurrentIdentity, Identity, Role
from shared.tables import outbox_events
from shared.tracing import current_traceparent

if TYPE_CHECKING:
    from shared.db import Database


@dataclass
class Event:
    """A domain event as a use case queues it."""

    type: str
    subject_type: str
    subject_id: str
    subject_version: int | None = None
    organisation_id: str | None = None
    regions: Sequence[str] = ()
    data: dict[str, Any] = field(default_factory=dict)


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
    # the W3C trace context of the request that caused the event (tracing on): consumers and
    # webhook deliveries continue that trace. Internal: the feed and webhooks never show it.
    traceparent: str | None = Field(default=None, max_length=55)


# Where a row (an outbox row, a feed row) keeps the traceparent: inside its ``data`` JSON, so
# no table changes; :func:`envelope_from_row` takes it out again, and readers never see it.
TRACE_KEY = "_traceparent"


def with_trace(data: dict[str, Any], traceparent: str | None) -> dict[str, Any]:
    return {**data, TRACE_KEY: traceparent} if traceparent else data


def without_trace(data: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (data or {}).items() if k != TRACE_KEY}


def envelope_from_row(row: Any) -> EventEnvelope:
    """An outbox or feed row as the envelope every consumer receives."""
    data = dict(row.data or {})
    traceparent = data.pop(TRACE_KEY, None)
    return EventEnvelope(
        event_id=row.event_id, type=row.type, occurred_at=as_utc(row.occurred_at),
        subject_type=row.subject_type, subject_id=row.subject_id,
        subject_version=row.subject_version, organisation_id=row.organisation_id,
        regions=list(row.regions or []), data=data,
        traceparent=traceparent if isinstance(traceparent, str) else None)


async def insert_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """Store queued events in the outbox, in the caller's transaction (with the current
    trace context when tracing is on)."""
    now = utcnow()
    traceparent = current_traceparent()
    await session.execute(outbox_events.insert(), [
        {"event_id": str(uuid.uuid4()), "type": e.type, "occurred_at": now,
         "subject_type": e.subject_type, "subject_id": e.subject_id,
         "subject_version": e.subject_version, "organisation_id": e.organisation_id,
         "regions": list(e.regions), "data": with_trace(e.data, traceparent)}
        for e in events])


class OutboxSignal:
    """Wakes the relay's long poll (``GET /internal/outbox?wait=``) in this process when a
    unit of work commits events, instead of the relay polling every service all the time.
    A commit in another process is found when the poll times out."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Future[None]]:
        """Watch from before the check for pending events, so a commit between the check and
        the wait is not missed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)

    def notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                with contextlib.suppress(RuntimeError):  # its loop has closed
                    waiter.set_result(None)


def require_system(identity: Identity) -> None:
    """Internal endpoints answer only a peer's system assertion, never a user's token."""
    if identity.role is not Role.SYSTEM:
        raise Forbidden()


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_ids: list[str] = Field(max_length=1000)


async def _unrelayed(db: Database, limit: int) -> list[Any]:
    async with db.uow() as uow:
        return list((await uow.session.execute(
            select(outbox_events).where(outbox_events.c.relayed_at.is_(None))
            .order_by(outbox_events.c.position).limit(max(1, min(limit, 1000))))).all())


def outbox_router() -> APIRouter:
    """``/internal/outbox``: what the gateway's relay collects (system assertion only).

    The database is the app's (``request.app.state.db``): this module sits below
    ``shared.db``, which stores events through it, so it cannot take the ``DbDep`` alias.
    """
    router = APIRouter(prefix="/internal/outbox", include_in_schema=False)

    @router.get("")
    async def pending(request: Request, identity: CurrentIdentity, limit: int = 500,
                      wait: Annotated[float, Query(ge=0, le=30)] = 0
                      ) -> dict[str, list[dict[str, Any]]]:
        """Events not yet relayed; with ``wait`` and none pending, a long poll: answers as
        soon as this process commits one, or after ``wait`` seconds."""
        require_system(identity)
        db: Database = request.app.state.db
        with db.root.outbox_signal.watch() as committed:
            rows = await _unrelayed(db, limit)
            if not rows and wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(committed, wait)
                rows = await _unrelayed(db, limit)
        return {"events": [envelope_from_row(r).model_dump(mode="json") for r in rows]}

    @router.post("/ack")
    async def ack(body: AckIn, request: Request, identity: CurrentIdentity) -> dict[str, int]:
        require_system(identity)
        db: Database = request.app.state.db
        async with db.uow() as uow:
            result = await uow.session.execute(
                update(outbox_events).where(outbox_events.c.event_id.in_(body.event_ids),
                                            outbox_events.c.relayed_at.is_(None))
                .values(relayed_at=utcnow()))
            await uow.commit()
        return {"acknowledged": int(result.rowcount or 0)}  # type: ignore[attr-defined]

    return router
