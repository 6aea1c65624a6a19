"""The document-expiry watch: a right to work that does not lapse unnoticed (issue 19).

Which documents authorise work in which country, and the horizons (60/30/7 days before
expiry by default; ``RUTA_DOCUMENT_WATCH_HORIZONS_DAYS`` overrides them) come from
``shared/work_authorisation.json``. Days are the country's (America/Lima,
America/Guayaquil: :func:`shared.work_authorisation.today_in`), the country being the one of
the person's region.

For each work-authorising document of an active person the job (:func:`watch_documents`;
``ruta watch-documents``; every ``RUTA_DOCUMENT_WATCH_INTERVAL_SECONDS`` inside the registry)
emits ``document.expiring`` when the smallest horizon its days left have reached was not
announced yet, and ``document.expired`` once it has lapsed. A document that jumped past
several horizons between two runs is announced at the one it is in. The registry consumes
these events itself (services.registry.usecases.worklist.on_document_event) to put the
item on the worklist, as it does the referrals service's events: the run writes only the
claim and the event, so it costs little more than finding the due documents.

Once per document, expiry date and horizon, across replicas and restarts: each candidate is
claimed by inserting its row in ``document_watch_marks`` (unique key) in the same transaction
as its outbox event, with ``ON CONFLICT DO NOTHING ... RETURNING``. On PostgreSQL a replica
racing for the same row waits on the unique index until the first commits, then inserts
nothing and announces nothing; SQLite has one writer (transactions begin IMMEDIATE). Each
candidate window is a range of the index on the expiry date (bench/document_watch.py shows
the plan).

The same run puts granted consents that expire within ``CONSENT_HORIZON_DAYS`` on the
worklist (``consent_expiring``; no event: the consent's own ``valid_until`` is the fact).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import Row, exists, select, text
from sqlalchemy.dialects import postgresql, sqlite

from services.registry.models import (
    ProfileStatus,
    consents_table,
    documents_table,
    profiles_table,
    watch_marks_table,
)
from services.registry.worklist import Kind, add_many
from shared.clock import as_utc, utcnow
from shared.db import Database, UnitOfWork
from shared.metrics import record_job_success
from shared.outbox import Event
from shared.settings import Settings
from shared.work_authorisation import COUNTRY_ZONES, WorkAuthorisationRules, rules, today_in

log = structlog.get_logger("ruta.registry.watch")

D = documents_table.c
P = profiles_table.c
C = consents_table.c
M = watch_marks_table.c

EXPIRED = 0  # the horizon of a lapsed document's mark
BATCH = 5000
SQLITE_BATCH = 1000  # one multi-row INSERT of marks: within SQLite's bound parameters
CONSENT_HORIZON_DAYS = 30


@dataclass(frozen=True)
class WatchConfig:
    """``horizons``: decreasing, in days; ``lookback_days``: how long after expiry a lapse the
    watch never saw is still announced (it is a watch, not a backfill of old lapses)."""

    horizons: tuple[int, ...]
    lookback_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings | None,
                      table: WorkAuthorisationRules | None = None) -> WatchConfig:
        table = table or rules()
        configured = settings.document_watch_horizons_days if settings else None
        horizons = tuple(sorted(set(configured or table.horizons_days), reverse=True))
        lookback = settings.document_watch_expired_lookback_days if settings else 30
        return cls(horizons=horizons, lookback_days=lookback)


@dataclass
class WatchOutcome:
    expiring: int = 0
    expired: int = 0
    consents: int = 0
    by_horizon: dict[int, int] = field(default_factory=dict)


def windows(today: date, config: WatchConfig) -> list[tuple[int, date, date]]:
    """``(horizon, first expiry date, last expiry date)`` of each announcement on ``today``:
    a document is in the window of the smallest horizon its days left have reached
    (7: 0..7 days left, 30: 8..30, 60: 31..60), or in the expired one (lapsed since the
    lookback)."""
    out = [(EXPIRED, today - timedelta(days=config.lookback_days), today - timedelta(days=1))]
    lower = 0
    for h in sorted(config.horizons):
        out.append((h, today + timedelta(days=lower), today + timedelta(days=h)))
        lower = h + 1
    return out


def due_statement(*, country: str, types: Sequence[str], horizon: int, first: date,
                  last: date, limit: int) -> Any:
    """The documents due for one announcement: in the window, of a type that authorises
    work in the person's country, of an active person there, not yet announced."""
    announced = exists().where(M.document_id == D.id, M.expiry_date == D.expiry_date,
                               M.horizon_days == horizon)
    return (select(D.id, D.profile_id, D.doc_type, D.expiry_date, P.organisation_id,
                   P.region)
            .join(profiles_table, P.id == D.profile_id)
            .where(D.expiry_date >= first, D.expiry_date <= last,
                   D.doc_type.in_(list(types)), P.country == country,
                   P.status == ProfileStatus.ACTIVE, ~announced)
            .order_by(D.expiry_date, D.id).limit(limit))


