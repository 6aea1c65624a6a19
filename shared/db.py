"""Database plumbing: one async engine per service database and the unit of work.

A use case owns its transaction: ``async with db.uow() as uow: ...; await uow.commit()``.
Routes and repositories never commit. The unit of work is also where the two mechanisms that
must share the business transaction live: idempotency records and the event outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator
from sqlalchemy import delete, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shared.errors import AppError, ServiceUnavailable, is_database_outage
from shared.i18n import Text
from shared.tables import idempotency_records, outbox_events


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored datetime here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# A response field read from the database: always with its offset (RFC 3339), on SQLite too.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class IdempotencyInFlight(AppError):
    status = 409
    code = "idempotency-in-flight"
    detail_text = Text(
        "Otra solicitud con la misma Idempotency-Key aún se está procesando; reintente luego.",
        "Another request with the same Idempotency-Key is still being processed; retry later.",
    )


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency-key-reused"
    detail_text = Text(
        "Esta Idempotency-Key ya se usó con otro contenido.",
        "This Idempotency-Key was already used with a different request body.",
    )


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key for one write, with a fingerprint of what it asked for."""

    client_id: str
    key: str
    fingerprint: str

    @staticmethod
    def fingerprint_of(method: str, path: str, body: bytes) -> str:
        h = hashlib.sha256()
        for part in (method.encode(), b"\0", path.encode(), b"\0", body):
            h.update(part)
        return h.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """The first response to an idempotent write, replayed for its retries."""

    status_code: int
    headers: dict[str, str]
    body: bytes
    replayed: bool = True


@dataclass
class Event:
    type: str
    subject_type: str
    subject_id: str
    subject_version: int | None = None
    organisation_id: str | None = None
    regions: Sequence[str] = ()
    data: dict[str, Any] = field(default_factory=dict)


async def driver_connection(session: AsyncSession) -> Any:
    """The driver's own connection (asyncpg) under a session, for statements SQLAlchemy
    would only slow down."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


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


# Keys of idempotent writes under way in this process (SQLite runs in one process only).
_local_inflight: set[tuple[int, str, str]] = set()


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.session: AsyncSession
        self._events: list[Event] = []
        self._local_claims: list[tuple[int, str, str]] = []

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._db.sessionmaker()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # close() rolls back an uncommitted transaction without expiring what was
            # loaded, so a read-only use case can still map its rows after the block.
            await self.session.close()
        finally:
            for claim in self._local_claims:
                _local_inflight.discard(claim)

    async def driver_connection(self) -> Any:
        return await driver_connection(self.session)

    def emit(self, event: Event) -> None:
        """Queue a domain event; it is stored in the outbox by :meth:`commit`, atomically."""
        self._events.append(event)

    async def commit(self) -> None:
        wrote_events = bool(self._events)
        if self._events:
            now = utcnow()
            await self.session.execute(
                outbox_events.insert(),
                [
                    {
                        "event_id": str(uuid.uuid4()),
                        "type": e.type,
                        "occurred_at": now,
                        "subject_type": e.subject_type,
                        "subject_id": e.subject_id,
                        "subject_version": e.subject_version,
                        "organisation_id": e.organisation_id,
                        "regions": list(e.regions),
                        "data": e.data,
                    }
                    for e in self._events
                ],
            )
            self._events.clear()
        await self.session.commit()
        if wrote_events:
            self._db.root.outbox_signal.notify()

    # --- idempotency -------------------------------------------------------------------
    async def claim(self, idem: IdempotencyKey | None) -> StoredResponse | None:
        """Take the key for this transaction, or answer the earlier response for it.

        Raises 409 while another request holds the key and nothing is stored for it yet (a
        retry racing another retry of an answered request gets the stored answer), and 422
        when the key was used for a different body. The record is written by
        :meth:`remember` in this same transaction, so a crash leaves neither the change nor
        the record.
        """
        if idem is None:
            return None
        ident = f"{len(idem.client_id)}:{idem.client_id}:{idem.key}"
        if self._db.is_postgres:
            got = await self.session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": ident}
            )
            if not got:
                # Held by a retry of a request already answered (two retries at once): its
                # stored response stands, and is answered; 409 only while nothing is stored.
                return self._replay(await self._record(idem), idem, in_flight=True)
        else:
            claim = (id(self._db.root), idem.client_id, idem.key)
            if claim in _local_inflight:  # its holder has the only connection: no look-up
                raise IdempotencyInFlight()
            _local_inflight.add(claim)
            self._local_claims.append(claim)
        row = await self._record(idem)
        if row is None:
            return None
        if as_utc(row.expires_at) <= utcnow():
            await self.session.execute(
                delete(idempotency_records).where(
                    idempotency_records.c.client_id == idem.client_id,
                    idempotency_records.c.key == idem.key,
                )
            )
            return None
        return self._replay(row, idem)

    async def _record(self, idem: IdempotencyKey) -> Any:
        return (
            await self.session.execute(
                select(idempotency_records).where(
                    idempotency_records.c.client_id == idem.client_id,
                    idempotency_records.c.key == idem.key,
                )
            )
        ).one_or_none()

    @staticmethod
    def _replay(row: Any, idem: IdempotencyKey, *, in_flight: bool = False) -> StoredResponse:
        if row is None or (in_flight and as_utc(row.expires_at) <= utcnow()):
            raise IdempotencyInFlight()
        if row.fingerprint != idem.fingerprint:
            raise IdempotencyKeyReused()
        return StoredResponse(row.status_code, dict(row.headers), bytes(row.body))

    async def remember(
        self, idem: IdempotencyKey | None, *, status_code: int, body: Any,
        headers: dict[str, str] | None = None,
    ) -> StoredResponse:
        """Record the response of an idempotent write; returns it ready to send."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        stored = StoredResponse(status_code, dict(headers or {}), raw, replayed=False)
        if idem is not None:
            now = utcnow()
            await self.session.execute(
                idempotency_records.insert().values(
                    client_id=idem.client_id, key=idem.key, fingerprint=idem.fingerprint,
                    status_code=status_code, headers=stored.headers, body=raw,
                    created_at=now,
                    expires_at=now + timedelta(hours=self._db.idempotency_ttl_hours),
                )
            )
        return stored


