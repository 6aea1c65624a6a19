"""``Database.reading()``: a unit of work that only reads. On PostgreSQL its statements run
without BEGIN/ROLLBACK (each its own implicit transaction), the connection goes back to the
pool transactional again, and it refuses to commit; elsewhere it is a plain unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from shared.db import Database

# now() is the start of the transaction: two statements 20 ms apart see the same now() only
# inside one BEGIN ... block.
NOW = text("SELECT now()")
PAUSE = text("SELECT pg_sleep(0.02)")


@pytest.fixture
async def own_db(database_urls: dict[str, str]) -> AsyncIterator[Database]:
    db = Database(database_urls["registry"], pool_size=1)  # one connection: reused
    yield db
    await db.dispose()


async def alone(db: Database, *, reading: bool) -> bool:
    async with (db.reading() if reading else db.uow()) as uow:
        first = await uow.session.scalar(NOW)
        await uow.session.execute(PAUSE)
        return bool(await uow.session.scalar(NOW) != first)


@pytest.mark.postgres_only
async def test_reading_runs_without_a_transaction_block_and_hands_back_a_transactional_connection(
        own_db: Database) -> None:
    assert await alone(own_db, reading=True) is True
    # the same (only) connection, next used by a unit of work: inside BEGIN ... again
    assert await alone(own_db, reading=False) is False
    assert await alone(own_db, reading=True) is True
    assert await alone(own_db, reading=False) is False


@pytest.mark.postgres_only
async def test_a_database_bound_to_a_transaction_reads_inside_it(
        dbs: dict[str, Database]) -> None:
    assert await alone(dbs["registry"], reading=True) is False


async def test_a_reading_unit_of_work_refuses_to_commit(dbs: dict[str, Database]) -> None:
    async with dbs["registry"].reading() as uow:
        with pytest.raises(RuntimeError, match="writes nothing"):
            await uow.commit()