def document_event(kind: str, row: Any, *, country: str, today: date,
                   horizon: int | None) -> Event:
    """``document.expiring`` / ``document.expired``: thin, ids and dates only."""
    return Event(
        type=kind, subject_type="document", subject_id=row.id,
        organisation_id=row.organisation_id, regions=[row.region],
        data={"profile_id": row.profile_id, "document_type": row.doc_type,
              "expiry_date": row.expiry_date.isoformat(), "authorises_work": True,
              "days_left": (row.expiry_date - today).days, "horizon_days": horizon,
              "country": country})


async def _claim(uow: UnitOfWork, rows: Sequence[Row[Any]], horizon: int, now: datetime,
                 is_postgres: bool) -> set[str]:
    """Insert the marks of ``rows``; the ids whose mark this transaction inserted."""
    if not rows:
        return set()
    ins = (postgresql.insert if is_postgres else sqlite.insert)(watch_marks_table)
    result = await uow.session.execute(
        ins.values([{"document_id": r.id, "expiry_date": r.expiry_date, "horizon_days": horizon,
                     "profile_id": r.profile_id, "announced_at": now} for r in rows])
        .on_conflict_do_nothing(index_elements=["expiry_date", "document_id", "horizon_days"])
        .returning(M.document_id))
    return set(result.scalars().all())


# PostgreSQL: one statement per batch does what the portable path below does row by row —
# select the due documents, claim them, store their events — so a run costs little more
# than the statement that finds them (bench/document_watch.py). The
# event data is built by json_build_object with the same fields as document_event(); the
# tests run this path on PostgreSQL and the portable one on SQLite, both checked against
# the event catalogue.
PG_ANNOUNCE = text("""
WITH due AS (
  SELECT d.id, d.profile_id, d.doc_type, d.expiry_date, p.organisation_id, p.region
  FROM identity_documents d JOIN profiles p ON p.id = d.profile_id
  WHERE d.expiry_date >= CAST(:first AS date) AND d.expiry_date <= CAST(:last AS date)
    AND d.doc_type = ANY(CAST(:types AS varchar[]))
    AND p.country = CAST(:country AS varchar)
    AND p.status = 'active'
    AND NOT EXISTS (SELECT 1 FROM document_watch_marks m WHERE m.document_id = d.id
                    AND m.expiry_date = d.expiry_date
                    AND m.horizon_days = CAST(:horizon AS integer))
  ORDER BY d.expiry_date, d.id LIMIT :batch
), claimed AS (
  INSERT INTO document_watch_marks (document_id, expiry_date, horizon_days, profile_id,
                                    announced_at)
  SELECT id, expiry_date, CAST(:horizon AS integer), profile_id,
         CAST(:now AS timestamptz) FROM due
  ON CONFLICT DO NOTHING RETURNING document_id
), mine AS (
  SELECT due.* FROM due JOIN claimed ON claimed.document_id = due.id
), events AS (
  INSERT INTO outbox_events (event_id, type, occurred_at, subject_type, subject_id,
                             organisation_id, regions, data)
  SELECT gen_random_uuid()::text, CAST(:event_type AS varchar),
         CAST(:now AS timestamptz), 'document', id, organisation_id,
         json_build_array(region),
         json_build_object('profile_id', profile_id, 'document_type', doc_type,
                           'expiry_date', expiry_date, 'authorises_work', true,
                           'days_left', expiry_date - CAST(:today AS date),
                           'horizon_days', CAST(:horizon_days AS integer),
                           'country', CAST(:country AS varchar))
  FROM (SELECT * FROM mine ORDER BY expiry_date, id) AS ordered
  RETURNING 1
)
SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM events) AS announced
""")


def pg_announce_params(*, country: str, types: Sequence[str], today: date, horizon: int,
                       first: date, last: date, now: datetime, batch: int) -> dict[str, Any]:
    """The parameters of :data:`PG_ANNOUNCE` for one window (also what the benchmark
    EXPLAINs)."""
    expired = horizon == EXPIRED
    return {"first": first, "last": last, "types": list(types), "country": country,
            "horizon": horizon, "batch": batch, "now": now, "today": today,
            "event_type": "document.expired" if expired else "document.expiring",
            "horizon_days": None if expired else horizon}


