"""The gate in front of the statement pool (and the session pool's queue) serves requests in
arrival order: a permit
released goes to the oldest waiter, a newcomer never overtakes, a waiter that gives up
(timeout or cancellation) leaves the line without losing or inventing a permit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import greenlet_spawn

from shared.fairgate import FairAsyncQueue, FairGate, FairQueuePool


async def _holder(gate: FairGate, name: str, order: list[str], hold: asyncio.Event) -> None:
    await gate.acquire()
    order.append(name)
    await hold.wait()
    gate.release()


async def test_waiters_are_served_in_arrival_order_and_newcomers_queue_behind() -> None:
    gate = FairGate(1, patience=5)
    await gate.acquire()  # the only permit is taken
    order: list[str] = []
    hold = asyncio.Event()
    hold.set()
    first = [asyncio.create_task(_holder(gate, f"w{i}", order, hold)) for i in range(3)]
    await asyncio.sleep(0)
    assert gate.waiting == 3
    late = asyncio.create_task(_holder(gate, "late", order, hold))  # ready, not run yet
    gate.release()  # handed to w0, even though the newcomer runs before it
    await asyncio.gather(*first, late)
    assert order == ["w0", "w1", "w2", "late"]
    assert gate.waiting == 0
    await asyncio.wait_for(gate.acquire(), 1)  # the permit came back


async def test_a_waiter_past_its_timeout_gets_timeout_error_and_leaves_the_line() -> None:
    impatient = FairGate(1, patience=0.01)
    await impatient.acquire()
    with pytest.raises(TimeoutError):
        await impatient.acquire()
    assert impatient.waiting == 0
    impatient.release()
    await asyncio.wait_for(impatient.acquire(), 1)  # free again, no departed waiter in the way


async def test_a_cancelled_waiter_loses_nothing() -> None:
    gate = FairGate(1, patience=5)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting == 0
    gate.release()
    await asyncio.wait_for(gate.acquire(), 1)


async def test_a_waiter_cancelled_after_it_was_handed_the_permit_passes_it_on() -> None:
    gate = FairGate(1, patience=5)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    after = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # waiter holds the permit now, but has not run yet
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(after, 1)  # the permit went on to the next in line
    assert gate.waiting == 0


async def test_permits_are_counted_exactly_under_contention() -> None:
    gate = FairGate(3, patience=0.05)
    inside = 0
    most = 0

    async def work() -> None:
        nonlocal inside, most
        await gate.acquire()
        try:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
        finally:
            inside -= 1
            gate.release()

    await asyncio.gather(*(work() for _ in range(50)))
    assert most == 3
    assert inside == 0
    for _ in range(3):
        await asyncio.wait_for(gate.acquire(), 1)
    with pytest.raises(TimeoutError):
        await gate.acquire()


async def test_the_session_pool_queue_hands_a_returned_connection_to_the_oldest_waiter(
) -> None:
    """SQLAlchemy's asyncio queue lets a request that is ready to run take a connection just
    returned, ahead of the waiter it woke; FairAsyncQueue hands it to that waiter."""
    queue = FairAsyncQueue(maxsize=2)
    waiter = asyncio.create_task(greenlet_spawn(queue.get, True, 5))
    await asyncio.sleep(0.01)  # in line
    newcomer = asyncio.create_task(greenlet_spawn(queue.get, True, 5))  # ready, not run yet
    queue.put_nowait("first")  # returned while the newcomer is ready to run
    await asyncio.sleep(0.01)
    queue.put_nowait("second")
    assert await waiter == "first"
    assert await newcomer == "second"


async def test_the_session_pool_serves_sessions_under_contention(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fair.db'}",
                                 poolclass=FairQueuePool, pool_size=2, max_overflow=0,
                                 pool_timeout=5)

    async def use() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())

    try:
        assert await asyncio.gather(*(use() for _ in range(40))) == [1] * 40
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_session_that_waits_past_the_pool_timeout_is_refused(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fair.db'}",
                                 poolclass=FairQueuePool, pool_size=1, max_overflow=0,
                                 pool_timeout=0.05)
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(sa_exc.TimeoutError):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        async with engine.connect() as conn:  # and the pool still works
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
