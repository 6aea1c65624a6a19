"""Rows many requests append to one table, written together: a group commit in the app.

Every profile read writes an audit row (docs/decisions/0003). Written by the read's own
statement, each row cost PostgreSQL a transaction of its own: the statement, its commit
record and a WAL flush, several times the read itself (decision 0020 has the figures). A
:class:`GroupCommit` instead collects the rows of the requests in flight and writes them as
one multi-row ``INSERT``, one transaction, while the next rows gather behind it: no timer
and no batch size to tune; the batch is whatever arrived during the previous write, so it is
one row when the system is quiet and grows with the load.

A caller returns from :meth:`GroupCommit.append` only once its row is committed, so nothing
is answered that is not already on record (the read's answer waits for its audit row, as it
did when one statement did both). When a write fails, every caller of that batch gets the
failure (a copy of it each: an outage is the retryable 503) and none of their rows is
written: the batch is one statement. A caller that goes away (a client disconnect
cancels its task) does not take its row with it: the row is still written.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import Any, Protocol

# A multi-row INSERT … SELECT FROM unnest(…) has one parameter per column, whatever the rows:
# the batch is bounded only so that one statement stays a reasonable size.
MAX_ROWS = 1000

class Writer(Protocol):
    async def __call__(self, rows: list[Sequence[Any]]) -> None: ...

    async def close(self) -> None: ...


class GroupCommit:
    """Rows appended by concurrent callers, written in batches by ``write`` (which receives
    the rows of one batch and writes them in one transaction). One batch is written at a
    time; rows appended meanwhile wait for the next."""

    def __init__(self, write: Writer, *, max_rows: int = MAX_ROWS) -> None:
        self._write = write
        self._max_rows = max_rows
        self._pending: list[tuple[Sequence[Any], asyncio.Future[BaseException | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Rows appended and not yet written (the gauge of a backlog)."""
        return len(self._pending)

    async def append(self, row: Sequence[Any]) -> None:
        """Returns once ``row`` is committed; raises the write's failure otherwise."""
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        # a caller cancelled while waiting cancels ``done``, not its row: still written
        failure = await done
        if failure is not None:
            raise copy.copy(failure) from failure

    async def drain(self) -> None:
        """Waits until every row appended so far is written (or failed): at shutdown."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        """After :meth:`drain`: lets the writer go (its connection)."""
        await self._write.close()

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:self._max_rows]
                del self._pending[:self._max_rows]
                failure: BaseException | None = None
                try:
                    await self._write([row for row, _ in batch])
                except BaseException as exc:  # each caller raises its own copy
                    failure = exc
                for _, done in batch:
                    if not done.done():
                        done.set_result(failure)
                if failure is not None and not isinstance(failure, Exception):
                    raise failure  # the writer cancelled (shutdown): the rest fail below
        finally:
            self._writer = None
            for _, done in self._pending:  # only if the writer itself was cancelled
                if not done.done():
                    done.set_result(asyncio.CancelledError())
            self._pending.clear()
