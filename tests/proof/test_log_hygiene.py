"""Regression of a leak `make logcheck` found: at RUTA_LOG_LEVEL=DEBUG, aiosqlite logged every
call with its SQL and its parameters ("executing ... execute ..., 'INSERT ...', ('María', ...)")
to stderr: names and document numbers of the people in the registry."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import structlog

from shared.db import Database
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


_SQLALCHEMY_ENGINE = re.compile(r"\bcreate_async_engine\b|\bsqlalchemy\.create_engine\b"
                                r"|from sqlalchemy(\.engine)? import[^\n]*\bcreate_engine\b")


def test_every_engine_the_project_opens_hides_parameters(tmp_path: Path) -> None:
    """Issue 16, item 1: an error's text and an echoed statement never carry the values. All
    engines come from shared.db.create_engine (services, gateway, migrations, ruta commands)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert db.engine.sync_engine.hide_parameters
    pg = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert pg.engine.sync_engine.hide_parameters
    root = Path(__file__).resolve().parents[2]
    direct = [str(path.relative_to(root)) for folder in ("shared", "services", "gateway", "ruta",
                                                        "migrations", "bench")
              for path in (root / folder).rglob("*.py")
              if _SQLALCHEMY_ENGINE.search(path.read_text())
              and path.relative_to(root) != Path("shared/db.py")]
    assert direct == [], f"engines opened without shared.db.create_engine: {direct}"
