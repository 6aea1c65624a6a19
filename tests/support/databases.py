"""Which database the suite runs on, and throw-away databases for one purpose."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from shared.settings import DATABASES

# Tests drive the event relay and the webhook worker themselves.
os.environ.setdefault("RUTA_BACKGROUND_TASKS", "false")
BACKEND = os.environ.get("RUTA_TEST_DATABASE", "sqlite")
PG_URL = os.environ.get("RUTA_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
IS_POSTGRES = BACKEND == "postgresql"

if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"RUTA_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")


class TempDatabases:
    """Throw-away databases for one purpose (the suite, a migration test...)."""

    def __init__(self, base_dir: Path, tag: str) -> None:
        self.tag = f"ruta_t{os.getpid()}_{tag}_{uuid.uuid4().hex[:6]}"
        self.base_dir = base_dir
        self.urls = {
            name: (f"{PG_URL.rstrip('/')}/{self.tag}_{name}" if IS_POSTGRES
                   else f"sqlite+aiosqlite:///{base_dir / self.tag}_{name}.db")
            for name in DATABASES
        }

    async def create(self) -> dict[str, str]:
        if IS_POSTGRES:
            from shared.migrate import ensure_postgres_database

            for url in self.urls.values():
                await ensure_postgres_database(url)  # fails loudly if PostgreSQL is down
        return self.urls

    async def drop(self) -> None:
        if not IS_POSTGRES:
            return
        import asyncpg
        from sqlalchemy.engine import make_url

        u = make_url(PG_URL)
        conn = await asyncpg.connect(host=u.host, port=u.port or 5432,
                                     user=u.username or "postgres", password=u.password,
                                     database="postgres")
        try:
            for url in self.urls.values():
                name = make_url(url).database
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
