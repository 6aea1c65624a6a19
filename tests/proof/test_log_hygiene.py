"""Regression of a leak `make logcheck` found: at RUTA_LOG_LEVEL=DEBUG, aiosqlite logged every
call with its SQL and its parameters ("executing ... execute ..., 'INSERT ...', ('María', ...)")
to stderr: names and document numbers of the people in the registry."""

from __future__ import annotations

import logging

import structlog

from shared.logging import configure_logging


def test_drivers_do_not_log_parameters_even_at_debug() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    saved_structlog = structlog.get_config()
    try:
        configure_logging("DEBUG", json=True)
        for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "httpcore", "httpx"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger("ruta").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        structlog.configure(**saved_structlog)
