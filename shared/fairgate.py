"""First come, first served in front of a connection pool.

asyncpg's pool hands out connections through an ``asyncio.Queue``, which is not fair: a
released connection wakes the first waiter, but a request arriving before that waiter runs
finds the queue non-empty and takes it; the woken waiter queues again at the back. Under 50
connections on a pool of 20 that starved a few reads of the profile read for many turns:
p99 2.4x its p50 with the pool of 20, 4.4x with 10, 1.5x with 50 (docs/decisions/0017).

The gate holds as many permits as the pool has connections and hands a released permit
straight to the oldest waiter, so nobody overtakes and the pool's own queue never waits.
SQLAlchemy's asyncio pool has the same flaw; :class:`FairQueuePool` is its pool with a fair
queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty


class _Line:
    """Waiters in arrival order: what is handed over goes to the oldest one still waiting.
    The one mechanism of :class:`FairGate` (permits) and :class:`FairAsyncQueue`
    (connections)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def __len__(self) -> int:
        return len(self._waiters)

    def join(self, patience: float | None) -> asyncio.Future[Any]:
        """A place at the back; it fails with TimeoutError after ``patience`` seconds."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(fut)
        if patience is not None:
            expiry = loop.call_later(patience, self._expire, fut)
            fut.add_done_callback(lambda _: expiry.cancel())
        return fut

    def hand(self, item: Any) -> bool:
        """Give ``item`` to the oldest waiter; False when nobody waits."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(item)
                return True
        return False

    def cancelled(self, fut: asyncio.Future[Any], pass_on: Callable[[Any], None]) -> None:
        """The waiter's task was cancelled: it leaves the line, or passes on what it was
        handed in the same turn as the cancellation."""
        if fut.cancelled():
            self._leave(fut)
        elif fut.exception() is None:
            pass_on(fut.result())

    def _expire(self, fut: asyncio.Future[Any]) -> None:
        if not fut.done():
            self._leave(fut)
            fut.set_exception(TimeoutError())

    def _leave(self, fut: asyncio.Future[Any]) -> None:
        # out of the line at once: a line of only departed waiters would keep a newcomer
        # off the fast path while permits are free
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)


class FairGate:
    __slots__ = ("_free", "_line", "_patience")

    def __init__(self, permits: int, *, patience: float) -> None:
        """``patience``: seconds a request waits in line before TimeoutError."""
        self._free = permits
        self._patience = patience
        self._line = _Line()

    @property
    def waiting(self) -> int:
        return len(self._line)

    async def acquire(self) -> None:
        """A permit, or TimeoutError after the gate's patience in the line."""
        if self._free > 0 and not self._line:
            self._free -= 1
            return
        fut = self._line.join(self._patience)
        try:
            await fut
        except asyncio.CancelledError:
            self._line.cancelled(fut, lambda _: self.release())
            raise

    def release(self) -> None:
        if not self._line.hand(None):  # the permit changes hands, or goes back
            self._free += 1


class FairAsyncQueue(AsyncAdaptedQueue[Any]):
    """SQLAlchemy's asyncio pool queue, first come first served: its ``get`` takes a free
    connection without awaiting even when others wait for one (the same overtaking as
    asyncpg's). Here a returned connection goes straight to the oldest waiter."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._line = _Line()

    @property
    def waiting(self) -> int:
        """Callers in line for a connection (the pool metrics read it)."""
        return len(self._line)

    def put_nowait(self, item: Any) -> None:
        if not self._line.hand(item):
            super().put_nowait(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # the pool's queue is never full of connections it owns

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self._line or not block:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if not block:
                    raise Empty() from None
        fut = self._line.join(timeout)
        try:
            return await_(fut)
        except TimeoutError:
            raise Empty() from None
        except asyncio.CancelledError:
            self._line.cancelled(fut, self.put_nowait)
            raise


class FairQueuePool(AsyncAdaptedQueuePool):
    """The engines' pool on PostgreSQL, with :class:`FairAsyncQueue`."""

    _queue_class = FairAsyncQueue
