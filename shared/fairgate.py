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
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty


class FairGate:
    __slots__ = ("_free", "_patience", "_waiters")

    def __init__(self, permits: int, *, patience: float) -> None:
        """``patience``: seconds a request waits in line before TimeoutError."""
        self._free = permits
        self._patience = patience
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """A permit, or TimeoutError after the gate's patience in the line."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        expiry = loop.call_later(self._patience, self._expire, fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.cancelled():
                self._leave(fut)
            elif fut.exception() is None:
                self.release()  # handed a permit in the same turn as the cancellation
            raise
        finally:
            expiry.cancel()

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the permit changes hands; _free is untouched
                return
        self._free += 1

    def _expire(self, fut: asyncio.Future[None]) -> None:
        if not fut.done():
            self._leave(fut)
            fut.set_exception(TimeoutError())

    def _leave(self, fut: asyncio.Future[None]) -> None:
        # out of the line at once: a line of only departed waiters would keep a newcomer
        # off the fast path while permits are free
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)


class FairAsyncQueue(AsyncAdaptedQueue[Any]):
    """SQLAlchemy's asyncio pool queue, first come first served: its ``get`` takes a free
    connection without awaiting even when others wait for one (the same overtaking as
    asyncpg's). Here a returned connection goes straight to the oldest waiter."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[Any]] = deque()

    @property
    def waiting(self) -> int:
        """Callers in line for a connection (the pool metrics read it)."""
        return len(self._waiters)

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # the pool's queue is never full of connections it owns

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self._waiters or not block:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if not block:
                    raise Empty() from None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(fut)
        expiry = None if timeout is None else loop.call_later(timeout, self._expire, fut)
        try:
            return await_(fut)
        except TimeoutError:
            raise Empty() from None
        except asyncio.CancelledError:
            if fut.cancelled():
                self._leave(fut)
            elif fut.exception() is None:
                self.put_nowait(fut.result())  # handed over as we were cancelled: pass on
            raise
        finally:
            if expiry is not None:
                expiry.cancel()

    def _expire(self, fut: asyncio.Future[Any]) -> None:
        if not fut.done():
            self._leave(fut)
            fut.set_exception(TimeoutError())

    def _leave(self, fut: asyncio.Future[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)


class FairQueuePool(AsyncAdaptedQueuePool):
    """The engines' pool on PostgreSQL, with :class:`FairAsyncQueue`."""

    _queue_class = FairAsyncQueue
