"""Rows appended together (shared/groupcommit.py, ``Database.append``): the audit rows of the
reads in flight written as one statement, each caller answered only once its row is
committed, a failed write failing exactly its own batch's callers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from services.registry.hot_reads import AUDIT_APPEND
from shared.db import Database
from shared.errors import ServiceUnavailable
from shared.groupcommit import GroupCommit


class SlowTable:
    """A writer that takes ``seconds`` per batch and can be told to fail one: the order of
    events is what the tests read (every batch, and when each was committed)."""

    def __init__(self, seconds: float = 0.01, fail: set[int] | None = None) -> None:
        self.seconds = seconds
        self.fail = fail or set()
        self.batches: list[list[Any]] = []
        self.committed: dict[Any, float] = {}
        self.closed = False

    async def __call__(self, rows: list[Sequence[Any]]) -> None:
        n = len(self.batches)
        self.batches.append([r[0] for r in rows])
        await asyncio.sleep(self.seconds)
        if n in self.fail:
            raise ServiceUnavailable(headers={"Retry-After": "2"})
        now = asyncio.get_running_loop().time()
        self.committed.update((r[0], now) for r in rows)

    async def close(self) -> None:
        self.closed = True


async def test_rows_appended_while_a_batch_is_written_go_together_in_the_next() -> None:
    table = SlowTable()
    group = GroupCommit(table)
    returned: dict[int, float] = {}

    async def append(i: int) -> None:
        await group.append((i,))
        returned[i] = asyncio.get_running_loop().time()

    first = asyncio.create_task(append(0))
    await asyncio.sleep(0)  # the first batch (one row) is being written...
    await asyncio.gather(first, *(append(i) for i in range(1, 21)))  # ...the rest wait
    assert table.batches == [[0], list(range(1, 21))]
    # nobody is answered before their row is committed
    assert all(returned[i] >= table.committed[i] for i in range(21))
    assert group.pending == 0


async def test_a_failed_write_fails_its_own_batch_only_each_caller_with_its_own_error() -> None:
    table = SlowTable(fail={1})
    group = GroupCommit(table)
    first = asyncio.create_task(group.append((0,)))
    await asyncio.sleep(0)
    second = [asyncio.create_task(group.append((i,))) for i in (1, 2, 3)]
    await first
    results = await asyncio.gather(*second, return_exceptions=True)
    assert all(isinstance(r, ServiceUnavailable) for r in results)
    assert len({id(r) for r in results}) == 3  # raised in three requests: three objects
    assert results[0].status == 503
    await group.append((4,))  # the next batch is written again
    assert set(table.committed) == {0, 4}


async def test_a_caller_that_goes_away_does_not_take_its_row_with_it() -> None:
    table = SlowTable()
    group = GroupCommit(table)
    first = asyncio.create_task(group.append((0,)))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(group.append((1,)))
    staying = asyncio.create_task(group.append((2,)))
    await asyncio.sleep(0)
    leaving.cancel()  # the client disconnected while its read waited for the audit row
    await asyncio.gather(first, staying)
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert table.batches == [[0], [1, 2]] and set(table.committed) == {0, 1, 2}


async def test_drain_waits_for_every_row_appended_and_close_lets_the_writer_go() -> None:
    table = SlowTable()
    group = GroupCommit(table)
    callers = [asyncio.create_task(group.append((i,))) for i in range(5)]
    await asyncio.sleep(0)
    await group.drain()
    assert set(table.committed) == set(range(5)) and group.pending == 0
    await group.close()
    assert table.closed
    await asyncio.gather(*callers)


async def test_a_batch_is_bounded_by_max_rows() -> None:
    table = SlowTable()
    group = GroupCommit(table, max_rows=4)
    await asyncio.gather(*(group.append((i,)) for i in range(10)))
    assert [len(b) for b in table.batches] == [4, 4, 2]


# --- on PostgreSQL, through Database.append ------------------------------------------------
def audit(profile_id: str, request_id: str) -> tuple[Any, ...]:
    return (profile_id, dt.datetime.now(dt.UTC), "read", "test-reader", "caseworker",
            "ong-lima", '["identity"]', request_id)


@pytest.fixture
async def own_db(database_urls: dict[str, str]) -> AsyncIterator[Database]:
    """A database of its own (not bound to a test's transaction): rows really committed."""
    db = Database(database_urls["registry"], pool_size=2)
    yield db
    await db.dispose()


async def rows_of(url: str, profile_id: str) -> list[Any]:
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
    try:
        return list(await conn.fetch(
            "SELECT request_id, xmin::text AS tx FROM audit_log WHERE profile_id = $1",
            profile_id))
    finally:
        await conn.close()


@pytest.mark.postgres_only
async def test_concurrent_reads_audit_rows_are_each_committed_once_in_fewer_transactions(
        own_db: Database, database_urls: dict[str, str]) -> None:
    profile_id = str(uuid.uuid4())
    ids = [f"r{i}" for i in range(40)]
    await asyncio.gather(*(own_db.append(AUDIT_APPEND, audit(profile_id, r)) for r in ids))
    rows = await rows_of(database_urls["registry"], profile_id)
    assert sorted(r["request_id"] for r in rows) == sorted(ids)  # each once
    # appended in one turn of the loop, before the writer ran: one statement, whose rows
    # share its transaction id
    assert len({r["tx"] for r in rows}) == 1


@pytest.mark.postgres_only
async def test_a_dropped_connection_is_replaced_and_no_row_is_lost(
        own_db: Database, database_urls: dict[str, str]) -> None:
    profile_id = str(uuid.uuid4())
    await own_db.append(AUDIT_APPEND, audit(profile_id, "before"))
    # PostgreSQL drops the writer's connection (a restart, a failover)
    url = make_url(database_urls["registry"]).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'ruta-append' AND datname = $1", url.database)
    finally:
        await admin.close()
    assert killed == 1
    written = []
    refused: list[int] = []
    for attempt in ("first", "second"):  # the first may learn of the loss (503) or not
        try:
            await own_db.append(AUDIT_APPEND, audit(profile_id, attempt))
            written.append(attempt)
        except ServiceUnavailable as exc:
            refused.append(exc.status)
    assert refused in ([], [503])
    rows = await rows_of(database_urls["registry"], profile_id)
    assert sorted(r["request_id"] for r in rows) == sorted(["before", *written])
    assert "second" in written


@pytest.mark.postgres_only
async def test_postgresql_unreachable_is_the_retryable_503(database_urls: dict[str, str]
                                                           ) -> None:
    url = make_url(database_urls["registry"]).set(port=1)  # nothing listens there
    db = Database(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            await db.append(AUDIT_APPEND, audit(str(uuid.uuid4()), "nowhere"))
        assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "2"
    finally:
        await db.dispose()


async def test_bound_to_a_test_transaction_the_row_is_written_inside_it(
        dbs: dict[str, Database]) -> None:
    db = dbs["registry"]
    if not db.is_postgres:
        pytest.skip("Database.append is PostgreSQL's (the read's SQLite path audits in its "
                    "unit of work)")
    profile_id = str(uuid.uuid4())
    await db.append(AUDIT_APPEND, audit(profile_id, "bound"))
    async with db.statement() as conn:
        assert await conn.fetchval(
            "SELECT request_id FROM audit_log WHERE profile_id = $1", profile_id) == "bound"
