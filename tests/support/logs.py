"""The application served as in production, for tests of what reaches the logs: a real uvicorn
server in the test's event loop, the production logging configuration (JSON, DEBUG, every
logger — root, uvicorn, sqlalchemy, asyncpg, ruta — into one captured stream)."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
import uvicorn
from sqlalchemy import text

from shared.db import Database
from shared.logging import configure_logging


async def run_sql(url: str, statements: tuple[str, ...]) -> None:
    """Statements committed on their own connection (failure injections and their removal)."""
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    finally:
        await db.dispose()


class _Tee(io.StringIO):
    """Kept for the test, and passed on to the real stderr (which ``make logcheck`` scans)."""

    def __init__(self, passthrough: Any) -> None:
        super().__init__()
        self.passthrough = passthrough

    def write(self, s: str) -> int:
        self.passthrough.write(s)
        return super().write(s)

    def flush(self) -> None:
        self.passthrough.flush()


_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
_stream: list[_Tee] = []


def _configure() -> None:
    saved_stderr = sys.stderr
    sys.stderr = _stream[-1]  # handlers write to the stderr of the moment they are made
    try:
        configure_logging("DEBUG", json=True)
    finally:
        sys.stderr = saved_stderr


@contextmanager
def production_logs() -> Iterator[io.StringIO]:
    """Everything the process logs from here on, as a deployed one would log it (and on to
    stderr as well)."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    saved_uvicorn = {name: (list(logging.getLogger(name).handlers),
                            logging.getLogger(name).propagate, logging.getLogger(name).disabled)
                     for name in _UVICORN}
    saved_structlog = structlog.get_config()
    _stream.append(_Tee(sys.stderr))
    _configure()
    try:
        yield _stream[-1]
    finally:
        _stream.pop()
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for name, (handlers, propagate, disabled) in saved_uvicorn.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.propagate, logger.disabled = handlers, propagate, disabled
        structlog.configure(**saved_structlog)


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` behind a real uvicorn on a free port, logging as ``ruta serve`` does: uvicorn
    installs its own logging configuration, then the app factory (ruta/asgi.py) calls
    ``configure_logging``. Yields the base URL."""
    saved_stderr = sys.stderr
    sys.stderr = _stream[-1] if _stream else sys.stderr
    try:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                access_log=False, loop="none", http="h11", log_level="debug")
    finally:
        sys.stderr = saved_stderr
    if _stream:
        _configure()
    server = uvicorn.Server(config)
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def _no_signals() -> Iterator[None]:
    yield
