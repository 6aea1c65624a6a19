"""The gate in front of the statement pool serves requests in arrival order: a permit
released goes to the oldest waiter, a newcomer never overtakes, a waiter that gives up
(timeout or cancellation) leaves the line without losing or inventing a permit."""

from __future__ import annotations

import asyncio

import pytest

from shared.fairgate import FairGate


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
    gate.release()  # handed to w0 ...
    # ... and a newcomer arriving before w0 has run must not take it
    late = asyncio.create_task(_holder(gate, "late", order, hold))
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
