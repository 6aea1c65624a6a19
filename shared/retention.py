"""Retention: what each database forgets, when, and the purge that forgets it (issue 18).

Peru's Ley 29733 (and its regulation, D.S. 016-2024-JUS) and Ecuador's LOPDP (2021) ask that
personal data be kept no longer than its purpose needs. Each *category* below is one kind of
record whose purpose ends at a known moment (an idempotency key's TTL, an event handed to
every consumer, a delivered webhook...); the purge deletes what is past it, in batches, and
counts what went. The periods are settings (``RUTA_RETENTION_*``); the README's "Retention"
section gives each period and its reason.

Replica-safe: on PostgreSQL each batch runs under a transaction-scoped advisory lock taken
with ``pg_try_advisory_xact_lock``; a replica that cannot take it leaves that database to the
one that holds it for this run. SQLite runs in one process only, so no lock is needed.

The purge never reads a value: it selects keys, deletes them and counts rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy import ColumnElement, Table, delete, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.db import Database
from shared.metrics import record_job_success
from shared.settings import Settings
from shared.tables import idempotency_records, outbox_events

log = structlog.get_logger("ruta.retention")

PURGED = Counter("ruta_retention_purged_rows_total",
                 "Rows the retention purge deleted, by category", ["category"])

_LOCK = "ruta:retention-purge"

Condition = Callable[[datetime], ColumnElement[bool]]


@dataclass(frozen=True)
class Category:
    """One kind of record and the moment its purpose ends.

    ``table`` is deleted where ``condition(now)`` holds, by its primary key in batches;
    ``dependents`` are (table, column) pairs whose rows referencing a purged key go first
    (e.g. a delivery's attempts).
    """

    name: str
    database: str
    table: Table
    condition: Condition
    dependents: Sequence[tuple[Table, str]] = field(default_factory=tuple)

    async def count(self, session: AsyncSession, now: datetime) -> int:
        return int(await session.scalar(
            select(func.count()).select_from(self.table).where(self.condition(now))) or 0)

    async def purge_batch(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Deletes up to ``limit`` rows past their period (and their dependents)."""
        pk = list(self.table.primary_key.columns)
        keys = (await session.execute(
            # no ORDER BY: any rows past their period will do, and the scan of an index on
            # the condition stops at ``limit`` instead of sorting every match
            select(*pk).where(self.condition(now)).limit(limit))).all()
        if not keys:
            return 0
        if len(pk) == 1:
            values = [k[0] for k in keys]
            for dep_table, dep_col in self.dependents:
                await session.execute(delete(dep_table).where(dep_table.c[dep_col].in_(values)))
            await session.execute(delete(self.table).where(pk[0].in_(values)))
        else:
            await session.execute(delete(self.table).where(
                tuple_(*pk).in_([tuple(k) for k in keys])))
        return len(keys)


def idempotency_category(database: str, settings: Settings) -> Category:
    """A stored first response (which may name a person) is only needed while a retry may
    come: until its key expires (``idempotency_ttl_hours``), plus an optional grace."""
    grace = timedelta(hours=settings.retention_idempotency_grace_hours)
    return Category("idempotency_records", database, idempotency_records,
                    lambda now: idempotency_records.c.expires_at < now - grace)


def outbox_category(database: str, settings: Settings, handled_before: datetime) -> Category:
    """A service's outbox row is only needed until the feed holds it and every consumer has
    been sent it: relayed, ``retention_outbox_days`` ago, and before ``handled_before`` (the
    moment from which some consumer has still not been sent the feed; see
    gateway/events/retention.py)."""
    age = timedelta(days=settings.retention_outbox_days)

    def condition(now: datetime) -> ColumnElement[bool]:
        cutoff = min(now - age, handled_before)
        return outbox_events.c.relayed_at.is_not(None) & (outbox_events.c.relayed_at < cutoff)

    return Category("outbox_events", database, outbox_events, condition)


CategoryFactory = Callable[[Settings], Category]
_registered: dict[str, CategoryFactory] = {}


def register(name: str, factory: CategoryFactory) -> None:
    """A category of a database this package cannot name (a service's own table), added by
    the composition root (ruta/purge.py) so every process it starts purges it too."""
    _registered[name] = factory


def registered(settings: Settings, databases: Iterable[str]) -> list[Category]:
    present = set(databases)
    return [c for c in (f(settings) for f in _registered.values()) if c.database in present]


@dataclass(frozen=True)
class Outcome:
    category: str
    database: str
    rows: int
    failed: bool = False


async def _try_lock(session: AsyncSession) -> bool:
    return bool(await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": _LOCK}))


async def count_all(databases: dict[str, Database], categories: Iterable[Category],
                    now: datetime | None = None) -> list[Outcome]:
    """What a purge would delete now, per category (``ruta purge --dry-run``): counts only."""
    at = now or utcnow()
    out = []
    for cat in categories:
        async with databases[cat.database].uow() as uow:
            out.append(Outcome(cat.name, cat.database, await cat.count(uow.session, at)))
    return out


async def _purge_category(db: Database, cat: Category, at: datetime,
                          batch_size: int) -> int | None:
    """Deletes one category in committed batches; None when another replica holds this
    database's lock (PostgreSQL)."""
    total = 0
    while True:
        async with db.uow() as uow:
            if db.is_postgres and not await _try_lock(uow.session):
                return None
            n = await cat.purge_batch(uow.session, at, batch_size)
            await uow.commit()
        total += n
        if n < batch_size:
            return total


async def purge_all(databases: dict[str, Database], categories: Iterable[Category], *,
                    batch_size: int, now: datetime | None = None) -> list[Outcome]:
    """Deletes every category's rows past their period, one committed batch at a time (a
    long purge never holds one long transaction). A PostgreSQL database another replica is
    purging is skipped for this run; a database that fails (down, refusing) is skipped and
    its outcomes say ``failed``, and the others are still purged."""
    at = now or utcnow()
    out: list[Outcome] = []
    skipped: set[str] = set()
    failed: set[str] = set()
    for cat in categories:
        if cat.database in skipped | failed:
            out.append(Outcome(cat.name, cat.database, 0, failed=cat.database in failed))
            continue
        try:
            total = await _purge_category(databases[cat.database], cat, at, batch_size)
        except Exception as exc:
            failed.add(cat.database)
            log.warning("retention_purge_failed", database=cat.database, category=cat.name,
                        error=type(exc).__name__)
            out.append(Outcome(cat.name, cat.database, 0, failed=True))
            continue
        if total is None:
            skipped.add(cat.database)
            log.info("retention_purge_skipped", database=cat.database,
                     reason="another replica holds the lock")
            total = 0
        if total:
            PURGED.labels(cat.name).inc(total)
        out.append(Outcome(cat.name, cat.database, total))
    if not failed:
        record_job_success("retention_purge")
    log.info("retention_purge_done", **{f"{o.database}.{o.category}": o.rows for o in out})
    return out


CategoriesOf = Callable[[], Awaitable[list[Category]]]


async def run_forever(databases: dict[str, Database], categories_of: CategoriesOf,
                      settings: Settings) -> None:
    """The worker's scheduled purge: one run every ``retention_interval_seconds`` (the first
    after one interval, so a restart loop does not purge on every start)."""
    while True:
        await asyncio.sleep(settings.retention_interval_seconds)
        try:
            await purge_all(databases, await categories_of(),
                            batch_size=settings.retention_batch_size)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("retention_purge_failed", error=type(exc).__name__)
