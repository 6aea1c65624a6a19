"""Database plumbing: one async engine per service database and the unit of work.

A use case owns its transaction: ``async with db.uow() as uow: ...; await uow.commit()``.
Routes and repositories never commit. The unit of work is also where the two mechanisms that
must share the business transaction live: idempotency records and the event outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from shared import idempotency
from shared.errors import ServiceUnavailable, is_database_outage
from shared.fairgate import FairGate, FairQueuePool
from shared.idempotency import IdempotencyKey, StoredResponse
from shared.metrics import POOLS
from shared.outbox import Event, OutboxSignal, insert_events
from shared.tracing import traced_connection

# how long a request waits in line for a pooled connection before it is answered 503
POOL_TIMEOUT_SECONDS = 10


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Every engine the project opens: SQLAlchemy never puts a statement's parameters (names,
    document numbers, e-mails) in an error's text or an echoed statement. JSON columns are
    read with orjson (the standard library's decoder was a fifth of a feed page's CPU)."""
    return create_async_engine(url, hide_parameters=True, json_deserializer=orjson.loads,
                               **kwargs)


async def driver_connection(session: AsyncSession) -> Any:
    """The driver's own connection (asyncpg) under a session, for statements SQLAlchemy
    would only slow down."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


class UnitOfWork:
    def __init__(self, db: Database, *, reading: bool = False) -> None:
        self._db = db
        self._reading = reading
        self.session: AsyncSession
        self._events: list[Event] = []
        self._local_claims = idempotency.LocalClaims(id(db.root))

    async def __aenter__(self) -> UnitOfWork:
        self.session = (self._db.reading_sessionmaker if self._reading
                        else self._db.sessionmaker)()
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
            self._local_claims.release()

    async def driver_connection(self) -> Any:
        return await driver_connection(self.session)

    def emit(self, event: Event) -> None:
        """Queue a domain event; it is stored in the outbox by :meth:`commit`, atomically."""
        self._events.append(event)

    async def commit(self) -> None:
        """Store the queued events in the outbox and commit them with the change."""
        if self._reading:
            raise RuntimeError("a reading unit of work writes nothing (Database.reading)")
        wrote_events = bool(self._events)
        if self._events:
            await insert_events(self.session, self._events)
            self._events.clear()
        await self.session.commit()
        if wrote_events:
            self._db.root.outbox_signal.notify()

    # --- idempotency -------------------------------------------------------------------
    async def claim(self, idem: IdempotencyKey | None) -> StoredResponse | None:
        """Take the key for this transaction, or answer the earlier response for it
        (:func:`shared.idempotency.claim`). The record is written by :meth:`remember` in
        this same transaction, so a crash leaves neither the change nor the record."""
        if idem is None:
            return None
        return await idempotency.claim(self.session, idem, is_postgres=self._db.is_postgres,
                                       local=self._local_claims)

    async def stored(self, idem: IdempotencyKey | None) -> StoredResponse | None:
        """The answer stored for this key, if any, without taking it
        (:func:`shared.idempotency.stored`); no statement without a key."""
        if idem is None:
            return None
        return await idempotency.stored(self.session, idem)

    async def remember(
        self, idem: IdempotencyKey | None, *, status_code: int, body: Any,
        headers: dict[str, str] | None = None,
    ) -> StoredResponse:
        """Record the response of an idempotent write; returns it ready to send."""
        return await idempotency.remember(self.session, idem, status_code=status_code,
                                          body=body, headers=headers,
                                          ttl_hours=self._db.idempotency_ttl_hours)


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
        self._direct_gate = FairGate(pool_size, patience=POOL_TIMEOUT_SECONDS)
        self.outbox_signal = OutboxSignal()
        own_engine = engine is None
        if engine is None:
            engine = self._make_engine(url, pool_size)
        self.engine = engine
        if own_engine:
            POOLS.track(self)  # /metrics reads its pool (shared/metrics.py)
        self.sessionmaker = async_sessionmaker(
            bind=bind if bind is not None else engine,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        # reads without BEGIN/ROLLBACK (:meth:`reading`): PostgreSQL on its own pool only
        self.reading_sessionmaker = self.sessionmaker if bind is not None or not \
            self.is_postgres else async_sessionmaker(
                bind=engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False, autoflush=False)

    def _make_engine(self, url: str, pool_size: int) -> AsyncEngine:
        if self.is_sqlite:
            ensure_sqlite_folder(url)
            # One connection: SQLite has one writer anyway, and queueing in the pool beats
            # SQLITE_BUSY retries. Transactions begin IMMEDIATE so a read-then-write never
            # fails on lock upgrade.
            engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
            install_sqlite_pragmas(engine)
            return engine
        if self.is_postgres:
            # No overflow: overflow connections are closed when returned, so a steady load
            # above pool_size would open a new PostgreSQL session for every other request.
            return create_engine(
                url, poolclass=FairQueuePool, pool_size=pool_size, max_overflow=0,
                pool_pre_ping=False, pool_recycle=1800, pool_timeout=POOL_TIMEOUT_SECONDS,
                connect_args={"server_settings": {"application_name": "ruta"},
                              "command_timeout": 30},
            )
        return create_engine(url, poolclass=NullPool)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads. On PostgreSQL each of its statements runs in its
        own implicit transaction: no BEGIN before them nor ROLLBACK after, two round trips
        fewer (a referral's post made 19 of them). For reads that need no snapshot across
        their statements — each row read stands on its own — and never for a write: a
        statement that writes would commit at once. Elsewhere (SQLite, a database bound to
        a test's transaction) it is :meth:`uow`."""
        return UnitOfWork(self, reading=True)

    @property
    def statements_waiting(self) -> int:
        """Callers in line for a connection of the statement pool (:meth:`statement`)."""
        return self._direct_gate.waiting if self.root is self else 0

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
                    yield traced_connection(await uow.driver_connection())
                    await uow.commit()
                return
            pool = await self.root._direct_pool()
            gate = self.root._direct_gate
            await gate.acquire()  # in arrival order (shared/fairgate.py)
            try:
                # no timeout here: the gate's permit means a connection is free, and asyncpg
                # would spend a task per acquire on one; opening one is bounded at the pool
                async with pool.acquire() as conn:
                    try:
                        yield traced_connection(conn)
                    except Exception as exc:
                        if _is_broken_connection(exc):
                            # Its protocol state is unknown (seen during a PostgreSQL
                            # restart: the next statement on it failed "another operation in
                            # progress"): never hand it out again; the caller gets the
                            # retryable 503.
                            conn.terminate()
                        raise
            finally:
                gate.release()
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
                        timeout=POOL_TIMEOUT_SECONDS,  # to open a connection
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
                            asyncpg.TooManyConnectionsError)) or is_database_outage(exc) \
        or _is_broken_connection(exc)


def _is_broken_connection(exc: BaseException) -> bool:
    """The driver lost track of the connection's protocol (asyncpg's InternalClientError,
    ProtocolError): not the request's fault, and the connection is not reusable."""
    import asyncpg

    return isinstance(exc, asyncpg.exceptions.InternalClientError)


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