async def _announce_window_pg(db: Database, *, country: str, types: Sequence[str],
                              today: date, horizon: int, first: date, last: date,
                              now: datetime, batch: int) -> int:
    params = pg_announce_params(country=country, types=types, today=today, horizon=horizon,
                                first=first, last=last, now=now, batch=batch)
    announced = 0
    while True:
        async with db.uow() as uow:
            # a short statement run often: compiling it (JIT) costs more than it saves
            await uow.session.execute(text("SET LOCAL jit = off"))
            row = (await uow.session.execute(PG_ANNOUNCE, params)).one()
            await uow.session.commit()
        if row.announced:
            db.root.outbox_signal.notify()
        announced += int(row.announced)
        if int(row.due) < batch:
            return announced


async def _announce_window(db: Database, *, country: str, types: Sequence[str], today: date,
                           horizon: int, first: date, last: date, now: datetime,
                           batch: int) -> int:
    """One window, in committed batches (a large run never holds one long transaction)."""
    if db.is_postgres:
        return await _announce_window_pg(db, country=country, types=types, today=today,
                                         horizon=horizon, first=first, last=last, now=now,
                                         batch=batch)
    announced = 0
    batch = min(batch, SQLITE_BATCH)
    while True:
        async with db.uow() as uow:
            rows = (await uow.session.execute(due_statement(
                country=country, types=types, horizon=horizon, first=first, last=last,
                limit=batch))).all()
            mine = await _claim(uow, rows, horizon, now, db.is_postgres)
            for r in rows:
                if r.id not in mine:
                    continue  # another replica announced it
                if horizon == EXPIRED:
                    uow.emit(document_event("document.expired", r, country=country,
                                            today=today, horizon=None))
                else:
                    uow.emit(document_event("document.expiring", r, country=country,
                                            today=today, horizon=horizon))
            await uow.commit()
        announced += len(mine)
        if len(rows) < batch:
            return announced


async def _consents_expiring(db: Database, country: str, now: datetime) -> int:
    """Granted consents of the country's people that expire within the consent horizon."""
    today = today_in(country, now)
    end = datetime.combine(today + timedelta(days=CONSENT_HORIZON_DAYS + 1), time(),
                           COUNTRY_ZONES[country]).astimezone(UTC)
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(C.id, C.profile_id, C.purpose, C.recipient_organisation_id, C.valid_until)
            .join(profiles_table, P.id == C.profile_id)
            .where(C.valid_until > now, C.valid_until < end, C.status == "granted",
                   P.country == country, P.status == ProfileStatus.ACTIVE))).all()
        if not rows:
            return 0
        items = []
        for r in rows:
            day = as_utc(r.valid_until).astimezone(COUNTRY_ZONES[country]).date()
            items.append({"kind": Kind.CONSENT_EXPIRING.value, "profile_id": r.profile_id,
                          "subject_type": "consent", "subject_id": r.id,
                          "dedupe_key": f"consent:{r.id}:{day}", "country": country,
                          "due_date": day,
                          "details": {"purpose": r.purpose,
                                      "recipient_organisation_id":
                                          r.recipient_organisation_id}})
        added = await add_many(uow.session, items, now, reopen=False)
        await uow.commit()
    return added


async def watch_documents(*, db: Database, config: WatchConfig | None = None,
                          now: datetime | None = None, batch: int = BATCH) -> WatchOutcome:
    """Announce what reached a horizon or lapsed since the last run, in each country."""
    config = config or WatchConfig.from_settings(None)
    now = now or utcnow()
    table = rules()
    out = WatchOutcome()
    for country in COUNTRY_ZONES:
        today = today_in(country, now)
        types = table.work_authorising_types(country)
        for horizon, first, last in windows(today, config):
            n = await _announce_window(db, country=country, types=types, today=today,
                                       horizon=horizon, first=first, last=last, now=now,
                                       batch=batch)
            out.by_horizon[horizon] = out.by_horizon.get(horizon, 0) + n
            if horizon == EXPIRED:
                out.expired += n
            else:
                out.expiring += n
        out.consents += await _consents_expiring(db, country, now)
    record_job_success("document_watch")
    if out.expiring or out.expired:
        log.info("documents_watched", expiring=out.expiring, expired=out.expired,
                 consents=out.consents)
    return out


async def watch_every(db: Database, settings: Settings) -> None:
    """The registry's in-process watch: one run each interval until cancelled; a failed run
    is logged and the next interval tries again (the service lives on)."""
    config = WatchConfig.from_settings(settings)
    while True:
        await asyncio.sleep(settings.document_watch_interval_seconds)
        try:
            await watch_documents(db=db, config=config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("document_watch_failed", exc_type=type(exc).__name__)


__all__ = ["EXPIRED", "PG_ANNOUNCE", "WatchConfig", "WatchOutcome", "due_statement",
           "pg_announce_params",
           "watch_documents", "watch_every", "windows"]