class Database:
    """An engine, its session factory and what a unit of work needs to know about it."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        idempotency_ttl_hours: int = 24,
        engine: AsyncEngine | None = None,
        bind: AsyncConnection | None = None,
        root: Database | None = None,
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self.idempotency_ttl_hours = idempotency_ttl_hours
        self.root: Database = root or self
        self._bind = bind
        self._pool_size = pool_size
        self._direct: Any = None
        self._direct_lock = asyncio.Lock()
        self.outbox_signal = OutboxSignal()
        if engine is None:
            engine = self._make_engine(url, pool_size)
        self.engine = engine
        self.sessionmaker = async_sessionmaker(
            bind=bind if bind is not None else engine,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )

    def _make_engine(self, url: str, pool_size: int) -> AsyncEngine:
        if self.is_sqlite:
            ensure_sqlite_folder(url)
            # One connection: SQLite has one writer anyway, and queueing in the pool beats
            # SQLITE_BUSY retries. Transactions begin IMMEDIATE so a read-then-write never
            # fails on lock upgrade.
            engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
            install_sqlite_pragmas(engine)
            return engine
        if self.is_postgres:
            # No overflow: overflow connections are closed when returned, so a steady load
            # above pool_size would open a new PostgreSQL session for every other request.
            return create_async_engine(
                url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False,
                pool_recycle=1800, pool_timeout=10,
                connect_args={"server_settings": {"application_name": "ruta"},
                              "command_timeout": 30},
            )
        return create_async_engine(url, poolclass=NullPool)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    def bound_to(self, connection: AsyncConnection) -> Database:
        """A view of this database whose sessions run inside ``connection``'s transaction.

        Tests use it to roll back everything a test wrote: each unit of work becomes a
        savepoint of the test's outer transaction.
        """
        return Database(
            str(self.url.render_as_string(hide_password=False)),
            idempotency_ttl_hours=self.idempotency_ttl_hours, engine=self.engine,
            bind=connection, root=self,
        )

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Any]:
        """An asyncpg connection for one self-contained statement (PostgreSQL only).

        A hot path that is a single statement — a read with its audit INSERT in a CTE — is its
        own transaction: no BEGIN/COMMIT round trips, no ORM session, a pool whose release
        does not reset (these statements leave no session state). That kept 2-3x the
        throughput of the same work through a session (docs/decisions/0003). A database
        bound to a test's outer transaction runs the statement inside it instead, so the
        same SQL is tested and rolled back.
        """
        if not self.is_postgres:
            raise RuntimeError("single-statement connections are PostgreSQL only")
        try:
            if self._bind is not None:
                async with self.uow() as uow:
                    yield await uow.driver_connection()
                    await uow.commit()
                return
            async with (await self.root._direct_pool()).acquire(timeout=10) as conn:
                yield conn
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailable(headers={"Retry-After": "2"}) from exc
        except Exception as exc:
            if _is_driver_outage(exc):
                raise ServiceUnavailable(headers={"Retry-After": "2"}) from exc
            raise

    async def _direct_pool(self) -> Any:
        if self._direct is None:
            async with self._direct_lock:
                if self._direct is None:
                    import asyncpg

                    url = self.url.set(drivername="postgresql")
                    self._direct = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False), min_size=0,
                        max_size=self._pool_size, reset=_keep_session, command_timeout=30,
                        max_inactive_connection_lifetime=300,
                        server_settings={"application_name": "ruta-direct"})
        return self._direct

    async def ping(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._direct is not None:
            pool, self._direct = self._direct, None
            await pool.close()
        await self.engine.dispose()


async def _keep_session(_connection: Any) -> None:
    """Pool release without the RESET ALL round trip: the single statements run on these
    connections set nothing (an open transaction is still rolled back by asyncpg)."""


def _is_driver_outage(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                            asyncpg.exceptions.OperatorInterventionError,
                            asyncpg.TooManyConnectionsError)) or is_database_outage(exc)


def ensure_sqlite_folder(url: str) -> None:
    """A SQLite file under a folder that does not exist yet: make the folder."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def install_sqlite_pragmas(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and SQLAlchemy-managed BEGIN so savepoints work under aiosqlite."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
