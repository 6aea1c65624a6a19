"""Service levels: due dates from the provider's SLA, what "overdue" means, and the periodic
job that announces overdue referrals.

A referral is overdue when it waits for the provider past a deadline:

* ``requested`` past ``due_accept_at`` (the provider has not answered), or
* ``accepted`` / ``in_progress`` past ``due_complete_at`` (the clock stops while on hold,
  and resuming moves the deadline by the time spent on hold).

The job (:func:`mark_overdue`; ``ruta mark-overdue``; every minute inside the service) emits
``referral.overdue`` once per referral and deadline. It claims the rows it announces in one
statement — ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) AND … IS NULL RETURNING``
on PostgreSQL — so replicas running it at the same time never announce a referral twice.
SQLite has one writer (transactions begin IMMEDIATE), which serialises the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Table, and_, or_, select, update

from services.referrals.lifecycle import COMPLETION_CLOCK, Status
from services.referrals.models import Referral
from shared.clock import as_utc, utcnow
from shared.db import Database
from shared.outbox import Event

log = structlog.get_logger("ruta.referrals.sla")

OVERDUE_INTERVAL_SECONDS = 60.0
BATCH = 500


def add_days(start: datetime, days: int, *, working: bool) -> datetime:
    """``start`` plus ``days`` days, counting only Monday to Friday when ``working``
    (national holidays are not modelled: deadlines are a day early at worst)."""
    if not working:
        return start + timedelta(days=days)
    out, left = start, days
    while left > 0:
        out += timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out


def is_overdue(status: str, due_accept_at: datetime, due_complete_at: datetime,
               now: datetime) -> bool:
    if status == Status.REQUESTED:
        return as_utc(due_accept_at) < now
    if status in COMPLETION_CLOCK:
        return as_utc(due_complete_at) < now
    return False


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`is_overdue` (the ``overdue`` filter of the list)."""
    return or_(
        and_(Referral.status == Status.REQUESTED.value, Referral.due_accept_at < now),
        and_(Referral.status.in_([s.value for s in COMPLETION_CLOCK]),
             Referral.due_complete_at < now),
    )


PHASES: dict[str, tuple[Any, Any, Sequence[str]]] = {
    # phase: (deadline column, notified column, statuses on that clock)
    "accept": (Referral.due_accept_at, Referral.accept_overdue_notified_at,
               (Status.REQUESTED.value,)),
    "complete": (Referral.due_complete_at, Referral.complete_overdue_notified_at,
                 tuple(s.value for s in COMPLETION_CLOCK)),
}


def overdue_event(row: Any, phase: str, due: datetime) -> Event:
    return Event(
        type="referral.overdue", subject_type="referral", subject_id=row.id,
        subject_version=row.version, organisation_id=row.referring_organisation_id,
        regions=[row.region],
        data={"profile_id": row.profile_id, "programme_id": row.programme_id,
              "provider_id": row.provider_id,
              "provider_organisation_id": row.provider_organisation_id,
              "referring_organisation_id": row.referring_organisation_id,
              "pathway_id": row.pathway_id, "status": row.status, "phase": phase,
              "due_at": as_utc(due).isoformat(),
              "organisations": list(dict.fromkeys([row.referring_organisation_id,
                                                   row.provider_organisation_id]))})


async def mark_overdue(*, db: Database, now: datetime | None = None, batch: int = BATCH) -> int:
    """Announce the referrals that became overdue since the last run; returns how many."""
    now = now or utcnow()
    announced = 0
    table = Referral.__table__
    assert isinstance(table, Table)
    async with db.uow() as uow:
        for phase, (due_col, notified_col, statuses) in PHASES.items():
            pick = (select(Referral.id)
                    .where(Referral.status.in_(statuses), due_col < now,
                           notified_col.is_(None))
                    .order_by(due_col).limit(batch))
            if db.is_postgres:
                pick = pick.with_for_update(skip_locked=True)
            result = await uow.session.execute(
                update(table)
                .where(table.c.id.in_(pick),
                       table.c[notified_col.key].is_(None))
                .values({notified_col.key: now})
                .returning(table.c.id, table.c.version, table.c.profile_id,
                           table.c.programme_id, table.c.provider_id,
                           table.c.provider_organisation_id,
                           table.c.referring_organisation_id, table.c.region,
                           table.c.pathway_id, table.c.status, table.c[due_col.key])
                .execution_options(synchronize_session=False))
            for row in result.all():
                uow.emit(overdue_event(row, phase, row._mapping[due_col.key]))
                announced += 1
        await uow.commit()
    if announced:
        log.info("referrals_overdue", count=announced)
    return announced


async def run_periodically(db: Database, interval: float) -> None:
    """The in-process job: every ``interval`` seconds until cancelled; a failed run is logged
    and retried at the next tick (never kills the service). It also closes the vacancies
    whose ``valid_until`` has passed."""
    from services.referrals.vacancies.usecases import close_expired

    while True:
        await asyncio.sleep(interval)
        try:
            await mark_overdue(db=db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next tick retries
            log.warning("mark_overdue_failed", exc_type=type(exc).__name__)
        try:  # vacancies past their last day close on the same tick (issue 20)
            await close_expired(db=db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("close_vacancies_failed", exc_type=type(exc).__name__)
